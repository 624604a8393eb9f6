"""The API's request and response bodies as pydantic models: they validate what callers send, build
what the server answers, and generate the OpenAPI description's schemas (``openapi.py``).

Requests are validated strictly (``"yes"`` is not a boolean, ``"5"`` not a number), so what the
schemas forbid is exactly what the server refuses with a 400. :func:`refusal` turns pydantic's
first error into the API's wording: a message and the ``param`` at fault, in OpenAI's dotted form
(``messages[0].content[1].image_url``). A few rules cannot be put in JSON Schema (the last message
must be the user's, an image must really be an image); ``openai.parse_request`` checks those after.

Unions are tagged with a callable discriminator so that a wrong value gets one clear error rather
than one per branch; the tags start with ``~`` and are dropped from ``param``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
)

MAX_MESSAGES = 2000
MAX_IMAGES = 16
MAX_TITLE = 200

STRICT = ConfigDict(strict=True)
CLOSED = ConfigDict(strict=True, extra="forbid")


def _tag(value: Any, tags: dict[type, str]) -> str | None:
    return next((tag for kind, tag in tags.items() if isinstance(value, kind)), None)


# Requests: chat completions -------------------------------------------------------------------


class TextPart(BaseModel):
    model_config = STRICT
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    model_config = STRICT
    url: str


def _image_url_kind(value: Any) -> str | None:
    return _tag(value, {str: "~url", dict: "~object", ImageUrl: "~object"})


class ImagePart(BaseModel):
    """An image as a base64 ``data:`` URL (PNG, JPEG, GIF or WebP, at most 10 MB); remote URLs are
    not fetched. Only the user's messages carry images, and only when the chat takes files."""

    model_config = STRICT
    type: Literal["image_url"]
    image_url: Annotated[
        Annotated[str, Tag("~url")] | Annotated[ImageUrl, Tag("~object")],
        Discriminator(
            _image_url_kind,
            custom_error_type="image_url",
            custom_error_message="an image part needs 'image_url.url' (a data: URL)",
        ),
    ]


def _part_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return {"text": "~text", "image_url": "~image"}.get(kind) if isinstance(kind, str) else None


ContentPart = Annotated[
    Annotated[TextPart, Tag("~text")] | Annotated[ImagePart, Tag("~image")],
    Discriminator(
        _part_kind,
        custom_error_type="content_part",
        custom_error_message="content parts must be of type 'text' or 'image_url'",
    ),
]


def _content_kind(value: Any) -> str | None:
    return _tag(value, {str: "~string", list: "~parts"})


RequestContent = Annotated[
    Annotated[str, Tag("~string")] | Annotated[list[ContentPart], Tag("~parts")],
    Discriminator(
        _content_kind,
        custom_error_type="content",
        custom_error_message="'content' must be a string or a list of content parts",
    ),
]


class ChatCompletionMessage(BaseModel):
    """`developer` is taken as `system`. Content is text or a list of parts; an assistant's may be
    null (a tool call; tools themselves are not supported)."""

    model_config = STRICT
    role: Literal["system", "developer", "user", "assistant"]
    content: RequestContent | None


def _only_one(n: int | None) -> int | None:
    if n is not None and n != 1:
        raise ValueError("Only n=1 is supported: one completion per request")
    return n


def _no_logprobs(value: bool | None) -> bool | None:
    if value:
        raise ValueError("Log probabilities are not available from this server")
    return value


def _no_tools(value: list[Any] | None) -> list[Any] | None:
    if value:
        raise ValueError("Tools (function calling) are not supported by this server")
    return value


class ResponseFormat(BaseModel):
    model_config = STRICT
    type: Literal["text"]


PositiveInt = Annotated[int, Field(ge=1)]


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request. The last message must be the user's. Other OpenAI fields
    are accepted and ignored; sampling fields apply when a model answers (not a Python chat
    function), and `max_tokens` cannot exceed the server's own limit."""

    model_config = ConfigDict(strict=True, extra="ignore")
    model: str | None = Field(
        None,
        description="Which model answers: a name GET /v1/models lists (with one model, any name is it; "
        "none: the default).",
    )
    messages: list[ChatCompletionMessage] = Field(
        min_length=1, max_length=MAX_MESSAGES, description=f"At most {MAX_IMAGES} images in all."
    )
    stream: bool | None = None
    n: Annotated[int | None, AfterValidator(_only_one), WithJsonSchema({"enum": [1, None]})] = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    tools: Annotated[
        list[Any] | None,
        AfterValidator(_no_tools),
        WithJsonSchema({"type": ["array", "null"], "maxItems": 0}),
    ] = None
    response_format: ResponseFormat | None = None
    logprobs: Annotated[
        bool | None, AfterValidator(_no_logprobs), WithJsonSchema({"enum": [False, None]})
    ] = None
    stream_options: dict[str, Any] | None = None


# Requests: conversations ----------------------------------------------------------------------


class FileDataMeta(BaseModel):
    model_config = ConfigDict(extra="allow")


class FileData(BaseModel):
    """A file stored by the server, as Gradio describes one; `url` serves it."""

    model_config = STRICT
    path: str
    url: str | None = None
    size: int | None = None
    orig_name: str | None = None
    mime_type: str | None = None
    is_stream: bool = False
    meta: dict[str, Any] = Field(default_factory=lambda: {"_type": "gradio.FileData"})


def _files_kind(value: Any) -> str | None:
    return _tag(value, {list: "~files", dict: "~file", FileData: "~file"})


class ComponentFiles(BaseModel):
    """One or more of the caller's files shown as a given component (``{"component": "image"}``)."""

    model_config = STRICT
    component: Annotated[str, Field(min_length=1)]
    value: Annotated[
        Annotated[FileData, Tag("~file")] | Annotated[list[FileData], Tag("~files")],
        Discriminator(
            _files_kind,
            custom_error_type="component_value",
            custom_error_message="a component's 'value' must be a FileData object or a list of them",
        ),
    ]


def _stored_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "~text"
    if isinstance(value, dict):
        return "~component" if "component" in value else "~file"
    return _tag(value, {ComponentFiles: "~component", FileData: "~file"})


NewContent = Annotated[
    Annotated[str, Tag("~text")]
    | Annotated[FileData, Tag("~file")]
    | Annotated[ComponentFiles, Tag("~component")],
    Discriminator(
        _stored_kind,
        custom_error_type="message_content",
        custom_error_message="'content' must be text, a FileData object or a component showing files",
    ),
]


class Metadata(BaseModel):
    """Gradio's message metadata (thought blocks)."""

    model_config = CLOSED
    title: str | None = None
    status: Literal["pending", "done"] | None = None
    duration: float | None = None
    id: int | str | None = None
    parent_id: int | str | None = None
    log: str | None = None


class Option(BaseModel):
    model_config = STRICT
    value: str
    label: str | None = None


class NewMessage(BaseModel):
    """A message to store: text, one of the caller's files, or a component showing them. A file is
    named by the `url` (or the `path`) this server gave it, from `POST /api/files` or a conversation
    of the caller's; the rest of the FileData is ignored. The new conversation gets its own copy of
    each file."""

    model_config = CLOSED
    role: Literal["user", "assistant", "system"]
    content: NewContent
    metadata: Metadata | None = None
    options: list[Option] | None = None


class NewConversation(BaseModel):
    model_config = CLOSED
    title: Annotated[str, Field(max_length=MAX_TITLE)] = ""
    messages: list[NewMessage] = Field(default_factory=list)


# Responses ------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class Error(BaseModel):
    error: ErrorDetail


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "webchat"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str = "webchat"
    choices: list[Choice] = Field(min_length=1)
    usage: None = Field(None, description="Token counts are not known here.")


class Delta(BaseModel):
    """What a chunk adds; a field it does not carry is left out (OpenAI's clients expect that)."""

    role: Literal["assistant"] | None = Field(None, exclude_if=lambda value: value is None)
    content: str | None = Field(None, exclude_if=lambda value: value is None)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion (`data: {...}`); the stream ends with
    `data: [DONE]`. A failure after the stream began arrives as an `Error` event."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: str = "webchat"
    choices: list[ChunkChoice]


class StoredFiles(BaseModel):
    """A component showing stored files, as the server keeps it (other Gradio keys pass through)."""

    model_config = ConfigDict(extra="allow")
    component: str
    value: FileData | list[FileData]


class Message(BaseModel):
    """A message in Gradio's messages format: text, a FileData dict, or a component."""

    model_config = ConfigDict(extra="allow")
    role: Literal["user", "assistant", "system"]
    content: str | FileData | StoredFiles
    metadata: dict[str, Any]
    options: list[Option]


class ConversationSummary(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    title: str
    created_at: float
    updated_at: float


class TreeNode(BaseModel):
    """A message of a conversation's whole tree (webchat.store.tree_json): ``parent`` names the
    node before it on its branch, ``selected`` says it is on the branch shown."""

    id: str
    parent: str | None
    selected: bool
    message: Message


class Conversation(ConversationSummary):
    messages: list[Message] = Field(description="The branch shown: the `history` a chat function gets.")
    tree: list[TreeNode] | None = Field(
        default=None, description="With ?tree=1: every message of every branch, each after its parent."
    )


class ConversationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ConversationSummary]


class ConversationDeleted(BaseModel):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: Literal[True] = True


REQUESTS: tuple[type[BaseModel], ...] = (ChatCompletionRequest, NewConversation)
RESPONSES: tuple[type[BaseModel], ...] = (
    Error,
    ModelList,
    ChatCompletion,
    ChatCompletionChunk,
    Conversation,
    ConversationList,
    ConversationDeleted,
    FileData,
)


# Refusals -------------------------------------------------------------------------------------

# Where pydantic's words are less helpful than ours.
PLAINER = {
    ("role", "literal_error"): "'role' must be one of {expected}",
    ("messages", "too_short"): "'messages' must be a non-empty list of messages",
    ("messages", "list_type"): "'messages' must be a list of messages",
}
TOOL_ROLES = ("tool", "function")


def param_of(loc: tuple[int | str, ...]) -> str | None:
    """OpenAI's dotted ``param`` for a pydantic location, without the union tags."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.startswith("~"):
            text += f".{part}" if text else part
    return text or None


def refusal(error: ValidationError) -> tuple[str, str | None]:
    """The message and ``param`` for a body the models refused: the first error, in plain words."""
    first = error.errors(include_url=False)[0]
    param = param_of(first["loc"])
    kind, message = first["type"], first["msg"]
    field = next((p for p in reversed(first["loc"]) if isinstance(p, str) and not p.startswith("~")), "")
    parent = param_of(first["loc"][:-1]) or "The body"
    if kind == "missing":
        return f"{parent} has no '{field}'.", param
    if kind == "extra_forbidden":
        return f"Unknown field '{field}'" + ("." if len(first["loc"]) == 1 else f" in {parent}."), param
    if kind == "model_type" and param is None:
        return "The body must be a JSON object.", None
    if kind == "model_type":
        return f"{param} must be an object.", param
    if field == "role" and first.get("input") in TOOL_ROLES:
        return f"{parent}: tool messages are not supported by this server.", param
    if (field, kind) in PLAINER:
        message = PLAINER[(field, kind)].format(**first.get("ctx", {}))
        return f"{parent}: {message}." if field == "role" else f"{message}.", param
    if kind == "value_error":
        message = str(first.get("ctx", {}).get("error", message))
        return f"{message}.", param
    where = parent if kind in ("content", "content_part", "image_url", "message_content") else param
    return f"{where}: {message[0].lower() + message[1:]}.", param
