"""Gradio's demo media helpers (``gr.get_image("cheetah.jpg")``, ``gr.get_audio(...)``...).

Gradio ships a folder of sample files with its package and these return their paths; webchat
ships none. A name is found beside the program (in its folder, or its ``files/`` or ``media/``
folder, where Gradio's demos keep theirs); an http(s) URL is returned as given (webchat fetches
it as Gradio does). The program's folder is looked in first, then the working folder. A name
found nowhere fails at once, naming it and saying where to put it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from webchat.errors import UnsupportedError

PLACES = (".", "files", "media")


def _find(kind: str, filename: str | None) -> str:
    if filename is None:
        raise UnsupportedError(
            f"gr.get_{kind}() without a name is not supported by webchat: it ships no sample files to "
            "pick from; give the name of a file beside the program"
        )
    if filename.startswith(("http://", "https://")):
        return filename
    program = getattr(sys.modules.get("__main__"), "__file__", None)
    roots = [Path(program).resolve().parent] if program else []
    for root in [*roots, Path.cwd()]:
        for place in PLACES:
            path = root / place / filename
            if path.is_file():
                return str(path.resolve())
    raise UnsupportedError(
        f"gr.get_{kind}({filename!r}): webchat ships none of Gradio's sample files; put {filename!r} "
        "beside the program (or in its files/ folder), or give its path or an http(s) URL"
    )


def get_image(filename: str | None = None) -> str:
    return _find("image", filename)


def get_video(filename: str | None = None) -> str:
    return _find("video", filename)


def get_audio(filename: str | None = None) -> str:
    return _find("audio", filename)


def get_model3d(filename: str | None = None) -> str:
    return _find("model3d", filename)


def get_file(filename: str | None = None) -> str:
    return _find("file", filename)
