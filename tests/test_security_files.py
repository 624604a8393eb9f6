"""Attacker: a raw HTTP client (paths sent as-is) and another user of the same server. No request
reaches a file outside the requesting owner's uploads, and uploaded HTML/SVG/XML/JS never render
on our origin."""

from __future__ import annotations

import dataclasses
import io
import re
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import samples
from conftest import settings_for
from webclient import PageClient
from werkzeug.serving import make_server

from webchat.app import create_app
from webchat.web.page import Page

DATA = Path(__file__).parent / "data"
TURN = re.compile(r'id="turn-([A-Za-z0-9_-]+)"')
FILE_URL = re.compile(r'/files/([A-Za-z0-9_-]+)/([^"?#]+)')
SECRET = "s3cret-key-material"


def answer(message, history):
    return "got it"


@pytest.fixture
def server(tmp_path: Path):
    """A real server whose chat takes files, with a secret next to the uploads."""
    settings = settings_for(tmp_path)
    app = create_app(settings, answer, page=Page(multimodal=True))
    (settings.data_dir / "secret_key_probe").write_text(SECRET)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{http.server_port}", http.server_port
    http.shutdown()


def raw_get(port: int, path: str, cookie: str = "") -> tuple[int, bytes]:
    """GET with the path byte for byte as given (no client-side normalising)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        )
        s.sendall(request.encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def upload(page: PageClient, name: str, content: bytes) -> tuple[str, str]:
    reply = page.send_files("here", [(name, content)])
    assert reply.status == 200, reply.text
    file_id, file_name = FILE_URL.search(reply.text).groups()
    return file_id, file_name


def attack_paths(own: str, other: str) -> list[str]:
    lines = (DATA / "traversal_paths.txt").read_text().splitlines()
    return [
        line.replace("{ID}", own).replace("{OTHER}", other)
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def test_traversal_and_other_owners_files_are_out_of_reach(server):
    # Defends against encoded, double-encoded, overlong-UTF-8, backslash and absolute-path traversal,
    # and against fetching another user's file by its id.
    _, url, port = server
    victim, attacker = PageClient(url), PageClient(url)
    other, _ = upload(victim, "secret.png", samples.png(color="blue"))
    own, _ = upload(attacker, "mine.png", samples.png())
    paths = attack_paths(own, other)
    assert len(paths) >= 40
    secret_png = samples.png(color="blue")
    for path in paths:
        status, body = raw_get(port, path, attacker.cookie_header())
        if status in (301, 308):  # Werkzeug merges double slashes: follow, on our own origin only
            location = re.search(rb"\r\nLocation: ([^\r]+)", body).group(1).decode()
            assert location.startswith(("/", url)), (path, location)
            status, body = raw_get(port, location.removeprefix(url), attacker.cookie_header())
        # The name after a file's id is only decoration: the attacker may get their own file back.
        own_file = status == 200 and samples.png() in body
        assert status in (400, 404, 405) or own_file, (path, status)
        assert SECRET.encode() not in body and b"root:" not in body and secret_png not in body, path


def test_a_symlink_in_the_data_folder_is_not_followed(server):
    # Defends against a link planted among the uploads pointing at another file of the machine.
    app, url, port = server
    page = PageClient(url)
    file_id, name = upload(page, "mine.txt", b"harmless text\n")
    stored = next(app.extensions["webchat"].settings.data_dir.glob(f"files/{file_id}/*"))
    stored.unlink()
    stored.symlink_to(app.extensions["webchat"].settings.data_dir / "secret_key_probe")
    status, body = raw_get(port, f"/files/{file_id}/{name}", page.cookie_header())
    assert status == 404 and SECRET.encode() not in body


def test_the_api_does_not_follow_a_symlink_either(server):
    # Defends against /api/files/<id>/<name> reading through a planted link (the page's route
    # refused it; the API's did not: one check for both now).
    app, url, _ = server
    services = app.extensions["webchat"]
    services.settings = dataclasses.replace(services.settings, api=True)
    page = PageClient(url)
    file_id, name = upload(page, "mine.txt", b"harmless text\n")
    owner = services.uploads.records.get_any(file_id).owner
    _, secret = services.tokens.create(owner, "probe")
    stored = next(services.settings.data_dir.glob(f"files/{file_id}/*"))
    stored.unlink()
    stored.symlink_to(services.settings.data_dir / "secret_key_probe")
    request = urllib.request.Request(
        f"{url}/api/files/{file_id}/{name}", headers={"Authorization": f"Bearer {secret}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    data = refused.value.read()
    assert refused.value.code == 404 and SECRET.encode() not in data


def test_a_file_is_served_only_under_its_own_name(server):
    _, url, port = server
    page = PageClient(url)
    file_id, name = upload(page, "mine.txt", b"harmless text\n")
    assert raw_get(port, f"/files/{file_id}/{name}", page.cookie_header())[0] == 200
    assert raw_get(port, f"/files/{file_id}/other.html", page.cookie_header())[0] == 404


def test_a_media_file_named_as_a_page_is_stored_under_its_own_type(server):
    """A WAV that is also an HTML page (HTML in a RIFF chunk) sniffs as audio; named pwn.html it
    would be served inline as audio with filename=pwn.html, and saved as a page."""
    _, url, port = server
    page = PageClient(url)
    polyglot = samples.wav(0.1) + b"<html><script>alert(document.domain)</script></html>"
    file_id, name = upload(page, "pwn.html", polyglot)
    assert name == "pwn.wav"
    status, data = raw_get(port, f"/files/{file_id}/pwn.wav", page.cookie_header())
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert status == 200 and "content-type: audio/wav" in head and "pwn.html" not in head
    assert 'filename="pwn.wav"' in head or "filename=pwn.wav" in head
    assert raw_get(port, f"/files/{file_id}/pwn.html", page.cookie_header())[0] == 404
    _, kept = upload(page, "song.wav", samples.wav(0.1))
    assert kept == "song.wav"  # a name that fits stays


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("files", "/etc/passwd"),
        ("path", "/etc/passwd"),
        ("file", '{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}'),
        ("text", '{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}'),
    ],
)
def test_a_client_supplied_path_in_a_form_field_is_never_a_file(server, field, value):
    # Defends against the server reading a path a client names instead of its own stored file.
    app, url, _ = server
    page = PageClient(url)
    page.get("/new")
    reply = page.request(
        "POST", "/turns", {"text": "hello", field: value}, {"HX-Request": "true", "X-CSRF-Token": page.csrf}
    )
    assert b"root:" not in reply.text.encode()
    assert "/files/" not in reply.text  # no file was made from it
    records = app.extensions["webchat"].uploads.records
    with records.engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from files").scalar_one() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        (
            "image.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        ),
        (
            "data.xml",
            b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
        ),
        ("code.js", b"alert(document.cookie)"),
        ("page.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'),
        ("looks.png", b"<html><script>alert(1)</script></html>"),
        ("text.txt", b"<script>alert(1)</script>"),
    ],
)
def test_uploaded_active_content_never_renders_on_our_origin(server, name, content):
    # Defends against stored XSS through an uploaded file opened from our own origin.
    _, url, port = server
    page = PageClient(url)
    file_id, file_name = upload(page, name, content)
    status, raw = raw_get(port, f"/files/{file_id}/{file_name}", page.cookie_header())
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert status == 200
    assert "content-disposition: attachment" in head
    assert "x-content-type-options: nosniff" in head
    assert "sandbox" in head  # even if opened, it runs nothing
    # The type stays correct (issue: "correct Content-Type"); attachment + sandbox keep it inert.


@pytest.mark.browser
def test_uploads_neither_run_as_script_nor_apply_as_style_in_chromium(server, page):
    # Defends against an uploaded x.js (or a file a model returns) loaded by a page of ours as
    # <script src="/files/…">: the page's CSP allows same-origin scripts, so the file's type must.
    _, url, _ = server
    page.goto(url + "/new")
    token = page.locator("input[name=csrf_token]").first.input_value()
    urls = {}
    for name, body in (("x.js", b"window.pwned = 1;"), ("x.css", b"body { color: rgb(1, 2, 3) }")):
        sent = page.request.post(
            url + "/turns",
            multipart={
                "text": "here",
                "csrf_token": token,
                "files": {"name": name, "mimeType": "text/plain", "buffer": body},
            },
            headers={"HX-Request": "true"},
        )
        assert sent.status == 200, sent.text()
        file_id, file_name = FILE_URL.search(sent.text()).groups()
        urls[name] = f"/files/{file_id}/{file_name}"
    outcome = page.evaluate(
        """async ([script, sheet]) => {
            const load = (element) => new Promise((done) => {
                element.onload = () => done("loaded");
                element.onerror = () => done("refused");
                document.head.append(element);
            });
            const s = document.createElement("script");
            s.src = script;
            const l = document.createElement("link");
            l.rel = "stylesheet";
            l.href = sheet;
            const loaded = [await load(s), await load(l)];
            return [...loaded, window.pwned ?? null, getComputedStyle(document.body).color];
        }""",
        [urls["x.js"], urls["x.css"]],
    )
    assert outcome[0] == "refused" and outcome[2] is None, outcome
    assert outcome[3] != "rgb(1, 2, 3)", outcome


def test_the_data_folder_is_private_whatever_the_umask(tmp_path):
    # Defends against conversations and uploads readable by every user of the host (644 in 755
    # folders under the usual umask).
    import os
    import stat

    old = os.umask(0o022)
    try:
        settings = settings_for(tmp_path / "fresh")
        app = create_app(settings, answer, page=Page(multimodal=True))
        client = app.test_client()
        from conftest import csrf_of

        token = csrf_of(client)
        sent = client.post(
            "/turns",
            data={"text": "here", "files": [(io.BytesIO(samples.png()), "cat.png")]},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
            content_type="multipart/form-data",
        )
        assert sent.status_code == 200
        app.extensions["webchat"].hub.wait_final(TURN.search(sent.get_data(as_text=True)).group(1), 30)
    finally:
        os.umask(old)
    data = settings.data_dir
    loose = []
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(data.parent)}: {oct(mode)}")
    assert not loose, loose
