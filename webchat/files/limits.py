"""How much may be uploaded: a file's size, files in a message, a session's total, the types
allowed; and the refusal an upload gets, worded for the person who sent it."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from webchat.errors import Refused
from webchat.files.types import CATEGORIES, normal_mime

MIB = 1024 * 1024
TEXT_ONLY = "This chat takes text only. Remove the files and send again."


class UploadError(Refused):
    """An upload refused; ``message`` says why and what to do (shown next to the composer)."""


def require_files_taken(multimodal: bool) -> None:
    """Refuse files sent to a chat that takes text only (the one wording for every way in)."""
    if not multimodal:
        raise UploadError(TEXT_ONLY, 415)


def human_size(size: float) -> str:
    """``1536`` → ``"1.5 KB"`` (binary units, as file managers count)."""
    if size < 1024:
        return f"{size:.0f} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:,.1f}".removesuffix(".0") + " " + unit


@dataclass(frozen=True)
class UploadLimits:
    max_file_size: int = 25 * MIB
    max_files: int = 10
    max_session_size: int = 512 * MIB
    # Accepted types: exact ("application/pdf") or a family ("image/*"); empty means any.
    allowed: tuple[str, ...] = ()
    # As written in the settings, for the file chooser's ``accept`` and for messages.
    allowed_text: str = "*"

    @classmethod
    def from_settings(cls, settings: Any) -> UploadLimits:
        for name in ("max_file_size", "max_files", "max_session_files_size"):
            if getattr(settings, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(settings, name)}")
        return cls(
            max_file_size=settings.max_file_size,
            max_files=settings.max_files,
            max_session_size=settings.max_session_files_size,
            allowed=parse_allowed_types(settings.allowed_file_types),
            allowed_text=settings.allowed_file_types,
        )

    @property
    def request_size(self) -> int:
        """The most one message may weigh: its files plus room for the text and the form."""
        return self.max_files * self.max_file_size + MIB

    def allows(self, mime: str) -> bool:
        if not self.allowed:
            return True
        mime = normal_mime(mime)
        if mime in self.allowed:
            return True
        # SVG is a document that can hold script, not a picture: only by name ("image/svg+xml").
        return mime != "image/svg+xml" and mime.split("/")[0] + "/*" in self.allowed

    @property
    def accept(self) -> str:
        """The file chooser's ``accept`` attribute (a hint; the server checks the bytes)."""
        if not self.allowed:
            return ""
        return ",".join(self.allowed)


def parse_allowed_types(text: str) -> tuple[str, ...]:
    """``"image, .pdf, audio/*, text/csv"`` → ``("image/*", "application/pdf", "audio/*", "text/csv")``;
    ``"*"`` or empty → any type."""
    result: list[str] = []
    for raw in text.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item in ("*", "*/*"):
            return ()
        if item in CATEGORIES:
            item = item + "/*"
        elif item.startswith("."):
            guessed, _ = mimetypes.guess_type("file" + item, strict=False)
            if not guessed:
                raise ValueError(f"allowed_file_types: no known type has the extension {item!r}")
            item = guessed
        elif not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*/(\*|[a-z0-9][a-z0-9.+-]*)", item):
            raise ValueError(
                f"allowed_file_types: {raw.strip()!r} is not a type; use 'image', 'audio/*', "
                "'application/pdf' or an extension such as '.csv'"
            )
        item = normal_mime(item)
        if item not in result:
            result.append(item)
    return tuple(result)
