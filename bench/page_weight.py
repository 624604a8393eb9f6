"""Page weight: what Chromium loads for a new chat page (HTML, JavaScript, CSS, icons), raw and
gzipped, and every request one chat turn makes.

    .venv/bin/python -m bench.page_weight

The server is the benchmark's (gunicorn + gevent, the fake model); the browser is Debian's
Chromium driven by Playwright, with its cache off so that everything is counted. webchat gzips
its scripts and stylesheets itself (level 9, the "gzip -9" column); nginx (deploy/nginx.conf)
gzips the page and the rest at level 5, which the "gzip -5" column reproduces.
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Server, load_note, machine

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
BUDGET_GZIP = 30 * 1024


@dataclass
class Loaded:
    url: str
    kind: str
    raw: int
    gzip5: int
    gzip9: int


def measure(url: str, timeout: float) -> tuple[list[Loaded], list[str]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.context.route("**/*", lambda route: route.continue_())  # no cache: count it all
            responses = []
            page.on("response", lambda response: responses.append(response))
            page.goto(url + "/new", wait_until="networkidle")
            loaded = []
            for response in responses:
                body = response.body()
                loaded.append(
                    Loaded(
                        response.url.removeprefix(url),
                        response.request.resource_type,
                        len(body),
                        len(gzip.compress(body, 5)),
                        len(gzip.compress(body, 9)),
                    )
                )
            turn: list[str] = []
            page.on(
                "request", lambda r: turn.append(f"{r.method} {r.url.removeprefix(url)} ({r.resource_type})")
            )
            page.on("websocket", lambda ws: turn.append(f"WEBSOCKET {ws.url.split(url.split('//')[1])[-1]}"))
            page.locator("#composer-text").fill("How heavy is this page?")
            page.locator("#composer-text").press("Enter")
            page.locator(".reply:not(.streaming)").last.wait_for(timeout=timeout * 1000)
            time.sleep(0.5)  # anything the page would fetch after the reply
            return loaded, turn
        finally:
            browser.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="webchat-bench-") as tmp:
        server = Server(Path(tmp), env={"BENCH_TOKENS": "50"})
        server.start()
        try:
            loaded, turn = measure(server.url, args.timeout)
        finally:
            server.stop()
    print(f"# webchat page weight, {machine()}\n{load_note()}\n")
    print("| file | type | raw bytes | gzip -5 | gzip -9 |\n|---|---|---|---|---|")
    for item in loaded:
        print(f"| `{item.url}` | {item.kind} | {item.raw:,} | {item.gzip5:,} | {item.gzip9:,} |")
    code = [i for i in loaded if i.kind in ("document", "script", "stylesheet")]
    raw, gz5, gz9 = (sum(getattr(i, f) for i in code) for f in ("raw", "gzip5", "gzip9"))
    print(f"| **HTML + JS + CSS** ({len(code)} files) | | **{raw:,}** | **{gz5:,}** | **{gz9:,}** |")
    every = sum(i.raw for i in loaded)
    print(f"\nEverything the page loaded: {len(loaded)} requests, {every:,} bytes raw.")
    verdict = "within" if gz5 <= BUDGET_GZIP else "OVER"
    print(f"Budget 30 KB gzipped for HTML+JS+CSS: {gz5 / 1024:.1f} KB, {verdict} budget.\n")
    print("Requests made by one chat turn (send a message, stream the reply):")
    for line in turn:
        print(f"- {line}")


if __name__ == "__main__":
    main()
