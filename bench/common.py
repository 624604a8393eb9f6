"""What the three benchmarks share: the server they start, its CPU and memory, a tiny HTTP client
and percentiles. Standard library only; Linux (/proc) for the process figures."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # every benchmark talks to this machine only
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
WS_URL = re.compile(r'hx-ws:connect="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def machine() -> str:
    """One line describing this machine, for the report."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except OSError:
        mem = 0
    return f"{os.cpu_count()} cores ({model}), {mem / 1024:.0f} GB RAM, Python {sys.version.split()[0]}"


def load_note() -> str:
    """The machine's load average: numbers taken while something else runs are not comparable."""
    one, five = os.getloadavg()[:2]
    busy = "  WARNING: the machine is busy, numbers will be worse" if one > 0.5 else ""
    return f"load average before the run: {one:.2f} (1 min), {five:.2f} (5 min){busy}"


# --- the server -----------------------------------------------------------------------------------


@dataclass
class Server:
    """webchat with the fake model under gunicorn + gevent (one worker), on 127.0.0.1."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WEBCHAT_DATA_DIR": str(self.data_dir),
            "WEBCHAT_SECRET_KEY": "bench",
            # One client sends many messages here (history.py): the per-session limit is off.
            "WEBCHAT_MESSAGES_PER_MINUTE": "0",
            # one client address runs every session here
            "WEBCHAT_CLIENT_MESSAGES_PER_MINUTE": "0",
            "WEBCHAT_CLIENT_MAX_RUNNING_TURNS": "0",
            "WEBCHAT_CLIENT_MAX_SOCKETS": "0",
            **self.env,
        }
        command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket"]
        command += ["--worker-connections", "4096", "-b", f"{HOST}:{self.port}", "bench.fake_app:app"]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = (self.data_dir / "gunicorn.log").open("wb")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: see {self.data_dir / 'gunicorn.log'}")
            try:
                with urllib.request.urlopen(self.url + "/new", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        assert self.process is not None
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            with contextlib.suppress(OSError):
                todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / CLOCK_TICKS

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
            except OSError:
                continue
        return total


# --- a small HTTP/1.1 client (one request per connection, like a fresh browser tab) ---------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    wire: int  # bytes received, headers included

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 60,
) -> Response:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
        if name.strip().lower() == "set-cookie":
            key, _, val = value.strip().split(";", 1)[0].partition("=")
            cookies[key] = val
    if found.get("transfer-encoding") == "chunked":
        payload = _unchunk(payload)
    if found.get("content-encoding") == "gzip":
        payload = gzip.decompress(payload)
    return Response(int(status_line.split()[1]), found, cookies, payload, len(data))


def _unchunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        pos = end + 4 + size
