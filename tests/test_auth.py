"""Sign-in: users and hashes, the login page, sessions per user, sign out, rate limits, the proxy's
user header, and the safety of where a sign-in returns to."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TURN_ID, settings_for, slow_words
from playwright.sync_api import Page, expect
from webclient import WS_URL, PageClient, frames_until_close
from werkzeug.security import check_password_hash, generate_password_hash

from webchat.app import create_app
from webchat.users import Users, UsersError, parse_entry, parse_file
from webchat.web.auth import safe_next

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HX = {"HX-Request": "true"}
FAST_HASH = "pbkdf2:sha256:1000"  # the tests' auth files: verifying a real scrypt hash takes 0.1 s


def line(name: str, password: str) -> str:
    return f"{name}:{generate_password_hash(password, method=FAST_HASH)}\n"


# Users and hashes


def test_an_auth_entry_is_hashed_and_may_hold_colons():
    name, password_hash = parse_entry("alice:pa:ss")
    assert name == "alice" and "pa:ss" not in password_hash
    assert check_password_hash(password_hash, "pa:ss")


@pytest.mark.parametrize("entry", ["alice", "alice:", ":secret", "bad name:secret", "a/b:secret"])
def test_a_bad_auth_entry_is_refused_without_showing_the_password(entry):
    with pytest.raises(UsersError) as error:
        parse_entry(entry)
    assert "secret" not in str(error.value)
    assert "--auth" in str(error.value)


def test_an_auth_file_with_comments_and_blank_lines(tmp_path):
    text = "# team\n\n" + line("alice", "a") + "  " + line("bob", "b")
    users = parse_file(text, tmp_path / "users")
    assert set(users) == {"alice", "bob"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alice:plaintext-password\n", "line 1"),
        ("alice\n", "line 1"),
        ("# ok\n" + line("alice", "a") + line("alice", "b"), "appears twice"),
        ("bad name:pbkdf2:sha256:1000$salt$hash\n", "not a valid user name"),
    ],
)
def test_a_bad_auth_file_says_which_line(tmp_path, text, says):
    with pytest.raises(UsersError) as error:
        parse_file(text, tmp_path / "users")
    assert says in str(error.value)
    assert str(tmp_path / "users") in str(error.value)


def test_verify_knows_users_and_passwords(tmp_path):
    path = tmp_path / "users"
    path.write_text(line("bob", "b0b"))
    users = Users(["alice:secret"], path)
    assert users.verify("alice", "secret") and users.verify("bob", "b0b")
    assert not users.verify("alice", "Secret")
    assert not users.verify("alice", "")
    assert not users.verify("carol", "secret")
    assert not users.verify("ALICE", "secret")


def test_the_auth_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "users"
    path.write_text(line("bob", "b0b"))
    users = Users([], path)
    assert users.exists("bob") and not users.exists("carol")
    path.write_text(line("carol", "c") + "# bob removed\n")
    assert users.exists("carol") and not users.exists("bob")
    path.write_text("carol:oops-a-plain-password\n")  # a broken edit keeps who we had
    assert users.exists("carol") and users.verify("carol", "c")


def test_a_missing_auth_file_stops_the_start(tmp_path):
    with pytest.raises(UsersError, match="cannot read"):
        Users([], tmp_path / "nope")


def test_the_users_command_prints_a_line_for_the_auth_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "webchat.users", "dora", "--stdin"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        check=True,
    )
    users = parse_file(result.stdout, tmp_path / "users")
    assert check_password_hash(users["dora"], "correct horse")
    bad = subprocess.run(
        [sys.executable, "-m", "webchat.users", "no good", "--stdin"],
        input="x\n",
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "not a valid user name" in bad.stderr


# Where a sign-in returns to


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "/\\evil.example",
        "\\evil.example",
        "%5Cevil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nSet-Cookie: x=1",
        "/%0d%0aSet-Cookie:x",
        "/\tevil",
        "",
        "/" + "a" * 3000,
    ],
)
def test_next_refuses_anything_that_could_leave_the_site(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/c/abc123", "/new?deleted=x", "/c/a%20b"])
def test_next_keeps_paths_on_the_site(value):
    assert safe_next(value) == value


# The app, through Flask's test client


@pytest.fixture
def auth_app(tmp_path):
    def make(**changes):
        path = tmp_path / "users"
        if not path.exists():
            path.write_text(line("alice", "alice-pw") + line("bob", "bob-pw"))
        values = {"auth_file": path, **changes}
        app = create_app(settings_for(tmp_path, **values), slow_words(["Hi", " there"], 0))
        app.testing = True
        return app

    return make


def form_token(response) -> str:
    return CSRF_FIELD.search(response.get_data(as_text=True)).group(1)


def sign_in(client, name="alice", password=None, next_path="/", **kwargs):
    page = client.get("/login", **kwargs)
    return client.post(
        "/login",
        data={
            "csrf_token": form_token(page),
            "username": name,
            "password": password if password is not None else f"{name}-pw",
            "next": next_path,
        },
        **kwargs,
    )


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def send(client, text="hello"):
    page = client.get("/new")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/turns", data={"text": text}, headers={**HX, "X-CSRF-Token": token})


def test_auth_is_off_by_default(make_app):
    client = make_app().test_client()
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 303  # nothing to sign in to
    assert "Sign out" not in client.get("/").get_data(as_text=True)


def test_every_page_needs_a_sign_in_but_static_files_do_not(auth_app):
    client = auth_app().test_client()
    for path in ("/", "/new", "/c/whatever"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/c/abc?x=1").headers["Location"] == "/login?next=/c/abc?x%3D1"
    assert client.get("/static/js/app.js").status_code == 200
    assert client.get("/login").status_code == 200


def test_an_htmx_request_when_signed_out_keeps_the_page_and_says_so(auth_app):
    client = auth_app().test_client()
    token = form_token(client.get("/login"))
    response = client.post(
        "/turns",
        data={"text": "my long message"},
        headers={**HX, "X-CSRF-Token": token, "HX-Current-URL": "http://localhost/c/abc"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Retarget"] == "#composer-status"
    html = response.get_data(as_text=True)
    assert "You are signed out" in html and "/login?next=/c/abc" in html


def test_an_api_request_when_signed_out_gets_json(auth_app):
    client = auth_app().test_client()
    response = client.get("/new", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Sign in first."


def test_signing_in_goes_back_where_the_user_was(auth_app):
    client = auth_app().test_client()
    response = sign_in(client, next_path="/new")
    assert response.status_code == 303 and response.headers["Location"] == "/new"
    page = client.get("/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice" in html and "Sign out" in html


def test_a_wrong_password_keeps_the_name_and_says_so(auth_app):
    client = auth_app().test_client()
    response = sign_in(client, password="wrong-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong user name or password." in html
    assert 'value="alice"' in html and "wrong-password" not in html
    assert "login" not in session_of(client)
    assert client.get("/").status_code == 303
    unknown = sign_in(client, name="mallory", password="x")
    assert unknown.status_code == 401 and "Wrong user name or password." in unknown.get_data(as_text=True)


def test_an_empty_form_asks_for_both(auth_app):
    client = auth_app().test_client()
    response = sign_in(client, password="")
    assert response.status_code == 422
    assert "Enter your user name and your password." in response.get_data(as_text=True)


def test_signing_in_needs_the_forms_csrf_token(auth_app):
    client = auth_app().test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": "alice-pw"})
    assert response.status_code == 403
    assert "login" not in session_of(client)


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\\evil.example", "%5Cevil.example", "https://evil.example"]
)
def test_signing_in_never_leaves_the_site(auth_app, target):
    client = auth_app().test_client()
    response = sign_in(client, next_path=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_session_id_and_csrf_token_change_at_sign_in(auth_app):
    client = auth_app().test_client()
    client.get("/login")
    before = session_of(client)
    sign_in(client)
    after = session_of(client)
    assert after["sid"] != before["sid"] and after["csrf"] != before["csrf"]
    old_token = before["csrf"]
    refused = client.post("/turns", data={"text": "x"}, headers={**HX, "X-CSRF-Token": old_token})
    assert refused.status_code == 403


def test_cookies_are_httponly_lax_and_secure_over_https(auth_app):
    app = auth_app(proxy_hops=1)
    client = app.test_client()
    plain = client.get("/login")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    direct = app.test_client().get("/login", base_url="https://chat.example")
    assert "Secure" in direct.headers["Set-Cookie"]
    proxied = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]
    signed_in = sign_in(app.test_client(), headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in signed_in.headers["Set-Cookie"] and "HttpOnly" in signed_in.headers["Set-Cookie"]


def test_a_user_sees_their_conversations_from_any_browser(auth_app):
    app = auth_app()
    laptop, phone, other = app.test_client(), app.test_client(), app.test_client()
    sign_in(laptop)
    turn_id = TURN_ID.search(send(laptop, "from the laptop").get_data(as_text=True)).group(1)
    app.extensions["webchat"].hub.wait_final(turn_id, 10)
    turn = app.extensions["webchat"].store.get_turn(turn_id)
    assert turn.owner == "u:alice"
    sign_in(phone)
    assert "from the laptop" in phone.get(f"/c/{turn.conversation_id}").get_data(as_text=True)
    assert "from the laptop" in phone.get("/").get_data(as_text=True)
    sign_in(other, "bob")
    assert other.get(f"/c/{turn.conversation_id}").status_code == 404
    assert "from the laptop" not in other.get("/").get_data(as_text=True)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(auth_app):
    app = auth_app()
    client = app.test_client()
    sign_in(client)
    copied = client.get_cookie("webchat_session").value
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert client.post("/logout").status_code == 403  # without the token: refused, still signed in
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": token.group(1)})
    assert response.status_code == 303 and response.headers["Location"] == "/login?signed_out=1"
    assert "You are signed out." in client.get("/login?signed_out=1").get_data(as_text=True)
    assert client.get("/").status_code == 303
    thief = app.test_client()
    thief.set_cookie("webchat_session", copied)
    assert thief.get("/").status_code == 303


def test_a_user_removed_from_the_auth_file_is_signed_out(auth_app, tmp_path):
    app = auth_app()
    client = app.test_client()
    sign_in(client, "bob")
    assert client.get("/").status_code == 200
    (tmp_path / "users").write_text(line("alice", "alice-pw"))
    assert client.get("/").status_code == 303


def test_too_many_failures_for_a_user_lock_that_user_for_a_while(auth_app):
    app = auth_app(login_failures_per_user=3)
    client = app.test_client()
    for _ in range(3):
        assert sign_in(client, password="guess").status_code == 401
    locked = sign_in(client)  # even the right password, from now on
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.get_data(as_text=True)
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    assert sign_in(client, "ALICE", password="guess").status_code == 429  # the name's case changes nothing
    assert sign_in(app.test_client(), "bob").status_code == 303  # other users are not locked out


def test_too_many_failures_from_an_address_lock_that_address(auth_app):
    app = auth_app(login_failures_per_address=3)
    attacker = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    client = app.test_client()
    for name in ("u1", "u2", "u3"):
        assert sign_in(client, name, password="guess", **attacker).status_code == 401
    assert sign_in(client, "alice", **attacker).status_code == 429
    assert sign_in(app.test_client(), "alice").status_code == 303  # from elsewhere: fine


def test_addresses_in_one_ipv6_64_count_as_one(auth_app):
    app = auth_app(login_failures_per_address=2)
    for host in ("2001:db8::1", "2001:db8::2"):
        response = sign_in(app.test_client(), "u", password="x", environ_base={"REMOTE_ADDR": host})
        assert response.status_code == 401
    limited = sign_in(app.test_client(), "alice", environ_base={"REMOTE_ADDR": "2001:db8::ffff:3"})
    assert limited.status_code == 429
    other = sign_in(app.test_client(), "alice", environ_base={"REMOTE_ADDR": "2001:db8:0:1::3"})
    assert other.status_code == 303


def test_the_limit_is_shared_by_every_worker(auth_app):
    first, second = auth_app(login_failures_per_user=2), auth_app(login_failures_per_user=2)
    assert sign_in(first.test_client(), password="guess").status_code == 401
    assert sign_in(second.test_client(), password="guess").status_code == 401
    assert sign_in(first.test_client()).status_code == 429


def test_a_success_clears_the_users_failures(auth_app):
    app = auth_app(login_failures_per_user=3)
    client = app.test_client()
    for _ in range(2):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 303
    for _ in range(2):
        assert sign_in(app.test_client(), password="guess").status_code == 401
    assert sign_in(app.test_client()).status_code == 303


def test_a_bad_auth_setting_stops_the_start(tmp_path):
    with pytest.raises(UsersError):
        create_app(settings_for(tmp_path, auth=("alice",)), slow_words(["x"], 0))
    with pytest.raises(UsersError, match="--trusted-proxy"):
        create_app(
            settings_for(tmp_path, trusted_user_header="X-Forwarded-User", trusted_proxies=("proxy.lan",)),
            slow_words(["x"], 0),
        )


# A proxy that signs people in


@pytest.fixture
def proxy_app(tmp_path):
    def make(**changes):
        values = {"trusted_user_header": "X-Forwarded-User", **changes}
        app = create_app(settings_for(tmp_path, **values), slow_words(["Hi"], 0))
        app.testing = True
        return app

    return make


def test_the_proxys_user_header_signs_in_from_a_trusted_proxy(proxy_app):
    client = proxy_app().test_client()
    page = client.get("/", headers={"X-Forwarded-User": "erin@example.org"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "erin@example.org" in html
    assert "Sign out" not in html  # the proxy keeps that session: signing out here would do nothing


def test_the_header_is_ignored_from_any_other_address(proxy_app):
    client = proxy_app().test_client()
    outsider = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    response = client.get("/", headers={"X-Forwarded-User": "admin"}, **outsider)
    assert response.status_code == 303
    login = client.get("/login", headers={"X-Forwarded-User": "admin"}, **outsider)
    assert login.status_code == 401
    assert "through the proxy" in login.get_data(as_text=True) and 'name="password"' not in login.get_data(
        as_text=True
    )


def test_a_forged_forwarded_for_does_not_make_a_peer_trusted(proxy_app):
    app = proxy_app(proxy_hops=1)
    forged = app.test_client().get(
        "/",
        headers={"X-Forwarded-User": "admin", "X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert forged.status_code == 303
    real = app.test_client().get(
        "/",
        headers={"X-Forwarded-User": "erin", "X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert real.status_code == 200


def test_trusted_proxies_may_be_networks(proxy_app):
    app = proxy_app(trusted_proxies=("10.0.0.0/8",))
    inside = app.test_client().get(
        "/", headers={"X-Forwarded-User": "erin"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    loopback = app.test_client().get(
        "/", headers={"X-Forwarded-User": "erin"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert inside.status_code == 200 and loopback.status_code == 303


@pytest.mark.parametrize("value", ["", "two words", "x" * 200, "tab\there"])
def test_an_unusable_header_value_signs_nobody_in(proxy_app, value):
    response = proxy_app().test_client().get("/", headers={"X-Forwarded-User": value})
    assert response.status_code == 303


def test_header_and_password_users_with_one_name_share_conversations(proxy_app, tmp_path):
    (tmp_path / "users").write_text(line("erin", "erin-pw"))
    app = proxy_app(auth_file=tmp_path / "users")
    by_proxy = app.test_client()
    by_proxy.environ_base["HTTP_X_FORWARDED_USER"] = "erin"
    turn_id = TURN_ID.search(send(by_proxy, "through the proxy").get_data(as_text=True)).group(1)
    app.extensions["webchat"].hub.wait_final(turn_id, 10)
    by_password = app.test_client()
    assert sign_in(by_password, "erin", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 303
    page = by_password.get("/", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert "through the proxy" in page.get_data(as_text=True)


# A real server: the websocket needs a sign-in too


def page_sign_in(page: PageClient, name: str = "alice") -> None:
    page.get("/login")
    reply = page.request(
        "POST",
        "/login",
        {"csrf_token": page.csrf, "username": name, "password": f"{name}-pw", "next": "/new"},
    )
    assert reply.status == 200 and "Sign out" in reply.text, reply.text[:500]


def test_the_websocket_needs_the_signed_in_user(live_server, tmp_path):
    path = tmp_path / "users"
    path.write_text(line("alice", "alice-pw") + line("bob", "bob-pw"))
    server = live_server(slow_words(["one", " two", " three"], 0.05), auth_file=path)
    alice = PageClient(server.url)
    page_sign_in(alice)
    reply = alice.send("hi")
    assert reply.status == 200, reply.text
    ws_url = WS_URL.search(reply.text).group(1)
    stranger = PageClient(server.url)
    stranger.get("/login")
    with stranger.socket(ws_url) as ws:
        assert frames_until_close(ws) == []
        assert ws.close_code == 1008 and ws.close_reason == "sign in first"
    bob = PageClient(server.url)
    page_sign_in(bob, "bob")
    with bob.socket(ws_url) as ws:
        assert frames_until_close(ws) == []
        assert ws.close_code == 1008 and ws.close_reason == "unknown turn"
    with alice.socket(ws_url) as ws:
        frames = frames_until_close(ws)
    assert "three" in frames[-1]["content"]


@pytest.mark.browser
def test_signing_in_chatting_and_signing_out_in_the_browser(live_server, page: Page, tmp_path):
    path = tmp_path / "users"
    path.write_text(line("alice", "alice-pw"))
    server = live_server(slow_words(["Signed", " in", " and", " streaming", "."], 0.05), auth_file=path)
    page.goto(server.url + "/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/new$"))
    page.fill("#username", "alice")
    page.fill("#password", "not-it")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    expect(page.locator("#username")).to_have_value("alice")
    page.fill("#password", "alice-pw")
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/new")
    expect(page.locator(".account .who")).to_have_text("alice")
    box = page.locator("#composer-text")
    box.fill("hello")
    box.press("Enter")
    expect(page.locator(".reply").last).to_contain_text("Signed in and streaming.", timeout=10_000)
    page.click(".account button")
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(page.locator(".login-note")).to_have_text("You are signed out.")
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))


def test_only_the_login_page_static_files_and_the_token_api_are_public(auth_app):
    app = auth_app()
    public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.test_client().open(str(rule).replace("<", "").replace(">", ""), method="GET").status_code
        not in (303, 401, 405)
    }
    # The API's endpoints ask for an API token instead (webchat.web.api's guard).
    assert {e for e in public if not e.startswith("api_")} <= {"auth.login", "static"}, public


def test_settings_from_the_environment(tmp_path):
    from webchat.settings import Settings

    settings = Settings.load(
        {},
        env={
            "WEBCHAT_TRUSTED_PROXIES": "10.0.0.0/8, unix",
            "WEBCHAT_AUTH_FILE": str(tmp_path / "users"),
            "WEBCHAT_TRUSTED_USER_HEADER": "X-Forwarded-User",
        },
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "unix")
    assert settings.auth_file == Path(tmp_path / "users") and settings.auth_enabled
    assert not Settings.load({}, env={}).auth_enabled
