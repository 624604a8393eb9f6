"""A wheel built from the repo, installed (not editable) in a fresh venv, serves the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(REPO)],
        check=True,
    )
    [wheel] = (work / "dist").glob("webchat-*.whl")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    return work


def test_the_wheel_carries_templates_and_static_files(installed: Path):
    python = installed / "venv" / "bin" / "python"
    where = subprocess.run(
        [python, "-c", "import webchat.paths as p; print(p.TEMPLATES_DIR); print(p.STATIC_DIR)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed,
    ).stdout.split()
    assert all("site-packages/webchat/" in path for path in where), where
    assert not any(str(REPO) in path for path in where)


def test_the_installed_command_serves_the_page(installed: Path):
    port = free_port()
    env = {**os.environ, "WEBCHAT_DATA_DIR": str(installed / "data"), "PYTHONPATH": ""}
    process = subprocess.Popen(
        [installed / "venv" / "bin" / "webchat", "--backend", "echo", "--port", str(port)],
        cwd=installed,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or ("running at" not in lines[-1] and lines[-1] and len(lines) < 50):
            lines.append(process.stderr.readline())  # log lines may come first
        assert f"http://127.0.0.1:{port}/" in lines[-1], lines
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(base + "/", timeout=5).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert 'id="composer"' in page
        for path in ("/static/js/app.js", "/static/vendor/htmx-4.0.1.min.js", "/static/css/app.css"):
            with urllib.request.urlopen(base + path, timeout=5) as response:
                assert response.status == 200 and response.read()
    finally:
        process.terminate()
        process.wait(10)
