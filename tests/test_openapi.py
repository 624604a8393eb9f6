"""The OpenAPI description at /api/openapi.json against the real API.

schemathesis generates requests from the description (valid ones and invalid ones) and checks
every response against it: status codes, content types, headers and bodies; schema-invalid input
must be refused with a 4xx, and a call without a token with 401. Real clients' requests and the
streamed events are checked against the description's schemas as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
import requests
import schemathesis
from flask import Flask, request
from huggingface_hub import InferenceClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from webchat.web.api.openapi import SPEC, openapi_spec


def answer(message: Any, history: list[dict[str, Any]]) -> str:
    text = message.get("text") if isinstance(message, dict) else message
    return f"You said: {text}"


def new_token(app: Flask, owner: str = "s:schemathesis") -> str:
    with app.app_context():
        return app.extensions["webchat"].tokens.create(owner, "schemathesis")[1]


def validator(name: str) -> Any:
    """A JSON Schema validator for one of the description's component schemas."""
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    )


@pytest.fixture
def api_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(answer, api=True)


@pytest.fixture
def token(api_app: Flask) -> str:
    return new_token(api_app)


@pytest.fixture
def served(live_server: Any) -> tuple[Any, str]:
    """A real server with the API on, and a token; one per operation (its examples share it)."""
    server = live_server(answer, api=True)
    return server, new_token(server.app)


# The description as the code builds it; a test below checks the app serves exactly this.
schema = schemathesis.openapi.from_dict(openapi_spec("/"))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_keeps_to_the_description(case: Any, served: tuple[Any, str]) -> None:
    server, token = served
    excluded = []
    if case.operation.label == "POST /v1/chat/completions":
        # Valid JSON that the schema cannot judge is refused with 400, as the description says: the
        # last message must be the user's, and an image must be a real image (random bytes are not).
        excluded.append(positive_data_acceptance)
    if case.operation.label in ("POST /api/conversations", "POST /api/files"):
        # So is a file the caller does not have (any generated FileData url), and any upload to
        # this chat, which takes text only (415).
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, excluded_checks=excluded
    )


def test_the_description_is_served_with_the_path_prefix(api_app: Flask) -> None:
    client = api_app.test_client()
    assert client.get("/api/openapi.json").get_json() == openapi_spec("/")
    behind_proxy = client.get("/api/openapi.json", base_url="http://localhost/chat/")
    assert behind_proxy.get_json()["servers"] == [{"url": "/chat"}]


def test_a_real_inference_client_request_and_its_answers_fit_the_description(live_server: Any) -> None:
    server = live_server(answer, api=True)
    bodies: list[Any] = []

    @server.app.before_request
    def keep_body() -> None:
        if request.path == "/v1/chat/completions":
            bodies.append(request.get_json(silent=True))

    secret = new_token(server.app)
    client = InferenceClient(base_url=server.url + "/v1", api_key=secret)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
    ]
    client.chat_completion(messages, max_tokens=20, temperature=0.2)
    list(client.chat_completion(messages, stream=True))
    assert len(bodies) == 2
    for body in bodies:
        validator("ChatCompletionRequest").validate(body)

    loaded = schemathesis.openapi.from_url(server.url + "/api/openapi.json")
    operation = loaded["/v1/chat/completions"]["POST"]
    headers = {"Authorization": f"Bearer {secret}"}
    whole = requests.post(server.url + "/v1/chat/completions", json=bodies[0], headers=headers, timeout=10)
    operation.validate_response(whole)
    validator("ChatCompletion").validate(whole.json())

    streamed = requests.post(server.url + "/v1/chat/completions", json=bodies[1], headers=headers, timeout=10)
    operation.validate_response(streamed)
    events = [line[len("data: ") :] for line in streamed.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        validator("ChatCompletionChunk").validate(json.loads(event))


def test_error_bodies_fit_the_description(api_app: Flask, token: str) -> None:
    client = api_app.test_client()
    errors = [
        client.get("/v1/models"),
        client.post(
            "/v1/chat/completions", json={"messages": []}, headers={"Authorization": f"Bearer {token}"}
        ),
        client.get("/api/conversations/missing", headers={"Authorization": f"Bearer {token}"}),
        client.put("/api/conversations", headers={"Authorization": f"Bearer {token}"}),
    ]
    assert [e.status_code for e in errors] == [401, 400, 404, 405]
    for reply in errors:
        validator("Error").validate(reply.get_json())
