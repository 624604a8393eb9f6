"""Media a chat function can answer with, mirroring Gradio's ``gr.Image``, ``gr.Audio``...

In Gradio's messages format a reply's content may be a component: ``gr.Image("cat.png")``.
These helpers take the same values (a path, a FileData dict, a PIL image, a numpy array, an
``(sample_rate, samples)`` pair, a matplotlib figure) and become the content dict
``{"component": "image", "value": FileData}`` through ``to_message_content()``, which
webchat.chat calls. What they render (a PIL image, a figure) goes to a temp file that the
turn runner moves into the store with the reply. PIL, numpy and matplotlib are optional: only
the helper that needs one imports it.
"""

from __future__ import annotations

import secrets
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from webchat.files.storage import MEDIA_TEMP_DIR
from webchat.messages import ComponentContent, FileData, filedata, validate_filedata

__all__ = ["Audio", "File", "Gallery", "Image", "Plot", "Video"]


def _temp_path(name: str) -> Path:
    folder = MEDIA_TEMP_DIR / secrets.token_urlsafe(12)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _path_file(value: str | Path) -> FileData:
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        # A link: the server downloads it when the reply is kept (webchat.files.remote), as Gradio does.
        name = value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"
        return filedata(value, orig_name=name)
    path = Path(value)
    return filedata(str(path), orig_name=path.name)


def _is_pil(value: Any) -> bool:
    return hasattr(value, "save") and hasattr(value, "mode") and hasattr(value, "size")


def _is_array(value: Any) -> bool:
    return hasattr(value, "__array_interface__") and hasattr(value, "shape")


def _pil() -> Any:
    try:
        from PIL import Image as PILImage  # optional: only an image given as an array needs it
    except ImportError:  # pragma: no cover - depends on what is installed
        raise ImportError("an image from a numpy array needs Pillow: pip install pillow") from None
    return PILImage


def _image_file(value: Any, fmt: str) -> FileData:
    """A path, FileData, PIL image or numpy array as a FileData (rendered ones to a temp file)."""
    if isinstance(value, str | Path):
        return _path_file(value)
    if isinstance(value, Mapping):
        return validate_filedata(value)
    if _is_array(value):
        value = _pil().fromarray(_to_uint8(value))
    if _is_pil(value):
        fmt = fmt.lower().lstrip(".") or "png"
        path = _temp_path(f"image.{fmt}")
        if fmt in ("jpg", "jpeg") and value.mode not in ("RGB", "L"):
            value = value.convert("RGB")
        value.save(path, format="JPEG" if fmt == "jpg" else fmt.upper())
        return filedata(str(path), orig_name=path.name)
    raise TypeError(
        f"an image must be a path, a FileData dict, a PIL image or a numpy array, not {type(value).__name__}"
    )


def _to_uint8(array: Any) -> Any:
    """Gradio's rule: floats in [0, 1] are scaled to 0..255, anything else is clipped to it."""
    import numpy as np  # optional: only arrays need it, and they come with numpy installed

    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f" and array.size and float(np.nanmax(array)) <= 1.0:
        array = array * 255
    return np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)


class _Media:
    """One file shown as a given kind of media."""

    component: ClassVar[str] = "file"

    def __init__(self, value: Any, *, label: str | None = None, alt_text: str | None = None, **_: Any):
        # Gradio's many display options (height, show_label...) are accepted and ignored.
        self.value = value
        self.label = label
        self.alt_text = alt_text
        self._file: FileData | None = None

    def _render(self) -> FileData:
        if isinstance(self.value, str | Path):
            return _path_file(self.value)
        if isinstance(self.value, Mapping):
            return validate_filedata(self.value)
        raise TypeError(
            f"{type(self).__name__} needs a path or a FileData dict, not {type(self.value).__name__}"
        )

    def file(self) -> FileData:
        # Rendered once: a generator that yields the same helper on every step costs one file.
        if self._file is None:
            self._file = self._render()
        return self._file

    def to_message_content(self) -> ComponentContent:
        content = ComponentContent(component=self.component, value=self.file())
        if self.alt_text or self.label:
            content["alt_text"] = self.alt_text or self.label
        return content

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Image(_Media):
    """``Image("cat.png")``, ``Image(pil_image)``, ``Image(numpy_array, format="jpeg")``."""

    component = "image"

    def __init__(self, value: Any, *, format: str = "png", **kwargs: Any) -> None:
        super().__init__(value, **kwargs)
        self.format = format

    def _render(self) -> FileData:
        return _image_file(self.value, self.format)


class Audio(_Media):
    """``Audio("song.mp3")`` or ``Audio((sample_rate, samples))`` with numpy samples (written as WAV)."""

    component = "audio"

    def _render(self) -> FileData:
        if isinstance(self.value, tuple) and len(self.value) == 2 and isinstance(self.value[0], int):
            return _wav_file(*self.value)
        return super()._render()


def _wav_file(rate: int, samples: Any) -> FileData:
    import numpy as np  # optional: only arrays need it, and they come with numpy installed

    data = np.asarray(samples)
    if data.dtype.kind == "f":
        data = np.clip(data, -1.0, 1.0) * 32767
    data = data.astype("<i2")
    channels = 1 if data.ndim == 1 else data.shape[1]
    path = _temp_path("audio.wav")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return filedata(str(path), orig_name=path.name)


class Video(_Media):
    """``Video("clip.mp4")``."""

    component = "video"


class File(_Media):
    """``File("report.pdf")``: shown as a download, whatever its type."""

    component = "file"


class Gallery(_Media):
    """``Gallery(["a.png", pil_image, (array, "caption")])``: several images in one message."""

    component = "gallery"

    def __init__(self, value: Sequence[Any], *, format: str = "png", **kwargs: Any) -> None:
        super().__init__(list(value), **kwargs)
        self.format = format
        self._files: list[FileData] | None = None

    def files(self) -> list[FileData]:
        if self._files is None:
            items = [item[0] if isinstance(item, tuple) else item for item in self.value]
            self._files = [_image_file(item, self.format) for item in items]
        return self._files

    def to_message_content(self) -> ComponentContent:
        return ComponentContent(component=self.component, value=self.files())


class Plot(_Media):
    """``Plot(figure)``: a matplotlib figure, drawn to a PNG on the server."""

    component = "plot"

    def _render(self) -> FileData:
        figure = self.value
        if not hasattr(figure, "savefig"):
            raise TypeError(f"Plot needs a matplotlib figure, not {type(figure).__name__}")
        path = _temp_path("plot.png")
        figure.savefig(path, format="png", bbox_inches="tight")
        return filedata(str(path), orig_name=path.name)
