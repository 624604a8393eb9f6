"""What a file is: its type sniffed from its bytes (never the browser's claim or the extension),
how the page shows it, and whether a browser may open it itself.

Sniffing is ``filetype``'s magic numbers, then a text check that tells HTML and SVG (documents
that can run script) from plain text.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Literal

import filetype

HEAD_BYTES = 8192  # what the sniffers look at (filetype reads as much)

MediaKind = Literal["image", "audio", "video", "file"]

# Types a browser shows in <img>; none of them can run script.
RASTER_IMAGES = frozenset(
    {
        "image/png",
        "image/apng",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/x-icon",
    }
)
# Served inline (opened in the browser); anything else, SVG and HTML included, is a download.
INLINE_TYPES = RASTER_IMAGES | {"application/pdf"}
# filetype's names for a few types, and the names browsers and mimetypes use.
MIME_ALIASES = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/m4a": "audio/mp4",
    "audio/x-m4a": "audio/mp4",
    "image/x-ms-bmp": "image/bmp",
    "image/vnd.microsoft.icon": "image/x-icon",
    "image/jpg": "image/jpeg",
}
CATEGORIES = {"image", "audio", "video", "text"}
_MARKUP = (b"<html", b"<!doctype html", b"<script", b"<body", b"<head", b"<iframe", b"<object", b"<embed")
# What a text file may be called from its extension: types that are plain text, whatever they hold.
_TEXT_LIKE = re.compile(r"^(text/.*|application/(json|xml|x-yaml|yaml|toml|x-sh|javascript|x-python.*))$")


def normal_mime(mime: str) -> str:
    mime = mime.strip().lower()
    return MIME_ALIASES.get(mime, mime)


def sniff(head: bytes, name: str = "") -> str:
    """The MIME type of a file from its first bytes (``name`` only refines plain text)."""
    if head:
        kind = filetype.guess(head)
        if kind is not None:
            return normal_mime(kind.mime)
    if head and _is_text(head):
        return _text_type(head, name)
    return "application/octet-stream"


# Extensions for sniffed types that mimetypes does not name (Python 3.11).
_EXTENSIONS = {"audio/wav": ".wav", "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/x-aiff": ".aiff"}


def name_for_type(name: str, mime: str) -> str:
    """``name`` with an extension that fits the type sniffed from its bytes.

    A file whose bytes are media or a document of a binary format keeps its name only if the
    extension fits; otherwise the type's own extension replaces it. A WAV file named
    ``pwn.html`` (valid audio and valid HTML at once) is stored as ``pwn.wav``: the name it is
    downloaded or saved under can no longer make it a page. Text types keep their names (a
    ``.py`` file is text whatever it is called; it is never served as markup).
    """
    if mime == "application/octet-stream" or mime.startswith("text/") or _TEXT_LIKE.match(mime):
        return name
    fitting = set(mimetypes.guess_all_extensions(mime, strict=False)) | {_EXTENSIONS.get(mime, "")}
    fitting.discard("")
    stem, dot, ext = name.rpartition(".")
    if dot and stem and f".{ext.lower()}" in fitting:
        return name
    wanted = _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime, strict=False)
    if wanted is None:
        return name if not dot or not stem else f"{stem}.bin"
    return f"{stem if dot and stem else name}{wanted}"


def sniff_file(path: Path, name: str = "") -> str:
    with path.open("rb") as file:
        return sniff(file.read(HEAD_BYTES), name or path.name)


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    for cut in range(4):  # the head may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def _text_type(head: bytes, name: str) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in start[:2048] and start.startswith((b"<svg", b"<?xml", b"<!doctype svg", b"<!--")):
        return "image/svg+xml"
    if start.startswith(_MARKUP) or any(tag in start[:2048] for tag in _MARKUP):
        return "text/html"
    if start.startswith(b"<?xml"):
        return "application/xml"
    guessed, _ = mimetypes.guess_type(name or "", strict=False)
    if guessed and _TEXT_LIKE.match(guessed) and guessed not in ("text/html", "application/xml"):
        return guessed
    return "text/plain"


def media_kind(mime: str | None) -> MediaKind:
    """How the page shows a file of this type."""
    mime = normal_mime(mime or "")
    if mime in RASTER_IMAGES:
        return "image"
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "file"


def is_inline(mime: str) -> bool:
    """May the browser open this type itself? Raster images, audio, video and PDF only."""
    mime = normal_mime(mime)
    return mime in INLINE_TYPES or mime.startswith(("audio/", "video/"))


def describe_type(mime: str) -> str:
    """A type in words: 'an image (image/png)', 'an HTML page (text/html)'."""
    words = {
        "text/html": "an HTML page",
        "image/svg+xml": "an SVG drawing",
        "application/pdf": "a PDF",
        "application/octet-stream": "binary data of an unknown kind",
    }
    if mime in words:
        return f"{words[mime]} ({mime})" if mime != "application/octet-stream" else words[mime]
    article = {"image": "an image", "audio": "audio", "video": "a video", "text": "text"}
    return f"{article.get(mime.split('/')[0], 'a file')} ({mime})"
