"""Every control on a conversation, through the Flask test client: undo, edit, feedback, clear,
and the sidebar's rename, delete with undo, search, export and import."""

from __future__ import annotations

import html
import io
import json
import re
import threading
import time

import pytest
from conftest import TURN_ID, csrf_of

from webchat.messages import ChatMessage

HX = {"HX-Request": "true"}


class Chat:
    """A browser session on the test client, with helpers that wait for replies."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = csrf_of(self.client)
        self.conversation_id = ""

    def post(self, path, data=None, **headers):
        return self.client.post(path, data=data or {}, headers={**HX, "X-CSRF-Token": self.token, **headers})

    def send(self, text):
        response = self.post("/turns", {"text": text, "conversation_id": self.conversation_id})
        assert response.status_code == 200, response.get_data(as_text=True)
        if "HX-Push-Url" in response.headers:
            self.conversation_id = response.headers["HX-Push-Url"].rsplit("/", 1)[1]
        turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
        self.wait(turn_id)
        return turn_id

    def wait(self, turn_id):
        snapshot = self.app.extensions["webchat"].hub.wait_final(turn_id, 10)
        assert snapshot is not None and snapshot.final

    def page(self):
        return self.client.get(f"/c/{self.conversation_id}").get_data(as_text=True)

    def stored(self):
        store = self.app.extensions["webchat"].store
        return [(m.message.role, m.message.content) for m in store.messages(self.conversation_id)]


def echo(message, history):
    return f"echo: {message}"


@pytest.fixture
def chat(make_app):
    return Chat(make_app(echo))


def test_undo_removes_the_last_turn_and_returns_its_text(chat):
    chat.send("first")
    second = chat.send("second thoughts")
    response = chat.post(f"/turns/{second}/undo")
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#messages"
    html = response.get_data(as_text=True)
    assert 'id="composer-text"' in html and "second thoughts</textarea>" in html
    assert chat.stored() == [("user", "first"), ("assistant", "echo: first")]


def test_only_the_last_turn_can_be_undone(chat):
    first = chat.send("one")
    chat.send("two")
    assert chat.post(f"/turns/{first}/undo").status_code == 409
    assert len(chat.stored()) == 4


def test_edit_reruns_the_conversation_from_the_edited_message(chat):
    chat.send("one")
    chat.send("two")
    chat.send("three")
    store = chat.app.extensions["webchat"].store
    two = next(m for m in store.messages(chat.conversation_id) if m.message.content == "two")
    form = chat.client.get(f"/messages/{two.ref}/edit", headers=HX).get_data(as_text=True)
    assert "<textarea" in form and ">two</textarea>" in form
    response = chat.post(f"/messages/{two.ref}/edit", {"text": "TWO"})
    assert response.status_code == 200
    turn_id = TURN_ID.findall(response.get_data(as_text=True))[-1]
    chat.wait(turn_id)
    assert chat.stored() == [
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "TWO"),
        ("assistant", "echo: TWO"),
    ]


def test_an_empty_edit_is_refused_and_changes_nothing(chat):
    chat.send("keep me")
    store = chat.app.extensions["webchat"].store
    message = store.messages(chat.conversation_id)[0]
    response = chat.post(f"/messages/{message.ref}/edit", {"text": "  "})
    assert response.status_code == 422
    assert chat.stored() == [("user", "keep me"), ("assistant", "echo: keep me")]


def test_replies_cannot_be_edited(chat):
    chat.send("hi")
    reply = chat.app.extensions["webchat"].store.messages(chat.conversation_id)[1]
    assert chat.client.get(f"/messages/{reply.ref}/edit").status_code == 404
    assert chat.post(f"/messages/{reply.ref}/edit", {"text": "forged"}).status_code == 404


def test_feedback_is_stored_toggled_and_reported(make_app):
    liked = []
    app = make_app(echo)
    app.extensions["webchat"].on_like = lambda index, value, like: liked.append((index, value, like))
    chat = Chat(app)
    chat.send("rate me")
    store = app.extensions["webchat"].store
    reply = store.messages(chat.conversation_id)[1]
    response = chat.post(f"/messages/{reply.ref}/feedback", {"value": "like"})
    assert response.status_code == 200 and 'aria-pressed="true"' in response.get_data(as_text=True)
    assert store.get_message(chat.conversation_id, reply.id).feedback == 1
    chat.post(f"/messages/{reply.ref}/feedback", {"value": "dislike"})
    assert store.get_message(chat.conversation_id, reply.id).feedback == -1
    chat.post(f"/messages/{reply.ref}/feedback", {"value": "dislike"})  # pressed again: taken back
    assert store.get_message(chat.conversation_id, reply.id).feedback is None
    assert liked == [
        (1, "echo: rate me", True),
        (1, "echo: rate me", False),
    ]


def test_feedback_refuses_bad_values_and_user_messages(chat):
    chat.send("x")
    user, reply = chat.app.extensions["webchat"].store.messages(chat.conversation_id)
    assert chat.post(f"/messages/{reply.ref}/feedback", {"value": "love"}).status_code == 400
    assert chat.post(f"/messages/{user.ref}/feedback", {"value": "like"}).status_code == 400


def test_clear_empties_the_conversation(chat):
    chat.send("a")
    response = chat.post(f"/c/{chat.conversation_id}/clear")
    assert response.status_code == 200
    assert "Start a conversation" in response.get_data(as_text=True)
    assert chat.stored() == []


def test_controls_on_someone_elses_messages_are_404(make_app):
    app = make_app(echo)
    alice, mallory = Chat(app), Chat(app)
    turn = alice.send("mine")
    sent, message = app.extensions["webchat"].store.messages(alice.conversation_id)[:2]
    assert mallory.post(f"/turns/{turn}/undo").status_code == 404
    assert mallory.post(f"/messages/{message.ref}/feedback", {"value": "like"}).status_code == 404
    assert mallory.post(f"/messages/{sent.ref}/edit", {"text": "x"}).status_code == 404
    assert mallory.client.get(f"/messages/{sent.ref}/edit").status_code == 404
    for verb in ("clear", "delete", "rename"):
        assert mallory.post(f"/c/{alice.conversation_id}/{verb}", {"title": "x"}).status_code == 404
    assert mallory.client.get(f"/c/{alice.conversation_id}/export").status_code == 404
    assert mallory.client.get(f"/c/{alice.conversation_id}/messages").status_code == 404
    assert len(alice.stored()) == 2


def test_sidebar_lists_newest_first_with_titles(chat):
    chat.send("About cats")
    first = chat.conversation_id
    chat.conversation_id = ""
    chat.send("About dogs")
    page = chat.client.get("/").get_data(as_text=True)
    assert page.index("About dogs") < page.index("About cats")
    assert f"/c/{first}" in page


def test_rename(chat):
    chat.send("original")
    response = chat.post(f"/c/{chat.conversation_id}/rename", {"title": "  Better   name "})
    assert response.status_code == 200 and "Better name" in response.get_data(as_text=True)
    assert "Better name" in chat.page()
    assert chat.post(f"/c/{chat.conversation_id}/rename", {"title": "   "}).status_code == 422


def test_delete_hides_and_undo_restores(chat):
    chat.send("delete me")
    conversation_id = chat.conversation_id
    response = chat.post(f"/c/{conversation_id}/delete")
    assert response.status_code == 200 and "Undo" in response.get_data(as_text=True)
    assert chat.client.get(f"/c/{conversation_id}").status_code == 404
    assert "delete me" not in chat.client.get("/new").get_data(as_text=True)
    assert chat.post(f"/c/{conversation_id}/restore").status_code == 200
    assert "delete me" in chat.page()


def test_deleting_the_open_conversation_goes_to_a_new_chat_offering_undo(chat):
    chat.send("open one")
    current = f"http://localhost/c/{chat.conversation_id}"
    response = chat.post(f"/c/{chat.conversation_id}/delete", **{"HX-Current-URL": current})
    target = response.headers["HX-Redirect"]
    assert target.startswith("/new?deleted=")
    page = chat.client.get(target).get_data(as_text=True)
    assert "Deleted “open one”" in page and "/restore" in page


def test_search_finds_titles_and_message_text(chat):
    chat.send("Recipe for bread")
    chat.conversation_id = ""
    chat.send("Weather tomorrow")
    found = chat.client.get("/search?q=BREAD", headers=HX).get_data(as_text=True)
    assert "Recipe for bread" in found and "Weather" not in found
    found = chat.client.get("/search?q=echo: weather", headers=HX).get_data(as_text=True)
    assert "Weather tomorrow" in found and "Recipe" not in found
    nothing = chat.client.get("/search?q=100%_", headers=HX).get_data(as_text=True)
    assert "Nothing matches" in nothing


def test_export_gives_the_history_a_chat_function_receives(chat):
    chat.send("export me")
    response = chat.client.get(f"/c/{chat.conversation_id}/export")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    history = json.loads(response.get_data(as_text=True))
    assert history == [
        {"role": "user", "content": "export me", "metadata": {}, "options": []},
        {"role": "assistant", "content": "echo: export me", "metadata": {}, "options": []},
    ]


def test_import_round_trips_an_export(chat):
    chat.send("round trip")
    exported = chat.client.get(f"/c/{chat.conversation_id}/export").get_data()
    response = chat.post("/import", {"file": (io.BytesIO(exported), "c.json")})
    assert response.status_code == 200
    new_id = response.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert new_id != chat.conversation_id
    chat.conversation_id = new_id
    assert chat.stored() == [("user", "round trip"), ("assistant", "echo: round trip")]
    chat.send("and continue")  # an imported conversation carries on like any other
    assert chat.stored()[-1] == ("assistant", "echo: and continue")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "Choose a JSON file"),
        (b"{not json", "not valid JSON"),
        (b'{"role": "user"}', "must be a list"),
        (b"[]", "holds no messages"),
        (b'[{"role": "robot", "content": "x"}]', "message 0: unknown role"),
        (b'[{"role": "user", "content": "ok"}, {"role": "user"}]', "message 1: message is missing 'content'"),
        (b'[{"role": "user", "content": {"path": "/etc/passwd"}}]', "'passwd' is not one of your files"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_an_invalid_import_says_what_is_wrong_and_changes_nothing(chat, body, words):
    before = chat.app.extensions["webchat"].store.list_conversations(f"s:{_sid(chat)}")
    response = chat.post("/import", {"file": (io.BytesIO(body), "bad.json")})
    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    assert "Nothing was imported" in text and words in text
    after = chat.app.extensions["webchat"].store.list_conversations(f"s:{_sid(chat)}")
    assert before == after


def _sid(chat):
    with chat.client.session_transaction() as session:
        return session["sid"]


def test_no_javascript_controls_answer_with_pages(chat):
    turn = chat.send("plain")
    response = chat.client.post(f"/turns/{turn}/undo", data={"csrf_token": chat.token})
    assert response.status_code == 200
    assert re.search(r"<textarea[^>]*>plain</textarea>", response.get_data(as_text=True))


def test_a_long_conversation_is_sent_in_pages(make_app, monkeypatch):
    # A long conversation's page holds only the newest messages; earlier ones load on request.
    from webchat.messages import ChatMessage
    from webchat.web import views

    monkeypatch.setattr(views, "PAGE_MESSAGES", 10)
    chat = Chat(make_app(echo))
    chat.send("first of many")
    store = chat.app.extensions["webchat"].store
    store.append(
        chat.conversation_id, [ChatMessage(role="user", content=f"m{i}") for i in range(25)], kind="input"
    )
    page = chat.page()
    assert page.count('class="msg user"') == 10 and "m24" in page and "<p>first of many</p>" not in page
    before = int(re.search(r"before=(\d+)", page).group(1))
    older = chat.client.get(f"/c/{chat.conversation_id}/messages?before={before}", headers=HX)
    html = older.get_data(as_text=True)
    assert html.count('class="msg user"') == 10 and "<p>m15</p>" not in html and "<p>m5</p>" in html
    oldest = int(re.search(r"before=(\d+)", html).group(1))
    last = chat.client.get(f"/c/{chat.conversation_id}/messages?before={oldest}", headers=HX)
    text = last.get_data(as_text=True)
    assert "<p>first of many</p>" in text and "before=" not in text and "Start a conversation" not in text


# A final write that fails (a full disk, a database locked past its timeout)


def failing_finish(monkeypatch, store, failures: list[int]):
    """store.finish_turn fails while failures[0] > 0 (counting down), as a full disk would."""
    from sqlalchemy.exc import OperationalError

    from webchat import turns

    real = store.finish_turn
    monkeypatch.setattr(turns, "FINAL_WRITE_TRIES", (0.01, 0.01, 0.01))

    def finish(*args, **kwargs):
        if failures[0] > 0:
            failures[0] -= 1
            raise OperationalError("UPDATE turns", {}, Exception("database or disk is full"))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "finish_turn", finish)


def test_a_final_write_that_fails_once_is_tried_again(make_app, monkeypatch):
    app = make_app(lambda message, history: "the answer")
    store = app.extensions["webchat"].store
    failing_finish(monkeypatch, store, [2])
    chat = Chat(app)
    turn_id = chat.send("hi")
    assert store.get_turn(turn_id).status == "done" and chat.stored()[-1] == ("assistant", "the answer")


def test_a_final_write_that_keeps_failing_does_not_leave_the_conversation_stuck(make_app, monkeypatch):
    # Defends against a turn left "running" for good after its final write failed: every later
    # message answered 409 "a reply is still being written", also once the disk had room again.
    app = make_app(lambda message, history: "the answer")
    services = app.extensions["webchat"]
    failures = [10**6]
    failing_finish(monkeypatch, services.store, failures)
    chat = Chat(app)
    turn_id = chat.send("hi")
    assert services.store.get_turn(turn_id).status == "running"  # nothing could be stored
    waiting = chat.post("/turns", {"text": "next", "conversation_id": chat.conversation_id})
    assert waiting.status_code == 200 and "Waiting for the reply" in waiting.get_data(as_text=True)
    failures[0] = 0  # room again
    assert services.runner.reap() == 1  # what the background loop does every half lease
    assert services.store.get_turn(turn_id).status == "done"
    assert chat.stored()[-1] == ("assistant", "the answer")
    # The conversation goes on: the page asks for it when the reply ends, and what waited starts.
    chat.client.get(f"/c/{chat.conversation_id}/messages", headers=HX)
    wait_until(lambda: len(chat.stored()) == 4)
    assert chat.stored()[-2:] == [("user", "next"), ("assistant", "the answer")]


def test_a_message_the_store_cannot_take_is_refused_in_words_and_kept(make_app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    app = make_app(lambda message, history: "the answer")
    store = app.extensions["webchat"].store

    def full(*args, **kwargs):
        raise OperationalError("INSERT INTO conversations", {}, Exception("database or disk is full"))

    monkeypatch.setattr(store, "create_conversation", full)
    chat = Chat(app)
    refused = chat.post("/turns", {"text": "keep me"})
    assert refused.status_code == 503
    text = refused.get_data(as_text=True)
    assert "could not store your message" in text and "was not sent" in text
    assert refused.headers["HX-Retarget"] == "#composer-status"  # shown by the composer: its text stays
    no_js = chat.client.post("/turns", data={"text": "keep me", "csrf_token": chat.token})
    assert no_js.status_code == 503 and "keep me" in no_js.get_data(as_text=True)


def test_an_import_applies_the_message_length_limit(make_app):
    # Defends against one imported message longer than the limit poisoning a conversation (its
    # every later view rendered it again).
    app = make_app(max_message_chars=100)
    chat = Chat(app)
    too_long = json.dumps([{"role": "user", "content": "x" * 101}])
    refused = chat.post("/import", {"json": too_long})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Nothing was imported" in text and "message 0 is 101 characters long; the limit is 100" in text
    assert conversation_count(app) == 0


def test_a_large_import_is_one_transaction(make_app):
    # 20,000 messages (60,000 took 162 s when each was its own transaction).
    app = make_app()
    chat = Chat(app)
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(20_000)]
    imported = chat.post("/import", {"json": json.dumps(history)})
    assert imported.status_code == 200
    conversation_id = imported.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert app.extensions["webchat"].store.count_messages(conversation_id) == 20_000
    page = chat.client.get(f"/c/{conversation_id}").get_data(as_text=True)
    assert "<title>m0" in page or ">m0<" in page  # titled by its first message


def conversation_count(app) -> int:
    from sqlalchemy import func, select

    from webchat.store.schema import conversations

    with app.extensions["webchat"].store.engine.connect() as db:
        return db.execute(select(func.count()).select_from(conversations)).scalar_one()


def test_an_imported_conversations_replies_have_their_controls(make_app):
    # Defends against imported replies without Copy, like, Retry or Undo (they had no turn).
    app = make_app(lambda message, history: f"again: {message}")
    chat = Chat(app)
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "second answer"},
    ]
    imported = chat.post("/import", {"json": json.dumps(history)})
    chat.conversation_id = imported.headers["HX-Redirect"].rsplit("/", 1)[1]
    page = chat.page()
    assert page.count('aria-label="Good reply"') == 2 and page.count(">Copy<") >= 4
    last = app.extensions["webchat"].store.last_turn(chat.conversation_id)
    assert f"/turns/{last.id}/retry" in page and f"/turns/{last.id}/undo" in page
    retried = chat.post(f"/turns/{last.id}/retry")
    assert retried.status_code == 200
    chat.wait(TURN_ID.findall(retried.get_data(as_text=True))[-1])
    assert chat.stored()[-1] == ("assistant", "again: two")
    undone = chat.post(f"/turns/{app.extensions['webchat'].store.last_turn(chat.conversation_id).id}/undo")
    assert undone.status_code == 200 and chat.stored() == [(m["role"], m["content"]) for m in history[:2]]


def test_a_refused_import_says_why_at_the_import_form_and_a_reload_posts_nothing(make_app):
    app = make_app()
    chat = Chat(app)
    htmx_answer = chat.post("/import", {"json": "[1, 2]"})
    assert htmx_answer.status_code == 422
    assert htmx_answer.get_data(as_text=True).startswith('<p id="import-status"')  # swapped in place
    # Without JavaScript: post/redirect/get, to the new chat page with the form open and the reason in it.
    plain = chat.client.post("/import", data={"json": "[1, 2]", "csrf_token": chat.token})
    assert plain.status_code == 303 and "/new?import_error=" in plain.headers["Location"]
    page = chat.client.get(plain.headers["Location"]).get_data(as_text=True)
    assert '<details class="import" open>' in page
    reason = re.search(r'<p id="import-status" class="import-status" role="alert">([^<]+)</p>', page)
    assert reason and reason.group(1).startswith("Nothing was imported")


def test_renaming_the_conversation_on_screen_renames_the_tab_too(chat):
    chat.send("first words")
    url = f"http://localhost/c/{chat.conversation_id}"
    renamed = chat.post(f"/c/{chat.conversation_id}/rename", {"title": "Plans"}, **{"HX-Current-URL": url})
    assert "<title>Plans · " in renamed.get_data(as_text=True)
    elsewhere = chat.post(
        f"/c/{chat.conversation_id}/rename", {"title": "Later"}, **{"HX-Current-URL": "http://localhost/new"}
    )
    assert "<title>" not in elsewhere.get_data(as_text=True)


# --- New chat from here (a fork) ------------------------------------------------------------------


def test_a_new_chat_from_a_reply_copies_the_conversation_up_to_it(chat):
    for text in ("one", "two", "three"):
        chat.send(text)
    store = chat.app.extensions["webchat"].store
    messages = store.messages(chat.conversation_id)
    page = chat.page()
    assert page.count("New chat from here") == 6  # under every message and every reply
    response = chat.post(f"/messages/{messages[3].ref}/fork")
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/c/")
    forked = response.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert forked != chat.conversation_id
    copied = [(m.message.role, m.message.content) for m in store.messages(forked)]
    assert copied == [
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "two"),
        ("assistant", "echo: two"),
    ]
    assert len(chat.stored()) == 6  # the original is unchanged
    # The new chat goes on by itself: its replies see its own history.
    chat.conversation_id = forked
    chat.send("four")
    assert chat.stored()[-2:] == [("user", "four"), ("assistant", "echo: four")]
    assert len(store.messages(messages[0].conversation_id)) == 6
    listing = chat.client.get("/").get_data(as_text=True)  # both in the sidebar, told apart
    assert ">one (branch)</a>" in listing
    assert (
        f'id="conversation-{forked}"' in listing
        and f'id="conversation-{messages[0].conversation_id}"' in listing
    )


def test_a_new_chat_from_a_sent_message_ends_with_that_message(chat):
    chat.send("one")
    chat.send("two")
    store = chat.app.extensions["webchat"].store
    second = store.messages(chat.conversation_id)[2]
    response = chat.post(f"/messages/{second.ref}/fork")
    forked = response.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert [m.message.content for m in store.messages(forked)] == ["one", "echo: one", "two"]


def test_a_new_chat_from_here_works_without_javascript(chat):
    chat.send("one")
    first = chat.app.extensions["webchat"].store.messages(chat.conversation_id)[1]
    response = chat.client.post(f"/messages/{first.ref}/fork", data={"csrf_token": chat.token})
    assert response.status_code == 303 and "/c/" in response.headers["Location"]
    page = chat.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "echo: one" in page


def test_a_new_chat_from_a_message_that_is_not_yours_is_404(chat, make_app):
    chat.send("one")
    ref = chat.app.extensions["webchat"].store.messages(chat.conversation_id)[1].ref
    stranger = Chat(chat.app)
    assert stranger.post(f"/messages/{ref}/fork").status_code == 404
    assert stranger.post("/messages/nope/fork").status_code == 404
    no_token = chat.client.post(f"/messages/{ref}/fork", headers=HX)
    assert no_token.status_code in (400, 403)
    assert len(chat.stored()) == 2


# --- Messages sent while a reply is being written wait for it -------------------------------------


def held_at(gate: threading.Event):
    """A chat function that holds "slow" at the gate and says how much history each reply saw."""

    def reply(message, history):
        if message == "slow":
            assert gate.wait(120)
        return f"echo: {message} after {len(history)}"

    return reply


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def held(make_app):
    gate = threading.Event()
    chat = Chat(make_app(held_at(gate)))
    started = chat.post("/turns", {"text": "slow", "conversation_id": ""})
    chat.conversation_id = started.headers["HX-Push-Url"].rsplit("/", 1)[1]
    chat.gate = gate
    yield chat
    gate.set()


def queue_message(chat, text):
    return chat.post("/turns", {"text": text, "conversation_id": chat.conversation_id})


def test_a_message_sent_while_a_reply_is_written_waits_then_is_answered_after_it(held):
    answer = queue_message(held, "next")
    html_text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="queue" class="queue" hx-swap-oob="outerHTML"' in html_text
    assert (
        'class="input queued"' in html_text and "next" in html_text and "Waiting for the reply" in html_text
    )
    page = held.page()
    assert "Waiting for the reply" in page and "Stop and remove waiting messages" in page
    assert held.stored() == [("user", "slow")]  # not part of the conversation yet
    held.gate.set()
    wait_until(lambda: len(held.stored()) == 4)
    assert held.stored() == [
        ("user", "slow"),
        ("assistant", "echo: slow after 0"),
        ("user", "next"),
        ("assistant", "echo: next after 2"),  # its history holds the reply it waited for
    ]
    wait_until(lambda: held.app.extensions["webchat"].store.running_turn(held.conversation_id) is None)
    assert "Waiting for the reply" not in held.page()


def test_waiting_messages_go_in_order_and_can_be_removed(held):
    first = queue_message(held, "one").get_data(as_text=True)
    queue_message(held, "two")
    ref = re.search(r'id="queued-([\w-]+)"', first).group(1)
    removed = held.post(f"/c/{held.conversation_id}/queued/{ref}/remove")
    assert removed.status_code == 200 and removed.get_data(as_text=True) == ""
    again = held.post(f"/c/{held.conversation_id}/queued/{ref}/remove")
    assert again.status_code == 404 and "no longer waiting" in again.get_data(as_text=True)
    stranger = Chat(held.app)
    assert stranger.post(f"/c/{held.conversation_id}/queued/{ref}/remove").status_code == 404
    held.gate.set()
    wait_until(lambda: len(held.stored()) == 4)
    assert [text for _, text in held.stored()][2:] == ["two", "echo: two after 2"]


def test_stop_can_drop_the_waiting_messages(held):
    queue_message(held, "one")
    stopped = held.post(f"/c/{held.conversation_id}/stop-all")
    assert stopped.status_code == 200 and 'id="queue" class="queue" hx-swap-oob' in stopped.get_data(
        as_text=True
    )
    assert Chat(held.app).post(f"/c/{held.conversation_id}/stop-all").status_code == 404  # not theirs
    wait_until(lambda: held.app.extensions["webchat"].store.running_turn(held.conversation_id) is None)
    held.gate.set()
    assert [role for role, _ in held.stored()] == ["user", "assistant"]  # "one" was never sent
    assert "Waiting for the reply" not in held.page()


def test_stop_alone_lets_the_next_waiting_message_start(held):
    queue_message(held, "one")
    turn = held.app.extensions["webchat"].store.running_turn(held.conversation_id)
    assert held.post(f"/turns/{turn.id}/stop").status_code == 204
    # The page asks for the messages when the reply ends (app.js); the held chat function has
    # not returned, so its runner has not started the next one: the asking does.
    held.client.get(f"/c/{held.conversation_id}/messages", headers=HX)
    wait_until(lambda: len(held.stored()) == 4)
    # The stopped reply had no text yet: it is not part of the history.
    assert held.stored()[2:] == [("user", "one"), ("assistant", "echo: one after 1")]


def test_at_most_ten_messages_wait_and_the_eleventh_is_refused_with_words(held):
    for n in range(10):
        assert queue_message(held, f"m{n}").status_code == 200
    refused = queue_message(held, "too many")
    assert refused.status_code == 429 and "already waiting" in refused.get_data(as_text=True)
    held.post(f"/c/{held.conversation_id}/clear")  # clearing drops them all
    held.gate.set()
    assert held.app.extensions["webchat"].conversations.queued.count(held.conversation_id) == 0


def test_without_javascript_a_waiting_message_shows_on_the_page(held):
    answer = held.client.post(
        "/turns", data={"text": "later", "conversation_id": held.conversation_id, "csrf_token": held.token}
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith(held.conversation_id)
    page = held.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "later" in page and "Waiting for the reply" in page and 'action="/c/' in page


def test_a_message_left_waiting_without_a_runner_starts_when_the_page_asks(make_app):
    chat = Chat(make_app(echo))
    app = chat.app.extensions["webchat"]
    owner = app.store.get_turn(chat.send("one")).owner
    app.conversations.queued.add(chat.conversation_id, owner, [ChatMessage(role="user", content="left")], ())
    chat.client.get(f"/c/{chat.conversation_id}/messages", headers=HX)
    wait_until(lambda: len(chat.stored()) == 4)
    assert chat.stored()[2:] == [("user", "left"), ("assistant", "echo: left")]
