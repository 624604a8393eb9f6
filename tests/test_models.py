"""Several models, chosen per conversation: the models file (and its errors, with file and line),
the picker and the settings panel through the routes, presets, the API's model list and choice,
and no API key anywhere it could leak. Against two real OpenAI-compatible servers on 127.0.0.1
(tests/fake_openai.py: they record what they receive and fail on demand)."""

from __future__ import annotations

import html
import json
import logging
import re
import time
from pathlib import Path

import pytest
from conftest import TURN_ID, csrf_of, settings_for
from fake_openai import FakeModelServer

from webchat.app import create_app
from webchat.backends.models_file import ModelsFileError, read_models_file

HX = {"HX-Request": "true"}
SECRET = "sk-test-do-not-leak-7f3a9c"


@pytest.fixture
def servers():
    a = FakeModelServer("alpha", models=("alpha-model",)).start()
    b = FakeModelServer("beta", models=("beta-model",)).start()
    yield a, b
    a.stop()
    b.stop()


def models_toml(a: FakeModelServer, b: FakeModelServer, extra: str = "") -> str:
    return f"""
default = "Alpha"

[[models]]
name = "Alpha"
base_url = "{a.base_url}"
model = "alpha-model"
parameters = {{ temperature = 0.7, max_tokens = 64, system_prompt = "You are Alpha." }}

[[models]]
name = "Beta"
base_url = "{b.base_url}"
model = "beta-model"
api_key_env = "BETA_KEY"
images = false

[[presets]]
name = "Terse Beta"
model = "Beta"
system_prompt = "Answer in three words."
temperature = 0.1
{extra}"""


@pytest.fixture
def app(tmp_path, servers, monkeypatch):
    monkeypatch.setenv("BETA_KEY", SECRET)
    path = tmp_path / "models.toml"
    path.write_text(models_toml(*servers))
    return create_app(settings_for(tmp_path, models_file=path, backend="auto"))


class Browser:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = csrf_of(self.client)
        self.conversation_id = ""

    def post(self, path, data=None):
        return self.client.post(path, data=data or {}, headers={**HX, "X-CSRF-Token": self.token})

    def start(self, text, **fields):
        """Send; the turn writing the reply (not waited for)."""
        response = self.post("/turns", {"text": text, "conversation_id": self.conversation_id, **fields})
        assert response.status_code == 200, response.get_data(as_text=True)
        if "HX-Push-Url" in response.headers:
            self.conversation_id = response.headers["HX-Push-Url"].rsplit("/", 1)[1]
        return TURN_ID.findall(response.get_data(as_text=True))[-1]

    def send(self, text, **fields):
        """Send, and wait for the reply to end (generously: a busy machine is slow)."""
        turn_id = self.start(text, **fields)
        snapshot = self.app.extensions["webchat"].hub.wait_final(turn_id, 60)
        assert snapshot is not None and snapshot.final
        return turn_id

    def page(self):
        return self.client.get(f"/c/{self.conversation_id}" if self.conversation_id else "/").get_data(
            as_text=True
        )

    def replies(self):
        store = self.app.extensions["webchat"].store
        return [m.message.content for m in store.messages(self.conversation_id) if m.kind == "reply"]


# The models file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("[[models]]\nname = 'A'\nbase_url = 'http://x/v1'\ncolour = 'red'\n", 4, "unknown key 'colour'"),
        ("[[models]]\nbase_url = 'http://x/v1'\n", 1, "every model needs a name"),
        ("[[models]]\nname = 'A'\n", 1, "needs base_url"),
        ("[[models]]\nname = 'A'\nmodel = 'x'\n\n[[models]]\nname = 'A'\nmodel = 'y'\n", 6, "used twice"),
        ("[[models]]\nname = 'A'\nmodel = 'x'\napi_key_env = 'NOT_SET_ANYWHERE'\n", 4, "$NOT_SET_ANYWHERE"),
        ("default = 'B'\n[[models]]\nname = 'A'\nmodel = 'x'\n", 1, "default 'B' is not a model"),
        ("[[models]]\nname = 'A'\nmodel = 'x'\nparameters = { temperature = 7 }\n", 4, "temperature must be"),
        (
            "[[models]]\nname = 'A'\nmodel = 'x'\n\n[[presets]]\nname = 'P'\nmodel = 'Z'\n",
            7,
            "model 'Z' is not",
        ),
        ("[[models]\nname = 'A'\n", 1, "not valid TOML"),
        ("", 0, "no models"),
    ],
)
def test_a_bad_models_file_stops_the_start_naming_file_line_and_fault(tmp_path, text, line, says):
    path = write(tmp_path, text)
    with pytest.raises(ModelsFileError) as raised:
        read_models_file(path, env={})
    message = str(raised.value)
    assert str(path) in message and says in message
    if line:
        assert f"line {line}" in message


def test_an_unset_key_variable_stops_the_app_from_starting(tmp_path, servers, monkeypatch):
    monkeypatch.delenv("BETA_KEY", raising=False)
    path = write(tmp_path, models_toml(*servers))
    with pytest.raises(SystemExit, match=r"BETA_KEY, which is not set"):
        create_app(settings_for(tmp_path, models_file=path, backend="auto"))


def test_the_models_file_reads_keys_and_defaults(tmp_path, servers):
    parsed = read_models_file(write(tmp_path, models_toml(*servers)), env={"BETA_KEY": SECRET})
    alpha, beta = parsed.models
    assert parsed.default == "Alpha" and alpha.parameters["temperature"] == 0.7 and beta.api_key == SECRET
    assert not beta.images and SECRET not in repr(beta)
    assert parsed.presets[0].settings == {"system_prompt": "Answer in three words.", "temperature": 0.1}


# The picker and the settings panel


def test_a_new_chat_uses_the_default_model_with_its_parameters(app, servers):
    alpha, beta = servers
    chat = Browser(app)
    page = chat.page()
    assert '<select id="model-choice" name="model" form="composer"' in page
    assert ">Alpha</option>" in page and ">Beta (no images)</option>" in page
    assert 'placeholder="You are Alpha."' in page and 'placeholder="0.7"' in page
    chat.send("hello")
    assert chat.replies() == ["[alpha] model=alpha-model you said: hello"]
    [received] = alpha.requests
    assert received.body["temperature"] == 0.7 and received.body["max_tokens"] == 64
    assert received.body["messages"][0] == {"role": "system", "content": "You are Alpha."}
    assert beta.requests == []


def test_switching_the_model_mid_conversation_and_each_reply_records_its_model(app, servers):
    _, beta = servers
    chat = Browser(app)
    chat.send("first")
    response = chat.post("/model-settings", {"conversation_id": chat.conversation_id, "model": "Beta"})
    assert response.status_code == 200
    drawn = response.get_data(as_text=True)
    assert 'value="Beta" selected' in drawn and 'placeholder="None"' in drawn  # Beta's defaults now
    chat.send("second")
    assert chat.replies()[-1] == "[beta] model=beta-model you said: second"
    # Beta got the whole conversation, Alpha's reply included, and its own key.
    [received] = beta.requests
    assert [m["content"] for m in received.body["messages"]] == [
        "first",
        "[alpha] model=alpha-model you said: first",
        "second",
    ]
    assert received.headers["authorization"] == f"Bearer {SECRET}"
    page = chat.page()
    assert "Alpha" in page and re.search(r"Model</dt>\s*<dd>Beta", page), (
        "Details name the model of each reply"
    )
    records = app.extensions["webchat"].store.conversation_turn_records(chat.conversation_id)
    assert [r["model_name"] for r in records] == ["Alpha", "Beta"]
    assert records[1]["endpoint"] == beta.base_url and records[1]["model"] == "beta-model"


def test_the_settings_panel_changes_what_is_sent_and_is_remembered(app, servers):
    alpha, _ = servers
    chat = Browser(app)
    chat.send("one", system_prompt="Be a pirate.", temperature="1.3", top_p="0.5", max_tokens="20")
    body = alpha.requests[-1].body
    assert body["messages"][0]["content"] == "Be a pirate."
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (1.3, 0.5, 20)
    page = chat.page()
    assert ">Be a pirate.</textarea>" in page and 'value="1.3"' in page
    # Cleared fields go back to the model's defaults.
    chat.post(
        "/model-settings", {"conversation_id": chat.conversation_id, "model": "Alpha", "temperature": ""}
    )
    chat.send("two")
    assert alpha.requests[-1].body["temperature"] == 0.7


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("temperature", "hot", "Temperature must be a number"),
        ("temperature", "3", "Temperature must be a number from 0 to 2"),
        ("top_p", "nan", "Top-p must be a number"),
        ("max_tokens", "2.5", "Max tokens must be a whole number"),
        ("max_tokens", "0", "Max tokens must be a whole number above 0"),
        ("model", "Gamma", "There is no model named 'Gamma' here"),
    ],
)
def test_bad_settings_are_refused_in_words_and_the_message_is_kept(app, servers, field, value, says):
    chat = Browser(app)
    response = chat.post("/turns", {"text": "keep this text", field: value})
    assert response.status_code in (400, 422)
    said = html.unescape(response.get_data(as_text=True))
    assert says in said
    assert servers[0].requests == [] and servers[1].requests == []
    # Without JavaScript: the whole page, the text still in the box.
    plain = chat.client.post(
        "/turns", data={"text": "keep this text", field: value, "csrf_token": chat.token}
    )
    assert says in html.unescape(
        plain.get_data(as_text=True)
    ) and "keep this text</textarea>" in plain.get_data(as_text=True)


def test_a_failed_model_recovers_by_choosing_another_and_retrying(app, servers):
    _, beta = servers
    chat = Browser(app)
    chat.post("/model-settings", {"model": "Beta"})  # a new chat: nothing stored yet
    beta.fail_status = 503
    failed = chat.send("hello", model="Beta")
    page = chat.page()
    assert "error-bubble" in page and "The model server (" + beta.base_url in html.unescape(page)
    chat.post("/model-settings", {"conversation_id": chat.conversation_id, "model": "Alpha"})
    response = chat.post(f"/turns/{failed}/retry")
    new = TURN_ID.findall(response.get_data(as_text=True))[-1]
    app.extensions["webchat"].hub.wait_final(new, 20)
    assert chat.replies() == ["[alpha] model=alpha-model you said: hello"]


def test_a_model_server_that_is_down_shows_so_in_the_picker(app, servers):
    _, beta = servers
    models = app.extensions["webchat"].models
    assert models.health.check_now("Beta") == "up"
    beta.stop()
    assert models.health.check_now("Beta") == "down"
    assert ">Beta (not answering, no images)</option>" in Browser(app).page()


def test_without_javascript_save_settings_remembers_the_choice(app, servers):
    chat = Browser(app)
    chat.send("hello")
    response = chat.client.post(
        "/model-settings",
        data={"conversation_id": chat.conversation_id, "model": "Beta", "csrf_token": chat.token},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/c/{chat.conversation_id}")
    assert 'value="Beta" selected' in chat.page()


# Presets


def test_presets_are_saved_started_from_and_deleted_by_their_owner(app, servers):
    _, beta = servers
    chat = Browser(app)
    page = chat.page()
    assert "Terse Beta" in page  # the models file's shared preset
    saved = chat.post(
        "/presets", {"preset_name": "Pirate", "model": "Alpha", "system_prompt": "Talk like a pirate."}
    )
    assert saved.status_code == 200 and "Pirate" in saved.get_data(as_text=True)
    presets = app.extensions["webchat"].presets
    owner = next(iter(p.owner for p in presets_of(app)))
    [mine] = presets.mine(owner)
    started = chat.post(f"/presets/{mine.id}/chat")
    chat.conversation_id = started.headers["HX-Redirect"].rsplit("/", 1)[1]
    chat.send("ahoy")
    alpha = servers[0]
    assert alpha.requests[-1].body["messages"][0]["content"] == "Talk like a pirate."
    shared = chat.post("/presets/shared-0/chat")
    chat.conversation_id = shared.headers["HX-Redirect"].rsplit("/", 1)[1]
    chat.send("hi")
    assert beta.requests[-1].body["temperature"] == 0.1
    # Another browser sees neither the preset nor can delete it.
    other = Browser(app)
    assert "Pirate" not in other.page()
    assert other.post(f"/presets/{mine.id}/delete").status_code == 404
    assert chat.post(f"/presets/{mine.id}/delete").status_code == 200
    assert presets.mine(owner) == []
    assert chat.post("/presets", {"preset_name": " "}).status_code == 422


def presets_of(app):
    from sqlalchemy import select

    from webchat.store.schema import presets

    with app.extensions["webchat"].store.engine.connect() as db:
        return list(db.execute(select(presets)))


# The API


def test_the_api_lists_every_model_and_a_completion_picks_one(tmp_path, servers, monkeypatch):
    from test_api import bearer, new_token

    monkeypatch.setenv("BETA_KEY", SECRET)
    path = write(tmp_path, models_toml(*servers))
    app = create_app(settings_for(tmp_path, models_file=path, backend="auto", api=True))
    headers = bearer(new_token(app))
    client = app.test_client()
    listed = client.get("/v1/models", headers=headers).get_json()
    assert [m["id"] for m in listed["data"]] == ["Alpha", "Beta"]
    for asked, server in (("Beta", "beta"), ("alpha-model", "alpha"), (None, "alpha")):
        body = {"messages": [{"role": "user", "content": "hi"}], **({"model": asked} if asked else {})}
        reply = client.post("/v1/chat/completions", json=body, headers=headers).get_json()
        assert reply["choices"][0]["message"]["content"].startswith(f"[{server}]"), reply
    unknown = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    assert unknown.status_code == 400
    error = unknown.get_json()["error"]
    assert error["param"] == "model" and "'Alpha', 'Beta'" in error["message"]


# Secrets


def test_the_api_key_is_in_no_page_log_or_export(app, servers, caplog):
    caplog.set_level(logging.DEBUG)
    chat = Browser(app)
    chat.send("first", model="Beta")
    servers[1].fail_status = 401
    chat.send("second")
    seen = [
        chat.page(),
        chat.client.get(f"/c/{chat.conversation_id}/export?tree=1").get_data(as_text=True),
        json.dumps(app.extensions["webchat"].store.conversation_turn_records(chat.conversation_id)),
        caplog.text,
        repr(app.extensions["webchat"].settings),
        repr(app.extensions["webchat"].models.models),
    ]
    for text in seen:
        assert SECRET not in text
    time.sleep(0)  # (the key was sent: the servers received it)
    assert servers[1].requests[0].headers["authorization"].endswith(SECRET)


# Compare


def test_compare_streams_both_answers_and_keeping_one_makes_the_other_a_version(app, servers):
    chat = Browser(app)
    turn = chat.send("which is better?", compare="Beta")
    store = app.extensions["webchat"].store
    answers = store.turn_messages(turn, "reply")
    assert [(m.message.metadata.get("title"), m.message.content) for m in answers] == [
        ("Alpha", "[alpha] model=alpha-model you said: which is better?"),
        ("Beta", "[beta] model=beta-model you said: which is better?"),
    ]
    page = chat.page()
    assert page.count("Keep this answer") == 2 and page.count("compare-answer") == 2
    kept = chat.post(f"/turns/{turn}/keep/1")
    assert kept.status_code == 200 and "Keep this answer" not in kept.get_data(as_text=True)
    assert chat.replies() == ["[beta] model=beta-model you said: which is better?"]
    page = html.unescape(chat.page())
    assert "Show version 1 of 2" in page and "compare-answer" not in page
    link = re.search(r'href="(/messages/[^"]+/show\?csrf_token=[^"]+)"', page).group(1)
    chat.client.get(link)
    assert chat.replies() == ["[alpha] model=alpha-model you said: which is better?"]
    assert chat.post(f"/turns/{turn}/keep/0").status_code == 409  # settled already


def test_a_message_after_a_comparison_goes_on_from_its_first_answer(app, servers):
    alpha, beta = servers
    chat = Browser(app)
    chat.send("one", compare="Beta")
    chat.send("two", compare="")
    sent = [m["content"] for m in alpha.requests[-1].body["messages"] if m["role"] != "system"]
    assert sent == ["one", "[alpha] model=alpha-model you said: one", "two"]
    assert len(beta.requests) == 1
    assert "Show version 2 of 2" in html.unescape(chat.page())  # Beta's answer stays, one step away


def test_a_model_that_fails_in_a_comparison_shows_its_error_in_its_own_column(app, servers):
    _, beta = servers
    beta.fail_status = 500
    chat = Browser(app)
    turn = chat.send("hello", compare="Beta")
    answers = app.extensions["webchat"].store.turn_messages(turn, "reply")
    assert answers[0].message.content.startswith("[alpha]")
    assert "The model server (" in answers[1].message.content and answers[1].status == "complete"


def test_comparing_with_an_unknown_model_is_refused(app, servers):
    chat = Browser(app)
    response = chat.post("/turns", {"text": "keep me", "compare": "Gamma"})
    assert response.status_code == 422 and "no model named 'Gamma'" in html.unescape(
        response.get_data(as_text=True)
    )
    assert servers[0].requests == []


def test_the_turn_record_is_what_the_server_received_field_by_field(app, servers):
    alpha, _ = servers
    chat = Browser(app)
    chat.send("first")
    chat.send("second", temperature="0.25", top_p="0.8", max_tokens="33", system_prompt="Short.")
    received = alpha.requests[-1]
    [_, record] = app.extensions["webchat"].store.conversation_turn_records(chat.conversation_id)
    assert record["endpoint"] == alpha.base_url and record["model"] == received.body["model"] == "alpha-model"
    assert record["messages"] == received.body["messages"]
    sent = {k: received.body[k] for k in ("temperature", "top_p", "max_tokens", "stream")}
    assert (
        record["parameters"] == sent == {"temperature": 0.25, "top_p": 0.8, "max_tokens": 33, "stream": True}
    )
    assert record["usage"] == {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12}
    assert record["finish_reason"] == "stop" and record["model_name"] == "Alpha" and record["error"] is None
    assert (
        record["first_token_seconds"] is not None and record["total_seconds"] >= record["first_token_seconds"]
    )


def test_a_model_without_images_gets_them_by_name(app, servers):
    import io

    import samples

    _, beta = servers
    chat = Browser(app)
    response = chat.client.post(
        "/turns",
        data={"text": "what is this?", "model": "Beta", "files": [(io.BytesIO(samples.png()), "cat.png")]},
        headers={**HX, "X-CSRF-Token": chat.token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    app.extensions["webchat"].hub.wait_final(TURN_ID.findall(response.get_data(as_text=True))[-1], 20)
    said = json.dumps(beta.requests[-1].body["messages"])
    assert "image_url" not in said and "cat.png" in said


def test_a_long_conversation_is_trimmed_to_the_models_context(tmp_path):
    server = FakeModelServer("small").start()
    try:
        path = write(
            tmp_path,
            f"""
[[models]]
name = "Small"
base_url = "{server.base_url}"
context_length = 120
parameters = {{ max_tokens = 40, system_prompt = "Be brief." }}
""",
        )
        app = create_app(settings_for(tmp_path, models_file=path, backend="auto"))
        chat = Browser(app)
        for n in range(6):
            chat.send(f"message number {n} " + "words " * 20)
        sent = server.requests[-1].body["messages"]
        assert sent[0] == {"role": "system", "content": "Be brief."}
        assert sent[1]["role"] == "user" and sent[-1]["content"].startswith("message number 5")
        assert len(sent) < 12  # 11 messages and the system prompt would not fit in 120 tokens
        record = app.extensions["webchat"].store.conversation_turn_records(chat.conversation_id)[-1]
        assert record["dropped_messages"] == 12 - len(sent) and record["messages"] == sent
        assert "oldest messages were left out" in chat.page()
    finally:
        server.stop()


def test_the_echo_demo_shows_no_settings_it_would_not_use(tmp_path):
    page = create_app(settings_for(tmp_path)).test_client().get("/").get_data(as_text=True)
    assert 'id="model-settings"' not in page and 'id="model-choice"' not in page
