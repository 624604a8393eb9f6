"""Errors never show a traceback or a server path; every response carries the security headers."""

from __future__ import annotations

import pytest
from conftest import TURN_ID, csrf_of

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def check_headers(response) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/static/js/app.js", 200),
        ("GET", "/static/../webchat/app.py", 404),
        ("GET", "/nope", 404),
        ("GET", "/c/missing", 404),
        ("GET", "/turns", 405),
        ("DELETE", "/", 403),
        ("POST", "/turns", 403),
        ("GET", "/messages/notanumber/edit", 404),
    ],
)
def test_security_headers_on_every_response(make_app, method, path, status):
    # Defends against clickjacking, MIME sniffing and referrer leaks on any page, error pages included.
    response = make_app().test_client().open(path, method=method)
    assert response.status_code == status
    check_headers(response)


def test_a_server_error_shows_no_traceback_or_path(make_app):
    # Defends against leaking code, paths or secrets through an unexpected exception.
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("/srv/secret/path leaked")

    app.testing = False  # as in production: the error handler answers, not the test client
    client = app.test_client()
    for headers in ({}, {"HX-Request": "true"}, {"Accept": "application/json"}):
        response = client.get("/boom", headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "Traceback" not in body and "/srv/secret" not in body and "RuntimeError" not in body
        check_headers(response)
    assert client.get("/boom", headers={"Accept": "application/json"}).get_json()["error"]["code"] == 500


def test_a_failing_chat_function_shows_no_details(make_app):
    # Defends against an exception message (with paths or keys) reaching the page.
    def broken(message, history):
        raise FileNotFoundError("/home/app/.secrets/key.txt")

    app = make_app(broken)
    client = app.test_client()
    token = csrf_of(client)
    response = client.post(
        "/turns", data={"text": "hi"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    app.extensions["webchat"].hub.wait_final(turn_id, 5)
    page = client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    assert "The chat function failed (FileNotFoundError)" in page
    assert ".secrets" not in page and "Traceback" not in page


def test_json_errors_for_api_style_requests(make_app):
    # Defends against programs getting HTML error pages they cannot parse.
    client = make_app().test_client()
    response = client.get("/c/missing", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["message"]


@pytest.mark.parametrize("depth", [65, 5_000, 100_000])
def test_deeply_nested_json_is_refused_in_words_not_with_a_500(make_app, depth):
    # Defends against a body nested deep enough to exhaust Python's recursion: 500 before.
    app = make_app(api=True)
    client = app.test_client()
    token = csrf_of(client)
    _, secret = app.extensions["webchat"].tokens.create("s:probe", "t")
    api = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    deep = '{"a":' * depth + "1" + "}" * depth
    messages = '[{"role": "user", "content": "hi", "metadata": ' + deep + "}]"
    imported = client.post(
        "/import", data={"json": messages, "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert imported.status_code == 422 and "nested more than 64 levels" in imported.get_data(as_text=True)
    posted = client.post("/api/conversations", data='{"messages": ' + messages + "}", headers=api)
    assert posted.status_code == 400 and "nested more than 64 levels" in posted.get_json()["error"]["message"]
    body = '{"messages": [{"role": "user", "content": ' + "[" * depth + "]" * depth + "}]}"
    completion = client.post("/v1/chat/completions", data=body, headers=api)
    assert completion.status_code == 400 and completion.get_json()["error"]["type"] == "invalid_request_error"
