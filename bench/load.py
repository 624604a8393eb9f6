"""Streaming load: C concurrent chat sessions, each posting one message and reading its reply
over the websocket exactly as the page does, against webchat under gunicorn + gevent.

    .venv/bin/python -m bench.load                 # C = 1, 10, 50, 200, 1000
    .venv/bin/python -m bench.load -c 200 -c 1000  # some levels only

The server (started here, one gevent worker on 127.0.0.1) runs the fake model of
``bench/fake_app.py``: 200 tokens of 4 characters every 20 ms, a reply of 3.98 s. Before a level
each session loads the page (cookie and CSRF token, not timed); then the sessions post their
message spread evenly over ``--ramp`` seconds, so all C replies stream at the same time.
The whole run stops itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import resource
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import CSRF, WS_URL, Server, cookie_header, http, load_note, machine, percentile
from bench.wsclient import stream

TOKENS = 200
TOKEN_SECONDS = 0.02
IDEAL_SECONDS = (TOKENS - 1) * TOKEN_SECONDS  # 3.98 s from the first token to the last
DELTA_TOKEN = re.compile(r"(\d{3}) ")
HTML_TOKEN = re.compile(r"(?<![\w-])(\d{3})(?=[\s<])")


@dataclass
class Session:
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    error: str | None = None
    posted_at: float = 0.0
    post_seconds: float = 0.0
    arrivals: dict[int, float] = field(default_factory=dict)  # token index -> arrival time
    frames: int = 0
    renders: int = 0  # rendered-HTML frames before the final one
    ws_bytes: int = 0
    post_bytes: int = 0
    final: bool = False

    def on_message(self, now: float, message: dict[str, Any]) -> None:
        self.frames += 1
        if "d" in message:
            found = DELTA_TOKEN.findall(message["d"])
        else:
            found = HTML_TOKEN.findall(message.get("content", ""))
            if message.get("swap") == "outerHTML":
                self.final = True
            else:
                self.renders += 1
        for token in found:
            self.arrivals.setdefault(int(token), now)


async def prepare(port: int, session: Session) -> None:
    page = await http(port, "GET", "/new")
    session.cookies.update(page.cookies)
    found = CSRF.search(page.text)
    if page.status != 200 or not found:
        raise RuntimeError(f"GET /new: {page.status}")
    session.csrf = found.group(1)


async def run_session(port: int, session: Session, start_at: float, timeout: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    origin = f"http://127.0.0.1:{port}"
    try:
        body = urllib.parse.urlencode({"text": "Tell me something.", "conversation_id": ""}).encode()
        headers = {
            "HX-Request": "true",
            "Accept-Encoding": "gzip, deflate, br, zstd",  # as Chromium offers
            "X-CSRF-Token": session.csrf,
            "Origin": origin,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie_header(session.cookies),
        }
        session.posted_at = time.monotonic()
        reply = await http(port, "POST", "/turns", headers, body, timeout=timeout)
        session.post_seconds = time.monotonic() - session.posted_at
        session.post_bytes = reply.wire
        session.cookies.update(reply.cookies)
        found = WS_URL.search(reply.text)
        if reply.status != 200 or not found:
            raise RuntimeError(f"POST /turns: {reply.status}")
        path = urllib.parse.urlsplit(found.group(1).replace("&amp;", "&")).path
        code, session.ws_bytes = await stream(
            port, path, origin, cookie_header(session.cookies), session.on_message, timeout
        )
        if code != 1000 or not session.final:
            raise RuntimeError(
                f"socket closed with {code}, final frame {'seen' if session.final else 'missing'}"
            )
        if len(session.arrivals) != TOKENS:
            raise RuntimeError(f"{len(session.arrivals)} of {TOKENS} tokens arrived")
    except Exception as error:  # one failed session is counted, not fatal
        session.error = f"{type(error).__name__}: {error}"


@dataclass
class Level:
    concurrency: int
    ok: int
    failed: int
    errors: list[str]
    ttft_p50: float
    ttft_p99: float
    gap_p50: float
    gap_p99: float
    stretch_p50: float
    stretch_max: float
    post_p50: float
    post_p99: float
    ws_bytes_per_token: float
    all_bytes_per_token: float
    frames_per_turn: float
    renders_per_turn: float
    server_cpu: float
    server_rss_mb: float
    client_cpu: float
    wall: float


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_level(server: Server, concurrency: int, ramp: float, timeout: float) -> Level:
    sessions = [Session() for _ in range(concurrency)]
    gate = asyncio.Semaphore(50)

    async def prep(session: Session) -> None:
        async with gate:
            await prepare(server.port, session)

    await asyncio.gather(*(prep(s) for s in sessions))
    peak = server.rss_bytes()
    cpu0, client0, wall0 = server.cpu_seconds(), client_cpu(), time.monotonic()
    stop_sampling = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop_sampling.is_set():
            peak = max(peak, server.rss_bytes())
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    start = time.monotonic() + 0.2
    step = ramp / concurrency if concurrency > 1 else 0.0
    await asyncio.gather(
        *(run_session(server.port, s, start + i * step, timeout) for i, s in enumerate(sessions))
    )
    stop_sampling.set()
    await sampler
    wall = time.monotonic() - wall0
    cpu, client = server.cpu_seconds() - cpu0, client_cpu() - client0

    good = [s for s in sessions if s.error is None]
    ttft, gaps, stretch, posts = [], [], [], []
    for s in good:
        times = [s.arrivals[i] for i in range(TOKENS)]
        ttft.append(times[0] - s.posted_at)
        gaps += [b - a for a, b in itertools.pairwise(times)]
        stretch.append((times[-1] - times[0]) / IDEAL_SECONDS)
        posts.append(s.post_seconds)
    n = max(1, len(good))
    errors = sorted({s.error for s in sessions if s.error})
    return Level(
        concurrency=concurrency,
        ok=len(good),
        failed=concurrency - len(good),
        errors=errors[:5],
        ttft_p50=percentile(ttft, 50),
        ttft_p99=percentile(ttft, 99),
        gap_p50=percentile(gaps, 50),
        gap_p99=percentile(gaps, 99),
        stretch_p50=percentile(stretch, 50),
        stretch_max=max(stretch, default=float("nan")),
        post_p50=percentile(posts, 50),
        post_p99=percentile(posts, 99),
        ws_bytes_per_token=sum(s.ws_bytes for s in good) / (n * TOKENS),
        all_bytes_per_token=sum(s.ws_bytes + s.post_bytes for s in good) / (n * TOKENS),
        frames_per_turn=statistics.fmean([s.frames for s in good]) if good else float("nan"),
        renders_per_turn=statistics.fmean([s.renders for s in good]) if good else float("nan"),
        server_cpu=cpu,
        server_rss_mb=peak / 2**20,
        client_cpu=client,
        wall=wall,
    )


HEADER = (
    "| C | ok | failed | TTFT p50 / p99 ms | gap p50 / p99 ms | stretch p50 / max | POST p50 / p99 ms "
    "| bytes/token (socket / +POST) | frames/turn | server CPU s (%) | server peak RSS MB | client CPU s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def row(level: Level) -> str:
    ms = 1000
    busy = 100 * level.server_cpu / level.wall
    return (
        f"| {level.concurrency} | {level.ok} | {level.failed} "
        f"| {level.ttft_p50 * ms:.0f} / {level.ttft_p99 * ms:.0f} "
        f"| {level.gap_p50 * ms:.1f} / {level.gap_p99 * ms:.1f} "
        f"| {level.stretch_p50:.3f} / {level.stretch_max:.3f} "
        f"| {level.post_p50 * ms:.0f} / {level.post_p99 * ms:.0f} "
        f"| {level.ws_bytes_per_token:.1f} / {level.all_bytes_per_token:.1f} | {level.frames_per_turn:.0f} "
        f"| {level.server_cpu:.1f} ({busy:.0f}%) | {level.server_rss_mb:.0f} | {level.client_cpu:.1f} |"
    )


async def main_async(args: argparse.Namespace) -> list[Level]:
    deadline = time.monotonic() + args.max_seconds
    with tempfile.TemporaryDirectory(prefix="webchat-bench-") as tmp:
        server = Server(Path(tmp), env={"BENCH_MODEL": args.model})
        server.start()
        levels: list[Level] = []
        try:
            print(f"# webchat streaming load, {machine()}", flush=True)
            print(load_note(), flush=True)
            print(
                f"server: gunicorn -k gevent -w 1, pid {server.process.pid}; ramp {args.ramp} s; "
                f"fake model: {args.model}\n",
                flush=True,
            )
            print(HEADER, flush=True)
            for concurrency in args.concurrency:
                remaining = deadline - time.monotonic()
                if remaining < 10:
                    print(f"(stopped before C={concurrency}: --max-seconds reached)")
                    break
                level = await asyncio.wait_for(
                    run_level(server, concurrency, args.ramp if concurrency > 1 else 0, args.timeout),
                    remaining,
                )
                levels.append(level)
                print(row(level), flush=True)
                for error in level.errors:
                    print(f"    failure: {error}", flush=True)
                await asyncio.sleep(1.0)
            if args.idle and deadline - time.monotonic() > args.idle:
                cpu0 = server.cpu_seconds()
                await asyncio.sleep(args.idle)
                idle = server.cpu_seconds() - cpu0
                print(f"\nidle server: {idle:.2f} CPU s in {args.idle:.0f} s ({100 * idle / args.idle:.1f}%)")
        finally:
            server.stop()
    return levels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--concurrency", type=int, action="append", help="sessions at once (repeatable)")
    p.add_argument("--ramp", type=float, default=2.0, help="seconds over which the sessions post (default 2)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds one session may take")
    p.add_argument("--max-seconds", type=float, default=120.0, help="bound on the whole run")
    p.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU to measure at the end")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--model", choices=("sync", "async"), default="sync", help="sync or async fake model")
    args = p.parse_args()
    args.concurrency = args.concurrency or [1, 10, 50, 200, 1000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # two sockets a session, here and there
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    levels = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps([level.__dict__ for level in levels], indent=2))
    sys.exit(0 if levels and all(level.failed == 0 for level in levels) else 1)


if __name__ == "__main__":
    main()
