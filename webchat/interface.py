"""``ChatInterface``: serve a chat function the way ``gr.ChatInterface`` does (Gradio 6's surface).

The chat function receives what Gradio 6 passes: the message (text, or ``{"text", "files"}`` when
``multimodal=True``), the history as Gradio 6's messages (content as a list of blocks), then the
values of the additional inputs in order. Parameters that only style Gradio's own page are
accepted and ignored; ones that would change behaviour webchat does not have raise
:class:`~webchat.components.UnsupportedError` at once.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webchat.chat import ChatFunction, gradio_history, iterate_outputs, strip_echo
from webchat.components import (
    Chatbot,
    FormComponent,
    InputError,
    MultimodalTextbox,
    Textbox,
    UnsupportedError,
    form_component,
)
from webchat.settings import Settings
from webchat.web.services import Interface

if TYPE_CHECKING:
    from flask import Flask

    from webchat.blocks import Accordion, Blocks

__all__ = ["ChatInterface", "InputError", "read_inputs"]


@dataclass
class GradioPage:
    """What the templates and the routes need from a Gradio program, beyond :class:`Interface`."""

    inputs: tuple[FormComponent, ...] = ()
    inputs_label: str = "Additional Inputs"
    inputs_open: bool = False
    # Examples given with additional input values: the example's text -> those values.
    example_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    css: str = ""
    chat_placeholder: str | None = None
    blocks: Blocks | None = None

    def read(self, form: Mapping[str, Any]) -> tuple[Any, ...]:
        """The extra arguments for the chat function, from the posted composer form."""
        if self.blocks is not None:
            return self._read_blocks(form)
        values = [_read(c, form, f"input-{i}") for i, c in enumerate(self.inputs)]
        example = form.get("example")
        if example and not str(form.get("text", "")).strip() and example in self.example_values:
            # An example given with values for the additional inputs sets them, as in Gradio.
            for index, value in enumerate(self.example_values[example]):
                if value is not None and index < len(values):
                    values[index] = value
        return tuple(values)

    def _read_blocks(self, form: Mapping[str, Any]) -> tuple[Any, ...]:
        from webchat.web.session import current_owner

        assert self.blocks is not None
        trigger = str(form.get("trigger") or "submit")
        if trigger == "submit" and not self.blocks.sends_on_enter:
            raise InputError("Enter does not send here: use the buttons.")
        if not self.blocks.trigger_steps(trigger):
            raise InputError("This page is out of date: reload it, then send again.")
        values = [_read(c, form, c.name) for c in self.blocks.form_inputs]
        return (trigger, current_owner(), *values)


def _read(component: FormComponent, form: Mapping[str, Any], name: str) -> Any:
    return component.parse(form, name)


def read_inputs(interface: Interface, form: Mapping[str, Any]) -> tuple[Any, ...]:
    """The chat function's extra arguments from a posted composer form; InputError if one is bad."""
    page = getattr(interface, "gradio", None)
    return page.read(form) if isinstance(page, GradioPage) else ()


class GradioFunction:
    """A chat function called the Gradio 6 way: history as Gradio's messages, at most
    ``concurrency_limit`` replies at once (the others wait their turn)."""

    def __init__(
        self, fn: ChatFunction, concurrency_limit: int | None = None, defaults: tuple[Any, ...] = ()
    ) -> None:
        self.fn = fn
        self.slots = threading.BoundedSemaphore(concurrency_limit) if concurrency_limit else None
        self.defaults = defaults  # the additional inputs' values for a caller that has no form (the API)

    def __call__(self, message: Any, history: list[dict[str, Any]], *extra: Any) -> Iterator[Any]:
        extra = (*extra, *self.defaults[len(extra) :])
        chat = gradio_history(history)
        if self.slots is not None:
            self.slots.acquire()
        try:
            outputs = iterate_outputs(self.fn, message, list(chat), *extra)
            try:
                for output in outputs:
                    if isinstance(output, list):
                        output = strip_echo(output, chat, message)
                    yield output
            finally:
                outputs.close()
        finally:
            if self.slots is not None:
                self.slots.release()


class ChatInterface:
    """A chat page around ``fn(message, history, *additional_inputs)``."""

    def __init__(
        self,
        fn: ChatFunction,
        *,
        multimodal: bool = False,
        type: str | None = "messages",
        chatbot: Chatbot | None = None,
        textbox: Textbox | None = None,
        additional_inputs: Any = None,
        additional_inputs_accordion: str | Accordion | None = None,
        additional_outputs: Any = None,
        editable: bool = False,
        examples: Sequence[Any] | None = None,
        examples_label: str | None = "Examples",
        example_labels: Sequence[str] | None = None,
        example_icons: Sequence[str] | None = None,
        run_examples_on_click: bool = True,
        cache_examples: bool | None = None,
        cache_mode: str | None = None,
        title: str | None = None,
        description: str | None = None,
        theme: Any = None,
        css: str | None = None,
        css_paths: Any = None,
        js: str | None = None,
        head: str | None = None,
        flagging_mode: str | None = None,
        flagging_options: Sequence[str] | None = ("Like", "Dislike"),
        flagging_dir: str = ".gradio/flagged",
        analytics_enabled: bool | None = None,
        autofocus: bool = True,
        autoscroll: bool = True,
        submit_btn: str | bool | None = True,
        stop_btn: str | bool | None = True,
        concurrency_limit: int | str | None = "default",
        delete_cache: Any = None,
        show_progress: str = "minimal",
        fill_height: bool = True,
        fill_width: bool = False,
        api_name: str | None = None,
        api_description: Any = None,
        api_visibility: str = "public",
        save_history: bool = False,
        validator: Callable[..., Any] | None = None,
        placeholder: str | None = None,
    ) -> None:
        if type not in (None, "messages"):
            raise ValueError(
                f"type={type!r} is not supported: webchat speaks Gradio's 'messages' format only"
            )
        _refuse(
            additional_outputs=additional_outputs,
            js=js,
            head=head,
            validator=validator,
            cache_examples=cache_examples,
            example_icons=example_icons,
        )
        if not run_examples_on_click:
            raise UnsupportedError(
                "ChatInterface(run_examples_on_click=False) is not supported: "
                "webchat sends an example when clicked"
            )
        if flagging_mode not in (None, "never", "manual"):
            raise ValueError("Invalid value for `flagging_mode` parameter. Must be: 'manual' or 'never'.")
        blocks = sys.modules.get("webchat.blocks")
        if blocks is not None and blocks.current_blocks() is not None:
            raise UnsupportedError(
                "a ChatInterface inside gr.Blocks is not supported by webchat: launch the ChatInterface "
                "itself, or build the chat layout with Blocks"
            )
        if isinstance(fn, ChatInterface):
            fn = fn.fn
        multimodal = multimodal or isinstance(textbox, MultimodalTextbox)
        self.fn = fn
        self.concurrency_limit = concurrency_limit if isinstance(concurrency_limit, int) else None
        inputs = tuple(form_component(c) for c in _as_list(additional_inputs))
        texts, example_values = _examples(examples, len(inputs))
        labels = tuple(str(label) for label in example_labels or ())
        if labels and len(labels) != len(texts):
            raise ValueError("example_labels must have one label for each example")
        box = textbox if isinstance(textbox, Textbox) else None
        self.page = GradioPage(
            inputs=inputs,
            inputs_label=_accordion_label(additional_inputs_accordion),
            inputs_open=bool(getattr(additional_inputs_accordion, "open", False)),
            example_values=example_values,
            css=css or "",
            chat_placeholder=chatbot.placeholder if isinstance(chatbot, Chatbot) else None,
        )
        self.interface = Interface(
            title=title or "webchat",
            description=description or "",
            placeholder=placeholder or (box.placeholder if box and box.placeholder else "Message"),
            examples=texts,
            multimodal=multimodal,
            gradio=self.page,
            submit_label=_button_label(box.submit_btn if box and box.submit_btn else submit_btn, "Send"),
            stop_label=_button_label(box.stop_btn if box and box.stop_btn else stop_btn, "Stop"),
            example_labels=labels,
            avatar_images=chatbot.avatar_images if isinstance(chatbot, Chatbot) else (None, None),
        )

    def app(self, settings: Settings | None = None) -> Flask:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        defaults = tuple(c.default() for c in self.page.inputs)
        return build_app(GradioFunction(self.fn, self.concurrency_limit, defaults), self.interface, settings)

    def launch(self, *args: Any, **kwargs: Any) -> None:
        """Serve until interrupted, with Gradio's ``launch()`` arguments: ``server_name``,
        ``server_port``, ``root_path``, ``auth`` (user/password pairs), ``css`` and ``theme``
        (Gradio 6 takes them here); ``share=True`` is refused, webchat makes no tunnels."""
        launch(self.app, *args, **kwargs)

    def queue(self, *args: Any, **kwargs: Any) -> ChatInterface:
        """Gradio's queue(): replies always run in the background here, so nothing to set."""
        return self


def _refuse(**given: Any) -> None:
    reasons = {
        "additional_outputs": "a chat function's reply is its only output",
        "js": "pages run no inline scripts",
        "head": "pages run no inline scripts",
        "validator": "validate in the chat function and raise webchat.Error",
        "cache_examples": "examples run when clicked",
        "example_icons": "examples are text buttons",
    }
    for name, value in given.items():
        if value:
            raise UnsupportedError(f"ChatInterface({name}=...) is not supported by webchat: {reasons[name]}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _accordion_label(accordion: Any) -> str:
    if accordion is None:
        return "Additional Inputs"
    if isinstance(accordion, str):
        return accordion
    return getattr(accordion, "label", None) or "Additional Inputs"


def _button_label(value: Any, default: str) -> str:
    """True means the default label, a string is the label, False/None hide the button."""
    if value is True:
        return default
    return str(value) if value else ""


def _examples(
    examples: Sequence[Any] | None, inputs: int
) -> tuple[tuple[str, ...], dict[str, tuple[Any, ...]]]:
    """Example texts, and for examples given as lists, their additional input values."""
    texts: list[str] = []
    values: dict[str, tuple[Any, ...]] = {}
    for example in examples or ():
        extra: tuple[Any, ...] = ()
        if isinstance(example, list | tuple):
            if not example:
                raise ValueError("an example given as a list needs the message first")
            if len(example) > 1 + inputs:
                raise ValueError(
                    f"an example has {len(example) - 1} additional input values but there are {inputs} "
                    "additional inputs"
                )
            example, extra = example[0], tuple(example[1:])
        if isinstance(example, Mapping):
            if example.get("files"):
                raise UnsupportedError("examples with files are not supported by webchat: give the text")
            example = example.get("text", "")
        text = str(example)
        texts.append(text)
        if extra:
            values[text] = extra
    return tuple(texts), values


def page_for_blocks(blocks: Blocks) -> Interface:
    """The Interface of a Blocks layout: the chat page draws the layout (templates/blocks.html)."""
    assert blocks.composer is not None and blocks.chatbot is not None
    page = GradioPage(css=blocks.css, chat_placeholder=blocks.chatbot.placeholder, blocks=blocks)
    box = blocks.composer
    return Interface(
        title=blocks.title,
        placeholder=box.placeholder or "",
        gradio=page,
        submit_label=_button_label(box.submit_btn, "Send"),
        stop_label="Stop",
        page_template="blocks.html",
        avatar_images=blocks.chatbot.avatar_images,
    )


def build_app(
    chat_fn: ChatFunction,
    interface: Interface,
    settings: Settings | None = None,
    *,
    on_like: Callable[[Any], Any] | None = None,
) -> Flask:
    from webchat.app import create_app

    app = create_app(
        settings or Settings.load(), chat_fn, interface=interface, server_name="The chat function"
    )
    if on_like is not None:
        app.extensions["webchat"].on_like = on_like
    return app


# launch() arguments that only concern Gradio's own server, browser or telemetry.
IGNORED_LAUNCH = frozenset(
    {
        "inline",
        "inbrowser",
        "debug",
        "max_threads",
        "auth_message",
        "prevent_thread_lock",
        "show_error",
        "height",
        "width",
        "favicon_path",
        "quiet",
        "show_api",
        "footer_links",
        "allowed_paths",
        "blocked_paths",
        "app_kwargs",
        "state_session_capacity",
        "max_file_size",
        "enable_monitoring",
        "strict_cors",
        "ssr_mode",
        "pwa",
        "i18n",
        "theme",
        "share_server_address",
        "share_server_protocol",
        "share_server_tls_certificate",
    }
)


def launch(
    make_app: Callable[[Settings], Flask],
    server_name: str | None = None,
    server_port: int | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool | None = None,
    auth: Any = None,
    root_path: str | None = None,
    css: str | None = None,
    **options: Any,
) -> None:
    """Serve until interrupted; prints the URL. Arguments as Gradio's ``launch()``."""
    from webchat.server import serve

    if share:
        raise UnsupportedError(
            "launch(share=True) is not supported: webchat makes no tunnels or share links. Run it on a "
            "host people can reach (server_name='0.0.0.0'), behind your own reverse proxy for HTTPS"
        )
    unknown = sorted(set(options) - IGNORED_LAUNCH)
    if any(name.startswith("ssl_") for name in unknown):
        raise UnsupportedError(
            "launch(ssl_...) is not supported: put a reverse proxy (nginx) in front for HTTPS"
        )
    if unknown:
        raise TypeError(f"launch() got unexpected keyword arguments: {', '.join(unknown)}")
    cli: dict[str, Any] = {"host": host or server_name, "port": port or server_port}
    if auth is not None:
        cli["auth"] = _auth_pairs(auth)
    settings = Settings.load(cli)
    app = make_app(settings)
    if css:
        page = app.extensions["webchat"].interface.gradio
        page.css = "\n".join(filter(None, [page.css, css]))
    if root_path:
        app.wsgi_app = PrefixMiddleware(app.wsgi_app, root_path)  # type: ignore[method-assign]
    serve(app, settings.host, settings.port)


def _auth_pairs(auth: Any) -> tuple[str, ...]:
    """Gradio's ``auth=("user", "pass")`` or a list of such pairs, as webchat's ``user:password``."""
    if callable(auth):
        raise UnsupportedError(
            "launch(auth=<function>) is not supported by webchat: give (user, password) pairs"
        )
    pairs = [auth] if isinstance(auth, tuple) else list(auth)
    result = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError("launch(auth=...) takes a (user, password) pair or a list of them")
        if ":" in pair[0]:
            raise ValueError("a user name in launch(auth=...) cannot contain ':'")
        result.append(f"{pair[0]}:{pair[1]}")
    return tuple(result)


class PrefixMiddleware:
    """Serve under ``root_path`` (Gradio's name): links and sockets carry the prefix, and requests
    arrive with or without it (a proxy may strip it)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)
