"""Production serving: gunicorn + gevent (``webchat --production``, ``webchat.wsgi:app``) and
``deploy/nginx.conf`` itself, run by Debian's nginx on 127.0.0.1 in front of it, under /chat/."""

from __future__ import annotations

import gzip
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import csrf_of, settings_for
from flask import request
from playwright.sync_api import Page, expect
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close
from websockets.exceptions import ConnectionClosed

from webchat.cli import parser
from webchat.production import ProductionError, gunicorn_options, worker_count
from webchat.web.session import same_origin

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ARTIFACTS = ROOT / "test-artifacts"
# Long enough to watch it stream (the echo model says one word every 30 ms).
LONG = " ".join(f"word{i}" for i in range(40))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Gunicorn:
    port: int
    url: str
    log: Path
    process: subprocess.Popen[bytes]


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Start webchat under gunicorn + gevent (``webchat --production`` unless ``wsgi``)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, wsgi: bool = False, env: dict[str, str] | None = None) -> Gunicorn:
        port = free_port()
        log = tmp_path / f"gunicorn-{port}.log"
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WEBCHAT_DATA_DIR": str(tmp_path / "data"),
            "WEBCHAT_BACKEND": "echo",
            **(env or {}),
        }
        if wsgi:
            command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket"]
            command += ["-b", f"127.0.0.1:{port}", "webchat.wsgi:app"]
        else:
            command = [sys.executable, "-m", "webchat.cli", "--production", "--port", str(port), *args]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        started.append(process)
        wait_for_http(f"http://127.0.0.1:{port}/new", process, log)
        return Gunicorn(port, f"http://127.0.0.1:{port}", log, process)

    yield start
    for process in started:
        stop(process)


def nginx_config(site: str, workdir: Path) -> str:
    """A main nginx.conf around the site file, with every path inside ``workdir``."""
    user = pwd.getpwuid(os.geteuid()).pw_name  # ignored with a notice unless nginx runs as root
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"user {user};\nworker_processes 1;\ndaemon off;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} notice;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log {workdir / 'access.log'};\n{temp}\n{site}\n}}\n"
    )


def site_for(listen_port: int, app_port: int) -> str:
    """deploy/nginx.conf as shipped, with only its listen address and upstream port replaced."""
    text = NGINX_CONF.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
    ):
        assert text.count(old) == 1, f"deploy/nginx.conf should contain {old!r} once"
        text = text.replace(old, new)
    return text


@dataclass
class Front:
    app: Gunicorn
    port: int
    url: str  # the site's root: the app is at url + "/chat/" and at url + "/"
    workdir: Path


@pytest.fixture
def front(tmp_path: Path, gunicorn: Callable[..., Gunicorn]) -> Iterator[Callable[..., Front]]:
    """nginx with deploy/nginx.conf in front of ``webchat --production --proxy-hops 1``."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Front:
        assert Path(NGINX).exists(), "nginx is not installed: scripts/test.sh installs nginx-light"
        app = gunicorn("--proxy-hops", "1", *args, env=env)
        port = free_port()
        workdir = tmp_path / f"nginx-{port}"
        workdir.mkdir()
        (workdir / "nginx.conf").write_text(nginx_config(site_for(port, app.port), workdir))
        command = [NGINX, "-e", "stderr", "-p", str(workdir), "-c", str(workdir / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        log = workdir / "nginx.out"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        wait_for_http(f"http://127.0.0.1:{port}/chat/new", process, log)
        return Front(app, port, f"http://127.0.0.1:{port}", workdir)

    yield start
    for process in processes:
        stop(process, signal.SIGQUIT)  # graceful: nginx's master waits for its worker


def turn_through(base: str, text: str = LONG) -> tuple[PageClient, str, str, list[dict]]:
    """Send one message like the page does and read the reply's whole stream."""
    page = PageClient(base)
    reply = page.send(text)
    assert reply.status == 200, reply.text
    ws_url = WS_URL.search(reply.text).group(1).replace("&amp;", "&")
    origin = re.match(r"https?://[^/]+", base).group(0)
    with page.socket(ws_url, origin=origin) as ws:
        frames = frames_until_close(ws)
    return page, reply.text, ws_url, frames


# --- the launcher ----------------------------------------------------------------------------------


def test_production_runs_one_gevent_worker_without_a_control_socket(tmp_path):
    options = gunicorn_options(settings_for(tmp_path, host="::1", port=9000))
    assert options["worker_class"] == "gevent" and options["workers"] == 1
    assert options["control_socket_disable"] is True
    assert options["bind"] == ["[::1]:9000"]
    assert options["secure_scheme_headers"] == {}  # only ProxyFix (--proxy-hops) reads X-Forwarded-*


@pytest.mark.parametrize("workers", [2, 4])
def test_several_workers_are_refused_without_a_shared_hub(tmp_path, workers):
    with pytest.raises(ProductionError) as refused:
        worker_count(settings_for(tmp_path, workers=workers))
    assert "--redis-url" in str(refused.value) and "one worker" in str(refused.value)


def test_with_a_shared_hub_it_runs_one_worker_per_core_or_as_many_as_asked(tmp_path):
    shared = settings_for(tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert worker_count(shared) == (os.cpu_count() or 1)
    assert worker_count(shared.with_changes(workers=3)) == 3


def test_a_worker_count_below_one_is_refused(tmp_path):
    with pytest.raises(ProductionError, match="at least one worker"):
        worker_count(settings_for(tmp_path, workers=0))


def test_the_cli_refuses_several_workers_before_starting_anything(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "webchat.cli", "--production", "--workers", "2", "--backend", "echo"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WEBCHAT_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "--workers 2 needs --redis-url" in done.stderr
    assert "Listening" not in done.stderr


def test_the_systemd_example_starts_webchat_with_flags_it_knows():
    unit = (ROOT / "deploy" / "webchat.service").read_text()
    command = re.search(r"^ExecStart=(.+?)(?<!\\)$", unit.replace("\\\n", " "), re.M).group(1).split()
    assert command[0].endswith("/webchat") and "--production" in command and "--proxy-hops" in command
    args = parser().parse_args(command[1:])
    assert args.production and args.proxy_hops == 1 and args.host == "127.0.0.1"


# --- behind a proxy: which forwarded headers count (Flask's test client) ---------------------------

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": "/chat",
    "X-Forwarded-Host": "evil.example",
}


def post_turn(client):
    csrf = csrf_of(client)
    return client.post(
        "/turns",
        data={"text": "hi"},
        headers={**FORWARDED, "HX-Request": "true", "X-CSRF-Token": csrf},
    )


def test_without_proxy_hops_forwarded_headers_are_ignored(make_app):
    client = make_app().test_client()
    page = client.get("/new", headers=FORWARDED).text
    assert 'action="/turns"' in page and "/chat/" not in page and "evil" not in page
    reply = post_turn(client).text
    assert 'hx-ws:connect="ws://localhost/turns/' in reply


def test_one_trusted_hop_gives_prefix_and_scheme_but_never_the_forwarded_host(make_app):
    app = make_app(proxy_hops=1)
    seen = {}
    app.before_request(lambda: seen.update(addr=request.remote_addr, secure=request.is_secure) and None)
    client = app.test_client()
    page = client.get("/new", headers=FORWARDED).text
    assert 'action="/chat/turns"' in page and 'href="/chat/static/css/app.css' in page
    reply = post_turn(client)
    assert 'hx-ws:connect="wss://localhost/chat/turns/' in reply.text  # Host, not X-Forwarded-Host
    assert seen == {"addr": "203.0.113.7", "secure": True}
    assert "evil" not in reply.text


@pytest.mark.parametrize(
    ("origin", "public", "host", "accepted"),
    [
        ("https://chat.example.com", "https://chat.example.com", "127.0.0.1:8000", True),
        ("https://CHAT.example.com:443", "https://chat.example.com/", "127.0.0.1:8000", True),
        ("http://chat.example.com", "https://chat.example.com", "127.0.0.1:8000", False),
        ("https://chat.example.com:8443", "https://chat.example.com", "127.0.0.1:8000", False),
        ("https://evil.example", "https://chat.example.com", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, "127.0.0.1:8000", True),
        ("http://127.0.0.1:8000", "https://chat.example.com", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9", None, "127.0.0.1:8000", False),
        ("null", "https://chat.example.com", "127.0.0.1:8000", False),
        ("file://", None, "127.0.0.1:8000", False),
    ],
)
def test_which_origins_may_open_a_socket(make_app, origin, public, host, accepted):
    app = make_app(public_origin=public)
    with app.test_request_context("/turns/x/stream", headers={"Origin": origin}, base_url=f"http://{host}"):
        assert same_origin() is accepted


# --- gunicorn + gevent on its own -------------------------------------------------------------------


def test_webchat_production_streams_a_turn(gunicorn):
    server = gunicorn()
    _, _, ws_url, frames = turn_through(server.url)
    assert ws_url.startswith(f"ws://127.0.0.1:{server.port}/turns/")
    assert len([f for f in frames if "d" in f]) >= 5  # token by token
    assert frames[-1]["swap"] == "outerHTML" and "word39" in frames[-1]["content"]
    assert "Using worker: gevent" in server.log.read_text()
    assert not (Path.home() / ".gunicorn" / f"gunicorn-{server.port}.ctl").exists()


def test_the_documented_gunicorn_command_serves_webchat_wsgi(gunicorn):
    server = gunicorn(wsgi=True)
    _, _, _, frames = turn_through(server.url, "hello there")
    assert "You said: hello there" in frames[-1]["content"]
    assert "MonkeyPatchWarning" not in server.log.read_text()


def test_sockets_get_keep_alive_pings(gunicorn, caplog):
    """The server pings while a reply streams; nginx would otherwise close a quiet socket."""
    server = gunicorn(env={"WEBCHAT_SOCKET_PING_SECONDS": "0.3"})
    page = PageClient(server.url)
    reply = page.send(" ".join(["word"] * 60))  # about 2 s of streaming
    caplog.set_level(logging.DEBUG, logger="websockets")
    with page.socket(WS_URL.search(reply.text).group(1), origin=server.url) as ws:
        frames = frames_until_close(ws)  # the client answers each ping with a pong
    pings = [r for r in caplog.records if r.getMessage().startswith("< PING")]
    assert len(pings) >= 3, [r.getMessage() for r in caplog.records][:20]
    assert frames[-1]["swap"] == "outerHTML"  # answered pings keep the socket open to the end


def test_a_huge_incoming_message_closes_the_socket_with_1009(gunicorn):
    server = gunicorn()
    page = PageClient(server.url)
    reply = page.send(" ".join(["word"] * 60))
    with page.socket(WS_URL.search(reply.text).group(1), origin=server.url) as ws:
        ws.send("x" * 100_000)
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=5)
        assert ws.close_code == 1009


# --- nginx in front, the same file as in deploy/ ------------------------------------------------------


def test_the_site_file_passes_nginx_t_and_keeps_its_promises():
    text = NGINX_CONF.read_text()
    assert "server_tokens off;" in text
    assert text.count("proxy_buffering off;") == 2  # both socket locations
    assert "$proxy_add_x_forwarded_for" not in text  # a client's own X-Forwarded-For is replaced
    assert text.count('proxy_set_header X-Forwarded-Host "";') == 4
    body = int(re.search(r"client_max_body_size (\d+)m;", text).group(1)) * 1024 * 1024
    defaults = settings_for(Path("/nonexistent"))
    assert body >= defaults.max_files * defaults.max_file_size


def test_a_turn_streams_through_nginx_under_chat_and_at_the_root(front):
    site = front()
    for base, prefix in ((site.url + "/chat", "/chat"), (site.url, "")):
        page, html, ws_url, frames = turn_through(base)
        assert ws_url.startswith(f"ws://127.0.0.1:{site.port}{prefix}/turns/"), ws_url
        assert f'hx-post="{prefix}/turns/' in html  # stop form
        assert len([f for f in frames if "d" in f]) >= 5
        final = frames[-1]["content"]
        assert "word39" in final and f'action="{prefix}/turns/' in final
        conversation = page.get("/new").text
        assert f'href="{prefix}/static/css/app.css' in conversation
        assert f'action="{prefix}/turns"' in conversation


def test_nginx_replaces_forwarded_headers_a_client_forges(front):
    site = front(
        env={
            "GUNICORN_CMD_ARGS": "--access-logformat 'SEEN %(h)s|%({x-forwarded-for}i)s|"
            "%({x-forwarded-host}i)s|%({x-forwarded-prefix}i)s|%(U)s'"
        }
    )
    page = PageClient(site.url + "/chat")
    forged = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil"}
    html = page.request("GET", "/new", headers=forged).text
    assert 'action="/chat/turns"' in html and "evil" not in html
    reply = page.request(
        "POST", "/turns", {"text": "hi"}, {**forged, "HX-Request": "true", "X-CSRF-Token": page.csrf}
    )
    assert WS_URL.search(reply.text).group(1).startswith(f"ws://127.0.0.1:{site.port}/chat/turns/")
    root = PageClient(site.url).request("GET", "/new", headers=forged).text
    assert 'action="/turns"' in root  # a forged prefix is dropped at the root as well
    deadline = time.monotonic() + 10
    while True:  # gunicorn logs a request just after answering it
        lines = site.app.log.read_text().splitlines()
        seen = [line.split("SEEN ", 1)[1] for line in lines if "SEEN " in line]
        proxied = [line for line in seen if not line.startswith("127.0.0.1|-|")]  # not the readiness probe
        if len(proxied) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(proxied) == 4 and all(line.startswith("127.0.0.1|127.0.0.1|-|") for line in proxied), seen
    assert "6.6.6.6" not in "".join(seen) and "evil" not in "".join(seen)


def test_nginx_compresses_pages_and_assets_and_hides_its_version(front):
    site = front()
    for path in ("/chat/new", "/chat/static/js/app.js", "/chat/static/css/app.css"):
        request = urllib.request.Request(site.url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Encoding"] == "gzip", path
            assert response.headers["Server"] == "nginx"
            gzip.decompress(response.read())


def test_a_socket_from_a_foreign_origin_is_closed_with_1008_through_nginx(front):
    site = front()
    page = PageClient(site.url + "/chat")
    reply = page.send("hi")
    with page.socket(WS_URL.search(reply.text).group(1), origin="http://evil.example") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1008


def test_public_origin_is_accepted_when_the_proxy_rewrites_host(front):
    site = front("--public-origin", "https://chat.example.com")
    page = PageClient(site.url + "/chat")
    reply = page.send("hello")
    turn = TURN_ID.search(reply.text).group(1)
    ws_url = f"ws://127.0.0.1:{site.port}/chat/turns/{turn}/stream"
    with page.socket(ws_url, origin="https://chat.example.com") as ws:
        frames = frames_until_close(ws)
    assert "You said: hello" in frames[-1]["content"]


@pytest.mark.browser
def test_a_chat_turn_in_chromium_through_nginx_under_chat(front, page: Page, tmp_path):
    """Page, upload, post, streamed reply, file download: all through nginx under /chat/."""
    site = front()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(site.url + "/chat/")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"meeting notes\n" * 200)
    page.set_input_files("#composer-file-input", str(notes))
    box = page.locator("#composer-text")
    box.fill(LONG)
    box.press("Enter")
    expect(page.locator(".msg.user").last).to_contain_text("word39")
    chip = page.locator(".msg.user a.file-chip").last
    expect(chip).to_contain_text("notes.txt")
    href = chip.get_attribute("href")
    assert href.startswith("/chat/files/"), href
    download = page.request.get(site.url + href)
    assert download.status == 200 and download.body() == notes.read_bytes()
    reply = page.locator(".reply").last
    seen = set()
    for _ in range(150):
        text = reply.inner_text()
        seen.add(text)
        if "word39" in text:
            break
        page.wait_for_timeout(30)
    assert len(seen) >= 3, seen  # streamed, not delivered at once
    expect(reply).not_to_have_class("reply streaming")
    expect(reply).to_contain_text("You said: word0")
    expect(page).to_have_url(re.compile(re.escape(site.url) + r"/chat/c/[\w-]+$"))
    assert sockets and all(url.startswith(f"ws://127.0.0.1:{site.port}/chat/turns/") for url in sockets)
    page.reload()
    expect(page.locator(".reply").last).to_contain_text("word39")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deploy-nginx.png"), full_page=True)


@pytest.mark.model
def test_the_local_model_streams_under_gevent(gunicorn, default_gguf):
    """huggingface_hub's httpx client and the llama.cpp child, inside a monkey-patched worker."""
    server = gunicorn(
        "--gguf",
        str(default_gguf),
        "--max-tokens",
        "48",
        "--temperature",
        "0",
        env={"WEBCHAT_BACKEND": "auto"},
    )
    _, _, _, frames = turn_through(server.url, "Name three colours.")
    assert len([f for f in frames if "d" in f or "content" in f]) >= 3
    final = frames[-1]["content"]
    assert "error-bubble" not in final and len(re.sub(r"<[^>]+>", "", final).strip()) > 10
