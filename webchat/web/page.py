"""What the chat page shows around the conversation, and what a program may add to it.

The web layer draws :class:`Page`; a Gradio program (``webchat.gradio``) fills it in and passes
it to ``create_app``. What such a program adds beyond the fields here (additional inputs, its
css, a Blocks layout) is its ``gradio`` object, which the templates read and the send route asks
for the chat function's extra arguments through the one method of :class:`Program`. So the web
layer calls the Gradio layer above it without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from webchat.messages import ChatMessage


@dataclass
class EventOutcome:
    """What one event of a program's page changed: the components to draw again (the templates
    draw each with ``partials/gr/component.html``; the web layer does not look inside them), the
    Chatbot's new messages (None: unchanged), and what went wrong, if anything, next to which
    component (its id; None: at the top of the page). A failed event changes nothing."""

    shown: list[Any] = field(default_factory=list)
    chat: list[ChatMessage] | None = None
    error: str | None = None
    error_at: int | None = None
    # An event whose handlers yield runs on: the page follows it by this id
    # (:meth:`Program.follow`), each value drawn as it comes.
    stream: str | None = None
    # One of those values, not the event's end (drawn, nothing stored).
    partial: bool = False


class Program(Protocol):
    """A program's additions to the page (``webchat.gradio.page.GradioPage``)."""

    css: str

    @property
    def live_outputs(self) -> bool:
        """Does a streamed reply change more of the page while it streams? Then the reply's socket
        asks for it (``run_event("live", ...)``) whenever the reply moves on."""
        ...

    def read(self, form: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
        """The chat function's extra arguments from ``owner``'s posted composer form; raises
        ``webchat.errors.InputError`` for a value it refuses."""
        ...

    def run_event(
        self, index: int, form: Mapping[str, Any], owner: str, history: list[dict[str, Any]]
    ) -> EventOutcome:
        """Run the page's event ``index`` with the posted form, for ``owner`` whose conversation
        is ``history`` (messages format); "load" for the page's load events, "pending" for what
        the chat event that just ended left to draw, "live" for what the one streaming changed
        so far (no form, no history), "unload" when the page was closed, and the
        Chatbot's own events by name ("undo", "edit", "clear", "option_select"...)."""
        ...

    def retry_inputs(self, extra: tuple[Any, ...]) -> tuple[Any, ...]:
        """The chat function's extra arguments for running a turn again, from the ones it ran
        with (a program may run other handlers on Retry)."""
        ...

    def attached(self, form: Mapping[str, Any]) -> tuple[str, ...]:
        """Files the program attaches to the message being sent (an example's): local paths or
        http(s) URLs, stored for the owner as a chat function's files are."""
        ...

    def follow(self, stream: str, owner: str) -> Iterator[EventOutcome]:
        """The outcomes of ``owner``'s event running on as ``stream`` (an outcome's ``stream``):
        each value its handlers yield (``partial``), then its end; nothing for an unknown one."""
        ...


# Called with (index in the conversation, the message's content, liked?) (Gradio's chatbot.like):
# True or False, or the name of another feedback option chosen (Gradio's feedback_options).
LikeHandler = Callable[[int, Any, bool | str], Any]


@dataclass(frozen=True)
class MessageLook:
    """How messages are drawn (what a Gradio program's Chatbot options ask for)."""

    # Message text as Markdown; False: as written, line breaks kept (render_markdown=False).
    markdown: bool = True
    # LaTeX between $...$, $$...$$, \(...\) and \[...\] as MathML (latex_delimiters=[]: off).
    math: bool = True
    # A Copy button under each message; a "Copy chat" button for the whole conversation.
    copy: bool = True
    copy_all: bool = False
    # The feedback buttons under a reply: "Like", "Dislike", and further options (kept as a
    # dislike, given by name to the like handler).
    feedback: tuple[str, ...] = ("Like", "Dislike")
    # Consecutive messages of one speaker drawn as one group; False: each a bubble of its own.
    grouped: bool = True
    # A reply's text may be edited in place (Gradio's editable="all"; the edit is a page event).
    edit_replies: bool = False

    @property
    def feedback_others(self) -> tuple[str, ...]:
        return tuple(o for o in self.feedback if o not in ("Like", "Dislike"))


@dataclass(frozen=True)
class Page:
    """What the page shows around the chat (Gradio's ChatInterface arguments)."""

    title: str = "webchat"
    description: str = ""
    placeholder: str = "Message"
    examples: tuple[str, ...] = ()
    multimodal: bool = False
    # Shown on the examples instead of their text (Gradio's example_labels).
    example_labels: tuple[str, ...] = ()
    # The composer's send and stop buttons; "" hides one (Gradio's submit_btn/stop_btn=False).
    submit_label: str = "Send"
    stop_label: str = "Stop"
    # The page: chat.html, or blocks.html for a gr.Blocks layout.
    template: str = "chat.html"
    # Local image files shown beside the user's and the assistant's messages (Gradio's
    # Chatbot(avatar_images=(user, assistant))), served by the avatar route.
    avatar_images: tuple[str | None, str | None] = (None, None)
    # Messages every new conversation starts with (Gradio's ``gr.Chatbot(value=[...])``): shown in
    # an empty chat, stored first when a conversation begins, so they are its history.
    greeting: tuple[ChatMessage, ...] = ()
    # How messages are drawn (Gradio's Chatbot options: Markdown, math, buttons...).
    look: MessageLook = field(default_factory=MessageLook)
    # A Gradio program's additions (additional inputs, css, Blocks layout).
    gradio: Program | None = None

    def read_inputs(self, form: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
        """The chat function's extra arguments from a posted composer form (none without a program)."""
        return self.gradio.read(form, owner) if self.gradio is not None else ()

    def retry_inputs(self, extra: tuple[Any, ...]) -> tuple[Any, ...]:
        """The extra arguments of a turn run again (see :meth:`Program.retry_inputs`)."""
        return self.gradio.retry_inputs(extra) if self.gradio is not None else extra

    def attached(self, form: Mapping[str, Any]) -> tuple[str, ...]:
        """Files the program attaches to a posted message (see :meth:`Program.attached`)."""
        return self.gradio.attached(form) if self.gradio is not None else ()
