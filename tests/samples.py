"""Small real files made in memory for the upload tests: images, a WAV a browser can play,
the first bytes of other formats, and files that lie about what they are."""

from __future__ import annotations

import io
import math
import struct
import wave

from PIL import Image


def image(fmt: str = "PNG", size: tuple[int, int] = (16, 12), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def png(size: tuple[int, int] = (16, 12), color: str = "red") -> bytes:
    return image("PNG", size, color)


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A sine tone: a WAV file Chromium plays and reports the duration of."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
WEBM_HEAD = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
    + b"\x00" * 64
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)
HTML_WITH_SCRIPT = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
ZIP = b"PK\x03\x04" + b"\x00" * 60
