"""The API for programs: tokens, chat completions (OpenAI format) and the caller's conversations.

Flask's test client for the rules; a real server on 127.0.0.1 with huggingface_hub's
InferenceClient and the openai client for what programs actually do; the real llama.cpp model
behind it once (``-m model``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import csrf_of, settings_for, slow_words
from flask import Flask
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import webchat
from webchat.app import create_app
from webchat.backends import Backend
from webchat.backends.inference import Generation, InferenceChat, make_client
from webchat.messages import ChatMessage, filedata
from webchat.store.schema import api_tokens
from webchat.web.api.openai import parse_request
from webchat.web.page import Page

# A 1×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
USER = [{"role": "user", "content": "hello"}]


def new_token(app: Flask, owner: str = "s:program") -> str:
    with app.app_context():
        return app.extensions["webchat"].tokens.create(owner, "test")[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(make_app: Callable[..., Flask]) -> Callable[..., tuple[Any, dict[str, str]]]:
    """An app with the API on: its test client and the headers of a valid token."""

    def build(chat_fn: Callable[..., Any] | None = None, **settings: Any) -> tuple[Any, dict[str, str]]:
        app = make_app(chat_fn, api=True, **settings)
        return app.test_client(), bearer(new_token(app))

    return build


def recording(replies: list[Any]) -> tuple[Callable[..., Any], list[tuple[Any, list[dict[str, Any]]]]]:
    """A chat function that answers ``replies`` in turn and keeps what it was called with."""
    calls: list[tuple[Any, list[dict[str, Any]]]] = []

    def fn(message: Any, history: list[dict[str, Any]]) -> Any:
        calls.append((message, history))
        return replies[min(len(calls) - 1, len(replies) - 1)]

    return fn, calls


def sse_events(body: str) -> list[Any]:
    """The data of each server-sent event; ``[DONE]`` stays a string."""
    events = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def page_token(client: Any, name: str = "my script") -> str:
    """Make a token the way a person does: the form on the tokens page."""
    csrf = csrf_of(client)
    reply = client.post("/settings/tokens", data={"name": name, "csrf_token": csrf})
    assert reply.status_code == 201, reply.get_data(as_text=True)
    return re.search(r'id="token-secret" class="secret" value="([^"]+)"', reply.get_data(as_text=True)).group(
        1
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The API is off unless asked for


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/api/conversations"),
        ("POST", "/api/conversations"),
        ("DELETE", "/api/conversations/abc"),
        ("GET", "/api/openapi.json"),
        ("GET", "/v1/no-such-thing"),
    ],
)
def test_without_auth_or_api_flag_the_api_is_off(make_app, method, path):
    app = make_app()
    secret = new_token(app)
    reply = app.test_client().open(path, method=method, json={"messages": USER}, headers=bearer(secret))
    assert reply.status_code == 404
    assert reply.is_json
    assert reply.get_json()["error"]["code"] == "api_off"
    assert "--api" in reply.get_json()["error"]["message"]


def test_without_the_api_there_is_no_tokens_page_and_no_link(make_app):
    client = make_app().test_client()
    assert client.get("/settings/tokens").status_code == 404
    assert "API tokens" not in client.get("/new").get_data(as_text=True)


def test_the_api_flag_is_a_cli_flag_and_an_environment_variable():
    from webchat.cli import parser
    from webchat.settings import Settings

    assert Settings.load(vars(parser().parse_args(["--api"]))).api is True
    assert Settings.load(vars(parser().parse_args([])), env={}).api is False
    assert Settings.load({}, env={"WEBCHAT_API": "1"}).api is True


def test_with_logins_the_api_is_on_and_a_users_token_acts_as_that_user(make_app):
    app = make_app(auth=("ann:secret-pw",))
    client = app.test_client()
    assert client.get("/v1/models").status_code == 401  # on, but it wants a token
    secret = new_token(app, owner="u:ann")
    created = client.post("/api/conversations", json={"messages": USER}, headers=bearer(secret))
    assert created.status_code == 201, created.get_data(as_text=True)
    with app.app_context():
        owners = {c.owner for c in app.extensions["webchat"].store.list_conversations("u:ann")}
    assert owners == {"u:ann"}


def test_with_logins_only_tokens_of_current_users_count(make_app):
    app = make_app(auth=("ann:secret-pw",))
    client = app.test_client()
    from_before_logins = new_token(app, owner="s:anonymous-browser")
    of_a_removed_user = new_token(app, owner="u:bob")
    for secret in (from_before_logins, of_a_removed_user):
        reply = client.get("/v1/models", headers=bearer(secret))
        assert reply.status_code == 401
        assert "belongs to no current user" in reply.get_json()["error"]["message"]
    assert client.get("/v1/models", headers=bearer(new_token(app, owner="u:ann"))).status_code == 200


def test_with_logins_a_user_makes_tokens_after_signing_in(make_app):
    app = make_app(auth=("ann:secret-pw",))
    client = app.test_client()
    assert client.get("/settings/tokens").status_code in (302, 303)  # to the sign-in page
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    signed_in = client.post("/login", data={"username": "ann", "password": "secret-pw", "csrf_token": csrf})
    assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)
    secret = page_token(client)
    with app.app_context():
        assert [t.owner for t in app.extensions["webchat"].tokens.list("u:ann")] == ["u:ann"]
    assert app.test_client().get("/v1/models", headers=bearer(secret)).status_code == 200


# Tokens


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "missing_api_key"),
        ({"Authorization": "Bearer"}, "missing_api_key"),
        ({"Authorization": "Bearer wct_" + "x" * 43}, "invalid_api_key"),
        ({"Authorization": "Bearer not-even-a-token"}, "invalid_api_key"),
    ],
)
def test_a_request_without_a_valid_token_gets_401_json(api, headers, code):
    client, _ = api()
    for method, path in (
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/api/conversations"),
    ):
        reply = client.open(path, method=method, json={"messages": USER}, headers=headers)
        assert reply.status_code == 401, (method, path)
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        error = reply.get_json()["error"]
        assert error["type"] == "authentication_error" and error["code"] == code
        assert "Bearer" in error["message"] or "not valid" in error["message"]


def test_the_openapi_description_needs_no_token(api):
    client, _ = api()
    reply = client.get("/api/openapi.json")
    assert reply.status_code == 200 and reply.get_json()["openapi"].startswith("3.1")


def test_a_person_makes_a_token_in_the_page_sees_it_once_and_it_is_stored_hashed(make_app):
    app = make_app(api=True)
    client = app.test_client()
    page = client.get("/new").get_data(as_text=True)
    assert 'href="/settings/tokens"' in page  # the sidebar links to it
    secret = page_token(client, "backup script")
    assert secret.startswith("wct_") and len(secret) > 40
    listing = client.get("/settings/tokens").get_data(as_text=True)
    assert "backup script" in listing and secret not in listing and secret[:8] in listing
    with app.app_context(), app.extensions["webchat"].store.engine.connect() as db:
        rows = list(db.execute(select(api_tokens)))
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps([list(map(str, row)) for row in rows])
    assert client.get("/v1/models", headers=bearer(secret)).status_code == 200
    assert "never" not in client.get("/settings/tokens").get_data(as_text=True)  # last used: now


def test_the_api_base_url_shown_comes_from_the_public_origin_not_the_host_header(make_app):
    app = make_app(api=True, public_origin="https://chat.example.com")
    client = app.test_client()
    spoofed = client.get("/settings/tokens", headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "<code>https://chat.example.com/v1</code>" in spoofed and "evil.example" not in spoofed
    behind_prefix = client.get("/settings/tokens", base_url="http://localhost/chat/").get_data(as_text=True)
    assert "<code>https://chat.example.com/chat/v1</code>" in behind_prefix
    plain = make_app(api=True).test_client().get("/settings/tokens").get_data(as_text=True)
    assert "<code>http://localhost/v1</code>" in plain  # no public origin: the host it was sent to


def test_a_token_acts_as_the_browser_session_that_made_it(make_app):
    app = make_app(api=True)
    browser = app.test_client()
    csrf = csrf_of(browser)
    sent = browser.post(
        "/turns", data={"text": "from the page", "csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert sent.status_code == 200
    secret = page_token(browser)
    other = new_token(app, owner="s:someone-else")
    program = app.test_client()  # no cookies at all
    mine = program.get("/api/conversations", headers=bearer(secret)).get_json()["data"]
    assert [c["title"] for c in mine] == ["from the page"]
    assert program.get("/api/conversations", headers=bearer(other)).get_json()["data"] == []
    deadline = time.monotonic() + 10
    while True:
        detail = program.get(f"/api/conversations/{mine[0]['id']}", headers=bearer(secret)).get_json()
        if len(detail["messages"]) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][0]["content"] == "from the page"
    assert detail["messages"][1]["content"] == "Hi there"


def test_revoking_a_token_stops_it_at_once(make_app):
    app = make_app(api=True)
    client = app.test_client()
    secret = page_token(client)
    [token_id] = re.findall(r'<tr id="token-([^"]+)"', client.get("/settings/tokens").get_data(as_text=True))
    revoked = client.post(
        f"/settings/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_of(client)},
        headers={"HX-Request": "true"},
    )
    assert revoked.status_code == 200
    assert "No tokens yet." in revoked.get_data(as_text=True)
    reply = client.get("/v1/models", headers=bearer(secret))
    assert reply.status_code == 401 and reply.get_json()["error"]["code"] == "invalid_api_key"


def test_nobody_revokes_another_owners_token(make_app):
    app = make_app(api=True)
    someone = new_token(app, owner="s:someone")
    with app.app_context():
        [token] = app.extensions["webchat"].tokens.list("s:someone")
    client = app.test_client()
    reply = client.post(f"/settings/tokens/{token.id}/revoke", data={"csrf_token": csrf_of(client)})
    assert reply.status_code == 404
    assert client.get("/v1/models", headers=bearer(someone)).status_code == 200


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the token a name"), ("   ", "Give the token a name"), ("x" * 81, "at most 80")],
)
def test_a_token_needs_a_sensible_name(make_app, name, message):
    client = make_app(api=True).test_client()
    reply = client.post(
        "/settings/tokens", data={"name": name, "csrf_token": csrf_of(client)}, headers={"HX-Request": "true"}
    )
    assert reply.status_code == 422
    assert message in reply.get_data(as_text=True)
    assert "wct_" not in reply.get_data(as_text=True)


def test_the_tokens_form_needs_the_csrf_token(make_app):
    client = make_app(api=True).test_client()
    client.get("/settings/tokens")
    assert client.post("/settings/tokens", data={"name": "x"}).status_code == 403


# CSRF: a bearer token exempts API calls only


def test_a_bearer_token_call_needs_no_csrf_token(api):
    client, headers = api()
    assert client.post("/api/conversations", json={"messages": USER}, headers=headers).status_code == 201
    assert client.post("/v1/chat/completions", json={"messages": USER}, headers=headers).status_code == 200


def test_the_session_cookie_alone_does_not_open_the_api(make_app):
    app = make_app(api=True)
    client = app.test_client()
    csrf = csrf_of(client)  # a browser session, with its CSRF token
    for headers in ({}, {"X-CSRF-Token": csrf}):
        reply = client.post("/api/conversations", json={"messages": USER}, headers=headers)
        assert reply.status_code == 401, headers
    page = client.get("/api/conversations", headers={"X-CSRF-Token": csrf})
    assert page.status_code == 401
    with app.app_context():
        assert app.extensions["webchat"].store.list_conversations("s:anyone") == []


def test_a_bearer_header_does_not_exempt_the_pages_from_csrf(make_app):
    app = make_app(api=True)
    secret = new_token(app)
    client = app.test_client()
    client.get("/new")
    reply = client.post("/turns", data={"text": "forged"}, headers=bearer(secret))
    assert reply.status_code == 403
    reply = client.post("/settings/tokens", data={"name": "forged"}, headers=bearer(secret))
    assert reply.status_code == 403


# Chat completions


def test_a_completion_is_the_chat_functions_reply(api):
    fn, calls = recording(["The answer."])
    client, headers = api(fn, title="Helper")
    body = {
        "model": "anything",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "line"}],
            },
            {"role": "assistant", "content": "ok"},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "second"},
        ],
    }
    reply = client.post("/v1/chat/completions", json=body, headers=headers)
    assert reply.status_code == 200
    data = reply.get_json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "Helper"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "The answer."}
    assert data["choices"][0]["finish_reason"] == "stop"
    [(message, history)] = calls
    assert message == "second"
    assert [(m["role"], m["content"]) for m in history] == [
        ("system", "Be brief."),
        ("user", "first\nline"),
        ("assistant", "ok"),
        ("assistant", ""),
    ]


def test_a_completion_leaves_thoughts_out_and_joins_several_messages(api):
    reply = [
        ChatMessage(content="thinking...", metadata={"title": "Thinking"}),
        "Part one.",
        {"role": "assistant", "content": "Part two."},
    ]
    client, headers = api(lambda message, history: reply)
    data = client.post("/v1/chat/completions", json={"messages": USER}, headers=headers).get_json()
    assert data["choices"][0]["message"]["content"] == "Part one.\n\nPart two."


def test_a_stateless_completion_stores_no_conversation(make_app):
    app = make_app(api=True)
    secret = new_token(app, owner="s:program")
    client = app.test_client()
    assert (
        client.post("/v1/chat/completions", json={"messages": USER}, headers=bearer(secret)).status_code
        == 200
    )
    with app.app_context():
        assert app.extensions["webchat"].store.list_conversations("s:program") == []


def test_a_streamed_completion_is_server_sent_events_ending_with_done(api):
    client, headers = api(slow_words(["One", " two", " three"], 0))
    reply = client.post("/v1/chat/completions", json={"messages": USER, "stream": True}, headers=headers)
    assert reply.status_code == 200
    assert reply.mimetype == "text/event-stream"
    assert reply.headers["Cache-Control"] == "no-cache"
    events = sse_events(reply.get_data(as_text=True))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "One two three"
    assert len([c for c in chunks if c["choices"][0]["delta"].get("content")]) == 3
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"


def test_a_reply_that_rewrites_itself_streams_only_what_extends_what_was_sent(api):
    def fn(message, history):
        yield "Hello"
        yield "Hel"  # rewritten: nothing can be taken back in a stream
        yield "Hello world"

    client, headers = api(fn)
    body = client.post("/v1/chat/completions", json={"messages": USER, "stream": True}, headers=headers)
    chunks = sse_events(body.get_data(as_text=True))[:-1]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hello world"


BAD_BODIES = [
    ("not json", "not valid JSON", None),
    ([1, 2], "JSON object", None),
    ({}, "'messages'", "messages"),
    ({"messages": []}, "non-empty list", "messages"),
    ({"messages": "hello"}, "must be a list of messages", "messages"),
    (
        {"messages": [{"role": "assistant", "content": "hi"}]},
        "last message must be the user's",
        "messages[0].role",
    ),
    ({"messages": [{"role": "tool", "content": "x"}, *USER]}, "tool messages", "messages[0].role"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "'role' must be one of", "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "has no 'content'", "messages[0].content"),
    ({"messages": [{"role": "user", "content": 5}]}, "string or a list", "messages[0].content"),
    (
        {"messages": [{"role": "user", "content": None}]},
        "only an assistant's 'content'",
        "messages[0].content",
    ),
    ({"messages": [{"role": "user", "content": "  "}]}, "empty", "messages[0].content"),
    ({"messages": ["hi"]}, "must be an object", "messages[0]"),
    (
        {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        "'text' or 'image_url'",
        "messages[0].content[0]",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
        "has no 'text'",
        "messages[0].content[0].text",
    ),
    ({"messages": USER, "model": 3}, "model: input should be a valid string", "model"),
    ({"messages": USER, "stream": "yes"}, "stream: input should be a valid boolean", "stream"),
    ({"messages": USER, "n": True}, "n: input should be a valid integer", "n"),
    ({"messages": USER, "n": 2}, "Only n=1", "n"),
    ({"messages": USER, "max_tokens": 0}, "greater than or equal to 1", "max_tokens"),
    ({"messages": USER, "max_tokens": "ten"}, "valid integer", "max_tokens"),
    ({"messages": USER, "temperature": 3}, "less than or equal to 2", "temperature"),
    ({"messages": USER, "top_p": True}, "top_p: input should be a valid number", "top_p"),
    ({"messages": USER, "tools": [{"type": "function"}]}, "Tools", "tools"),
    (
        {"messages": USER, "response_format": {"type": "json_object"}},
        "input should be 'text'",
        "response_format.type",
    ),
    ({"messages": USER, "logprobs": True}, "Log probabilities", "logprobs"),
    (
        {"messages": USER, "stream_options": "x"},
        "stream_options: input should be a valid dictionary",
        "stream_options",
    ),
]


@pytest.mark.parametrize(("body", "says", "param"), BAD_BODIES)
def test_a_bad_completion_request_gets_400_saying_what_is_wrong(api, body, says, param):
    fn, calls = recording(["never"])
    client, headers = api(fn)
    if isinstance(body, str):
        reply = client.post(
            "/v1/chat/completions", data=body, headers=headers, content_type="application/json"
        )
    else:
        reply = client.post("/v1/chat/completions", json=body, headers=headers)
    assert reply.status_code == 400, reply.get_data(as_text=True)
    error = reply.get_json()["error"]
    assert error["type"] == "invalid_request_error"
    assert says in error["message"]
    assert error["param"] == param
    assert calls == []


def test_other_openai_fields_are_accepted_and_ignored(api):
    fn, calls = recording(["Fine."])
    client, headers = api(fn)
    body = {"messages": USER, "seed": 3, "user": "someone", "n": 1, "tools": [], "logprobs": False}
    reply = client.post("/v1/chat/completions", json=body, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["choices"][0]["message"]["content"] == "Fine."
    assert len(calls) == 1


def test_the_users_message_over_the_length_limit_gets_413(api):
    client, headers = api(max_message_chars=100)
    reply = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 101}]}, headers=headers
    )
    assert reply.status_code == 413
    assert "limit is 100" in reply.get_json()["error"]["message"]


def test_a_body_over_the_size_limit_gets_413_json(api):
    client, headers = api()
    reply = client.post(
        "/v1/chat/completions",
        data=b"{" + b" " * (33 * 1024 * 1024),
        headers=headers,
        content_type="application/json",
    )
    assert reply.status_code == 413
    assert reply.get_json()["error"] == {
        "message": "The body is larger than 32 MB.",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }


def test_wrong_methods_and_unknown_paths_get_json_too(api):
    client, headers = api()
    wrong = client.get("/v1/chat/completions", headers=headers)
    assert wrong.status_code == 405 and wrong.is_json and "POST" in wrong.headers["Allow"]
    assert client.get("/v1/nothing", headers=headers).get_json()["error"]["type"] == "not_found_error"
    assert client.get("/api/conversations/nope", headers=headers).status_code == 404


# Images


def test_images_reach_a_multimodal_chat_function_as_files(make_app, tmp_path):
    seen: list[Any] = []

    def fn(message, history):
        files = [m["content"] for m in history if isinstance(m["content"], dict)]
        seen.append((message, files, [Path(p).read_bytes() for p in message["files"]]))
        return "Seen."

    app = make_app(fn, api=True, page=Page(multimodal=True))
    client = app.test_client()
    image = {"type": "image_url", "image_url": {"url": PNG_URL}}
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "earlier"}, image]},
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and this?"},
                    {"type": "image_url", "image_url": PNG_URL},
                ],
            },
        ]
    }
    reply = client.post("/v1/chat/completions", json=body, headers=bearer(new_token(app)))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    [(message, history_files, contents)] = seen
    assert message["text"] == "and this?"
    assert contents == [PNG]
    [earlier] = history_files
    assert earlier["mime_type"] == "image/png" and earlier["size"] == len(PNG)
    assert earlier["meta"] == {"_type": "gradio.FileData"}
    # Nothing of a stateless call is kept.
    for path in [earlier["path"], *message["files"]]:
        assert not Path(path).exists()
    assert list((tmp_path / "data" / "api-scratch").iterdir()) == []


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("https://example.com/cat.png", 400, "does not fetch remote URLs"),
        ("data:image/png,rawbytes", 400, "base64"),
        ("data:image/png;base64,@@@@", 400, "not valid base64"),
        ("data:image/png;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode(), 400, "not a PNG"),
        ("data:image/png;base64," + "A" * (14 * 1024 * 1024), 413, "larger than 10 MB"),
    ],
)
def test_bad_images_are_refused_with_the_reason(make_app, url, status, says):
    fn, calls = recording(["never"])
    app = make_app(fn, api=True, page=Page(multimodal=True))
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}]
    reply = app.test_client().post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": content}]},
        headers=bearer(new_token(app)),
    )
    assert reply.status_code == status
    assert says in reply.get_json()["error"]["message"]
    assert reply.get_json()["error"]["param"] == "messages[0].content[1].image_url.url"
    assert calls == []


def test_a_text_only_chat_refuses_images_rather_than_dropping_them(api):
    fn, calls = recording(["never"])
    client, headers = api(fn)
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": PNG_URL}}]
    reply = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": content}]}, headers=headers
    )
    assert reply.status_code == 400
    assert "text only" in reply.get_json()["error"]["message"]
    assert calls == []


def test_only_the_users_messages_carry_images(make_app):
    app = make_app(api=True, page=Page(multimodal=True))
    body = {
        "messages": [{"role": "assistant", "content": [{"type": "image_url", "image_url": PNG_URL}]}, *USER]
    }
    reply = app.test_client().post("/v1/chat/completions", json=body, headers=bearer(new_token(app)))
    assert reply.status_code == 400 and "only the user's messages" in reply.get_json()["error"]["message"]


# Failures of the model server


def test_a_model_server_that_is_down_gives_502_with_the_reason(api):
    client_for_down_server = make_client(
        model=None, base_url=f"http://127.0.0.1:{closed_port()}/v1", token="unused", timeout=5
    )
    client, headers = api(InferenceChat(client_for_down_server))
    for stream in (False, True):
        reply = client.post(
            "/v1/chat/completions", json={"messages": USER, "stream": stream}, headers=headers
        )
        assert reply.status_code == 502, stream
        error = reply.get_json()["error"]
        assert error["type"] == "api_error" and error["code"] == "model_server_error"
        assert "cannot be reached" in error["message"]


def test_a_chat_function_error_gives_502_with_its_own_words(api):
    def fn(message, history):
        raise webchat.Error("The kitchen is closed.")

    client, headers = api(fn)
    reply = client.post("/v1/chat/completions", json={"messages": USER}, headers=headers)
    assert reply.status_code == 502
    assert reply.get_json()["error"]["message"] == "The kitchen is closed."


def test_a_failure_mid_stream_ends_the_stream_with_an_error_event(api):
    def fn(message, history):
        yield "Half"
        raise RuntimeError("boom")

    client, headers = api(fn)
    reply = client.post("/v1/chat/completions", json={"messages": USER, "stream": True}, headers=headers)
    assert reply.status_code == 200  # the status went out with the first event
    events = sse_events(reply.get_data(as_text=True))
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["code"] == "model_server_error"
    assert "The chat function failed (RuntimeError)" in events[-2]["error"]["message"]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2]) == "Half"


@pytest.fixture
def rate_limited_server() -> Iterator[str]:
    """A model server that answers every request with 429 and Retry-After: 7."""

    @Request.application
    def app(request: Request) -> Response:
        body = json.dumps({"error": {"message": "slow down", "type": "rate_limit_error"}})
        return Response(body, status=429, headers={"Retry-After": "7"}, content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_a_rate_limiting_model_server_gives_429_with_its_retry_after(api, rate_limited_server):
    chat = InferenceChat(make_client(model=None, base_url=rate_limited_server, token="unused", timeout=5))
    client, headers = api(chat)
    reply = client.post("/v1/chat/completions", json={"messages": USER}, headers=headers)
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    error = reply.get_json()["error"]
    assert error["type"] == "rate_limit_error" and "slow down" in error["message"]


# Sampling settings reach a model backend


def test_sampling_settings_apply_to_a_model_within_the_servers_limits():
    from webchat.web.api.openai import for_request

    backend = Backend.of_model(
        make_client(model=None, base_url="http://127.0.0.1:9/v1", token="x", timeout=1),
        model=None,
        generation=Generation(system_prompt="Server prompt", max_tokens=100, temperature=0.5),
        server_name="The model server",
        model_id="default",
    )
    chat = backend.chat
    plain = parse_request({"messages": USER, "max_tokens": 500, "top_p": 0.9}, max_message_chars=100)
    applied = for_request(backend, plain)
    assert applied.generation == Generation(
        system_prompt="Server prompt", max_tokens=100, temperature=0.5, top_p=0.9
    )
    own_prompt = parse_request(
        {"messages": [{"role": "system", "content": "Mine"}, *USER], "max_tokens": 20, "temperature": 0},
        max_message_chars=100,
    )
    applied = for_request(backend, own_prompt)
    assert applied.generation == Generation(system_prompt="", max_tokens=20, temperature=0.0, top_p=None)
    assert chat.generation.max_tokens == 100  # the server's chat function is left as it was

    def python_fn(message, history):
        return "x"

    assert for_request(Backend.of_function(python_fn, "title"), plain) is python_fn


# Conversations


def test_conversations_can_be_created_listed_read_and_deleted(api):
    client, headers = api()
    messages = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": "Hello!",
            "metadata": {"title": "Greeting"},
            "options": [{"value": "More"}],
        },
        {"role": "user", "content": "Bye"},
    ]
    created = client.post(
        "/api/conversations", json={"title": "Chat one", "messages": messages}, headers=headers
    )
    assert created.status_code == 201
    conversation = created.get_json()
    assert created.headers["Location"] == f"/api/conversations/{conversation['id']}"
    assert conversation["title"] == "Chat one" and conversation["object"] == "conversation"
    assert conversation["messages"][2] == {
        "role": "assistant",
        "content": "Hello!",
        "metadata": {"title": "Greeting"},
        "options": [{"value": "More", "label": "More"}],
    }
    assert [m["content"] for m in conversation["messages"]] == ["Be kind.", "Hi", "Hello!", "Bye"]
    untitled = client.post("/api/conversations", json={"messages": messages[1:2]}, headers=headers).get_json()
    assert untitled["title"] == "Hi"  # from the first message, as in the page
    listed = client.get("/api/conversations", headers=headers).get_json()
    assert listed["object"] == "list"
    assert [c["id"] for c in listed["data"]] == [untitled["id"], conversation["id"]]
    assert (
        client.get("/api/conversations?limit=1", headers=headers).get_json()["data"][0]["id"]
        == untitled["id"]
    )
    read = client.get(location := created.headers["Location"], headers=headers).get_json()
    assert read == conversation
    deleted = client.delete(location, headers=headers)
    assert deleted.get_json() == {"id": conversation["id"], "object": "conversation.deleted", "deleted": True}
    assert client.get(location, headers=headers).status_code == 404
    assert client.delete(location, headers=headers).status_code == 404
    assert [c["id"] for c in client.get("/api/conversations", headers=headers).get_json()["data"]] == [
        untitled["id"]
    ]


def test_a_conversation_created_by_api_shows_in_the_page_of_its_owner(make_app):
    app = make_app(api=True)
    browser = app.test_client()
    secret = page_token(browser)
    created = browser.post(
        "/api/conversations",
        json={
            "messages": [
                {"role": "user", "content": "Imported question"},
                {"role": "assistant", "content": "An **answer**"},
            ]
        },
        headers=bearer(secret),
    ).get_json()
    page = browser.get(f"/c/{created['id']}").get_data(as_text=True)
    assert "Imported question" in page and "<strong>answer</strong>" in page


def test_files_in_a_conversation_come_back_as_filedata(make_app, tmp_path):
    app = make_app(api=True)
    secret = new_token(app, owner="s:with-files")
    store = app.extensions["webchat"].store
    conversation = store.create_conversation("s:with-files")
    file = filedata(
        str(tmp_path / "cat.png"),
        url="/files/abc/cat.png",
        size=68,
        orig_name="cat.png",
        mime_type="image/png",
    )
    store.append(
        conversation.id,
        [ChatMessage(role="user", content="see"), ChatMessage(role="user", content=file)],
        kind="input",
    )
    data = app.test_client().get(f"/api/conversations/{conversation.id}", headers=bearer(secret)).get_json()
    assert data["messages"][1]["content"] == dict(file)


def test_another_owners_conversation_is_not_found(make_app):
    app = make_app(api=True)
    mine, theirs = new_token(app, owner="s:me"), new_token(app, owner="s:them")
    client = app.test_client()
    created = client.post("/api/conversations", json={"messages": USER}, headers=bearer(theirs)).get_json()
    for method in ("GET", "DELETE"):
        reply = client.open(f"/api/conversations/{created['id']}", method=method, headers=bearer(mine))
        assert reply.status_code == 404
        assert reply.get_json()["error"]["code"] == "conversation_not_found"
    assert client.get(f"/api/conversations/{created['id']}", headers=bearer(theirs)).status_code == 200


def test_deleting_a_conversation_stops_its_running_reply(make_app):
    app = make_app(slow_words(["a"] * 100, 0.05), api=True)
    browser = app.test_client()
    browser.post(
        "/turns", data={"text": "long", "csrf_token": csrf_of(browser)}, headers={"HX-Request": "true"}
    )
    secret = page_token(browser)
    [conversation] = browser.get("/api/conversations", headers=bearer(secret)).get_json()["data"]
    store = app.extensions["webchat"].store
    assert store.running_turn(conversation["id"]) is not None
    assert (
        browser.delete(f"/api/conversations/{conversation['id']}", headers=bearer(secret)).status_code == 200
    )
    assert store.running_turn(conversation["id"]) is None


BAD_CONVERSATIONS = [
    ("[]", 400, "JSON object", None),
    ("{", 400, "not valid JSON", None),
    ({"name": "x"}, 400, "Unknown field 'name'", "name"),
    ({"title": 5}, 400, "title: input should be a valid string", "title"),
    ({"title": "x" * 201}, 400, "at most 200", "title"),
    ({"messages": "hi"}, 400, "must be a list of messages", "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 400, "'role' must be one of", "messages[0].role"),
    ({"messages": [{"role": "user"}]}, 400, "messages[0] has no 'content'", "messages[0].content"),
    (
        {"messages": [{"role": "user", "content": "x", "extra": 1}]},
        400,
        "Unknown field 'extra' in messages[0]",
        "messages[0].extra",
    ),
    (
        {"messages": [{"role": "user", "content": "x", "metadata": {"colour": "red"}}]},
        400,
        "Unknown field 'colour' in messages[0].metadata",
        "messages[0].metadata.colour",
    ),
    (
        {"messages": [{"role": "user", "content": "x", "metadata": False}]},
        400,
        "messages[0].metadata must be an object",
        "messages[0].metadata",
    ),
    (
        {"messages": [{"role": "user", "content": "x", "options": 0}]},
        400,
        "options: input should be a valid list",
        "messages[0].options",
    ),
    (
        {"messages": [{"role": "user", "content": {"component": "image", "value": 5}}]},
        400,
        "a FileData object or a list of them",
        "messages[0].content.value",
    ),
    (
        {"messages": [{"role": "user", "content": {"path": "/etc/passwd"}}]},
        400,
        "the file 'passwd' is not one of your files here",
        "messages[0].content",
    ),
    ({"messages": [{"role": "user", "content": "x" * 101}]}, 413, "limit is 100", "messages[0].content"),
]


@pytest.mark.parametrize(("body", "status", "says", "param"), BAD_CONVERSATIONS)
def test_a_bad_conversation_is_refused_whole_with_the_reason(make_app, body, status, says, param):
    app = make_app(api=True, max_message_chars=100)
    client = app.test_client()
    secret = new_token(app, owner="s:careful")
    if isinstance(body, str):
        reply = client.post(
            "/api/conversations", data=body, content_type="application/json", headers=bearer(secret)
        )
    else:
        reply = client.post("/api/conversations", json=body, headers=bearer(secret))
    assert reply.status_code == status, reply.get_data(as_text=True)
    assert says in reply.get_json()["error"]["message"]
    assert reply.get_json()["error"]["param"] == param
    assert app.extensions["webchat"].store.list_conversations("s:careful") == []


@pytest.mark.parametrize("limit", ["0", "201", "ten", "-1", "1.5", ""])
def test_a_bad_list_limit_is_refused(api, limit):
    client, headers = api()
    reply = client.get(f"/api/conversations?limit={limit}", headers=headers)
    assert reply.status_code == 400 and reply.get_json()["error"]["param"] == "limit"


# Real programs against a real server


def test_inference_client_gets_completions_streamed_and_not(live_server):
    server = live_server(slow_words(["Streamed", " word", " by", " word"], 0.01), api=True)
    client = InferenceClient(base_url=server.url + "/v1", api_key=new_token(server.app))
    whole = client.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=50)
    assert whole.choices[0].message.content == "Streamed word by word"
    assert whole.choices[0].finish_reason == "stop"
    pieces = [
        chunk.choices[0].delta.content
        for chunk in client.chat_completion([{"role": "user", "content": "Hi"}], stream=True)
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert pieces == ["Streamed", " word", " by", " word"]


def test_inference_client_sees_the_api_errors(live_server):
    server = live_server(api=True)
    good = InferenceClient(base_url=server.url + "/v1", api_key=new_token(server.app))
    with pytest.raises(HfHubHTTPError) as refused:
        good.chat_completion([{"role": "assistant", "content": "no user message"}])
    assert refused.value.response.status_code == 400
    assert "last message must be the user's" in refused.value.response.json()["error"]["message"]
    bad = InferenceClient(base_url=server.url + "/v1", api_key="wct_revoked-or-never-made-token")
    with pytest.raises(HfHubHTTPError) as unauthorized:
        bad.chat_completion([{"role": "user", "content": "hi"}])
    assert unauthorized.value.response.status_code == 401


def test_the_openai_client_works_against_webchat(live_server):
    server = live_server(slow_words(["Open", "AI"], 0), api=True)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=new_token(server.app), max_retries=0)
    [model] = client.models.list().data
    assert client.models.retrieve(model.id).id == model.id
    answer = client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "OpenAI"
    streamed = client.chat.completions.create(
        model=model.id, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "OpenAI"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    with pytest.raises(openai.BadRequestError, match="Only n=1"):
        client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "hi"}], n=2)


def test_the_openai_client_raises_on_an_error_mid_stream(live_server):
    def fn(message, history):
        yield "Half"
        raise webchat.Error("The model lost its place.")

    server = live_server(fn, api=True)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=new_token(server.app), max_retries=0)
    stream = client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="lost its place"):
        for _ in stream:
            pass


def _open_stream(url: str, secret: str) -> Any:
    body = json.dumps({"messages": USER, "stream": True}).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=body,
        headers={**bearer(secret), "Content-Type": "application/json"},
    )
    return urllib.request.urlopen(request, timeout=10)


def _post_completion(url: str, secret: str) -> tuple[int, dict[str, str], dict]:
    body = json.dumps({"messages": USER}).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=body,
        headers={**bearer(secret), "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_too_many_completions_at_once_get_429_with_retry_after(live_server):
    server = live_server(slow_words([f"w{i} " for i in range(60)], 0.05), api=True, api_max_concurrent=1)
    secret = new_token(server.app)
    first = _open_stream(server.url, secret)
    assert first.readline().startswith(b"data: ")
    status, headers, body = _post_completion(server.url, secret)
    assert status == 429
    assert headers["Retry-After"] == "2"
    assert body["error"]["type"] == "rate_limit_error" and "at most 1" in body["error"]["message"]
    other_owner = new_token(server.app, owner="s:other")
    with _open_stream(server.url, other_owner) as second:  # the limit is per caller
        assert second.readline().startswith(b"data: ")
    first.close()  # the program hangs up: its slot is freed when the server notices
    deadline = time.monotonic() + 10
    while (status := _post_completion(server.url, secret)[0]) == 429 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200


@pytest.mark.model
def test_the_api_in_front_of_the_real_local_model(tmp_path: Path, default_gguf: Path):
    app = create_app(settings_for(tmp_path, backend="local", gguf=default_gguf, max_tokens=64, api=True))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = InferenceClient(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key=new_token(app))
        [model] = (
            openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key=new_token(app))
            .models.list()
            .data
        )
        assert model.id == "SmolLM2-135M-Instruct.Q4_1"
        question = [{"role": "user", "content": "Name three colors."}]
        whole = client.chat_completion(question, max_tokens=12, temperature=0)
        assert whole.choices[0].message.content.strip()
        pieces = [
            c.choices[0].delta.content for c in client.chat_completion(question, max_tokens=12, stream=True)
        ]
        assert len([p for p in pieces if p]) >= 2
    finally:
        server.shutdown()
        app.extensions["webchat"].backend.process.stop()


def test_a_program_downloads_the_files_of_its_owners_conversations(make_app):
    app = make_app(api=True, page=Page(multimodal=True))
    browser = app.test_client()
    sent = browser.post(
        "/turns",
        data={"text": "a picture", "csrf_token": csrf_of(browser), "files": (io.BytesIO(PNG), "dot.png")},
        headers={"HX-Request": "true"},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    secret = page_token(browser)
    program = app.test_client()
    [conversation] = program.get("/api/conversations", headers=bearer(secret)).get_json()["data"]
    messages = program.get(f"/api/conversations/{conversation['id']}", headers=bearer(secret)).get_json()[
        "messages"
    ]
    [file] = [m["content"] for m in messages if isinstance(m["content"], dict)]
    assert file["mime_type"] == "image/png" and file["meta"] == {"_type": "gradio.FileData"}
    assert file["url"].startswith("/files/")
    api_url = "/api" + file["url"]
    download = program.get(api_url, headers=bearer(secret))
    assert download.status_code == 200 and download.data == PNG
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    stranger = bearer(new_token(app, owner="s:stranger"))
    for url, headers in ((api_url, stranger), (api_url + "x", bearer(secret)), (file["url"], bearer(secret))):
        refused = program.get(url, headers=headers)
        assert refused.status_code == 404, url
        assert PNG not in refused.data


def test_a_streamed_call_keeps_nothing_once_it_ends(live_server, tmp_path):
    seen: list[str] = []

    def fn(message, history):
        seen.extend(message["files"])
        yield "Looking"
        yield "Looking closely"

    server = live_server(fn, api=True, page=Page(multimodal=True))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=new_token(server.app), max_retries=0)
    content = [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": PNG_URL}}]
    stream = client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": content}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Looking closely"
    assert len(seen) == 1
    deadline = time.monotonic() + 5
    while Path(seen[0]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(seen[0]).exists()
    assert list((tmp_path / "data" / "api-scratch").iterdir()) == []


# Files for conversations posted by programs


@pytest.fixture
def files_api(make_app: Callable[..., Flask]) -> Callable[..., tuple[Flask, Any, dict[str, str]]]:
    """An app with the API on whose chat takes files: the app, its test client, a token's headers."""

    def build(multimodal: bool = True, **settings: Any) -> tuple[Flask, Any, dict[str, str]]:
        app = make_app(api=True, page=Page(multimodal=multimodal), **settings)
        return app, app.test_client(), bearer(new_token(app))

    return build


def upload(client: Any, headers: dict[str, str], files: dict[str, Any]) -> Any:
    return client.post("/api/files", data=files, headers=headers, content_type="multipart/form-data")


def test_a_program_uploads_a_file_and_posts_a_conversation_with_it(files_api):
    _, client, headers = files_api()
    sent = upload(client, headers, {"file": (io.BytesIO(PNG), "dot.txt", "text/plain")})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    file = sent.get_json()
    assert set(file) == {"path", "url", "size", "orig_name", "mime_type", "is_stream", "meta"}
    assert file["mime_type"] == "image/png" and file["size"] == len(PNG)  # sniffed, not trusted
    # Stored under an extension of the sniffed type (a name must not make it another kind of file).
    assert file["meta"] == {"_type": "gradio.FileData"} and file["orig_name"] == "dot.png"
    # Where the data folder is stays the server's business: the path is relative to it.
    assert file["path"] == f"files/{file['url'].split('/')[-2]}/dot.png"
    assert client.get(sent.headers["Location"], headers=headers).data == PNG
    body = {
        "title": "A dot",
        "messages": [
            {"role": "user", "content": {**file, "path": "/etc/passwd"}},  # the path is never read
            {"role": "user", "content": "What is it?"},
            {"role": "assistant", "content": "A dot."},
        ],
    }
    created = client.post("/api/conversations", json=body, headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    stored = client.get(created.headers["Location"], headers=headers).get_json()["messages"]
    copy = stored[0]["content"]
    assert copy["orig_name"] == "dot.png" and copy["mime_type"] == "image/png" and copy["url"] != file["url"]
    assert client.get("/api" + copy["url"], headers=headers).data == PNG
    assert [m["content"] for m in stored[1:]] == ["What is it?", "A dot."]
    again = client.post("/api/conversations", json=body, headers=headers)  # the upload is still there
    assert again.status_code == 201


def test_a_conversation_naming_another_callers_file_is_refused_whole(files_api):
    app, client, headers = files_api()
    file = upload(client, headers, {"file": (io.BytesIO(PNG), "dot.png")}).get_json()
    stranger = bearer(new_token(app, owner="s:stranger"))
    body = {"messages": [{"role": "user", "content": "see"}, {"role": "user", "content": file}]}
    refused = client.post("/api/conversations", json=body, headers=stranger)
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert (
        error["param"] == "messages[1].content" and "'dot.png' is not one of your files" in error["message"]
    )
    assert app.extensions["webchat"].store.list_conversations("s:stranger") == []
    gallery = {"component": "gallery", "value": [file]}
    refused = client.post(
        "/api/conversations", json={"messages": [{"role": "assistant", "content": gallery}]}, headers=stranger
    )
    assert refused.status_code == 400 and refused.get_json()["error"]["param"] == "messages[0].content"
    assert client.get("/api" + file["url"], headers=stranger).status_code == 404


@pytest.mark.parametrize(
    ("files", "status", "says"),
    [
        ({}, 400, "incomplete"),  # a multipart body without parts looks like a cut-off one
        ({"file": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")]}, 400, "exactly one file"),
        ({"file": (io.BytesIO(PNG), "")}, 400, "exactly one file"),
        ({"upload": (io.BytesIO(PNG), "a.png")}, 400, "exactly one file"),
        ({"file": (io.BytesIO(b""), "empty.png")}, 400, "empty (0 bytes)"),
        ({"file": (io.BytesIO(PNG * 100), "big.png")}, 413, "larger than 1000 bytes"),
        ({"file": (io.BytesIO(PNG * 2000), "huge.png")}, 413, "The file is larger than 1000 bytes"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason(files_api, files, status, says):
    app, client, headers = files_api(max_file_size=1000)
    refused = upload(client, headers, files)
    assert refused.status_code == status, refused.get_data(as_text=True)
    assert says in refused.get_json()["error"]["message"] and refused.get_json()["error"]["param"] == "file"
    assert list(app.extensions["webchat"].uploads.root.iterdir()) == []


def test_uploads_are_refused_when_the_chat_takes_text_only(files_api):
    _, client, headers = files_api(multimodal=False)
    refused = upload(client, headers, {"file": (io.BytesIO(PNG), "a.png")})
    assert refused.status_code == 415 and "text only" in refused.get_json()["error"]["message"]
    truncated = client.post(
        "/api/files",
        data=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc',
        headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert truncated.status_code == 400 and "incomplete" in truncated.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/v1/chat/completion", 404, "not_found"),  # mistyped
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("GET", "/api/nothing", 404, "not_found"),
    ],
)
def test_with_logins_on_a_valid_token_gets_the_api_errors_not_sign_in_first(
    make_app, method, path, status, code
):
    # Defends against 401 {"error": {"code": 401, "message": "Sign in first."}} for a valid token
    # on an unknown path or method: the sign-in check answered before the API's own errors.
    app = make_app(auth=("ann:secret-pw",))
    secret = new_token(app, owner="u:ann")
    reply = app.test_client().open(path, method=method, headers=bearer(secret))
    assert reply.status_code == status
    error = reply.get_json()["error"]
    assert error["code"] == code and error["type"] in ("invalid_request_error", "not_found_error")
    assert set(error) == {"message", "type", "param", "code"} and "Sign in" not in error["message"]
