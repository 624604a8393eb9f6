"""Files through the routes (Flask's test client, and a real server for a body over the limit):
sending files with a message, serving them safely to their owner only, limits and bad input
answered in the composer, and files a chat function answers with."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import samples
from conftest import TURN_ID, settings_for
from werkzeug.serving import make_server

from webchat.app import create_app
from webchat.gradio import media
from webchat.store.files import FileRecords
from webchat.web.page import Page

HX = {"HX-Request": "true"}
FILE_URL = re.compile(r'(?:src|href)="(/(?:chat/)?files/[^"]+)"')


def answer_ok(message: Any, history: list[dict[str, Any]]) -> str:
    return "ok"


@pytest.fixture
def files_app(tmp_path: Path):
    def factory(chat_fn=answer_ok, multimodal: bool = True, **changes: Any):
        app = create_app(settings_for(tmp_path, **changes), chat_fn, page=Page(multimodal=multimodal))
        app.testing = True
        return app

    return factory


def csrf(client) -> str:
    client.get("/new")
    with client.session_transaction() as session:
        return session["csrf"]


def send(client, text: str = "", files=(), conversation_id: str = "", headers=None, **fields):
    data = {"text": text, "conversation_id": conversation_id, **fields}
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(
        "/turns",
        data=data,
        headers={**HX, "X-CSRF-Token": csrf(client), **(headers or {})},
        content_type="multipart/form-data",
    )


def finished(app, response) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    turn_id = TURN_ID.findall(html)[-1]  # the newest: a retry answers with the whole conversation
    snapshot = app.extensions["webchat"].hub.wait_final(turn_id, 10)
    assert snapshot is not None and snapshot.final
    return turn_id


def inputs_of(app, turn_id: str):
    return [m.message for m in app.extensions["webchat"].store.turn_messages(turn_id, "input")]


def files_root(app) -> Path:
    return app.extensions["webchat"].uploads.root


def nothing_stored(app, client) -> bool:
    no_conversation = app.extensions["webchat"].store.list_conversations(_owner(client)) == []
    return no_conversation and list(files_root(app).iterdir()) == []


def _owner(client) -> str:
    with client.session_transaction() as session:
        return "s:" + session["sid"]


# Sending


def test_files_and_text_are_stored_as_one_message_each_in_gradios_format(files_app):
    seen = []

    def fn(message, history):
        seen.append(message)
        return "ok"

    app = files_app(fn)
    client = app.test_client()
    turn_id = finished(app, send(client, "what are these?", [("cat.png", samples.png()), ("a.txt", b"hi")]))
    image, text_file, text = inputs_of(app, turn_id)
    assert text.content == "what are these?" and all(m.role == "user" for m in (image, text_file, text))
    assert image.content["mime_type"] == "image/png" and image.content["orig_name"] == "cat.png"
    assert image.content["meta"] == {"_type": "gradio.FileData"} and image.content["is_stream"] is False
    assert image.content["size"] == len(samples.png())
    assert Path(image.content["path"]).read_bytes() == samples.png()
    assert Path(image.content["path"]).is_relative_to(files_root(app))
    assert image.content["url"].startswith("/files/") and image.content["url"].endswith("/cat.png")
    assert text_file.content["mime_type"] == "text/plain"
    assert seen == [{"text": "what are these?", "files": [image.content["path"], text_file.content["path"]]}]
    records = FileRecords(app.extensions["webchat"].store.engine)
    record = records.get(_owner(client), Path(image.content["path"]).parent.name)
    assert record.conversation_id is not None and record.origin == "upload"


def test_a_message_may_be_only_files(files_app):
    app = files_app()
    client = app.test_client()
    turn_id = finished(app, send(client, "   ", [("song.wav", samples.wav(0.2))]))
    [only] = inputs_of(app, turn_id)
    assert only.content["mime_type"] == "audio/wav"
    assert client.get("/new").status_code == 200  # the untitled conversation lists fine


def test_the_page_shows_each_kind_of_file(files_app):
    app = files_app()
    client = app.test_client()
    kinds = [
        ("cat.png", samples.png()),
        ("tone.wav", samples.wav(0.2)),
        ("clip.webm", samples.WEBM_HEAD),
        ("paper.pdf", samples.PDF),
        ("logo.svg", samples.SVG_WITH_SCRIPT),
        ("notes.txt", b"some notes"),
    ]
    response = send(client, "", kinds)
    finished(app, response)
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    for html in (response.get_data(as_text=True), page):
        assert re.search(r'<a class="file-image" href="/files/[^"]+/cat\.png" target="_blank"', html)
        assert re.search(r'<img src="/files/[^"]+/cat\.png" alt="cat\.png"', html)
        assert re.search(r'<audio controls preload="metadata" src="/files/[^"]+/tone\.wav">', html)
        assert re.search(r'<video controls preload="metadata" src="/files/[^"]+/clip\.webm">', html)
        assert re.search(r'href="/files/[^"]+/paper\.pdf" target="_blank"', html)  # opens in the browser
        assert re.search(r'href="/files/[^"]+/logo\.svg" download>', html)  # never drawn on our origin
        assert re.search(
            r'href="/files/[^"]+/notes\.txt" download><span class="file-name">notes.txt</span>', html
        )
        assert '<img src="/files/' in html and 'logo.svg" alt' not in html
        assert '<span class="size">10 bytes</span>' in html


def test_the_composer_takes_files_only_when_the_chat_does(files_app):
    page = files_app(max_files=3, max_file_size=2048).test_client().get("/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'data-max-files="3"' in page
    assert 'data-max-file-size="2048"' in page and 'type="file" name="files"' in page
    assert "files.js" in page and 'data-too-large="This message is too large' in page
    text_only = files_app(multimodal=False).test_client().get("/new").get_data(as_text=True)
    composer = re.search(r'<form id="composer".*?</form>', text_only, re.S).group(0)
    assert 'type="file"' not in composer and "multipart" not in composer
    assert "files.js" not in text_only  # its script is not loaded either
    assert 'accept="image/*,application/pdf"' in files_app(
        allowed_file_types="image, .pdf"
    ).test_client().get("/new").get_data(as_text=True)


def test_a_text_only_chat_refuses_files_with_words(files_app):
    app = files_app(multimodal=False)
    client = app.test_client()
    response = send(client, "hi", [("cat.png", samples.png())])
    assert response.status_code == 415
    assert response.headers["HX-Retarget"] == "#composer-status"
    assert "This chat takes text only" in response.get_data(as_text=True)
    assert nothing_stored(app, client)


# Serving


def upload(app, client, name: str, data: bytes) -> str:
    response = send(client, "", [(name, data)])
    finished(app, response)
    return FILE_URL.search(response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(
    ("name", "data", "mime", "inline"),
    [
        ("cat.png", samples.png(), "image/png", True),
        ("photo.jpg", samples.image("JPEG"), "image/jpeg", True),
        ("tone.wav", samples.wav(0.2), "audio/wav", True),
        ("clip.mp4", samples.MP4_HEAD, "video/mp4", True),
        ("paper.pdf", samples.PDF, "application/pdf", True),
        ("logo.svg", samples.SVG_WITH_SCRIPT, "image/svg+xml", False),
        ("page.html", samples.HTML_WITH_SCRIPT, "text/html", False),
        ("cat.png", samples.HTML_WITH_SCRIPT, "text/html", False),  # the extension lies
        ("notes.txt", b"plain", "text/plain", False),
        ("blob.bin", bytes(range(256)), "application/octet-stream", False),
    ],
)
def test_files_are_served_with_their_sniffed_type_and_inline_only_when_safe(
    files_app, name, data, mime, inline
):
    app = files_app()
    client = app.test_client()
    response = client.get(upload(app, client, name, data))
    assert response.status_code == 200 and response.data == data
    # A download goes as bytes: a browser then refuses it as a script or stylesheet (nosniff).
    assert response.mimetype == (mime if inline else "application/octet-stream")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline" if inline else "attachment"), disposition
    assert f"filename={name}" in disposition
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    if mime != "application/pdf":
        assert "sandbox" in csp


def test_range_requests_let_audio_and_video_seek(files_app):
    app = files_app()
    client = app.test_client()
    data = samples.wav(0.5)
    url = upload(app, client, "tone.wav", data)
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["Accept-Ranges"] == "bytes"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == data[-10:]
    assert client.get(url, headers={"Range": f"bytes={len(data) + 5}-"}).status_code == 416
    etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.head(url).headers["Content-Length"] == str(len(data))


def test_another_session_gets_404_not_403(files_app):
    app = files_app()
    owner = app.test_client()
    url = upload(app, owner, "cat.png", samples.png())
    stranger = app.test_client()
    theirs = stranger.get(url)
    missing = stranger.get(re.sub(r"/files/[^/]+/", "/files/AAAAAAAAAAAAAAAAAAAAAA/", url))
    assert theirs.status_code == missing.status_code == 404
    masked = re.compile(r'name="csrf-token" content="[^"]+"')  # masked afresh in every response
    assert masked.sub("", theirs.get_data(as_text=True)) == masked.sub("", missing.get_data(as_text=True))
    assert samples.png() not in theirs.data
    assert owner.get(url).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2Fsecret_key/x",
        "/files/%2e%2e/secret_key",
        "/files/x/y",
        "/files/" + "A" * 40 + "/x.png",
        "/files/AAAAAAAAAAAAAAAAAAAAAA/",
    ],
)
def test_bad_file_urls_are_404(files_app, path):
    app = files_app()
    (app.extensions["webchat"].settings.data_dir / "secret_key").write_text("s3cret")
    response = app.test_client().get(path)
    assert response.status_code == 404 and b"s3cret" not in response.data


def test_the_name_in_the_url_does_not_choose_the_file(files_app):
    app = files_app()
    client = app.test_client()
    url = upload(app, client, "cat.png", samples.png())
    renamed = client.get(url.rsplit("/", 1)[0] + "/other.html")
    # Another name is another address: 404, as in /api/files (it served the file before).
    assert renamed.status_code == 404 and samples.png() not in renamed.data
    assert client.get(url).status_code == 200


# Limits and bad input, answered in the composer


def refused(response, status: int, words: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    assert response.headers["HX-Retarget"] == "#composer-status"
    assert 'class="composer-error"' in html and words in html, html


def test_an_oversized_file_is_refused_in_the_composer(files_app):
    app = files_app(max_file_size=1000)
    client = app.test_client()
    refused(send(client, "keep me", [("big.bin", b"x" * 1001)]), 413, "big.bin is larger than 1000 bytes")
    assert nothing_stored(app, client)


def test_too_many_files_are_refused(files_app):
    app = files_app(max_files=2)
    client = app.test_client()
    three = [(f"{i}.txt", b"x") for i in range(3)]
    refused(send(client, "hi", three), 413, "You attached 3 files; at most 2 can go in one message")
    assert nothing_stored(app, client)


def test_an_empty_file_is_refused(files_app):
    app = files_app()
    client = app.test_client()
    refused(send(client, "hi", [("empty.txt", b"")]), 422, "empty.txt is empty (0 bytes)")
    assert nothing_stored(app, client)


def test_a_type_not_allowed_is_refused(files_app):
    app = files_app(allowed_file_types="image")
    client = app.test_client()
    refused(
        send(client, "", [("cat.png", samples.HTML_WITH_SCRIPT)]), 415, "cat.png is an HTML page (text/html)"
    )
    refused(send(client, "", [("logo.svg", samples.SVG_WITH_SCRIPT)]), 415, "an SVG drawing")
    assert nothing_stored(app, client)


def test_the_session_total_is_refused_and_earlier_messages_stay(files_app):
    app = files_app(max_session_files_size=3000)
    client = app.test_client()
    first = send(client, "first", [("a.bin", b"a" * 2000)])
    finished(app, first)
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    response = send(client, "second", [("b.bin", b"b" * 2000)], conversation_id=conversation_id)
    refused(response, 413, "the limit is 2.9 KB")
    page = client.get(f"/c/{conversation_id}").get_data(as_text=True)
    assert "a.bin" in page and "first" in page and "b.bin" not in page
    assert len(list(files_root(app).iterdir())) == 1


def test_a_body_over_the_request_limit_gets_the_same_composer_message(files_app):
    app = files_app(max_file_size=1000, max_files=1)
    client = app.test_client()
    response = send(client, "keep me", [("huge.bin", b"x" * (2 * 1024 * 1024))])
    refused(response, 413, "This message is too large to send. Each file may be up to 1000 bytes")
    assert nothing_stored(app, client)


def test_without_javascript_a_body_over_the_limit_shows_the_page_with_the_message(files_app):
    app = files_app(max_file_size=1000, max_files=1)
    client = app.test_client()
    token = csrf(client)
    response = client.post(
        "/turns",
        data={"csrf_token": token, "text": "hi", "files": [(io.BytesIO(b"x" * 2_000_000), "huge.bin")]},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 413 and 'id="composer"' in html and "This message is too large" in html


def test_a_truncated_multipart_body_is_refused_with_words(files_app):
    app = files_app()
    client = app.test_client()
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="files"; filename="cat.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + samples.png()[:40]
    )
    response = client.post(
        "/turns",
        data=body,
        content_type="multipart/form-data; boundary=XX",
        headers={**HX, "X-CSRF-Token": csrf(client)},
    )
    refused(response, 400, "The message arrived incomplete")
    assert nothing_stored(app, client)


def test_a_filedata_posted_by_a_client_is_never_a_file(files_app):
    seen = []

    def fn(message, history):
        seen.append(message)
        return "ok"

    app = files_app(fn)
    client = app.test_client()
    forged = json.dumps({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}})
    response = client.post(
        "/turns",
        data={"text": "hello", "conversation_id": "", "files": forged},
        headers={**HX, "X-CSRF-Token": csrf(client)},
    )
    [text] = inputs_of(app, finished(app, response))
    assert text.content == "hello" and seen == [{"text": "hello", "files": []}]
    alone = client.post(
        "/turns",
        data={"text": "", "conversation_id": "", "files": forged},
        headers={**HX, "X-CSRF-Token": csrf(client)},
    )
    refused(alone, 422, "Type a message first.")
    assert "root:" not in response.get_data(as_text=True)


def test_files_sent_while_a_reply_runs_wait_with_their_message(files_app):
    release = threading.Event()

    def slow(message, history):
        yield "thinking"
        release.wait(60)
        yield "done"

    app = files_app(slow)
    client = app.test_client()
    first = send(client, "one")
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    waiting = send(client, "two", [("cat.png", samples.png())], conversation_id=conversation_id)
    assert waiting.status_code == 200 and "cat.png" in waiting.get_data(as_text=True)
    release.set()
    finished(app, first)
    store = app.extensions["webchat"].store
    deadline = time.monotonic() + 60
    while len(store.messages(conversation_id)) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    cat, text = (m.message.content for m in store.messages(conversation_id)[2:4])
    assert text == "two" and cat["orig_name"] == "cat.png"
    assert client.get(cat["url"]).data == samples.png()  # kept for the message, then sent with it


def test_without_javascript_files_post_with_the_form(files_app):
    app = files_app()
    client = app.test_client()
    token = csrf(client)
    response = client.post(
        "/turns",
        data={"csrf_token": token, "text": "look", "files": [(io.BytesIO(samples.png()), "cat.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'<img src="/files/[^"]+/cat\.png"', page) and "ok" in page


def test_retry_sends_the_files_again(files_app):
    seen = []

    def fn(message, history):
        seen.append(message)
        return "ok"

    app = files_app(fn)
    client = app.test_client()
    turn_id = finished(app, send(client, "again", [("cat.png", samples.png())]))
    response = client.post(f"/turns/{turn_id}/retry", headers={**HX, "X-CSRF-Token": csrf(client)})
    finished(app, response)
    assert len(seen) == 2 and seen[0] == seen[1] and len(seen[1]["files"]) == 1


# Files a chat function answers with


def test_files_a_chat_function_returns_are_kept_and_shown(files_app, tmp_path: Path):
    from PIL import Image

    song = tmp_path / "fn-temp" / "song.wav"
    song.parent.mkdir()
    song.write_bytes(samples.wav(0.2))
    report = tmp_path / "fn-temp" / "report.pdf"
    report.write_bytes(samples.PDF)

    def fn(message, history):
        yield "Here you are:"
        yield ["Here you are:", media.Image(Image.new("RGB", (6, 4), "blue"), alt_text="a blue box")]
        yield [
            "Here you are:",
            media.Image(Image.new("RGB", (6, 4), "blue"), alt_text="a blue box"),
            (str(song),),
            {"path": str(report), "orig_name": "Q3 report.pdf"},
        ]

    app = files_app(fn)
    client = app.test_client()
    response = send(client, "make me files")
    turn_id = finished(app, response)
    song.unlink()
    report.unlink()  # the function's temp files are gone: the stored copies remain
    reply = [m.message for m in app.extensions["webchat"].store.turn_messages(turn_id, "reply")]
    assert reply[0].content == "Here you are:"
    assert reply[1].content["component"] == "image" and reply[1].content["value"]["mime_type"] == "image/png"
    assert reply[2].content["mime_type"] == "audio/wav" and reply[3].content["orig_name"] == "Q3 report.pdf"
    for message in reply[1:]:
        file = message.content.get("value", message.content)
        assert Path(file["path"]).is_relative_to(files_root(app)) and file["url"].startswith("/files/")
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    assert re.search(r'<img src="/files/[^"]+/image\.png" alt="a blue box"', page)
    assert re.search(r'<audio controls preload="metadata" src="/files/[^"]+/song\.wav">', page)
    assert "Q3 report.pdf" in page
    for url in FILE_URL.findall(page):
        assert client.get(url).status_code == 200, url
    # the image was kept once though the function made a new one for each step
    assert len(list(files_root(app).iterdir())) == 3


def test_a_missing_reply_file_is_an_error_in_the_chat(files_app):
    app = files_app(lambda message, history: ["Look:", {"path": "/nowhere/missing.png"}])
    client = app.test_client()
    response = send(client, "show me")
    finished(app, response)
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    assert "error-bubble" in page and "a file that does not exist (missing.png)" in page
    assert "/nowhere" not in page


def test_file_urls_carry_the_path_prefix(files_app, tmp_path: Path):
    from PIL import Image

    app = files_app(lambda message, history: media.Image(Image.new("RGB", (3, 3))))
    client = app.test_client()
    token = csrf(client)
    response = client.post(
        "/turns",
        data={"text": "hi", "files": [(io.BytesIO(samples.png()), "cat.png")]},
        headers={**HX, "X-CSRF-Token": token},
        content_type="multipart/form-data",
        base_url="http://localhost/chat/",
    )
    turn_id = finished(app, response)
    [upload, _] = inputs_of(app, turn_id)
    assert upload.content["url"].startswith("/chat/files/")
    [reply] = [m.message for m in app.extensions["webchat"].store.turn_messages(turn_id, "reply")]
    assert reply.content["value"]["url"].startswith("/chat/files/")
    page = client.get(
        response.headers["HX-Push-Url"].removeprefix("/chat"), base_url="http://localhost/chat/"
    )
    urls = FILE_URL.findall(page.get_data(as_text=True))
    assert len(set(urls)) == 2 and all(u.startswith("/chat/files/") for u in urls)


# A real server: a body over the limit is answered, not cut off


def test_a_real_server_answers_a_body_over_the_limit_with_the_composer_message(files_app):
    app = files_app(max_file_size=10_000, max_files=1)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(base + "/new").read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        body = (
            b'--B\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n'
            b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
            + b"x" * 3_000_000
            + b"\r\n--B--\r\n"
        )
        request = urllib.request.Request(
            base + "/turns",
            data=body,
            headers={"Content-Type": "multipart/form-data; boundary=B", **HX, "X-CSRF-Token": token},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(request, timeout=30)
        assert caught.value.code == 413 and caught.value.headers["HX-Retarget"] == "#composer-status"
        assert "This message is too large to send" in caught.value.read().decode()
    finally:
        server.shutdown()
        server.server_close()


def test_hostile_names_are_stored_and_shown_clean(files_app):
    app = files_app()
    client = app.test_client()
    names = ["../../../etc/passwd", "invoice\u202egnp.exe", "bell\x07.txt", "x" * 300 + ".txt"]
    response = send(client, "", [(name, b"data") for name in names])
    turn_id = finished(app, response)
    stored = [m.content for m in inputs_of(app, turn_id)]
    assert [f["orig_name"] for f in stored[:3]] == ["passwd", "invoicegnp.exe", "bell.txt"]
    assert len(stored[3]["orig_name"].encode()) <= 200 and stored[3]["orig_name"].endswith(".txt")
    for file in stored:
        assert Path(file["path"]).parent.parent == files_root(app)
        assert client.get(file["url"]).data == b"data"
    html = response.get_data(as_text=True)
    assert "\u202e" not in html and "\x07" not in html and "../" not in html


def test_an_exported_conversation_imports_with_its_files(files_app):
    # Defends against export -> import losing files, or the copy depending on the original.
    from PIL import Image

    def answer_with_image(message, history):
        return ["Here:", media.Image(Image.new("RGB", (6, 4), "blue"), alt_text="a blue box")]

    app = files_app(answer_with_image)
    client = app.test_client()
    first = send(client, "look", [("cat.png", samples.png())])
    finished(app, first)
    original = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    exported = client.get(f"/c/{original}/export").get_data()
    # No server path leaves: a stored file's path is relative to the data folder.
    data_dir = str(app.extensions["webchat"].settings.data_dir)
    assert data_dir.encode() not in exported and b'"path": "files/' in exported
    token = csrf(client)
    response = client.post(
        "/import", data={"file": (io.BytesIO(exported), "conversation.json")}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    copy_id = response.headers["Location"].rsplit("/", 1)[1]
    store = app.extensions["webchat"].store
    copied = [m.message.content for m in store.messages(copy_id)]
    before = [m.message.content for m in store.messages(original)]
    assert copied[2] == before[2] == "Here:" and copied[1] == before[1] == "look"
    cat, box = copied[0], copied[3]
    assert cat["orig_name"] == "cat.png" and cat["url"] != before[0]["url"]
    assert cat["path"] != before[0]["path"]
    assert box["component"] == "image" and box["alt_text"] == "a blue box"
    assert box["value"]["url"] != before[3]["value"]["url"]
    page = client.get(f"/c/{copy_id}").get_data(as_text=True)
    assert cat["url"] in page and box["value"]["url"] in page
    # The original, deleted and purged, takes its own files and leaves the copy's.
    client.post(f"/c/{original}/delete", headers={**HX, "X-CSRF-Token": token})
    store.purge_deleted(time.time() + 1)
    assert app.extensions["webchat"].uploads.remove_orphans() == 2
    assert client.get(before[0]["url"]).status_code == 404
    assert client.get(cat["url"]).data == samples.png()
    assert client.get(box["value"]["url"]).status_code == 200


def test_a_new_chat_from_here_copies_the_files_so_each_chat_keeps_its_own(files_app):
    app = files_app()
    client = app.test_client()
    first = send(client, "look", [("cat.png", samples.png())])
    finished(app, first)
    original = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    store = app.extensions["webchat"].store
    before = store.messages(original)
    token = csrf(client)
    response = client.post(f"/messages/{before[-1].ref}/fork", headers={**HX, "X-CSRF-Token": token})
    forked = response.headers["HX-Redirect"].rsplit("/", 1)[1]
    cat = store.messages(forked)[0].message.content
    assert cat["orig_name"] == "cat.png" and cat["url"] != before[0].message.content["url"]
    client.post(f"/c/{original}/delete", headers={**HX, "X-CSRF-Token": token})
    store.purge_deleted(time.time() + 1)
    app.extensions["webchat"].uploads.remove_orphans()
    assert client.get(before[0].message.content["url"]).status_code == 404
    assert client.get(cat["url"]).data == samples.png()  # the new chat's copy stays


def test_an_import_naming_files_that_are_not_the_users_is_refused_whole(files_app):
    # Defends against an import reading another session's file, or a server path, by naming it.
    app = files_app()
    client, other = app.test_client(), app.test_client()
    turn_id = finished(app, send(client, "", [("cat.png", samples.png())]))
    [mine] = inputs_of(app, turn_id)
    store = app.extensions["webchat"].store
    files_before = sorted(p.name for p in files_root(app).iterdir())
    for content, named in (
        (mine.content, "cat.png"),  # another session's file, by its real url and path
        ({"path": "/etc/passwd"}, "passwd"),
        ({"path": mine.content["path"], "url": "/files/x/../../etc/passwd"}, "cat.png"),
    ):
        body = json.dumps([{"role": "user", "content": "hi"}, {"role": "user", "content": content}])
        response = other.post(
            "/import",
            data={"file": (io.BytesIO(body.encode()), "c.json")},
            headers={**HX, "X-CSRF-Token": csrf(other)},
        )
        text = response.get_data(as_text=True)
        assert response.status_code == 422
        assert f"Nothing was imported: message 1: the file &#39;{named}&#39; is not one of your files" in text
        assert store.list_conversations(_owner(other)) == []
    assert sorted(p.name for p in files_root(app).iterdir()) == files_before


def test_files_of_a_message_refused_by_the_rate_limit_are_not_kept(files_app):
    app = files_app(messages_per_minute=1)
    client = app.test_client()
    first = send(client, "one")
    finished(app, first)
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    second = send(client, "two", [("cat.png", samples.png())], conversation_id=conversation_id)
    assert second.status_code == 429
    assert list(files_root(app).iterdir()) == []


# Undo gives a message's files back to the composer

KEPT_CHIP = re.compile(
    r'<li class="attachment kept"><input type="hidden" name="kept_files" value="([^"]+)">'
    r'<span class="attachment-name">([^<]+)</span> <span class="size">([^<]+)</span>'
    r'<button type="button" class="remove-file" aria-label="Remove \2">'
)


def conversation_of(response) -> str:
    return response.headers["HX-Push-Url"].rsplit("/", 1)[1]


def undo(client, turn_id: str, htmx: bool = True):
    if htmx:
        return client.post(f"/turns/{turn_id}/undo", headers={**HX, "X-CSRF-Token": csrf(client)})
    return client.post(f"/turns/{turn_id}/undo", data={"csrf_token": csrf(client)})


def stored_of(app, conversation_id: str) -> list[Any]:
    return [m.message.content for m in app.extensions["webchat"].store.messages(conversation_id)]


def undone_with_two_files(app, client) -> tuple[str, list[str], Any]:
    """Send text + two files, undo it: the conversation, the file ids given back, the answer."""
    first = send(client, "what are these?", [("cat.png", samples.png()), ("notes.txt", b"some notes")])
    turn_id = finished(app, first)
    conversation_id = conversation_of(first)
    response = undo(client, turn_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    ids = [m[0] for m in KEPT_CHIP.findall(response.get_data(as_text=True))]
    return conversation_id, ids, response


def test_undo_gives_back_the_text_and_the_files_which_send_again_as_they_are(files_app):
    seen = []

    def fn(message, history):
        seen.append(message)
        return "ok"

    app = files_app(fn)
    client = app.test_client()
    first = send(client, "what are these?", [("cat.png", samples.png()), ("notes.txt", b"some notes")])
    image, text_file, _ = sent = inputs_of(app, finished(app, first))
    conversation_id = conversation_of(first)
    response = undo(client, TURN_ID.search(first.get_data(as_text=True)).group(1))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#messages"
    assert "what are these?</textarea>" in html
    chips = KEPT_CHIP.findall(html)
    assert chips == [
        (Path(image.content["path"]).parent.name, "cat.png", f"{len(samples.png())} bytes"),
        (Path(text_file.content["path"]).parent.name, "notes.txt", "10 bytes"),
    ]
    assert re.search(r'<ul id="composer-files" class="attachments" [^>]*hx-swap-oob="true">', html)
    assert stored_of(app, conversation_id) == []

    again = send(client, "what are these?", conversation_id=conversation_id, kept_files=[c[0] for c in chips])
    resent = inputs_of(app, finished(app, again))
    assert [m.content for m in resent] == [m.content for m in sent]  # the same FileData: path and url
    assert (
        seen[1]
        == seen[0]
        == {
            "text": "what are these?",
            "files": [image.content["path"], text_file.content["path"]],
        }
    )
    assert len(list(files_root(app).iterdir())) == 2  # no copies
    served = client.get(image.content["url"])
    assert served.status_code == 200 and served.data == samples.png()
    assert client.get(f"/c/{conversation_id}").get_data(as_text=True).count('<img src="/files/') == 1


def test_kept_files_come_before_new_ones_and_an_undo_without_files_empties_the_list(files_app):
    app = files_app()
    client = app.test_client()
    conversation_id, ids, _ = undone_with_two_files(app, client)
    response = send(
        client, "", [("more.txt", b"more")], conversation_id=conversation_id, kept_files=[ids[1], ids[0]]
    )
    turn_id = finished(app, response)
    names = [m.content["orig_name"] for m in inputs_of(app, turn_id)]
    assert names == ["notes.txt", "cat.png", "more.txt"]
    assert len(list(files_root(app).iterdir())) == 3
    html = undo(client, turn_id).get_data(as_text=True)
    assert [c[1] for c in KEPT_CHIP.findall(html)] == ["notes.txt", "cat.png", "more.txt"]
    text_only = send(client, "just words", conversation_id=conversation_id)
    html = undo(client, finished(app, text_only)).get_data(as_text=True)
    assert (
        '<ul id="composer-files" class="attachments" aria-label="Attached files" hx-swap-oob="true"></ul>'
        in html
    )


def test_without_javascript_undo_draws_the_files_in_the_composer_form_and_they_send_again(files_app):
    app = files_app()
    client = app.test_client()
    first = send(client, "look", [("cat.png", samples.png())])
    turn_id = finished(app, first)
    page = undo(client, turn_id, htmx=False)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    composer = re.search(r'<form id="composer".*?</form>', html, re.S).group(0)
    [(file_id, name, _)] = KEPT_CHIP.findall(composer)
    assert name == "cat.png" and ">look</textarea>" in composer and "hx-swap-oob" not in composer
    response = client.post(
        "/turns",
        data={
            "csrf_token": csrf(client),
            "text": "look",
            "conversation_id": conversation_of(first),
            "kept_files": file_id,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<img src="/files/{file_id}/cat\.png"', page)


def _other_sessions_file(app) -> str:
    other = app.test_client()
    response = send(other, "mine", [("secret.txt", b"not yours")])
    finished(app, response)
    return FILE_URL.search(response.get_data(as_text=True)).group(1).split("/")[2]


def _other_conversations_file(app, client) -> str:
    response = send(client, "elsewhere", [("other.txt", b"other chat")])
    finished(app, response)
    return FILE_URL.search(response.get_data(as_text=True)).group(1).split("/")[2]


@pytest.mark.parametrize(
    ("forged", "status", "words"),
    [
        (
            "another session's",
            422,
            "One of the attached files is no longer available; remove it and send again.",
        ),
        ("another conversation's", 422, "One of the attached files is no longer available"),
        ("made up", 422, "One of the attached files is no longer available"),
        ("../../etc/passwd", 422, "One of the attached files is no longer available"),
        ("gone from disk", 422, "One of the attached files is no longer available"),
        ("too many", 413, "You attached 3 files; at most 2 can go in one message. Remove some"),
    ],
)
def test_kept_files_that_cannot_be_sent_are_refused_and_nothing_is_stored(files_app, forged, status, words):
    app = files_app(max_files=2)
    client = app.test_client()
    conversation_id, ids, _ = undone_with_two_files(app, client)
    new: list[tuple[str, bytes]] = []
    kept = [ids[0]]
    if forged == "another session's":
        kept.append(_other_sessions_file(app))
    elif forged == "another conversation's":
        kept.append(_other_conversations_file(app, client))
    elif forged == "made up":
        kept.append("A" * 22)
    elif forged == "../../etc/passwd":
        kept.append(forged)
    elif forged == "gone from disk":
        kept.append(ids[1])
        (files_root(app) / ids[1] / "notes.txt").unlink()
    else:
        kept.append(ids[1])
        new.append(("third.txt", b"3"))
    files_before = sorted(p.name for p in files_root(app).iterdir())
    response = send(client, "keep my words", new, conversation_id=conversation_id, kept_files=kept)
    refused(response, status, words)
    assert stored_of(app, conversation_id) == []
    assert sorted(p.name for p in files_root(app).iterdir()) == files_before  # none added, none removed
    assert client.get(f"/files/{ids[0]}/cat.png").status_code == 200  # the kept file stays the user's
    # Without JavaScript the page comes back with the text and the files that can still go.
    page = client.post(
        "/turns",
        data={
            "csrf_token": csrf(client),
            "text": "keep my words",
            "conversation_id": conversation_id,
            "kept_files": kept,
            "files": [(io.BytesIO(content), name) for name, content in new],
        },
        content_type="multipart/form-data",
    )
    html = page.get_data(as_text=True)
    assert page.status_code == status and words in html.replace("&#39;", "'")
    composer = re.search(r'<form id="composer".*?</form>', html, re.S).group(0)
    assert ">keep my words</textarea>" in composer
    assert KEPT_CHIP.findall(composer)[0][0] == ids[0]
    assert forged == "too many" or len(KEPT_CHIP.findall(composer)) == 1
    assert stored_of(app, conversation_id) == []


def test_kept_files_are_not_taken_in_a_new_chat_nor_in_a_chat_of_text(files_app, tmp_path: Path):
    app = files_app()
    client = app.test_client()
    _, ids, _ = undone_with_two_files(app, client)
    refused(send(client, "hi", kept_files=ids[:1]), 422, "One of the attached files is no longer available")
    text_only = files_app(multimodal=False)
    client = text_only.test_client()
    response = send(client, "words only")
    html = undo(client, finished(text_only, response)).get_data(as_text=True)
    assert "words only</textarea>" in html and "composer-files" not in html and "kept_files" not in html
    refused(
        send(client, "hi", conversation_id=conversation_of(response), kept_files=["A" * 22]), 415, "text only"
    )


def test_an_export_without_relative_paths_still_imports(files_app):
    # An export made before paths were relative carries the absolute path: still taken back.
    app = files_app()
    client = app.test_client()
    first = send(client, "look", [("cat.png", samples.png())])
    finished(app, first)
    original = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    [stored] = [m.message.content for m in app.extensions["webchat"].store.messages(original)][:1]
    old_style = json.dumps([{"role": "user", "content": {**stored, "url": None}}])
    response = client.post("/import", data={"json": old_style}, headers={"X-CSRF-Token": csrf(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
