"""What a like or dislike tells a program: Gradio's ``gr.LikeData``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LikeData:
    """``index``: the message's position in the conversation (as in ``history``); ``value``: its
    content; ``liked``: True for like, False for dislike."""

    index: int
    value: Any
    liked: bool = True


LikeHandler = Callable[[LikeData], Any]
