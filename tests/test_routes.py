"""Routes through Flask's test client: pages, sending, stopping, retrying, and refusing bad input."""

from __future__ import annotations

import threading
import time

from conftest import TURN_ID, csrf_of

HX = {"HX-Request": "true"}


def send(client, text, conversation_id="", headers=None):
    token = csrf_of(client)
    return client.post(
        "/turns",
        data={"text": text, "conversation_id": conversation_id},
        headers={**HX, "X-CSRF-Token": token, **(headers or {})},
    )


def wait_done(app, turn_id):
    snapshot = app.extensions["webchat"].hub.wait_final(turn_id, 10)
    assert snapshot is not None and snapshot.final
    return snapshot


def test_the_page_renders_an_empty_chat(make_app):
    client = make_app().test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="composer"' in html and 'hx-post="/turns"' in html
    assert "htmx-4.0.1.min.js" in html and "hx-ws-4.0.1.min.js" in html
    assert "Content-Security-Policy" in page.headers
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_static_files_are_served(make_app):
    client = make_app().test_client()
    for path in (
        "/static/js/app.js",
        "/static/css/app.css",
        "/static/vendor/htmx-4.0.1.min.js",
        "/static/vendor/hx-ws-4.0.1.min.js",
        "/static/css/code.css",
    ):
        assert client.get(path).status_code == 200, path


def test_sending_returns_the_message_and_a_streaming_placeholder(make_app):
    app = make_app()
    client = app.test_client()
    response = send(client, "hello <b>there</b>")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "hello &lt;b&gt;there&lt;/b&gt;" in html
    assert "<b>there</b>" not in html
    assert "hx-ws:connect=" in html and "/stream" in html
    assert response.headers["HX-Push-Url"].startswith("/c/")
    assert 'hx-swap-oob="true"' in html  # the composer learns the new conversation's id
    turn_id = TURN_ID.search(html).group(1)
    wait_done(app, turn_id)
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    assert "hello &lt;b&gt;there&lt;/b&gt;" in page and "Hi there" in page
    assert "hx-ws:connect" not in page  # the reply is final: no socket


def test_the_conversation_continues_with_history(make_app):
    seen = []

    def fn(message, history):
        seen.append((message, [(m["role"], m["content"]) for m in history]))
        return f"echo {message}"

    app = make_app(fn)
    client = app.test_client()
    first = send(client, "one")
    wait_done(app, TURN_ID.search(first.get_data(as_text=True)).group(1))
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    second = send(client, "two", conversation_id)
    assert "HX-Push-Url" not in second.headers
    wait_done(app, TURN_ID.search(second.get_data(as_text=True)).group(1))
    assert seen == [("one", []), ("two", [("user", "one"), ("assistant", "echo one")])]


def test_an_empty_message_is_refused_in_the_composer(make_app):
    client = make_app().test_client()
    for text in ("", "   \n\t "):
        response = send(client, text)
        assert response.status_code == 422
        assert response.headers["HX-Retarget"] == "#composer-status"
        assert "Type a message first." in response.get_data(as_text=True)
    assert client.get("/").get_data(as_text=True).count('class="msg user"') == 0


def test_a_too_long_message_is_refused_and_nothing_is_stored(make_app):
    client = make_app(max_message_chars=10).test_client()
    response = send(client, "x" * 11)
    assert response.status_code == 413
    assert "the limit is 10" in response.get_data(as_text=True)


def test_without_javascript_the_form_posts_and_the_reply_shows_on_the_next_page(make_app):
    client = make_app().test_client()
    token = csrf_of(client)
    response = client.post("/turns", data={"text": "plain form", "csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "plain form" in page and "Hi there" in page


def test_without_javascript_an_empty_message_rerenders_the_page_with_the_error(make_app):
    client = make_app().test_client()
    token = csrf_of(client)
    response = client.post("/turns", data={"text": " ", "csrf_token": token})
    assert response.status_code == 422
    assert "Type a message first." in response.get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(make_app):
    client = make_app().test_client()
    client.get("/")
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = client.post("/turns", data={"text": "hi"}, headers={**HX, **headers})
        assert response.status_code == 403
    assert 'class="msg user"' not in client.get("/").get_data(as_text=True)


def test_another_sessions_conversation_is_404(make_app):
    app = make_app()
    alice, mallory = app.test_client(), app.test_client()
    response = send(alice, "secret")
    url = response.headers["HX-Push-Url"]
    assert alice.get(url).status_code == 200
    assert mallory.get(url).status_code == 404
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    wait_done(app, turn_id)
    token = csrf_of(mallory)
    assert mallory.post(f"/turns/{turn_id}/stop", headers={"X-CSRF-Token": token}).status_code == 404
    assert mallory.post(f"/turns/{turn_id}/retry", headers={"X-CSRF-Token": token}).status_code == 404
    conversation_id = url.rsplit("/", 1)[1]
    assert send(mallory, "sneak in", conversation_id).status_code == 404


def test_stop_keeps_the_partial_reply_marked_stopped(make_app):
    release = threading.Event()

    def fn(message, history):
        yield "partial"
        release.wait(10)
        yield "partial and more"

    app = make_app(fn)
    client = app.test_client()
    response = send(client, "go")
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    hub = app.extensions["webchat"].hub
    snapshot = hub.get(turn_id)
    while snapshot.tail_text != "partial":
        snapshot = hub.wait(turn_id, snapshot.version, 1)
    token = csrf_of(client)
    stop = client.post(f"/turns/{turn_id}/stop", headers={**HX, "X-CSRF-Token": token})
    assert stop.status_code == 204
    release.set()
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    assert "partial" in page and "partial and more" not in page
    assert "Stopped" in page


def test_a_second_message_while_a_reply_runs_waits_for_it(make_app):
    release = threading.Event()

    def fn(message, history):
        yield f"working on {message}"
        release.wait(60)

    app = make_app(fn)
    client = app.test_client()
    first = send(client, "first")
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    second = send(client, "second", conversation_id)
    assert second.status_code == 200 and "Waiting for the reply" in second.get_data(as_text=True)
    release.set()
    store = app.extensions["webchat"].store
    deadline = time.monotonic() + 60
    while len(store.messages(conversation_id)) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [m.message.content for m in store.messages(conversation_id)][2:] == ["second", "working on second"]


def test_a_model_error_shows_a_bubble_and_retry_runs_again(make_app):
    calls = []

    def flaky(message, history):
        calls.append(message)
        if len(calls) == 1:
            yield "half"
            raise ConnectionError("refused")
        yield "whole answer"

    app = make_app(flaky)
    client = app.test_client()
    response = send(client, "question")
    url = response.headers["HX-Push-Url"]
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    wait_done(app, turn_id)
    page = client.get(url).get_data(as_text=True)
    assert "question" in page and "half" in page
    assert 'class="error-bubble"' in page and "cannot be reached" in page
    assert "Traceback" not in page
    token = csrf_of(client)
    retry = client.post(f"/turns/{turn_id}/retry", headers={**HX, "X-CSRF-Token": token})
    assert retry.status_code == 200
    assert retry.headers["HX-Retarget"] == "#messages"
    new_turn = TURN_ID.findall(retry.get_data(as_text=True))[-1]
    wait_done(app, new_turn)
    page = client.get(url).get_data(as_text=True)
    assert calls == ["question", "question"]
    assert "whole answer" in page and "error-bubble" not in page
    assert page.count('class="msg user"') == 1
    assert "Show version 1 of 2" in page  # the failed reply is kept, one step away


def test_a_reply_no_longer_shown_cannot_be_retried(make_app):
    # Any reply of the branch shown can be retried (tests/test_versions.py); one that another tab
    # replaced meanwhile (its retry made another version current) is refused in words.
    app = make_app()
    client = app.test_client()
    first = send(client, "one")
    first_turn = TURN_ID.search(first.get_data(as_text=True)).group(1)
    wait_done(app, first_turn)
    token = csrf_of(client)
    again = client.post(f"/turns/{first_turn}/retry", headers={**HX, "X-CSRF-Token": token})
    wait_done(app, TURN_ID.findall(again.get_data(as_text=True))[-1])
    response = client.post(f"/turns/{first_turn}/retry", headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 409
    assert "not in the conversation as shown" in response.get_data(as_text=True)


def test_unknown_pages_are_404_with_a_page(make_app):
    client = make_app().test_client()
    response = client.get("/c/doesnotexist")
    assert response.status_code == 404
    assert "Back to the chat" in response.get_data(as_text=True)
    assert client.get("/nope", headers={"Accept": "application/json"}).get_json()["error"]["code"] == 404


def test_a_reload_during_a_reply_shows_a_placeholder_that_resubscribes(make_app):
    release = threading.Event()

    def fn(message, history):
        yield "so far"
        release.wait(10)
        yield "so far, and done"

    app = make_app(fn)
    client = app.test_client()
    response = send(client, "go")
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    hub = app.extensions["webchat"].hub
    snapshot = hub.get(turn_id)
    while snapshot.tail_text != "so far":
        snapshot = hub.wait(turn_id, snapshot.version, 1)
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    release.set()
    assert f'id="turn-{turn_id}"' in page and "hx-ws:connect" in page
    assert "so far" in page  # what streamed so far is drawn at once, then the socket continues
    wait_done(app, turn_id)


def test_scripts_and_styles_are_served_gzipped_when_asked(make_app):
    import gzip

    client = make_app().test_client()
    plain = client.get("/static/js/app.js")
    packed = client.get("/static/js/app.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["ETag"] != plain.headers["ETag"]
    image = client.get("/static/favicon.svg", headers={"Accept-Encoding": "gzip"})
    assert image.status_code == 200


def test_pages_and_partials_are_served_gzipped_when_asked(make_app):
    import gzip

    app = make_app(lambda message, history: "reply")
    client = app.test_client()
    token = csrf_of(client)
    gz = {"Accept-Encoding": "gzip, deflate, br"}
    page = client.get("/", headers=gz)
    assert page.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in page.headers["Vary"]
    html = gzip.decompress(page.data).decode()
    assert html.startswith("<!doctype html>") and "</html>" in html
    assert len(page.data) < len(html) / 2
    assert "Content-Encoding" not in client.get("/").headers  # not asked for
    sent = client.post(
        "/turns", data={"text": "hi"}, headers={**gz, "HX-Request": "true", "X-CSRF-Token": token}
    )
    assert (
        sent.headers["Content-Encoding"] == "gzip"
        and 'class="msg user"' in gzip.decompress(sent.data).decode()
    )
    small = client.get("/search?q=nothing-matches", headers={**gz, "HX-Request": "true"})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers  # too small to gain


def test_the_session_cookie_is_renewed_once_a_day_not_on_every_answer(make_app):
    # Defends both against a session in daily use expiring (its conversations unreachable) and
    # against ~270 bytes of Set-Cookie on every answer.
    client = make_app().test_client()
    assert "Set-Cookie" in client.get("/").headers  # a new session
    assert "Set-Cookie" not in client.get("/").headers  # the same day: nothing to renew
    with client.session_transaction() as session:
        session["day"] -= 1
        sid = session["sid"]
    renewed = client.get("/")
    assert "Set-Cookie" in renewed.headers and "Expires=" in renewed.headers["Set-Cookie"]
    assert "Set-Cookie" not in client.get("/").headers
    with client.session_transaction() as session:
        assert session["sid"] == sid  # the same session, with a later expiry


def test_scripts_and_styles_are_served_without_their_comments(make_app):
    # 2.3 KB of the page's 30 KB budget (gzipped) were comments for readers of the repository.
    import gzip

    client = make_app().test_client()
    for path in ("/static/js/app.js", "/static/css/app.css"):
        plain = client.get(path).data
        packed = gzip.decompress(client.get(path, headers={"Accept-Encoding": "gzip"}).data)
        assert plain == packed and b"\n  // " not in plain and b"/*" not in plain, path
    vendored = client.get("/static/vendor/htmx-4.0.1.min.js").data
    from webchat.paths import STATIC_DIR

    assert vendored == (STATIC_DIR / "vendor" / "htmx-4.0.1.min.js").read_bytes()  # untouched
