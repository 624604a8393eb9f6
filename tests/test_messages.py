"""The messages model: Gradio's shapes in, the same shapes out, and clear words for bad input."""

import pytest

from webchat.messages import (
    ChatMessage,
    MessageError,
    filedata,
    is_filedata,
    message_from_dict,
    messages_from_list,
)


def test_chat_message_defaults_match_gradio():
    message = ChatMessage("hi")
    assert message.role == "assistant"
    assert message.to_dict() == {"role": "assistant", "content": "hi", "metadata": {}, "options": []}


def test_round_trip_through_plain_dicts():
    original = ChatMessage(
        role="assistant",
        content="thinking…",
        metadata={"title": "Using a tool", "status": "done", "duration": 1.5, "id": 1, "parent_id": None},
        options=[{"value": "yes"}, {"value": "n", "label": "No"}],
    )
    again = message_from_dict(original.to_dict())
    assert again == original
    assert again.options == [{"value": "yes", "label": "yes"}, {"value": "n", "label": "No"}]
    assert "parent_id" not in again.metadata  # None values are dropped, as Gradio does


def test_filedata_has_exactly_gradios_fields():
    data = filedata("/srv/x.png", url="/files/a/x.png", size=3, orig_name="x.png", mime_type="image/png")
    assert set(data) == {"path", "url", "size", "orig_name", "mime_type", "is_stream", "meta"}
    assert data["meta"] == {"_type": "gradio.FileData"}
    assert is_filedata(data)
    message = message_from_dict({"role": "user", "content": data})
    assert message.content == data


def test_partial_filedata_is_completed():
    message = ChatMessage(role="user", content={"path": "/tmp/a.txt"})
    assert message.content["is_stream"] is False
    assert message.content["meta"]["_type"] == "gradio.FileData"


def test_component_content_is_kept():
    content = {"component": "image", "value": {"path": "/tmp/a.png"}, "alt_text": "a cat"}
    message = ChatMessage(content=content)
    assert message.content["component"] == "image"
    assert message.content["value"]["path"] == "/tmp/a.png"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"role": "wizard", "content": "x"}, "unknown role 'wizard'"),
        ({"content": "x"}, "missing 'role'"),
        ({"role": "user"}, "missing 'content'"),
        ({}, "missing 'role' and 'content'"),
        ("hello", "must be a dict"),
        ({"role": "user", "content": 42}, "not int"),
        # Gradio 6 allows a list of contents; webchat keeps one per message, so a mixed list is refused
        ({"role": "user", "content": ["a", {"path": "/a.png"}]}, "mixes text and files"),
        ({"role": "user", "content": [{"type": "video"}]}, "must be file data"),
        ({"role": "user", "content": ("a", "b", "c")}, "not tuple"),
        ({"role": "user", "content": {"text": "x"}}, "must be file data"),
        ({"role": "user", "content": {"path": ""}}, "needs a 'path'"),
        ({"role": "user", "content": {"path": "/a", "size": -1}}, "non-negative"),
        ({"role": "user", "content": {"path": "/a", "evil": 1}}, "unknown keys: evil"),
        ({"role": "user", "content": {"component": "image", "value": "x"}}, "must be file data"),
        ({"role": "user", "content": "x", "metadata": "no"}, "metadata must be a dict"),
        ({"role": "user", "content": "x", "metadata": {"colour": 1}}, "unknown keys: colour"),
        ({"role": "user", "content": "x", "metadata": {"status": "busy"}}, "'pending' or 'done'"),
        ({"role": "user", "content": "x", "metadata": {"duration": "1s"}}, "number of seconds"),
        ({"role": "user", "content": "x", "options": [{"label": "no value"}]}, "'value' string"),
        ({"role": "user", "content": "x", "options": "yes"}, "options must be a list"),
        ({"role": "user", "content": "x", "extra": 1}, "unknown keys: extra"),
    ],
)
def test_bad_messages_say_what_is_wrong(data, words):
    with pytest.raises(MessageError, match=words.replace("(", r"\(").replace("[", r"\[")):
        message_from_dict(data)


def test_a_bad_history_names_the_position():
    with pytest.raises(MessageError, match="message 1: unknown role"):
        messages_from_list([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}])
    with pytest.raises(MessageError, match="must be a list"):
        messages_from_list({"role": "user"})


def test_constructing_a_bad_chat_message_fails_at_once():
    with pytest.raises(MessageError):
        ChatMessage(role="robot", content="x")


def test_gradio_6_content_forms_become_one_content():
    """Gradio 6 writes content as blocks and lists; a webchat message holds one content."""
    assert message_from_dict({"role": "user", "content": [{"type": "text", "text": "hi"}]}).content == "hi"
    assert ChatMessage(content=["one", {"type": "text", "text": "two"}]).content == "one\n\ntwo"
    block = {"type": "file", "file": {"path": "/tmp/a.png"}, "alt_text": None}
    assert ChatMessage(content=[block]).content["path"] == "/tmp/a.png"
    assert ChatMessage(content=("/tmp/b.png", "a cat")).content["path"] == "/tmp/b.png"
    assert ChatMessage(content=[]).content == ""
    plain = message_from_dict({"role": "user", "content": "x", "metadata": None, "options": None})
    assert (plain.metadata, plain.options) == ({}, [])
