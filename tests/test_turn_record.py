"""The record of every turn of a built-in model (webchat/turn_record.py): what went to the model
server and what came back, shown under the reply and exported by the API, never with a secret."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import samples
from conftest import TURN_ID, csrf_of, settings_for
from test_api import bearer, new_token
from test_gradio_compat import free_port

from webchat.app import create_app
from webchat.turn_record import TurnRecord, recording, without_credentials

SECRET = "hf_not_to_be_seen_1234567890"
HX = {"HX-Request": "true"}


def test_a_record_times_the_stream_and_counts_tokens_when_the_server_does_not():
    record = TurnRecord()
    record.sent("https://user:pw@models.example/v1/", "m", {"max_tokens": 5, "top_p": None}, [])
    assert record.endpoint == "https://models.example/v1/" and record.parameters == {"max_tokens": 5}
    record.first_token()
    time.sleep(0.01)
    record.ended(tokens=4, usage=None, finish_reason="length")
    assert record.usage == {"completion_tokens": 4, "counted": True} and record.finish_reason == "length"
    assert 0 <= record.first_token_seconds <= record.total_seconds and record.tokens_per_second > 0
    assert without_credentials("HuggingFaceH4/zephyr-7b-beta") == "HuggingFaceH4/zephyr-7b-beta"
    assert TurnRecord().empty and not record.empty


def test_a_record_is_current_only_inside_its_turn():
    from webchat.turn_record import current

    assert current() is None
    with recording() as record:
        assert current() is record
    assert current() is None


def app_on(tmp_path: Path, base_url: str, **changes: Any) -> Any:
    settings = settings_for(
        tmp_path, backend="inference", base_url=base_url, model="m", hf_token=SECRET, api=True, **changes
    )
    app = create_app(settings)
    app.testing = True
    return app


def send(client: Any, text: str, files: list[tuple[str, bytes]] = ()) -> str:
    token = csrf_of(client)
    data: dict[str, Any] = {"text": text, "conversation_id": ""}
    if files:
        data["files"] = [(__import__("io").BytesIO(b), name) for name, b in files]
    response = client.post("/turns", data=data, headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    return TURN_ID.search(response.get_data(as_text=True)).group(1)


def finished(app: Any, turn_id: str, timeout: float = 120) -> Any:
    store = app.extensions["webchat"].store
    deadline = time.monotonic() + timeout
    while store.get_turn(turn_id).status == "running":
        assert time.monotonic() < deadline, "the turn did not end"
        time.sleep(0.05)
    return store.get_turn(turn_id)


def everything_said(app: Any, client: Any, turn: Any) -> str:
    """The record, the conversation's page, its API export of records and its export."""
    store = app.extensions["webchat"].store
    page = client.get(f"/c/{turn.conversation_id}").get_data(as_text=True)
    api = client.get(
        f"/api/conversations/{turn.conversation_id}/turns", headers=bearer(new_token(app, owner=turn.owner))
    )
    assert api.status_code == 200 and api.mimetype == "application/x-ndjson"
    exported = client.get(f"/c/{turn.conversation_id}/export").get_data(as_text=True)
    return "\n".join([json.dumps(store.turn_records([turn.id])), page, api.get_data(as_text=True), exported])


@pytest.mark.model
def test_a_reply_of_the_local_model_keeps_its_request_usage_and_timings(tmp_path, default_gguf):
    from webchat.backends.local import LlamaServer

    with LlamaServer(default_gguf, parallel=1) as llama:
        url = llama.base_url
        app = app_on(tmp_path, url, max_tokens=12)
        client = app.test_client()
        turn = finished(app, send(client, "Say hello."))
        said = everything_said(app, client, turn)
    assert turn.status == "done"
    record = app.extensions["webchat"].store.turn_records([turn.id])[turn.id]
    assert record["endpoint"] == url and record["model"] == "m"
    assert record["parameters"] == {"max_tokens": 12, "stream": True}
    assert record["messages"] == [{"role": "user", "content": "Say hello."}]
    assert record["usage"]["completion_tokens"] > 0 and record["finish_reason"] in ("stop", "length")
    assert 0 < record["first_token_seconds"] <= record["total_seconds"] and record["error"] is None
    assert "Details" in said and "First token" in said and "tokens/s" in said
    lines = [json.loads(line) for line in said.split("\n") if line.startswith('{"turn_id"')]
    assert lines and lines[0]["turn_id"] == turn.id and lines[0]["usage"] == record["usage"]
    assert SECRET not in said and "Authorization" not in said and "Bearer" not in said


def test_a_failed_request_is_recorded_with_its_error_and_images_as_files(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    app = app_on(tmp_path, closed, request_timeout=10)
    client = app.test_client()
    turn = finished(app, send(client, "look", [("cat.png", samples.png())]))
    assert turn.status == "error"
    record = app.extensions["webchat"].store.turn_records([turn.id])[turn.id]
    assert record["endpoint"] == closed and record["error"]
    [message] = record["messages"]
    image, text = message["content"]
    assert image["type"] == "image_url" and image["file"]["orig_name"] == "cat.png"
    assert image["file"]["mime_type"] == "image/png" and text == {"type": "text", "text": "look"}
    said = everything_said(app, client, turn)
    assert "base64" not in json.dumps(record) and SECRET not in said
    assert re.search(r"<dt>Error</dt><dd>[^<]+</dd>", said)


def test_a_python_chat_function_has_no_record(make_app):
    app = make_app(lambda message, history: "hello")
    client = app.test_client()
    turn = finished(app, send(client, "hi"))
    assert app.extensions["webchat"].store.turn_records([turn.id]) == {}
    assert "turn-record" not in client.get(f"/c/{turn.conversation_id}").get_data(as_text=True)
