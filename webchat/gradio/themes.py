"""``gr.themes``: accepted and ignored, as the README says of ``theme=``.

Programs very often pass ``theme=gr.themes.Soft()`` (or build one with ``.set(...)`` and hues from
``gr.themes.colors``); webchat draws its own page, in light and dark, so a theme changes nothing.
Every theme Gradio ships exists here and takes any arguments, so such programs run unchanged.
"""

from __future__ import annotations

from typing import Any


class Base:
    """A Gradio theme: any arguments, any ``.set(...)``; nothing is drawn from it."""

    def __init__(self, *args: Any, **options: Any) -> None:
        self.options = options

    def set(self, **_variables: Any) -> Base:
        return self

    @classmethod
    def from_hub(cls, repo_name: str, **_options: Any) -> Base:
        return cls()

    @classmethod
    def load(cls, path: str) -> Base:
        return cls()

    def push_to_hub(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("webchat does not publish themes")


class Default(Base): ...


class Soft(Base): ...


class Glass(Base): ...


class Monochrome(Base): ...


class Ocean(Base): ...


class Origin(Base): ...


class Citrus(Base): ...


class ThemeClass(Base): ...


class Font:
    def __init__(self, name: str = "", *args: Any, **options: Any) -> None:
        self.name = name


class GoogleFont(Font): ...


class LocalFont(Font): ...


class _Named:
    """``gr.themes.colors.blue``, ``gr.themes.sizes.radius_sm``...: any name is a value."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return name


class Color:
    def __init__(self, *shades: str, name: str | None = None, **named: str) -> None:
        self.name = name


class Size:
    def __init__(self, *values: str, name: str | None = None, **named: str) -> None:
        self.name = name


colors = _Named("colors")
sizes = _Named("sizes")
fonts = _Named("fonts")
