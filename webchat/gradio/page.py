"""What a Gradio program adds to the chat page: its additional inputs, css, and Blocks layout.

:class:`GradioPage` is the ``gradio`` field of the page the web layer draws
(:class:`webchat.web.page.Page`): the templates read its inputs and layout, and the send route
asks it for the chat function's extra arguments through :meth:`GradioPage.read`, the one method
the web layer knows it by (:class:`webchat.web.page.Program`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webchat.errors import InputError
from webchat.gradio.components import FormComponent, MultimodalTextbox
from webchat.web.page import Page

if TYPE_CHECKING:
    from webchat.gradio.blocks import Blocks


@dataclass
class GradioPage:
    """What the templates and the routes need from a Gradio program, beyond :class:`Page`."""

    inputs: tuple[FormComponent, ...] = ()
    inputs_label: str = "Additional Inputs"
    inputs_open: bool = False
    # Examples given with additional input values: the example's text -> those values.
    example_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    css: str = ""
    chat_placeholder: str | None = None
    blocks: Blocks | None = None

    def read(self, form: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
        """The extra arguments for the chat function, from the posted composer form of ``owner``."""
        if self.blocks is not None:
            return self._read_blocks(form, owner)
        values = [c.parse(form, f"input-{i}") for i, c in enumerate(self.inputs)]
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
        if trigger == "submit" and not self.blocks.sends_on_enter:
            raise InputError("Enter does not send here: use the buttons.")
        if not self.blocks.trigger_steps(trigger):
            raise InputError("This page is out of date: reload it, then send again.")
        values = [c.parse(form, c.name) for c in self.blocks.form_inputs]
        return (trigger, owner, *values)


def button_label(value: Any, default: str) -> str:
    """True means the default label, a string is the label, False/None hide the button."""
    if value is True:
        return default
    return str(value) if value else ""


def page_for_blocks(blocks: Blocks) -> Page:
    """The page of a Blocks layout: the chat page draws the layout (templates/blocks.html)."""
    assert blocks.composer is not None and blocks.chatbot is not None
    gradio = GradioPage(css=blocks.css, chat_placeholder=blocks.chatbot.placeholder, blocks=blocks)
    box = blocks.composer
    return Page(
        title=blocks.title,
        placeholder=box.placeholder or "",
        gradio=gradio,
        submit_label=button_label(box.submit_btn, "Send"),
        stop_label="Stop",
        template="blocks.html",
        multimodal=isinstance(box, MultimodalTextbox),  # a text-and-files box: the composer takes files
        avatar_images=blocks.chatbot.avatar_images,
        greeting=blocks.chatbot.greeting,
    )
