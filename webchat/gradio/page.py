"""What a Gradio program adds to the chat page: its additional inputs, css, and Blocks layout.

:class:`GradioPage` is the ``gradio`` field of the page the web layer draws
(:class:`webchat.web.page.Page`): the templates read its inputs and layout, and the send route
asks it for the chat function's extra arguments through :meth:`GradioPage.read`, the one method
the web layer knows it by (:class:`webchat.web.page.Program`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webchat.errors import InputError
from webchat.gradio.components import CHATBOT_EVENTS, FormComponent, MultimodalTextbox
from webchat.web.page import EventOutcome, MessageLook, Page

if TYPE_CHECKING:
    from webchat.gradio.blocks import Blocks
    from webchat.gradio.runtime import PageEvents


@dataclass
class GradioPage:
    """What the templates and the routes need from a Gradio program, beyond :class:`Page`."""

    inputs: tuple[FormComponent, ...] = ()
    inputs_label: str = "Additional Inputs"
    inputs_open: bool = False
    # Examples given with additional input values: the example's text -> those values.
    example_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # Examples given with files (a multimodal chat's {"text", "files"}): the example's text -> them.
    example_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    css: str = ""
    chat_placeholder: str | None = None
    blocks: Blocks | None = None
    events: PageEvents | None = None
    # ChatInterface(validator=fn): fn(message, *additional inputs) gives gr.validate(ok, why).
    validator: Any = None

    def run_event(
        self, index: int | str, form: Mapping[str, Any], owner: str, history: list[dict[str, Any]]
    ) -> EventOutcome:
        """See :meth:`webchat.web.page.Program.run_event`."""
        if self.events is None:
            return EventOutcome(error="This page has no events: reload it.")
        if index == "load":
            return self.events.load(owner, history, form)
        if index == "pending":
            return self.events.pending(owner, history)
        if index == "live":
            return self.events.live(owner)
        if index == "unload":
            self.events.unload()
            return EventOutcome()
        if index in CHATBOT_EVENTS:
            return self.events.chatbot(str(index), form, owner, history)
        return self.events.run(int(index), form, owner, history)

    @property
    def live_outputs(self) -> bool:
        """See :attr:`webchat.web.page.Program.live_outputs`."""
        return self.blocks is not None and self.blocks.streams_outputs

    def follow(self, stream: str, owner: str) -> Iterator[EventOutcome]:
        """See :meth:`webchat.web.page.Program.follow`."""
        return self.events.follow(stream, owner) if self.events is not None else iter(())

    def attached(self, form: Mapping[str, Any]) -> tuple[str, ...]:
        """See :meth:`webchat.web.page.Program.attached`: an example's files, when an example
        with files is sent as it is (the composer empty)."""
        example = str(form.get("example") or "")
        if not example or str(form.get("text", "")).strip():
            return ()
        return self.example_files.get(example, ())

    def retry_inputs(self, extra: tuple[Any, ...]) -> tuple[Any, ...]:
        """See :meth:`webchat.web.page.Program.retry_inputs`: a Blocks app whose Chatbot has retry
        handlers runs them (the "retry" trigger) instead of the reply's own event."""
        blocks = self.blocks
        if blocks is None or not extra or not blocks.trigger_steps("retry"):
            return extra
        return ("retry", *extra[1:])

    def read(self, form: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
        """The extra arguments for the chat function, from the posted composer form of ``owner``."""
        if self.blocks is not None:
            return self._read_blocks(form, owner)
        values = [c.parse(form, f"input-{i}") for i, c in enumerate(self.inputs)]
        self.validate(str(form.get("text") or form.get("example") or ""), values)
        example = form.get("example")
        if example and not str(form.get("text", "")).strip() and example in self.example_values:
            # An example given with values for the additional inputs sets them, as in Gradio.
            for index, value in enumerate(self.example_values[example]):
                if value is not None and index < len(values):
                    values[index] = value
        return tuple(values)

    def _read_blocks(self, form: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
        assert self.blocks is not None
        trigger = str(form.get("trigger") or "submit")
        if not form.get("trigger") and form.get("example"):
            trigger = "submit"
        if trigger == "submit" and not self.blocks.sends_on_enter:
            raise InputError("Enter does not send here: use the buttons.")
        if not self.blocks.trigger_steps(trigger):
            raise InputError("This page is out of date: reload it, then send again.")
        values = [c.parse(form, c.name) for c in self.blocks.form_inputs]
        return (trigger, owner, *values)

    def validate(self, text: str, values: list[Any]) -> None:
        """Run the program's validator (Gradio's ``validator=``) before the message is sent; its
        message is shown next to the composer and the message stays in the box."""
        if self.validator is None:
            return
        verdicts = self.validator(text, *values)
        for verdict in verdicts if isinstance(verdicts, list | tuple) else [verdicts]:
            if (
                isinstance(verdict, Mapping)
                and verdict.get("__type__") == "validate"
                and not verdict.get("is_valid")
            ):
                raise InputError(str(verdict.get("message") or "This message was refused by the app."))


def button_label(value: Any, default: str) -> str:
    """True means the default label, a string is the label, False/None hide the button."""
    if value is True:
        return default
    return str(value) if value else ""


def page_for_blocks(blocks: Blocks, events: PageEvents) -> Page:
    """The page of a Blocks app (templates/blocks.html draws its layout); a ChatInterface placed in
    it gives the chat its examples, as on its own page."""
    chatbot, box = blocks.chatbot, blocks.composer
    interface = blocks.interfaces[0].interface if blocks.interfaces else None
    gradio = GradioPage(
        css=blocks.css,
        chat_placeholder=chatbot.placeholder if chatbot else None,
        blocks=blocks,
        events=events,
    )
    submit = button_label(box.submit_btn, "Send") if box is not None else ""
    if interface is not None:
        submit = interface.submit_label
    return Page(
        title=blocks.title,
        placeholder=(box.placeholder or "") if box is not None else "",
        examples=interface.examples if interface else (),
        example_labels=interface.example_labels if interface else (),
        gradio=gradio,
        submit_label=submit,
        stop_label="Stop",
        template="blocks.html",
        multimodal=isinstance(box, MultimodalTextbox),  # a text-and-files box: the composer takes files
        avatar_images=chatbot.avatar_images if chatbot else (None, None),
        greeting=chatbot.greeting if chatbot else (),
        look=chatbot.look if chatbot else MessageLook(),
    )
