"""Turn cost against history length: the POST, the first token and the renders of a turn in a
conversation that already holds 0, 100, 1000 or 5000 messages, and in one of 1000 messages with
50 other branches (versions of replies made by Retry, each carried on for two more turns).

    .venv/bin/python -m bench.history

The conversations are written straight into the server's SQLite database (as finished turns of
~300-character Markdown messages) under the session of the benchmark's browser-like client; then
each gets a few turns like the page sends them. The fake model streams 200 tokens 5 ms apart
(the model's speed does not matter here). Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bench.common import CSRF, WS_URL, Server, cookie_header, http, load_note, machine
from bench.wsclient import stream
from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url

SIZES = (0, 100, 1000, 5000)
BRANCHED = (1000, 50)  # messages on the branch shown, other branches
QUESTION = "Could you explain how **streaming** works here, with an example?"
ANSWER = (
    "Sure. The server keeps the reply *so far* and sends each new piece as it comes:\n\n"
    "1. the page posts the message;\n2. a websocket carries the tokens;\n3. the final text is "
    "rendered once.\n\n```python\nfor token in model():\n    send(token)\n```\n\nThat is all."
)


def session_of(cookie: str, secret: str) -> dict[str, str]:
    """The server's session (sid, csrf) from its signed cookie; the key is the benchmark's."""
    app = Flask("bench")
    app.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie)


def seed(store: Store, owner: str, messages: int) -> str:
    """A conversation of ``messages`` stored messages (finished turns: a question, an answer)."""
    conversation = store.create_conversation(owner)
    for _ in range(messages // 2):
        turn = store.create_turn(conversation.id, owner)
        store.append(
            conversation.id, [ChatMessage(role="user", content=QUESTION)], turn_id=turn.id, kind="input"
        )
        store.finish_turn(turn, "done", [ChatMessage(content=ANSWER)])
    return conversation.id


def seed_branched(store: Store, owner: str, messages: int, branches: int) -> str:
    """A conversation of ``messages`` on its selected branch and ``branches`` others: replies
    spread through it retried, each new version carried on for two turns, then the original
    version selected again (as a reader who came back to it)."""
    conversation_id = seed(store, owner, messages)
    replies = [m for m in store.messages(conversation_id) if m.kind == "reply"]
    step = max(1, len(replies) // branches)
    for original in replies[::step][:branches]:
        turn = store.restart_turn(store.get_turn(original.turn_id or ""))
        store.finish_turn(turn, "done", [ChatMessage(content=ANSWER)])
        for _ in range(2):
            more, _ = store.start_turn(conversation_id, owner, [ChatMessage(role="user", content=QUESTION)])
            store.finish_turn(more, "done", [ChatMessage(content=ANSWER)])
        store.select_version(original)
    return conversation_id


@dataclass
class TurnTimes:
    post: float
    first_token: float  # from the start of the POST
    final_render: float  # from the last token to the final, rendered reply
    page: float  # GET of the conversation's page after the turn
    page_bytes: int


async def one_turn(port: int, cookies: dict[str, str], csrf: str, conversation_id: str) -> TurnTimes:
    origin = f"http://127.0.0.1:{port}"
    body = urllib.parse.urlencode({"text": "And one more question?", "conversation_id": conversation_id})
    headers = {
        "HX-Request": "true",
        "Accept-Encoding": "gzip, deflate, br, zstd",  # as Chromium offers
        "X-CSRF-Token": csrf,
        "Origin": origin,
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie_header(cookies),
    }
    start = time.monotonic()
    reply = await http(port, "POST", "/turns", headers, body.encode())
    posted = time.monotonic() - start
    found = WS_URL.search(reply.text)
    if reply.status != 200 or not found:
        raise SystemExit(f"POST /turns answered {reply.status}: {reply.text[:300]}")
    arrivals: list[tuple[float, bool]] = []
    path = urllib.parse.urlsplit(found.group(1).replace("&amp;", "&")).path
    code, _ = await stream(
        port,
        path,
        origin,
        cookie_header(cookies),
        lambda now, m: arrivals.append((now, m.get("swap") == "outerHTML")),
    )
    if code != 1000 or not arrivals or not arrivals[-1][1]:
        raise SystemExit(f"the reply did not finish (close code {code})")
    tokens = [t for t, final in arrivals if not final] or [arrivals[-1][0]]
    page_start = time.monotonic()
    page = await http(port, "GET", f"/c/{conversation_id}", {"Cookie": cookie_header(cookies)})
    return TurnTimes(
        post=posted,
        first_token=tokens[0] - start,
        final_render=arrivals[-1][0] - tokens[-1],
        page=time.monotonic() - page_start,
        page_bytes=len(page.body),
    )


async def run(server: Server, turns: int) -> list[tuple[str, list[TurnTimes]]]:
    page = await http(server.port, "GET", "/new")
    cookies = dict(page.cookies)
    csrf = CSRF.search(page.text).group(1)
    owner = "s:" + session_of(cookies["webchat_session"], "bench")["sid"]
    store = Store(sqlite_url(server.data_dir / "webchat.sqlite3"))
    try:
        conversations = [(str(size), seed(store, owner, size)) for size in SIZES]
        shown, others = BRANCHED
        conversations.append((f"{shown} + {others} branches", seed_branched(store, owner, shown, others)))
    finally:
        store.close()
    results = []
    for size, conversation_id in conversations:
        times = [await one_turn(server.port, cookies, csrf, conversation_id) for _ in range(turns)]
        results.append((size, times))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--turns", type=int, default=4, help="turns per conversation (default 4)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="webchat-bench-") as tmp:
        server = Server(Path(tmp), env={"BENCH_TOKEN_SECONDS": "0.005"})
        server.start()
        try:
            results = asyncio.run(asyncio.wait_for(run(server, args.turns), 110))
        finally:
            server.stop()
    ms = 1000
    print(f"# webchat turn cost against history length, {machine()}\n{load_note()}\n")
    print(
        "| messages before | POST ms | first token ms (from POST) | first token, first turn ms "
        "| final render ms | page GET ms | page KB |\n|---|---|---|---|---|---|---|"
    )
    base = None
    for size, times in results:
        warm = times[1:] or times  # the first turn of a conversation reads its history from disk
        post = statistics.median(t.post for t in times)
        first = statistics.median(t.first_token for t in warm)
        final = statistics.median(t.final_render for t in times)
        page = statistics.median(t.page for t in times)
        base = base or (post, first)
        print(
            f"| {size} | {post * ms:.1f} ({post / base[0]:.2f}x) | {first * ms:.1f} ({first / base[1]:.2f}x) "
            f"| {times[0].first_token * ms:.1f} | {final * ms:.1f} | {page * ms:.1f} "
            f"| {times[-1].page_bytes / 1024:.0f} |"
        )
    print(
        f"\nMedians of {args.turns} turns per conversation (first token: of the turns after the first). "
        "A turn's POST stores the message and starts the reply; the history is read by the reply."
    )


if __name__ == "__main__":
    main()
