"""Attacker: another user of the same server, guessing ids. Two sessions never see each other's
conversations, turns, streams or messages, and session ids cannot be guessed."""

from __future__ import annotations

import base64
import re
import secrets

from conftest import TURN_ID, csrf_of
from webclient import WS_URL, PageClient


def session_sid(client) -> str:
    with client.session_transaction() as session:
        return session["sid"]


def test_session_ids_are_long_random_and_distinct(make_app):
    # Defends against guessing or predicting another browser's session id.
    app = make_app()
    sids = set()
    for _ in range(50):
        client = app.test_client()
        client.get("/")
        sid = session_sid(client)
        assert len(base64.urlsafe_b64decode(sid + "==")) >= 32  # 256 random bits
        sids.add(sid)
    assert len(sids) == 50


def test_the_session_cookie_is_signed(make_app):
    # Defends against a forged cookie naming someone else's session id.
    app = make_app()
    victim = app.test_client()
    victim.get("/")
    sid = session_sid(victim)
    forger = app.test_client()
    forger.set_cookie("webchat_session", f'{{"sid": "{sid}"}}')
    forger.get("/")
    assert session_sid(forger) != sid


def test_nothing_of_another_session_is_reachable(make_app, live_server):
    # Defends against reading, changing or streaming another session's conversation by its ids.
    server = live_server(lambda message, history: "private reply")
    alice, mallory = PageClient(server.url), PageClient(server.url)
    reply = alice.send("private question")
    url = reply.headers["HX-Push-Url"]
    conversation_id = url.rsplit("/", 1)[1]
    turn_id = TURN_ID.search(reply.text).group(1)
    mallory.get("/")
    for path in (url, f"{url}/export", f"{url}/messages", "/messages/1/edit", "/messages/2/edit"):
        assert mallory.get(path).status == 404, path
    posts = [
        f"/turns/{turn_id}/stop",
        f"/turns/{turn_id}/retry",
        f"/turns/{turn_id}/undo",
        f"/c/{conversation_id}/clear",
        f"/c/{conversation_id}/rename",
        f"/c/{conversation_id}/delete",
        f"/c/{conversation_id}/restore",
        "/messages/1/edit",
        "/messages/2/feedback",
    ]
    for path in posts:
        answer = mallory.request(
            "POST",
            path,
            {"text": "x", "title": "x", "value": "like"},
            {"X-CSRF-Token": mallory.csrf, "HX-Request": "true"},
        )
        assert answer.status == 404, path
    sent = mallory.send("sneaking in", conversation_id)
    assert sent.status == 404
    with mallory.socket(WS_URL.search(reply.text).group(1)) as ws:
        try:
            frame = ws.recv(timeout=5)
        except Exception:
            frame = ""
        assert "private" not in frame and ws.close_code == 1008
    found = mallory.get("/search?q=private").text
    assert "private question" not in found
    assert "private question" not in mallory.get("/").text
    assert "private reply" in alice.get(url).text  # and Alice still has everything


def test_guessed_ids_find_nothing(make_app):
    # Defends against enumerating ids: conversation and turn ids are random, message ids are checked.
    app = make_app()
    client = app.test_client()
    token = csrf_of(client)
    for _ in range(200):
        guess = secrets.token_urlsafe(9)
        assert client.get(f"/c/{guess}").status_code == 404
        assert client.post(f"/turns/{guess}/stop", headers={"X-CSRF-Token": token}).status_code == 404
    for message_id in range(0, 50):  # the integer ids of the database are not addresses
        assert client.get(f"/messages/{message_id}/edit").status_code == 404


def test_message_ids_in_urls_are_random_not_sequential(make_app):
    app = make_app(lambda message, history: "ok")
    client = app.test_client()
    token = csrf_of(client)
    first = client.post("/turns", data={"text": "one"}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    url = first.headers["HX-Push-Url"]
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(first.get_data(as_text=True)).group(1), 10)
    conversation_id = url.rsplit("/", 1)[1]
    second = client.post(
        "/turns",
        data={"text": "two", "conversation_id": conversation_id},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(second.get_data(as_text=True)).group(1), 10)
    page = client.get(url).get_data(as_text=True)
    refs = list(dict.fromkeys(re.findall(r"/messages/([^/\"]+)/(?:edit|feedback)", page)))
    assert len(refs) == 4  # two messages to edit, two replies to rate
    assert all(len(ref) == 12 and not ref.isdigit() for ref in refs)
    assert client.get(f"/messages/{refs[0]}/edit").status_code == 200
