"""Uploads without HTTP: type sniffing, names, limits, storing all-or-none, client FileData,
the files a chat function answers with, the media helpers, and images for vision models."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import samples
from werkzeug.datastructures import FileStorage

from webchat.backends.inference import InferenceChat, to_openai_messages
from webchat.errors import describe, is_image_refusal
from webchat.files.limits import UploadError, UploadLimits, human_size, parse_allowed_types
from webchat.files.storage import MEDIA_TEMP_DIR, ReplyFileError, Uploads, safe_filename
from webchat.files.types import is_inline, media_kind, sniff
from webchat.gradio import media
from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url
from webchat.store.files import FileRecords

OWNER = "s:alice"
OTHER = "s:bob"


def posted(name: str | None, data: bytes) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    (tmp_path / "data").mkdir()
    store = Store(sqlite_url(tmp_path / "data" / "db.sqlite3"))
    yield store
    store.close()


def make_uploads(tmp_path: Path, store: Store, **limits) -> Uploads:
    return Uploads(tmp_path / "data", FileRecords(store.engine), UploadLimits(**limits))


@pytest.fixture
def uploads(tmp_path: Path, store: Store) -> Uploads:
    return make_uploads(tmp_path, store)


# Sniffing: the bytes decide, never the name or the browser


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (samples.png(), "image/png"),
        (samples.image("JPEG"), "image/jpeg"),
        (samples.image("GIF"), "image/gif"),
        (samples.image("WEBP"), "image/webp"),
        (samples.image("BMP"), "image/bmp"),
        (samples.wav(0.1), "audio/wav"),
        (samples.MP4_HEAD, "video/mp4"),
        (samples.WEBM_HEAD, "video/webm"),
        (samples.PDF, "application/pdf"),
        (samples.SVG_WITH_SCRIPT, "image/svg+xml"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "image/svg+xml"),
        (samples.HTML_WITH_SCRIPT, "text/html"),
        (b"hello\n<script>alert(1)</script>", "text/html"),
        ("plain words, ünïcödé\n".encode(), "text/plain"),
        (bytes(range(256)), "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_bytes(data, mime):
    assert sniff(data) == mime


def test_a_lying_extension_does_not_change_the_type():
    assert sniff(samples.HTML_WITH_SCRIPT, "cat.png") == "text/html"
    assert sniff(samples.SVG_WITH_SCRIPT, "photo.jpg") == "image/svg+xml"
    assert sniff(samples.png(), "notes.txt") == "image/png"
    assert sniff(bytes(range(256)), "song.mp3") == "application/octet-stream"


def test_the_name_only_refines_plain_text():
    assert sniff(b"a,b\n1,2\n", "table.csv") == "text/csv"
    assert sniff(b'{"a": 1}', "data.json") == "application/json"
    assert sniff(b"just text", "page.html") == "text/plain"  # no markup: it is not HTML
    assert sniff(b"just text", "x.exe") == "text/plain"


def test_text_cut_inside_a_character_is_still_text():
    head = ("é" * 5000).encode()[:8191]  # ends half way through a two-byte character
    assert sniff(head) == "text/plain"


def test_how_each_type_is_shown_and_served():
    assert [
        media_kind(m) for m in ("image/png", "audio/wav", "video/webm", "image/svg+xml", "text/html")
    ] == [
        "image",
        "audio",
        "video",
        "file",
        "file",
    ]
    assert media_kind(None) == "file"
    for mime in (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "audio/mpeg",
        "video/mp4",
        "application/pdf",
    ):
        assert is_inline(mime), mime
    for mime in ("image/svg+xml", "text/html", "text/plain", "application/xml", "application/octet-stream"):
        assert not is_inline(mime), mime


# Names


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ("..", "file"),
        ("../", "file"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("a\0b.txt", "ab.txt"),
        ("line\nbreak\r.txt", "linebreak.txt"),
        ("bell\x07\x1b[31m.txt", "bell[31m.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override would show "exe.jpg"
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        (".hidden", "hidden"),
        ("", "file"),
        (None, "file"),
        ("\u202e", "file"),
    ],
)
def test_names_are_made_safe(given, kept):
    assert safe_filename(given) == kept


def test_a_long_name_is_shortened_keeping_its_extension():
    name = safe_filename("a" * 300 + ".png")
    assert name.endswith(".png") and len(name.encode()) <= 200
    name = safe_filename("é" * 300 + ".png")  # two bytes a character: never cut inside one
    assert name.endswith(".png") and len(name.encode()) <= 200
    name.encode().decode("utf-8")
    assert len(safe_filename("b" * 300).encode()) <= 200


# Limits


def test_allowed_types_are_parsed_from_the_settings():
    assert parse_allowed_types("*") == ()
    assert parse_allowed_types("") == ()
    assert parse_allowed_types("image, .pdf, audio/*, TEXT/CSV, .wav") == (
        "image/*",
        "application/pdf",
        "audio/*",
        "text/csv",
        "audio/wav",
    )
    with pytest.raises(ValueError, match="'pictures' is not a type"):
        parse_allowed_types("pictures")
    with pytest.raises(ValueError, match="no known type has the extension"):
        parse_allowed_types(".nosuchextension")


def test_limits_allow_by_family_or_exact_type():
    limits = UploadLimits(allowed=parse_allowed_types("image, application/pdf"))
    assert limits.allows("image/png") and limits.allows("application/pdf")
    assert not limits.allows("text/html") and not limits.allows("application/octet-stream")
    assert limits.accept == "image/*,application/pdf"
    assert UploadLimits().allows("application/x-anything") and UploadLimits().accept == ""


def test_human_sizes():
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 25 * 1024 * 1024, 3 * 1024**3)] == [
        "0 bytes",
        "1023 bytes",
        "1 KB",
        "1.5 KB",
        "25 MB",
        "3 GB",
    ]


# Saving


def test_saving_keeps_the_bytes_under_a_random_folder_with_the_cleaned_name(uploads: Uploads):
    data = samples.png()
    [record] = uploads.save(OWNER, [posted("../../cat.png", data)])
    path = uploads.path_of(record)
    assert path.read_bytes() == data
    assert path.parent.parent == uploads.root and path.name == "cat.png"
    assert len(record.id) >= 22 and record.mime_type == "image/png" and record.size == len(data)
    assert uploads.get(OWNER, record.id) == record
    assert uploads.get(OTHER, record.id) is None  # another owner cannot have it
    file = uploads.filedata(record, "/files/x/cat.png")
    assert file == {
        "path": str(path),
        "url": "/files/x/cat.png",
        "size": len(data),
        "orig_name": "cat.png",
        "mime_type": "image/png",
        "is_stream": False,
        "meta": {"_type": "gradio.FileData"},
    }


def test_a_part_without_a_file_is_not_a_file(uploads: Uploads):
    assert uploads.save(OWNER, [posted("", b""), posted(None, b"")]) == []


def refused(uploads: Uploads, files: list[FileStorage], owner: str = OWNER) -> UploadError:
    with pytest.raises(UploadError) as caught:
        uploads.save(owner, files)
    return caught.value


def nothing_kept(uploads: Uploads) -> bool:
    return list(uploads.root.iterdir()) == [] and uploads.records.total_size(OWNER) == 0


def test_an_oversized_file_is_refused_and_nothing_is_kept(tmp_path: Path, store: Store):
    uploads = make_uploads(tmp_path, store, max_file_size=1000)
    error = refused(uploads, [posted("ok.png", samples.png()), posted("big.bin", b"x" * 1001)])
    assert error.status == 413
    assert "big.bin is larger than 1000 bytes" in error.message and "smaller file" in error.message
    assert nothing_kept(uploads)  # the file before it is removed too: all or none
    assert uploads.save(OWNER, [posted("edge.bin", b"x" * 1000)])  # exactly the limit is fine


def test_too_many_files_are_refused(tmp_path: Path, store: Store):
    uploads = make_uploads(tmp_path, store, max_files=2)
    error = refused(uploads, [posted(f"{i}.txt", b"hi") for i in range(3)])
    assert error.status == 413 and "You attached 3 files; at most 2" in error.message
    assert nothing_kept(uploads)


def test_an_empty_file_is_refused(uploads: Uploads):
    error = refused(uploads, [posted("empty.txt", b"")])
    assert error.status == 422 and error.message.startswith("empty.txt is empty (0 bytes)")
    assert nothing_kept(uploads)


def test_a_type_not_allowed_is_refused_by_its_bytes(tmp_path: Path, store: Store):
    uploads = make_uploads(tmp_path, store, allowed=("image/*",), allowed_text="image")
    error = refused(uploads, [posted("cat.png", samples.HTML_WITH_SCRIPT)])
    assert error.status == 415
    assert (
        error.message
        == "cat.png is an HTML page (text/html), which this chat does not accept. Accepted: image."
    )
    assert refused(uploads, [posted("logo.png", samples.SVG_WITH_SCRIPT)]).status == 415
    assert nothing_kept(uploads)
    assert uploads.save(OWNER, [posted("photo.txt", samples.png())])[0].mime_type == "image/png"


def test_the_session_total_is_limited(tmp_path: Path, store: Store):
    uploads = make_uploads(tmp_path, store, max_session_size=2500)
    uploads.save(OWNER, [posted("a.bin", b"a" * 2000)])
    error = refused(uploads, [posted("b.bin", b"b" * 600)])
    assert error.status == 413 and "this session's uploads to 2.5 KB; the limit is 2.4 KB" in error.message
    assert uploads.records.total_size(OWNER) == 2000 and len(list(uploads.root.iterdir())) == 1
    assert uploads.save(OTHER, [posted("b.bin", b"b" * 600)])  # another session has its own quota


def test_uploads_at_the_same_time_cannot_pass_the_session_total_together(tmp_path: Path, store: Store):
    # Defends against several tabs (or workers) each seeing room for their files, and all storing them.
    uploads = make_uploads(tmp_path, store, max_session_size=2500)
    barrier = threading.Barrier(6)

    def upload(n: int) -> None:
        barrier.wait()
        with contextlib.suppress(UploadError):
            uploads.save(OWNER, [posted(f"{n}.bin", b"x" * 1000)])

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    total = uploads.records.total_size(OWNER)
    assert total <= 2500 and len(list(uploads.root.iterdir())) == total // 1000


def test_discarding_removes_the_files(uploads: Uploads):
    records = uploads.save(OWNER, [posted("a.txt", b"a"), posted("b.txt", b"b")])
    uploads.discard(records)
    assert nothing_kept(uploads) and uploads.get(OWNER, records[0].id) is None


# FileData from a client: only ever one of the owner's own files


def test_a_client_filedata_is_rebuilt_from_our_record(uploads: Uploads):
    [record] = uploads.save(OWNER, [posted("cat.png", samples.png())])
    claimed = {
        "path": "/etc/passwd",
        "url": f"/chat/files/{record.id}/cat.png",
        "size": 1,
        "mime_type": "text/html",
        "meta": {"_type": "gradio.FileData"},
    }
    file = uploads.resolve(OWNER, claimed, lambda r: f"/files/{r.id}/{r.name}")
    assert file["path"] == str(uploads.path_of(record)) and file["mime_type"] == "image/png"
    assert file["size"] == record.size and file["url"] == f"/files/{record.id}/cat.png"
    by_path = uploads.resolve(OWNER, {"path": str(uploads.path_of(record))})
    assert by_path["path"] == str(uploads.path_of(record))


@pytest.mark.parametrize(
    "value",
    [
        {"path": "/etc/passwd"},
        {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
        {"path": "../../secret_key"},
        {"path": "webchat.sqlite3", "url": "https://example.com/x.png"},
        {"url": "/files/../../etc/passwd"},
        {"url": "/files/AAAAAAAAAAAAAAAAAAAAAA/x.png"},
        "not a dict",
        {"orig_name": "x.png"},
    ],
)
def test_a_client_filedata_naming_no_file_of_ours_is_refused(uploads: Uploads, value):
    with pytest.raises(UploadError) as caught:
        uploads.resolve(OWNER, value)
    assert caught.value.status in (404, 422)


def test_a_path_that_climbs_out_of_a_stored_folder_is_refused(uploads: Uploads):
    [record] = uploads.save(OWNER, [posted("a.txt", b"a")])
    (uploads.data_dir / "secret_key").write_text("s3cret")
    sneaky = str(uploads.root / record.id / ".." / ".." / "secret_key")
    with pytest.raises(UploadError):
        uploads.resolve(OWNER, {"path": sneaky})


def test_another_owners_file_is_refused_like_a_missing_one(uploads: Uploads):
    [record] = uploads.save(OTHER, [posted("theirs.png", samples.png())])
    with pytest.raises(UploadError) as caught:
        uploads.resolve(OWNER, {"path": str(uploads.path_of(record)), "url": f"/files/{record.id}/x"})
    assert caught.value.status == 404


# Files a chat function answers with


def test_a_reply_file_is_copied_into_the_store_and_outlives_the_original(uploads: Uploads, tmp_path: Path):
    source = tmp_path / "out" / "chart.png"
    source.parent.mkdir()
    source.write_bytes(samples.png())
    record = uploads.adopt(OWNER, "conv1", {"path": str(source)})
    source.unlink()
    assert uploads.path_of(record).read_bytes() == samples.png()
    assert (record.origin, record.mime_type, record.conversation_id, record.name) == (
        "reply",
        "image/png",
        "conv1",
        "chart.png",
    )
    assert uploads.records.total_size(OWNER) == 0  # reply files do not use the user's quota


def test_a_reply_file_takes_its_shown_name_from_orig_name(uploads: Uploads, tmp_path: Path):
    source = tmp_path / "tmpa8f3k"
    source.write_bytes(b"col\n1\n")
    record = uploads.adopt(OWNER, None, {"path": str(source), "orig_name": "../report.csv"})
    assert record.name == "report.csv" and record.mime_type == "text/csv"


def test_a_file_rendered_by_a_media_helper_is_moved_not_copied(uploads: Uploads):
    file = media.Image(samples_pil()).file()
    rendered = Path(file["path"])
    assert rendered.is_relative_to(MEDIA_TEMP_DIR)
    record = uploads.adopt(OWNER, None, file)
    assert not rendered.exists() and uploads.path_of(record).is_file()


def test_the_owners_own_upload_is_reused_not_copied(uploads: Uploads):
    [upload] = uploads.save(OWNER, [posted("cat.png", samples.png())])
    assert uploads.adopt(OWNER, None, {"path": str(uploads.path_of(upload))}) == upload
    copy = uploads.adopt(OTHER, None, {"path": str(uploads.path_of(upload))})
    assert copy.id != upload.id and copy.owner == OTHER


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: {"path": str(d / "missing.png")}, "a file that does not exist (missing.png)"),
        (lambda d: {"path": "ftp://example.com/cat.png"}, "a link (cat.png)"),
        (
            lambda d: {"path": "https://cat.invalid/cat.png"},
            "a link that cannot be shown: the host cat.invalid",
        ),
        (lambda d: {"path": str(d / "data" / "secret_key")}, "one of webchat's own files (secret_key)"),
        (lambda d: {"path": str(d / "data" / "db.sqlite3")}, "one of webchat's own files"),
        (lambda d: {"path": str(d)}, "something that is not a file"),
    ],
)
def test_reply_files_that_cannot_be_shown_say_why(uploads: Uploads, tmp_path: Path, make, message):
    (tmp_path / "data" / "secret_key").write_text("s3cret")
    with pytest.raises(ReplyFileError) as caught:
        uploads.adopt(OWNER, None, make(tmp_path))
    assert message in str(caught.value)
    assert str(tmp_path) not in str(caught.value)  # server paths stay in the log


def test_a_symlink_into_the_data_folder_is_refused(uploads: Uploads, tmp_path: Path):
    (tmp_path / "data" / "secret_key").write_text("s3cret")
    link = tmp_path / "innocent.png"
    os.symlink(tmp_path / "data" / "secret_key", link)
    with pytest.raises(ReplyFileError, match="webchat's own files"):
        uploads.adopt(OWNER, None, {"path": str(link)})


def test_the_reply_hook_passes_text_through_and_copies_each_file_once(uploads: Uploads, tmp_path: Path):
    source = tmp_path / "song.wav"
    source.write_bytes(samples.wav(0.1))
    keep = uploads.reply_files(OWNER, "c1", lambda r: f"/files/{r.id}/{r.name}")
    text = [ChatMessage(content="hello")]
    assert keep(text) is text  # the per-token path: no copy, no new list
    first = keep([ChatMessage(content={"path": str(source)}), ChatMessage(content="more")])
    second = keep([ChatMessage(content={"path": str(source)}), ChatMessage(content="more text")])
    assert first[0].content == second[0].content
    stored = first[0].content
    assert (
        stored["path"] != str(source)
        and stored["url"].startswith("/files/")
        and stored["mime_type"] == "audio/wav"
    )
    assert len(list(uploads.root.iterdir())) == 1
    gallery = keep([ChatMessage(content={"component": "gallery", "value": [{"path": str(source)}]})])
    assert gallery[0].content["value"][0] == stored


# The media helpers (gr.Image and friends)


def samples_pil():
    from PIL import Image

    return Image.new("RGBA", (10, 6), (0, 128, 255, 128))


def test_image_from_a_path_or_filedata():
    content = media.Image("/some/cat.png", alt_text="a cat").to_message_content()
    assert content["component"] == "image" and content["value"]["path"] == "/some/cat.png"
    assert content["value"]["orig_name"] == "cat.png" and content["alt_text"] == "a cat"
    content = media.Image({"path": "/x/y.jpg", "orig_name": "y.jpg"}).to_message_content()
    assert content["value"]["orig_name"] == "y.jpg"
    ChatMessage(content=content)  # valid message content


def test_image_from_pil_and_numpy_is_rendered_once():
    import numpy as np

    helper = media.Image(samples_pil())
    first, again = helper.to_message_content(), helper.to_message_content()
    assert first == again
    assert sniff(Path(first["value"]["path"]).read_bytes()) == "image/png"
    floats = media.Image(np.ones((4, 5, 3)) * 0.5, format="jpeg").file()
    assert sniff(Path(floats["path"]).read_bytes()) == "image/jpeg"
    from PIL import Image

    with Image.open(floats["path"]) as drawn:
        assert drawn.size == (5, 4) and abs(drawn.getpixel((0, 0))[0] - 127) <= 2


def test_audio_from_samples_is_a_wav():
    import numpy as np

    file = media.Audio((8000, np.zeros(8000, dtype=np.float32))).file()
    data = Path(file["path"]).read_bytes()
    assert sniff(data) == "audio/wav" and len(data) == 44 + 16000
    assert media.Audio("/a/song.mp3").to_message_content()["component"] == "audio"


def test_gallery_plot_file_and_video():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    content = media.Gallery(["/a/1.png", (samples_pil(), "caption")]).to_message_content()
    assert content["component"] == "gallery" and len(content["value"]) == 2
    assert content["value"][0]["path"] == "/a/1.png"
    figure = Figure()
    figure.add_subplot().plot([1, 2, 3], [3, 1, 2])
    plot = media.Plot(figure).to_message_content()
    assert plot["component"] == "plot" and sniff(Path(plot["value"]["path"]).read_bytes()) == "image/png"
    assert media.File("/a/report.pdf").to_message_content()["component"] == "file"
    assert media.Video("/a/clip.mp4").to_message_content()["component"] == "video"
    ChatMessage(content=content)


def test_media_helpers_say_what_they_need():
    with pytest.raises(TypeError, match="an image must be a path, a FileData dict, a PIL image"):
        media.Image(42).file()
    with pytest.raises(TypeError, match="Plot needs a matplotlib figure, not str"):
        media.Plot("figure.png").file()
    with pytest.raises(TypeError, match="Video needs a path or a FileData dict, not int"):
        media.Video(3).file()


def test_media_helpers_are_exported_from_the_package():
    import webchat

    # gr.Image(...) is media in a reply and a component while a Blocks is built, as in Gradio.
    assert isinstance(webchat.Image("/a/cat.png"), media.Image)
    assert webchat.Plot is media.Plot and "Gallery" in webchat.__all__
    with webchat.Blocks():
        assert isinstance(webchat.Image(), webchat.gradio.components.Image)


@pytest.fixture(autouse=True, scope="module")
def _clean_media_temp():
    yield
    shutil.rmtree(MEDIA_TEMP_DIR, ignore_errors=True)


# Vision models: images as image_url parts, other files described


def test_images_go_to_the_model_as_data_urls_and_other_files_by_name(tmp_path: Path):
    cat = tmp_path / "cat.png"
    cat.write_bytes(samples.png())
    notes = tmp_path / "notes.txt"
    notes.write_text("hi")
    fake = tmp_path / "fake.png"
    fake.write_bytes(samples.HTML_WITH_SCRIPT)
    history = [
        {"role": "user", "content": {"path": str(cat), "orig_name": "cat.png", "mime_type": "image/png"}},
        {"role": "user", "content": "what is this?"},
        {"role": "assistant", "content": "A red square."},
    ]
    sent = to_openai_messages(history, {"text": "and these?", "files": [str(notes), str(fake)]}, "Be brief.")
    assert sent[0] == {"role": "system", "content": "Be brief."}
    first = sent[1]
    assert first["role"] == "user" and first["content"][1] == {"type": "text", "text": "what is this?"}
    url = first["content"][0]["image_url"]["url"]
    assert first["content"][0]["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert sent[2] == {"role": "assistant", "content": "A red square."}
    assert sent[3] == {
        "role": "user",
        "content": "[attached file: notes.txt (text/plain)]\n\n"
        "[attached file: fake.png (text/html)]\n\nand these?",
    }
    json.dumps(sent)


def test_without_vision_images_are_described(tmp_path: Path):
    cat = tmp_path / "cat.png"
    cat.write_bytes(samples.png())
    sent = to_openai_messages([], {"text": "what?", "files": [str(cat)]}, images=False)
    assert sent == [{"role": "user", "content": "[attached file: cat.png (image/png)]\n\nwhat?"}]
    gone = to_openai_messages([], {"text": "", "files": [str(tmp_path / "gone.png")]})
    assert gone == [{"role": "user", "content": "[attached file: gone.png (unknown type)]"}]


class _Response:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code = status
        self.text = json.dumps(body)


class ServerError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} Server Error")
        self.response = _Response(status, {"error": {"code": status, "message": message}})


LLAMA_REFUSAL = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)


def test_an_image_refusal_is_recognised_and_worded():
    error = ServerError(500, LLAMA_REFUSAL)
    assert is_image_refusal(error)
    assert is_image_refusal(ServerError(400, "This model does not support image inputs"))
    assert not is_image_refusal(ServerError(500, "out of memory"))
    assert not is_image_refusal(ValueError("image input is not supported"))  # not from a server
    text = describe(error, server="The local model (m.gguf)")
    assert text.startswith("The local model (m.gguf) cannot read images: the model has no vision support.")
    assert "It said: image input is not supported" in text
    assert text.endswith("from now on images are described to it by name only.")


class RefusingClient:
    """Stands in for the HTTP client only: it answers like llama.cpp without a projector."""

    def __init__(self) -> None:
        self.requests: list[list[dict]] = []

    def chat_completion(self, messages, **_):
        self.requests.append(messages)
        if any(isinstance(m["content"], list) for m in messages):
            raise ServerError(500, LLAMA_REFUSAL)
        # An empty answer that ends as a whole stream does: one chunk with its finish reason.
        choice = SimpleNamespace(delta=SimpleNamespace(content=""), finish_reason="stop")
        return iter([SimpleNamespace(choices=[choice])])


def test_after_a_refusal_images_are_described_so_the_conversation_goes_on(tmp_path: Path):
    cat = tmp_path / "cat.png"
    cat.write_bytes(samples.png())
    client = RefusingClient()
    chat = InferenceChat(client)  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        list(chat({"text": "what is it?", "files": [str(cat)]}, []))
    assert chat.images is False
    history = [{"role": "user", "content": {"path": str(cat), "mime_type": "image/png"}}]
    assert list(chat("and now?", history)) == [""]
    assert client.requests[-1] == [
        {"role": "user", "content": "[attached file: cat.png (image/png)]\n\nand now?"}
    ]


def test_gradio_6_content_blocks_are_understood(tmp_path: Path):
    cat = tmp_path / "cat.png"
    cat.write_bytes(samples.png())
    history = [
        {
            "role": "user",
            "content": [
                {"file": {"path": str(cat), "mime_type": "image/png"}, "alt_text": None, "type": "file"},
                {"text": "what is it?", "type": "text"},
            ],
        },
        {"role": "assistant", "content": [{"text": "A square.", "type": "text"}]},
    ]
    sent = to_openai_messages(history, "thanks")
    assert sent[0]["content"][0]["type"] == "image_url" and sent[0]["content"][1]["text"] == "what is it?"
    assert sent[1:] == [{"role": "assistant", "content": "A square."}, {"role": "user", "content": "thanks"}]


def test_files_of_purged_conversations_and_never_sent_uploads_are_removed(uploads: Uploads, store: Store):
    kept_conversation = store.create_conversation(OWNER)
    doomed_conversation = store.create_conversation(OWNER)
    [kept] = uploads.save(OWNER, [posted("kept.txt", b"k")])
    [doomed] = uploads.save(OWNER, [posted("doomed.txt", b"d")])
    [unsent] = uploads.save(OWNER, [posted("fresh.txt", b"f")])
    uploads.link([kept], kept_conversation.id)
    uploads.link([doomed], doomed_conversation.id)
    store.delete_conversation(OWNER, doomed_conversation.id)
    assert uploads.remove_orphans() == 0  # deleted is not yet purged: Undo still brings it back
    store.purge_deleted(older_than=time.time() + 1)
    assert uploads.remove_orphans() == 1
    assert uploads.get(OWNER, doomed.id) is None and not (uploads.root / doomed.id).exists()
    assert uploads.get(OWNER, kept.id) and uploads.get(OWNER, unsent.id)
    assert uploads.remove_orphans(unsent_for=-1) == 1  # an upload no message ever used
    assert uploads.get(OWNER, unsent.id) is None and uploads.get(OWNER, kept.id)
