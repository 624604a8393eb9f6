"""Every way a Gradio-style chat function can answer becomes the same stream of replies."""

import asyncio

import pytest

from webchat.chat import ChatFunctionError, stream_reply
from webchat.messages import ChatMessage

HISTORY = [
    {"role": "user", "content": "earlier", "metadata": {}, "options": []},
    {"role": "assistant", "content": "reply", "metadata": {}, "options": []},
]


def texts(fn, message="hi", history=()):
    return [[(m.role, m.content) for m in reply] for reply in stream_reply(fn, message, list(history))]


def returns_str(message, history):
    return "plain"


def returns_dict(message, history):
    return {"role": "assistant", "content": "as dict"}


def returns_dict_without_role(message, history):
    return {"content": "no role"}


def returns_chat_message(message, history):
    return ChatMessage(content="as message")


def returns_list(message, history):
    return ["one", {"role": "assistant", "content": "two"}, ChatMessage(content="three")]


def returns_none(message, history):
    return None


def yields_text(message, history):
    text = ""
    for word in ["a", "b", "c"]:
        text += word
        yield text


def yields_same_dict_mutated(message, history):
    response = {"role": "assistant", "content": ""}
    for token in ["x", "y"]:
        response["content"] += token
        yield response


def yields_lists(message, history):
    yield [ChatMessage(content="step", metadata={"title": "Thinking", "status": "pending"})]
    yield [
        ChatMessage(content="step", metadata={"title": "Thinking", "status": "done"}),
        ChatMessage("answer"),
    ]


async def async_returns(message, history):
    await asyncio.sleep(0)
    return "async value"


async def async_yields(message, history):
    for text in ["p", "pq"]:
        await asyncio.sleep(0)
        yield text


def returns_file(message, history):
    return {"path": "/tmp/picture.png"}


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (returns_str, [[("assistant", "plain")]]),
        (returns_dict, [[("assistant", "as dict")]]),
        (returns_dict_without_role, [[("assistant", "no role")]]),
        (returns_chat_message, [[("assistant", "as message")]]),
        (returns_list, [[("assistant", "one"), ("assistant", "two"), ("assistant", "three")]]),
        (returns_none, [[]]),
        (yields_text, [[("assistant", "a")], [("assistant", "ab")], [("assistant", "abc")]]),
        (yields_same_dict_mutated, [[("assistant", "x")], [("assistant", "xy")]]),
        (async_returns, [[("assistant", "async value")]]),
        (async_yields, [[("assistant", "p")], [("assistant", "pq")]]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_every_return_kind(fn, expected):
    assert texts(fn) == expected


def test_lists_of_messages_keep_thought_metadata():
    replies = list(stream_reply(yields_lists, "hi", []))
    assert replies[0][0].metadata == {"title": "Thinking", "status": "pending"}
    assert [m.content for m in replies[1]] == ["step", "answer"]


def test_a_file_dict_becomes_file_content():
    [[message]] = list(stream_reply(returns_file, "hi", []))
    assert message.content["path"] == "/tmp/picture.png"
    assert message.content["meta"] == {"_type": "gradio.FileData"}


def test_returned_history_is_reduced_to_the_new_messages():
    """Gradio's guide appends to history and returns it all (Program 1 of the compatibility issue)."""

    def chat_function(message, history):
        history.append(ChatMessage(role="user", content=message))
        history.append(ChatMessage(role="assistant", content="Hello, how can I help you?"))
        return history

    assert texts(chat_function, "hi", HISTORY) == [[("assistant", "Hello, how can I help you?")]]


def test_the_function_cannot_change_our_history():
    history = list(HISTORY)

    def greedy(message, history):
        history.clear()
        return "ok"

    list(stream_reply(greedy, "hi", history))
    assert history == HISTORY


def test_additional_inputs_arrive_after_history():
    seen = []

    def fn(message, history, a, b):
        seen.append((message, a, b))
        return "ok"

    list(stream_reply(fn, "m", [], 1, "two"))
    assert seen == [("m", 1, "two")]


@pytest.mark.parametrize("bad", [42, 3.5, object(), {"role": "bot", "content": "x"}, {"nonsense": 1}])
def test_bad_outputs_raise_a_clear_error(bad):
    with pytest.raises(ChatFunctionError, match="chat function returned"):
        list(stream_reply(lambda m, h: bad, "hi", []))


def test_closing_the_stream_closes_the_generator():
    closed = []

    def fn(message, history):
        try:
            yield "a"
            yield "ab"
        finally:
            closed.append(True)

    replies = stream_reply(fn, "hi", [])
    next(replies)
    replies.close()
    assert closed == [True]


def test_closing_an_async_stream_closes_it_too():
    closed = []

    async def fn(message, history):
        try:
            yield "a"
            yield "ab"
        finally:
            closed.append(True)

    replies = stream_reply(fn, "hi", [])
    next(replies)
    replies.close()
    assert closed == [True]
