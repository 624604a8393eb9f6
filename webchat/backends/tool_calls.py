"""Tool calls of a built-in model: gathered from the stream, run, and shown as Gradio's tool-use
blocks (``ChatMessage`` with ``metadata={"title": "🛠️ Used tool …", "status", "duration"}``, the
arguments and the result in the block, media after it).

A model asks for tools in its stream (``delta.tool_calls``, in pieces); when the round ends with
``finish_reason="tool_calls"`` each call is run (after approval, for a server that asks for it),
its result goes back to the model as a ``tool`` message, and the model goes on, up to MAX_ROUNDS.
Tool output is untrusted text: it is drawn by the same sanitiser as the model's words, never run.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webchat.backends.tools import Toolbox, ToolResult
from webchat.messages import ChatMessage

MAX_ROUNDS = 6
TITLE_USED = "🛠️ Used tool {name}"
TITLE_ASKING = "🛠️ Wants to use tool {name}"
MEDIA_SUFFIX = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
}

# Asked before a call of a server with ``approve = "ask"``: (turn's call id, tool, arguments) ->
# True (allowed), False (denied). Given by the turn runner; None: such calls are not run.
Approver = Callable[[str, str, dict[str, Any]], bool]


@dataclass
class PendingCall:
    """A call the model is still streaming (its arguments arrive in pieces)."""

    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class CallCollector:
    """Gathers ``delta.tool_calls`` pieces by index."""

    calls: dict[int, PendingCall] = field(default_factory=dict)

    def add(self, pieces: Any) -> None:
        for piece in pieces or []:
            index = getattr(piece, "index", None) or 0
            call = self.calls.setdefault(index, PendingCall())
            call.id = getattr(piece, "id", None) or call.id
            function = getattr(piece, "function", None)
            if function is not None:
                call.name = getattr(function, "name", None) or call.name
                arguments = getattr(function, "arguments", None)
                if isinstance(arguments, dict):
                    call.arguments = json.dumps(arguments)
                elif arguments:
                    call.arguments += arguments

    def done(self) -> list[PendingCall]:
        result = [self.calls[i] for i in sorted(self.calls)]
        for number, call in enumerate(result):
            call.id = call.id or f"call-{number}"
        return result


def display_name(function_name: str) -> str:
    """``server__tool`` as people read it: ``tool (server)``."""
    server, _, tool = function_name.partition("__")
    return f"{tool} ({server})" if tool else function_name


def block(
    call: PendingCall,
    arguments: dict[str, Any] | None,
    result: ToolResult | None,
    seconds: float | None,
    *,
    asking: bool = False,
    note: str = "",
) -> ChatMessage:
    """The tool-use block of one call: pending with its arguments, then done with its result."""
    shown = json.dumps(arguments if arguments is not None else call.arguments, ensure_ascii=False, indent=2)
    parts = [f"**Arguments**\n\n```json\n{shown}\n```"]
    if note:
        parts.append(note)
    if result is not None and result.warning:
        parts.append(f"**Warning**: {result.warning}")
    if result is not None:
        label = "Error" if result.error else "Result"
        parts.append(f"**{label}**\n\n```text\n{result.text.replace('```', '` ` `')}\n```")
    metadata: dict[str, Any] = {
        "title": (TITLE_ASKING if asking else TITLE_USED).format(name=display_name(call.name)),
        "id": f"tool-{call.id}",
        "status": "done" if result is not None else "pending",
    }
    if seconds is not None:
        metadata["duration"] = round(seconds, 2)
    if asking:
        metadata["log"] = "waiting for your approval"
    return ChatMessage(role="assistant", content="\n\n".join(parts), metadata=metadata)


def media_messages(call: PendingCall, result: ToolResult, folder: Path) -> list[ChatMessage]:
    """A result's images and audio as file messages after its block, in the bubble (kept as the
    turn's files, served with the usual owner checks)."""
    messages = []
    for number, (mime, data) in enumerate(result.media):
        path = folder / f"{call.name.partition('__')[2] or 'tool'}-{number}{MEDIA_SUFFIX.get(mime, '.bin')}"
        path.write_bytes(data)
        messages.append(
            ChatMessage(
                role="assistant",
                content={"path": str(path), "mime_type": mime},  # in the bubble, not folded in the block
            )
        )
    return messages


def parse_arguments(call: PendingCall) -> tuple[dict[str, Any] | None, str]:
    """The call's arguments, or (None, why not) when the model sent something that is not a JSON
    object (the model is told so, and may try again)."""
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return None, "The arguments were not valid JSON."
    if not isinstance(value, dict):
        return None, "The arguments must be a JSON object."
    return value, ""


def run_calls(
    calls: list[PendingCall],
    toolbox: Toolbox,
    shown: list[ChatMessage],
    approve: Approver | None,
    record: list[dict[str, Any]] | None,
) -> Iterator[tuple[list[ChatMessage], list[dict[str, Any]]]]:
    """Run each call in turn, yielding (the messages shown so far, the ``tool`` messages for the
    model so far) after each step: the pending block, then the done one."""
    answers: list[dict[str, Any]] = []
    folder = Path(tempfile.mkdtemp(prefix="webchat-tool-"))
    for call in calls:
        arguments, problem = parse_arguments(call)
        server = toolbox.server_of(call.name)
        asking = server is not None and server.spec.approve == "ask" and arguments is not None
        shown.append(block(call, arguments, None, None, asking=asking))
        yield shown, answers
        seconds: float | None = None
        if arguments is None:
            result = ToolResult(problem, error=True)
        elif asking and (approve is None or not approve(call.id, call.name, arguments)):
            result = ToolResult("The user denied this call; it was not run.", error=True)
        else:
            if asking:  # allowed: the block says it runs
                shown[-1] = block(call, arguments, None, None)
                yield shown, answers
            result, seconds = toolbox.call(call.name, arguments)
        shown[-1] = block(call, arguments, result, seconds)
        shown.extend(media_messages(call, result, folder))
        answers.append({"role": "tool", "tool_call_id": call.id, "content": result.text})
        if record is not None:
            record.append(
                {
                    "id": call.id,
                    "tool": call.name,
                    "arguments": arguments if arguments is not None else call.arguments,
                    "result": result.text,
                    "error": result.error,
                    "seconds": None if seconds is None else round(seconds, 4),
                }
            )
        yield shown, answers
