"""The messages model: Gradio's messages format, as data classes with validation.

A conversation is a list of messages; each is a ``role`` plus ``content`` that is text, a
FileData dict (an uploaded or generated file) or a component dict (a file shown as a given
kind of media). ``metadata`` carries Gradio's thought-block fields and ``options`` its
clickable choices. Everything that crosses a boundary (the store, a chat function, the API)
goes through :func:`message_from_dict` and :meth:`ChatMessage.to_dict`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict, TypeGuard

Role = Literal["user", "assistant", "system"]
ROLES: tuple[str, ...] = ("user", "assistant", "system")
FILEDATA_TYPE = "gradio.FileData"


class FileDataMeta(TypedDict):
    _type: Literal["gradio.FileData"]


class FileData(TypedDict):
    """A file stored server-side, exactly as Gradio describes one."""

    path: str
    url: str | None
    size: int | None
    orig_name: str | None
    mime_type: str | None
    is_stream: bool
    meta: FileDataMeta


class ComponentContent(TypedDict):
    """A file to be shown as a given kind of media (Gradio's ``{"component": ..., "value": ...}``)."""

    component: str
    value: FileData | list[FileData]
    constructor_args: NotRequired[dict[str, Any]]
    props: NotRequired[dict[str, Any]]
    alt_text: NotRequired[str | None]


class MetadataDict(TypedDict, total=False):
    title: str
    status: Literal["pending", "done"]
    duration: float
    id: int | str
    parent_id: int | str
    log: str


class OptionDict(TypedDict, total=False):
    value: str
    label: str


Content = str | FileData | ComponentContent
FILEDATA_KEYS = frozenset(FileData.__annotations__)
METADATA_KEYS = frozenset(MetadataDict.__annotations__)


class MessageError(ValueError):
    """A message that does not fit the messages format; the text says what is wrong."""


MAX_JSON_DEPTH = 64  # messages need a handful of levels; deeper only costs (and Python recurses)


def parse_json(raw: bytes | str, what: str = "The body") -> Any:
    """JSON from a client (an import, an API body), or MessageError saying what is wrong with it:
    not JSON, or nested deeper than MAX_JSON_DEPTH (which would otherwise end as a 500)."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MessageError(f"{what} is not valid JSON ({error}).") from None
    except RecursionError:
        value = None
    if value is None or _deeper_than(value, MAX_JSON_DEPTH):
        if value is None and raw.strip() in (b"null", "null"):
            return None
        raise MessageError(f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep.")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Is ``value`` nested more than ``limit`` levels deep? (Without recursion.)"""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [child for item in level for child in _children(item)]
        if not level:
            return False
    return True


def _children(item: Any) -> list[Any]:
    if isinstance(item, dict):
        return list(item.values())
    if isinstance(item, list):
        return item
    return []


@dataclass
class ChatMessage:
    """One message, with Gradio's field order: ``ChatMessage(content, role="assistant", ...)``."""

    content: Content = ""
    role: Role = "assistant"
    metadata: MetadataDict = field(default_factory=lambda: MetadataDict())
    options: list[OptionDict] = field(default_factory=list)

    def __post_init__(self) -> None:
        validate_role(self.role)
        self.content = validate_content(self.content)
        self.metadata = validate_metadata(self.metadata)
        self.options = validate_options(self.options)

    def to_dict(self) -> dict[str, Any]:
        """The plain dict a Gradio chat function receives in ``history``."""
        return {
            "role": self.role,
            "content": self.content,
            "metadata": dict(self.metadata),
            "options": [dict(o) for o in self.options],
        }

    @property
    def text(self) -> str:
        """The message's text; empty for a file."""
        return self.content if isinstance(self.content, str) else ""


def filedata(
    path: str,
    *,
    url: str | None = None,
    size: int | None = None,
    orig_name: str | None = None,
    mime_type: str | None = None,
    is_stream: bool = False,
) -> FileData:
    """Build a FileData dict with every key Gradio's has."""
    return FileData(
        path=path,
        url=url,
        size=size,
        orig_name=orig_name,
        mime_type=mime_type,
        is_stream=is_stream,
        meta=FileDataMeta(_type=FILEDATA_TYPE),
    )


def is_filedata(value: object) -> TypeGuard[FileData]:
    """True for a dict shaped like FileData (Gradio tells them apart by ``path`` plus ``meta``)."""
    if not isinstance(value, Mapping) or "path" not in value:
        return False
    meta = value.get("meta")
    return meta is None or (isinstance(meta, Mapping) and meta.get("_type") == FILEDATA_TYPE)


def validate_role(role: object) -> Role:
    if role not in ROLES:
        raise MessageError(f"unknown role {role!r}: a message's role is one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def validate_filedata(value: Mapping[str, Any]) -> FileData:
    """Check and complete a FileData dict: ``path`` is required, the rest get Gradio's defaults."""
    unknown = set(value) - FILEDATA_KEYS
    if unknown:
        raise MessageError(f"file data has unknown keys: {', '.join(sorted(unknown))}")
    path = value.get("path")
    if not isinstance(path, str) or not path:
        raise MessageError("file data needs a 'path' string")
    for key in ("url", "orig_name", "mime_type"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise MessageError(f"file data '{key}' must be a string or null")
    size = value.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise MessageError("file data 'size' must be a non-negative integer or null")
    if not isinstance(value.get("is_stream", False), bool):
        raise MessageError("file data 'is_stream' must be true or false")
    return filedata(
        path,
        url=value.get("url"),
        size=size,
        orig_name=value.get("orig_name"),
        mime_type=value.get("mime_type"),
        is_stream=value.get("is_stream", False),
    )


def validate_content(content: object) -> Content:
    """Accept text, a FileData dict or a component dict; say what is wrong with anything else.

    Gradio 6's forms are accepted too and reduced to one of those: content blocks
    (``{"type": "text", "text": ...}``, ``{"type": "file", "file": {...}}``), a list of blocks that
    is all text (joined) or a single item, a ``(path,)``/``(path, alt_text)`` tuple, and the media
    helpers (``webchat.Image(...)`` and the like).
    """
    if isinstance(content, str):
        return content
    if isinstance(content, ChatMessage):
        raise MessageError("content is a ChatMessage; pass its content, or the message itself as a reply")
    if isinstance(content, Mapping):
        kind = content.get("type")
        if kind == "text" and isinstance(content.get("text"), str):
            return content["text"]
        if kind == "file" and isinstance(content.get("file"), Mapping):
            return validate_filedata(content["file"])
        if "component" in content:
            return validate_component(content)
        if "path" in content:
            return validate_filedata(content)
        raise MessageError(
            "content dict must be file data (with 'path') or a component (with 'component' and 'value')"
        )
    if isinstance(content, tuple) and 1 <= len(content) <= 2 and isinstance(content[0], str):
        return validate_filedata({"path": content[0]})
    if isinstance(content, list):
        return _content_from_list(content)
    if hasattr(content, "to_message_content"):  # the media helpers (webchat.Image, Audio, ...)
        return validate_content(content.to_message_content())
    raise MessageError(f"content must be text, file data or a component dict, not {type(content).__name__}")


def _content_from_list(items: list[object]) -> Content:
    """Gradio 6 lets one message hold a list of contents; a webchat message holds one."""
    parts = [validate_content(item) for item in items]
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, str) for p in parts):
        return "\n\n".join(parts)  # type: ignore[arg-type]
    raise MessageError(
        "content is a list that mixes text and files; webchat keeps one piece of content per "
        "message, so return them as separate messages"
    )


def validate_component(content: Mapping[str, Any]) -> ComponentContent:
    name = content.get("component")
    if not isinstance(name, str) or not name:
        raise MessageError("component content needs a 'component' name")
    value = content.get("value")
    if isinstance(value, list):
        files: FileData | list[FileData] = [_component_file(v) for v in value]
    else:
        files = _component_file(value)
    result = ComponentContent(component=name, value=files)
    for key in ("constructor_args", "props"):
        if content.get(key) is not None:
            if not isinstance(content[key], Mapping):
                raise MessageError(f"component '{key}' must be a dict")
            result[key] = dict(content[key])  # type: ignore[literal-required]
    if content.get("alt_text") is not None:
        result["alt_text"] = str(content["alt_text"])
    return result


def _component_file(value: object) -> FileData:
    if not isinstance(value, Mapping) or "path" not in value:
        raise MessageError("a component's value must be file data (a dict with 'path')")
    return validate_filedata(value)


def validate_metadata(metadata: object) -> MetadataDict:
    if metadata is None:
        return MetadataDict()
    if not isinstance(metadata, Mapping):
        raise MessageError(f"metadata must be a dict, not {type(metadata).__name__}")
    unknown = set(metadata) - METADATA_KEYS
    if unknown:
        raise MessageError(
            f"metadata has unknown keys: {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(sorted(METADATA_KEYS))})"
        )
    status = metadata.get("status")
    if status is not None and status not in ("pending", "done"):
        raise MessageError("metadata 'status' must be 'pending' or 'done'")
    duration = metadata.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)):
        raise MessageError("metadata 'duration' must be a number of seconds")
    for key in ("title", "log"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            raise MessageError(f"metadata '{key}' must be a string")
    return MetadataDict(**{k: v for k, v in metadata.items() if v is not None})  # type: ignore[typeddict-item]


def validate_options(options: object) -> list[OptionDict]:
    if options is None:
        return []
    if not isinstance(options, list | tuple):
        raise MessageError("options must be a list of {'value', 'label'} dicts")
    result: list[OptionDict] = []
    for option in options:
        if not isinstance(option, Mapping) or not isinstance(option.get("value"), str):
            raise MessageError("each option needs a 'value' string")
        label = option.get("label")
        if label is not None and not isinstance(label, str):
            raise MessageError("an option's 'label' must be a string")
        result.append(OptionDict(value=option["value"], label=label or option["value"]))
    return result


def message_from_dict(data: object) -> ChatMessage:
    """Validate a plain dict (from JSON, a chat function or the store) into a ChatMessage."""
    if isinstance(data, ChatMessage):
        return data
    if not isinstance(data, Mapping):
        raise MessageError(f"a message must be a dict with 'role' and 'content', not {type(data).__name__}")
    missing = [key for key in ("role", "content") if key not in data]
    if missing:
        raise MessageError(f"message is missing {' and '.join(repr(k) for k in missing)}")
    unknown = set(data) - {"role", "content", "metadata", "options"}
    if unknown:
        raise MessageError(f"message has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    return ChatMessage(
        role=data["role"],
        content=data["content"],
        metadata=data.get("metadata") or MetadataDict(),
        options=data.get("options") or [],
    )


def messages_from_list(data: object) -> list[ChatMessage]:
    """Validate a whole history; an error names the position of the bad message."""
    if not isinstance(data, list):
        raise MessageError("a conversation must be a list of messages")
    result = []
    for index, item in enumerate(data):
        try:
            result.append(message_from_dict(item))
        except MessageError as error:
            raise MessageError(f"message {index}: {error}") from None
    return result
