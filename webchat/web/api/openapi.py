"""The OpenAPI 3.1 description of the API for programs, served at ``/api/openapi.json``.

The bodies' schemas are generated from the pydantic models that validate requests and build
responses (``schemas.py``), so the description cannot drift from the server: what the schemas
forbid, the server refuses with a 400 (the suite checks this with schemathesis). The paths are
written here, one entry per route. A few rules cannot be put in JSON Schema and are stated in the
descriptions instead: the last message must be the user's, an image must really be an image, and
the chat may take text only.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, request
from pydantic.json_schema import models_json_schema

from webchat.web.api.schemas import REQUESTS, RESPONSES

bp = Blueprint("api_docs", __name__)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}

BAD_REQUEST = _error("The request is not valid; the message says what is wrong and `param` where.")
UNAUTHORIZED = _error("No API token, or one that is not valid (revoked or mistyped).", WWW_AUTHENTICATE)
NOT_FOUND = _error("Not found (or the API is off: start webchat with --api or with logins).")
TOO_LARGE = _error("The body, an image or a message is over its limit.")
RATE_LIMITED = _error(
    "Too many completions at once for this token, or the model server is rate-limiting.", RETRY_AFTER
)
MODEL_FAILED = _error("The model server (or the chat function) failed; the message says how.")

# A server-sent event is not a JSON body, so no model describes it; its data is one.
EVENT = {
    "type": "object",
    "required": ["data"],
    "description": "A server-sent event: `data` is a `ChatCompletionChunk` (or an `Error`) in JSON, "
    "and the last event's data is `[DONE]`.",
    "properties": {
        "data": {
            "anyOf": [
                {"const": "[DONE]"},
                {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"anyOf": [_ref("ChatCompletionChunk"), _ref("Error")]},
                },
            ]
        }
    },
}


def _schemas() -> dict[str, Any]:
    """Every body's JSON Schema, from the pydantic models that validate and build the bodies.

    A model used both ways (``FileData``) is described as it is validated, the stricter form.
    """
    _, top = models_json_schema(
        [(model, "serialization") for model in RESPONSES] + [(model, "validation") for model in REQUESTS],
        ref_template="#/components/schemas/{model}",
    )
    return {**top["$defs"], "ChatCompletionEvent": EVENT}


SCHEMAS: dict[str, Any] = _schemas()

HELLO = {"role": "user", "content": "Hello!"}

CONVERSATION_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
}

PATHS: dict[str, Any] = {
    "/v1/models": {
        "get": {
            "operationId": "listModels",
            "summary": "The model that answers here (OpenAI's list of models)",
            "responses": {
                "200": {"description": "One model.", "content": {JSON: {"schema": _ref("ModelList")}}},
                "401": UNAUTHORIZED,
            },
        }
    },
    "/v1/models/{model_id}": {
        "get": {
            "operationId": "getModel",
            "summary": "One model by its id",
            "parameters": [
                {
                    "name": "model_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                }
            ],
            "responses": {
                "200": {"description": "The model.", "content": {JSON: {"schema": _ref("Model")}}},
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/v1/chat/completions": {
        "post": {
            "operationId": "createChatCompletion",
            "summary": "A reply from the chat, as OpenAI's chat completions (streamed with SSE or not)",
            "description": "Stateless: no conversation is stored. The last message is the user's new "
            "message and the ones before it the history.",
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": _ref("ChatCompletionRequest"),
                        "examples": {
                            "whole": {"value": {"model": "webchat", "messages": [HELLO]}},
                            "streamed": {
                                "value": {
                                    "messages": [{"role": "system", "content": "Be brief."}, HELLO],
                                    "stream": True,
                                }
                            },
                        },
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The completion; with `stream: true`, server-sent events of "
                    "`ChatCompletionChunk` ending with `data: [DONE]`.",
                    "content": {
                        JSON: {"schema": _ref("ChatCompletion")},
                        "text/event-stream": {"schema": _ref("ChatCompletionEvent")},
                    },
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "413": TOO_LARGE,
                "429": RATE_LIMITED,
                "502": MODEL_FAILED,
            },
        }
    },
    "/api/conversations": {
        "get": {
            "operationId": "listConversations",
            "summary": "The caller's conversations, newest first",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                }
            ],
            "responses": {
                "200": {
                    "description": "Conversations.",
                    "content": {JSON: {"schema": _ref("ConversationList")}},
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
            },
        },
        "post": {
            "operationId": "createConversation",
            "summary": "Store a conversation from messages-format JSON",
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": _ref("NewConversation"),
                        "example": {
                            "title": "Greetings",
                            "messages": [HELLO, {"role": "assistant", "content": "Hi! How can I help?"}],
                        },
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "The stored conversation.",
                    "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                    "content": {JSON: {"schema": _ref("Conversation")}},
                    "links": {
                        "GetConversation": {
                            "operationId": "getConversation",
                            "parameters": {"conversation_id": "$response.body#/id"},
                        },
                        "DeleteConversation": {
                            "operationId": "deleteConversation",
                            "parameters": {"conversation_id": "$response.body#/id"},
                        },
                    },
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "413": TOO_LARGE,
            },
        },
    },
    "/api/conversations/{conversation_id}": {
        "get": {
            "operationId": "getConversation",
            "summary": "One conversation with its messages (FileData included)",
            "parameters": [
                CONVERSATION_ID,
                {
                    "name": "tree",
                    "in": "query",
                    "required": False,
                    "description": "1: also every version of every message, as `tree` (the form the "
                    "page's import takes back).",
                    "schema": {"type": "string", "enum": ["0", "1", "true", "false"], "default": "0"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The conversation.",
                    "content": {JSON: {"schema": _ref("Conversation")}},
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        },
        "delete": {
            "operationId": "deleteConversation",
            "summary": "Delete a conversation (a reply being written is stopped)",
            "parameters": [CONVERSATION_ID],
            "responses": {
                "200": {
                    "description": "Deleted.",
                    "content": {JSON: {"schema": _ref("ConversationDeleted")}},
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        },
    },
    "/api/conversations/{conversation_id}/turns": {
        "get": {
            "operationId": "getTurnRecords",
            "summary": "The record of each reply of a built-in model, as JSON Lines",
            "description": "One JSON object per line, oldest first: turn_id, status, created_at, "
            "finished_at, endpoint, model, parameters, messages (as sent; files as FileData references), "
            "usage, first_token_seconds, tokens_per_second, total_seconds, finish_reason, error. Replies "
            "of a Python chat function have no record. No API key or header is ever in it.",
            "parameters": [CONVERSATION_ID],
            "responses": {
                "200": {
                    "description": "The records.",
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        },
    },
    "/api/files": {
        "post": {
            "operationId": "uploadFile",
            "summary": "Store one file, to use in conversations posted here",
            "description": "The page's upload limits and type checks apply; the type is sniffed from the "
            "bytes. A file no conversation uses within a day is removed. Refused with 415 when the chat "
            "takes text only.",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "The stored file as FileData; its `url` names it in a conversation.",
                    "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                    "content": {JSON: {"schema": _ref("FileData")}},
                },
                "400": BAD_REQUEST,
                "401": UNAUTHORIZED,
                "413": TOO_LARGE,
                "415": _error("Files of this type are not taken here, or the chat takes text only."),
            },
        }
    },
    "/api/files/{file_id}/{name}": {
        "get": {
            "operationId": "getFile",
            "summary": "Download one of the caller's files",
            "description": "The file a FileData `url` of `/files/{file_id}/{name}` names, for programs "
            "(that URL itself serves the signed-in browser). Always sent as an attachment.",
            "parameters": [
                {
                    "name": "file_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                },
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                },
            ],
            "responses": {
                "200": {
                    "description": "The file's bytes, with its sniffed type.",
                    "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}},
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This description",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1.", "content": {JSON: {"schema": {"type": "object"}}}},
                "404": NOT_FOUND,
            },
        }
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "webchat API",
        "version": "1",
        "description": "OpenAI-compatible chat completions for whatever chat this server runs, and the "
        "caller's conversations. Authenticate with an API token created in the page (API tokens): "
        '`Authorization: Bearer <token>`. Errors are `{"error": {"message", "type", "param", '
        '"code"}}`.',
    },
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
}


def openapi_spec(server_url: str = "/") -> dict[str, Any]:
    """The description, with the server's URL (the path prefix it is served under, behind a proxy)."""
    spec = copy.deepcopy(SPEC)
    spec["servers"] = [{"url": server_url}]
    return spec


@bp.get("/api/openapi.json")
def openapi() -> Any:
    return openapi_spec(server_url=request.script_root or "/")
