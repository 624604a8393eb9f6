"""webchat: a self-hosted LLM chat web app, and a drop-in for Gradio's messages-format chat API."""

import importlib
import sys
from typing import Any

from webchat.errors import Error, UnsupportedError
from webchat.messages import ChatMessage, FileData, MessageError
from webchat.settings import Settings

__all__ = [
    "Audio",
    "ChatInterface",
    "ChatMessage",
    "Error",
    "File",
    "FileData",
    "Gallery",
    "Image",
    "MessageError",
    "Plot",
    "Settings",
    "Video",
    "create_app",
]
MEDIA = frozenset({"Audio", "File", "Gallery", "Image", "Plot", "Video"})
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in LAYOUT_MEDIA:
        return _media_or_component(name)
    module = _LAZY.get(name)
    if module is not None:
        if name in MEDIA:  # webchat.Gallery(...), webchat.Plot(...): media in a reply
            _refuse_in_blocks(name)
        return getattr(importlib.import_module(module), name)
    if name in _GRADIO_UNSUPPORTED:
        raise UnsupportedError(
            f"gr.{name} is not supported by webchat: it runs Gradio chat programs (ChatInterface, and "
            "Blocks apps around a chat); see the README's 'Gradio compatibility' table"
        )
    raise AttributeError(f"module 'webchat' has no attribute {name!r}")


LAYOUT_MEDIA = frozenset({"Audio", "File", "Image", "Video"})


def _building() -> bool:
    context = sys.modules.get("webchat.gradio.context")
    return context is not None and context.current_blocks() is not None


def _media_or_component(name: str) -> Any:
    """``gr.Image(...)`` is a component of the layout while a Blocks is built, and media in a
    reply (or an output's new value) otherwise, as in Gradio."""

    def make(*args: Any, **kwargs: Any) -> Any:
        module = "webchat.gradio.components" if _building() else "webchat.gradio.media"
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    make.__name__ = make.__qualname__ = name
    return make


def _refuse_in_blocks(name: str) -> None:
    """In a reply, gr.Image(...) is media; as a component of a Blocks layout it is not supported."""
    context = sys.modules.get("webchat.gradio.context")
    if context is not None and context.current_blocks() is not None:
        raise UnsupportedError(
            f"gr.{name} as a component of a Blocks layout is not supported by webchat "
            "(a chat function can still answer with it)"
        )


# Gradio's names that webchat has (webchat/gradio/), and the ones it has not: asking for one of
# those fails at once, saying so, instead of a bare AttributeError. (Not gr.render: webchat.render
# is a module of ours.)
_GRADIO_COMPONENTS = frozenset(
    {
        "Textbox",
        "MultimodalTextbox",
        "Slider",
        "Number",
        "Checkbox",
        "Dropdown",
        "Radio",
        "Markdown",
        "Chatbot",
        "Button",
        "ClearButton",
        "State",
        "UnsupportedError",
        "HTML",
        "Code",
        "JSON",
        "DownloadButton",
    }
)
_GRADIO_BLOCKS = frozenset(
    {"Blocks", "Row", "Column", "Group", "Accordion", "Tabs", "Tab", "TabItem", "Sidebar"}
)
_GRADIO_EVENTS = frozenset(
    {"LikeData", "EventData", "RetryData", "UndoData", "EditData", "SelectData", "update", "validate"}
)
# Names of Gradio's that programs only use as type hints or pass along (see webchat/gradio/types.py).
_GRADIO_TYPES = frozenset({"MessageDict", "OAuthToken", "OAuthProfile"})
_GRADIO_UNSUPPORTED = frozenset(
    {
        "AnnotatedImage",
        "BarPlot",
        "BrowserState",
        "Checkboxgroup",
        "CheckboxGroup",
        "ColorPicker",
        "DataFrame",
        "Dataframe",
        "Dataset",
        "DateTime",
        "DeepLinkButton",
        "DuplicateButton",
        "Examples",
        "FileExplorer",
        "HighlightedText",
        "ImageEditor",
        "ImageSlider",
        "Info",
        "Interface",
        "Label",
        "LinePlot",
        "LoginButton",
        "Model3D",
        "Paint",
        "ParamViewer",
        "Progress",
        "Request",
        "ScatterPlot",
        "SimpleImage",
        "Sketchpad",
        "TabbedInterface",
        "Timer",
        "UploadButton",
        "Warning",
        "load",
        "mount_gradio_app",
        "on",
    }
)
# What ``webchat.<name>`` loads on first use: the web layer (Flask, the model backends) and the
# Gradio surface load only when a program asks for them, so ``import webchat`` stays light (a
# chat function may only need webchat.Error).
_LAZY = {
    "create_app": "webchat.app",
    "ChatInterface": "webchat.gradio.interface",
    **dict.fromkeys(MEDIA, "webchat.gradio.media"),
    **dict.fromkeys(_GRADIO_COMPONENTS, "webchat.gradio.components"),
    **dict.fromkeys(_GRADIO_BLOCKS, "webchat.gradio.blocks"),
    **dict.fromkeys(_GRADIO_EVENTS, "webchat.gradio.events"),
    **dict.fromkeys(_GRADIO_TYPES, "webchat.gradio.types"),
    "load_chat": "webchat.gradio.external",
    **dict.fromkeys(
        ("get_image", "get_video", "get_audio", "get_model3d", "get_file"), "webchat.gradio.demo_media"
    ),
}
# Modules of Gradio's that programs use by name: ``gr.themes.Soft()``.
_MODULES = {"themes": "webchat.gradio.themes", "external": "webchat.gradio.external"}
