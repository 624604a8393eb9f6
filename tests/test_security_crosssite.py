"""Attacker: a web page on another site visited by a logged-in user, and a raw HTTP client that
forges Origin, Host and X-Forwarded-* headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TURN_ID, csrf_of
from webclient import WS_URL, PageClient
from websockets.exceptions import ConnectionClosed, InvalidStatus

DATA = Path(__file__).parent / "data"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def bad_origins(host: str) -> list[str]:
    lines = (DATA / "bad_origins.txt").read_text().splitlines()
    return [line.replace("{HOST}", host) for line in lines if line.strip() and not line.startswith("#")]


def unsafe_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/v1/")):
            continue  # the API authenticates by bearer token, never by cookie (tests/test_api.py)
        for method in sorted(set(rule.methods) & UNSAFE):
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"message_id": "1"}.get(m.group(1), "x"), rule.rule)
            routes.append((method, path))
    return routes


def test_every_state_changing_route_needs_the_csrf_token(make_app):
    # Defends against cross-site request forgery: a foreign page can make the browser POST with
    # our cookie, but cannot read the token.
    app = make_app(lambda message, history: "reply")
    client = app.test_client()
    token = csrf_of(client)
    response = client.post(
        "/turns", data={"text": "hello"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    turn_id = TURN_ID.search(response.get_data(as_text=True)).group(1)
    conversation_id = response.headers["HX-Push-Url"].rsplit("/", 1)[1]
    routes = unsafe_routes(app)
    assert len(routes) >= 12  # the list is real: every control of the page is in it
    for method, path in routes:
        path = path.replace("/turns/x/", f"/turns/{turn_id}/").replace("/c/x/", f"/c/{conversation_id}/")
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
            answer = client.open(
                path, method=method, data={"text": "forged", "title": "forged"}, headers=headers
            )
            assert answer.status_code == 403, (method, path, headers, answer.status_code)
        form = client.open(
            path,
            method=method,
            data={"csrf_token": token[:-1] + ("B" if token.endswith("A") else "A"), "text": "forged"},
        )
        assert form.status_code == 403, (method, path)
    page = client.get(f"/c/{conversation_id}").get_data(as_text=True)
    assert "forged" not in page


def test_a_token_from_another_session_does_not_work(make_app):
    # Defends against an attacker using their own valid token against a victim's session.
    app = make_app()
    victim, attacker = app.test_client(), app.test_client()
    csrf_of(victim)
    stolen = csrf_of(attacker)
    assert victim.post("/turns", data={"text": "x"}, headers={"X-CSRF-Token": stolen}).status_code == 403


def test_pages_carry_the_token_masked_differently_each_time(make_app):
    # Defends against BREACH: gzipped pages that reflect a search would let a foreign page guess
    # a token that appears the same in every response, byte by byte, from the sizes.
    app = make_app(lambda message, history: "reply")
    client = app.test_client()
    secret = csrf_of(client)
    pages = [client.get("/search?q=csrf").get_data(as_text=True) for _ in range(3)] + [
        client.get("/").get_data(as_text=True)
    ]
    masked = [re.findall(r'(?:content|value)="([A-Za-z0-9_=-]{80,})"', page) for page in pages]
    assert all(tokens and len(set(tokens)) == 1 for tokens in masked)  # one mask per response
    assert len({tokens[0] for tokens in masked}) == 4 and all(secret not in page for page in pages)
    hx = {"HX-Request": "true"}
    for tokens in masked:
        assert (
            client.post("/turns", data={"text": "hi"}, headers={**hx, "X-CSRF-Token": tokens[0]}).status_code
            == 200
        )
    tampered = masked[0][0][:-6] + ("AAAAAA" if not masked[0][0].endswith("AAAAAA") else "BBBBBB")
    for bad in (tampered, masked[0][0][:-4], "", "x" * 116, secret[:-1]):
        assert (
            client.post("/turns", data={"text": "hi"}, headers={**hx, "X-CSRF-Token": bad}).status_code == 403
        )
    other = app.test_client()
    csrf_of(other)
    assert (
        other.post("/turns", data={"text": "hi"}, headers={**hx, "X-CSRF-Token": masked[0][0]}).status_code
        == 403
    )


def test_no_cors_headers(make_app):
    # Defends against other sites reading our responses with the user's cookies.
    client = make_app().test_client()
    for method, path in (("GET", "/"), ("OPTIONS", "/turns"), ("GET", "/static/js/app.js"), ("OPTIONS", "/")):
        response = client.open(
            path,
            method=method,
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert not [h for h in response.headers if h[0].lower().startswith("access-control-")], path


def test_cookies_cannot_be_read_by_script_or_sent_cross_site(make_app):
    # Defends against session theft by injected script and against cross-site POSTs carrying the cookie.
    cookie = make_app().test_client().get("/").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_websocket_handshakes_from_foreign_origins_are_refused(live_server):
    # Defends against cross-site websocket hijacking: a foreign page opening our socket with the cookie.
    server = live_server(lambda message, history: "secret reply")
    page = PageClient(server.url)
    reply = page.send("hi")
    ws_url = WS_URL.search(reply.text).group(1)
    origins = bad_origins(server.host_port)
    assert len(origins) >= 12
    for origin in origins:
        try:
            with page.socket(ws_url, origin=origin) as ws:
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=5)
                assert ws.close_code == 1008, origin
        except pytest.fail.Exception:
            raise AssertionError(f"accepted origin {origin!r}") from None
        except InvalidStatus as refused:  # refusing at the handshake is fine too
            assert refused.response.status_code in (400, 403), origin
    with page.socket(ws_url) as ws:  # the page's own origin still works
        assert "secret reply" in ws.recv(timeout=5)


def test_a_socket_without_an_origin_header_is_refused(live_server):
    # Defends against non-browser clients riding a stolen cookie without an Origin header.
    server = live_server()
    page = PageClient(server.url)
    reply = page.send("hi")
    from websockets.sync.client import connect

    with connect(
        WS_URL.search(reply.text).group(1), additional_headers={"Cookie": page.cookie_header()}
    ) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1008


@pytest.mark.parametrize(
    "header", ["X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "X-Forwarded-For"]
)
def test_forged_forwarded_headers_do_not_change_urls(make_app, header):
    # Defends against a raw client poisoning links or socket URLs (no proxy is trusted by default).
    client = make_app().test_client()
    html = client.get("/", headers={header: "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in html


def test_forwarded_host_is_ignored_even_behind_a_trusted_proxy(make_app):
    # Defends against X-Forwarded-Host from a client passed through by a proxy: only Host counts.
    client = make_app(proxy_hops=1).test_client()
    html = client.get("/", headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/chat"})
    assert "evil.example" not in html.get_data(as_text=True)
