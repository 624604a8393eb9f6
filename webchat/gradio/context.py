"""The layout being built: the stack of containers whose ``with`` block is open (Gradio's
``gradio/context.py``), and :class:`Block`, the base of the components placed in one. Components
place themselves in the innermost container as they are made; the outermost is the Blocks app.
One stack per thread, so two programs can build side by side.
"""

from __future__ import annotations

import threading
from typing import Any

_building = threading.local()


class Block:
    """The base of every component (webchat.gradio.components): what events take as inputs and
    outputs. Containers are not Blocks here, so an event naming a Row is refused."""

    blocks: Any = None  # the Blocks app it was placed in (None: not rendered)


def stack() -> list[Any]:
    return getattr(_building, "stack", [])


def push(container: Any) -> None:
    _building.stack = [*stack(), container]


def pop() -> None:
    _building.stack = stack()[:-1]


def current_container() -> Any | None:
    """The innermost open container (a Row, Column, ... or the Blocks itself), or None."""
    open_ = stack()
    return open_[-1] if open_ else None


def current_blocks() -> Any | None:
    """The Blocks app being built, or None outside ``with gr.Blocks():``."""
    open_ = stack()
    return open_[0] if open_ and getattr(open_[0], "root", None) is open_[0] else None
