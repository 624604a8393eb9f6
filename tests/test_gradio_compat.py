"""Gradio programs run under webchat with only the import changed (issue 5).

The three programs of the issue run exactly as written, each driven in Chromium; every way a chat
function answers is checked in one table; additional inputs arrive in order and typed; the history
is what Gradio 6 passes; anything outside the supported surface fails while the program builds,
naming what is not supported.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import settings_for
from werkzeug.serving import make_server

import webchat as gr
from webchat.chat import gradio_history, stream_reply
from webchat.errors import UnsupportedError
from webchat.gradio.interface import GradioFunction
from webchat.gradio.launch import PrefixMiddleware

# The programs, verbatim.
PROGRAM_1 = """
from webchat import ChatMessage
def chat_function(message, history):
    history.append(ChatMessage(role="user", content=message))
    history.append(ChatMessage(role="assistant", content="Hello, how can I help you?"))
    return history
"""

PROGRAM_2 = """
import webchat as gr
def chat_greeter(msg, history):
    history.append({"role": "assistant", "content": "Hello!"})
    return history
with gr.Blocks() as demo:
    chatbot = gr.Chatbot(type="messages")
    msg = gr.Textbox()
    clear = gr.ClearButton([msg, chatbot])
    msg.submit(chat_greeter, [msg, chatbot], [chatbot])
demo.launch()
"""

PROGRAM_3 = """
import webchat as gr
from huggingface_hub import InferenceClient
client = InferenceClient("HuggingFaceH4/zephyr-7b-beta")
def respond(message, history: list[dict]):
    messages = history + [{"role": "user", "content": message}]
    response = {"role": "assistant", "content": ""}
    for message in client.chat_completion(messages, max_tokens=512, stream=True, temperature=0.7, top_p=0.95):
        token = message.choices[0].delta.content
        response['content'] += token
        yield response
demo = gr.ChatInterface(respond, type="messages")
if __name__ == "__main__":
    demo.launch()
"""


def run_program(source: str, name: str = "program") -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(textwrap.dedent(source), f"<{name}>", "exec"), namespace)
    return namespace


def serve(app: Any) -> tuple[Any, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def csrf(client: Any) -> str:
    client.get("/new")
    with client.session_transaction() as session:
        return session["csrf"]


def send(client: Any, text: str, **fields: Any) -> Any:
    data = {"text": text, "csrf_token": csrf(client), "conversation_id": "", **fields}
    return client.post("/turns", data=data, headers={"HX-Request": "true"})


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- Every return and yield form, in one table -------------------------------------------------

HISTORY = [
    {"role": "user", "content": "earlier", "metadata": {}, "options": []},
    {"role": "assistant", "content": "reply", "metadata": {}, "options": []},
]


class Picture:
    """Anything with to_message_content() is media, like gr.Image in a reply."""

    def to_message_content(self) -> dict[str, Any]:
        return {"component": "image", "value": {"path": "/tmp/cat.png"}}


def returns_history_appended_with_messages(message, history):  # Program 1's shape
    history.append(gr.ChatMessage(role="user", content=message))
    history.append(gr.ChatMessage(role="assistant", content="Hello, how can I help you?"))
    return history


def returns_history_appended_with_dicts(message, history):  # Program 2's handler
    history.append({"role": "assistant", "content": "Hello!"})
    return history


def yields_one_dict_mutated(message, history):  # Program 3's shape
    response = {"role": "assistant", "content": ""}
    for token in ["Hel", "lo", "!"]:
        response["content"] += token
        yield response


def yields_thought_then_answer(message, history):
    thought = gr.ChatMessage(content="", metadata={"title": "Thinking", "status": "pending"})
    for step in ["look", "look again"]:
        thought.content = step
        yield [thought]
    thought.metadata = {"title": "Thinking", "status": "done", "duration": 0.5}
    yield [thought, gr.ChatMessage(content="The answer.")]


def yields_growing_text(message, history):
    text = ""
    for word in ["a", "b", "c"]:
        text += word
        yield text


async def async_returns(message, history):
    await asyncio.sleep(0)
    return "async value"


async def async_yields(message, history):
    for text in ["p", "pq"]:
        await asyncio.sleep(0)
        yield text


CASES = [
    ("a string", lambda m, h: "plain", [("assistant", "plain")]),
    ("a message dict", lambda m, h: {"role": "assistant", "content": "d"}, [("assistant", "d")]),
    ("a dict without role", lambda m, h: {"content": "no role"}, [("assistant", "no role")]),
    ("a ChatMessage", lambda m, h: gr.ChatMessage(content="cm"), [("assistant", "cm")]),
    ("None", lambda m, h: None, []),
    ("a file dict", lambda m, h: {"path": "/tmp/a.wav"}, [("assistant", "file:/tmp/a.wav")]),
    ("a file tuple", lambda m, h: ("/tmp/a.png",), [("assistant", "file:/tmp/a.png")]),
    ("media", lambda m, h: Picture(), [("assistant", "file:/tmp/cat.png")]),
    (
        "several bubbles",
        lambda m, h: ["one", {"role": "assistant", "content": "two"}, gr.ChatMessage("three")],
        [("assistant", "one"), ("assistant", "two"), ("assistant", "three")],
    ),
    (
        "a Gradio 6 message (content blocks)",
        lambda m, h: {
            "role": "assistant",
            "metadata": None,
            "content": [{"text": "block", "type": "text"}],
            "options": None,
        },
        [("assistant", "block")],
    ),
    (
        "a Gradio 6 message mixing text and a file",
        lambda m, h: {"role": "assistant", "content": ["see", {"path": "/tmp/b.png"}]},
        [("assistant", "see"), ("assistant", "file:/tmp/b.png")],
    ),
    (
        "the history appended with ChatMessages",
        returns_history_appended_with_messages,
        [("assistant", "Hello, how can I help you?")],
    ),
    ("the history appended with a dict", returns_history_appended_with_dicts, [("assistant", "Hello!")]),
    ("a generator of growing text", yields_growing_text, [("assistant", "abc")]),
    ("a generator mutating one dict", yields_one_dict_mutated, [("assistant", "Hello!")]),
    (
        "a generator of message lists, thought first",
        yields_thought_then_answer,
        [("assistant", "look again", "Thinking"), ("assistant", "The answer.")],
    ),
    ("a coroutine", async_returns, [("assistant", "async value")]),
    ("an async generator", async_yields, [("assistant", "pq")]),
]


def shown(reply: list[gr.ChatMessage]) -> list[tuple[str, ...]]:
    result = []
    for m in reply:
        content = m.content
        if not isinstance(content, str):
            value = content.get("value", content)
            content = "file:" + value["path"]
        title = m.metadata.get("title")
        result.append((m.role, content, title) if title else (m.role, content))
    return result


@pytest.mark.parametrize(("fn", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_return_and_yield_form(fn, expected):
    replies = list(stream_reply(GradioFunction(fn), "hi", HISTORY))
    assert shown(replies[-1]) == expected


def test_the_steps_of_a_generator_all_arrive():
    replies = list(stream_reply(GradioFunction(yields_thought_then_answer), "hi", []))
    assert [len(r) for r in replies] == [1, 1, 2]
    assert replies[0][0].metadata["status"] == "pending"
    assert replies[-1][0].metadata == {"title": "Thinking", "status": "done", "duration": 0.5}


def test_a_bad_return_says_what_is_wrong():
    with pytest.raises(gr.Error, match="chat function returned int"):
        list(stream_reply(GradioFunction(lambda m, h: 42), "hi", []))


# --- What a chat function receives --------------------------------------------------------------


def test_history_is_what_gradio_6_passes(make_app, tmp_path):
    seen: list[Any] = []

    def fn(message, history):
        seen.append((message, history))
        if len(seen) == 1:
            return [
                gr.ChatMessage(content="hmm", metadata={"title": "Thinking", "status": "done"}),
                {"role": "assistant", "content": "Hi there", "options": [{"value": "a", "label": "A"}]},
            ]
        return "again"

    app = gr.ChatInterface(fn, type="messages").app(settings_for(tmp_path))
    client = app.test_client()
    first = send(client, "hello")
    assert first.status_code == 200
    wait_for(lambda: not app.extensions["webchat"].store.running_turn(_conversation(app)))
    send(client, "more", conversation_id=_conversation(app))
    wait_for(lambda: len(seen) == 2)
    message, history = seen[1]
    assert message == "more"
    assert history == [
        {"role": "user", "metadata": None, "content": [{"text": "hello", "type": "text"}], "options": None},
        {
            "role": "assistant",
            "metadata": {"title": "Thinking", "status": "done"},
            "content": [{"text": "hmm", "type": "text"}],
            "options": None,
        },
        {
            "role": "assistant",
            "metadata": None,
            "content": [{"text": "Hi there", "type": "text"}],
            "options": [{"value": "a", "label": "A"}],
        },
    ]


def _conversation(app: Any) -> str:
    store = app.extensions["webchat"].store
    with store.engine.connect() as db:
        from sqlalchemy import select

        from webchat.store.schema import conversations

        return db.execute(select(conversations.c.id)).scalars().first()


def test_files_sent_with_a_message_are_one_message_files_first():
    png = {"path": "/srv/a.png", "url": "/files/x/a.png", "size": 3, "orig_name": "a.png"}
    stored = [
        {"role": "user", "content": {**png, "mime_type": "image/png"}, "metadata": {}, "options": []},
        {"role": "user", "content": "What is this?", "metadata": {}, "options": []},
        {"role": "assistant", "content": "A cat.", "metadata": {}, "options": []},
        {"role": "user", "content": "And now?", "metadata": {}, "options": []},
        {"role": "user", "content": "Hello?", "metadata": {}, "options": []},  # after a failed reply
    ]
    history = gradio_history(stored)
    assert [h["role"] for h in history] == ["user", "assistant", "user", "user"]
    assert [b["type"] for b in history[0]["content"]] == ["file", "text"]
    assert history[0]["content"][0] == {
        "file": {**png, "mime_type": "image/png"},
        "alt_text": None,
        "type": "file",
    }


def test_multimodal_message_is_text_and_file_paths(tmp_path):
    seen = []
    app = gr.ChatInterface(lambda m, h: seen.append(m) or "ok", multimodal=True).app(settings_for(tmp_path))
    client = app.test_client()
    response = send(client, "look")
    assert response.status_code == 200
    wait_for(lambda: seen)
    assert seen == [{"text": "look", "files": []}]


# --- Additional inputs ----------------------------------------------------------------------------


def additional_inputs_app(tmp_path: Path, seen: list[Any]) -> Any:
    def fn(message, history, system, temperature, count, flag, picks, mode, custom):
        seen.append((message, system, temperature, count, flag, picks, mode, custom))
        return "ok"

    return gr.ChatInterface(
        fn,
        type="messages",
        additional_inputs=[
            gr.Textbox("You are helpful.", label="System prompt"),
            gr.Slider(0, 2, value=0.7, step=0.1, label="Temperature"),
            gr.Number(3, precision=0, label="Count"),
            gr.Checkbox(label="Verbose"),
            gr.Dropdown(["red", "green", 3], multiselect=True, label="Colours"),
            gr.Radio(["fast", "slow"], type="index", label="Mode"),
            gr.Dropdown(["a", "b"], allow_custom_value=True, label="Custom"),
        ],
        additional_inputs_accordion="Settings",
        examples=[["Use the example", "Be brief.", 1.5, None, True]],
    ).app(settings_for(tmp_path))


def test_additional_inputs_arrive_in_order_with_gradios_types(tmp_path):
    seen: list[Any] = []
    client = additional_inputs_app(tmp_path, seen).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "<summary>Settings</summary>" in page
    fields = {
        "input-0": "Be terse.",
        "input-1": "1.3",
        "input-2": "4.6",
        "input-3-present": "1",
        "input-3": "true",
        "input-4": ["2", "0"],
        "input-5": "1",
        "input-6": "my own",
    }
    assert send(client, "hi", **fields).status_code == 200
    wait_for(lambda: seen)
    assert seen[0] == ("hi", "Be terse.", 1.3, 5, True, [3, "red"], 1, "my own")
    assert [type(v) for v in seen[0][2:5]] == [float, int, bool]


def test_an_untouched_checkbox_and_whole_numbers_come_as_gradio_sends_them(tmp_path):
    seen: list[Any] = []
    client = additional_inputs_app(tmp_path, seen).test_client()
    fields = {"input-1": "2", "input-2": "", "input-3-present": "1", "input-5": "0", "input-6": "b"}
    assert send(client, "hi", **fields).status_code == 200
    wait_for(lambda: seen)
    assert seen[0] == ("hi", "", 2, None, False, [], 0, "b")
    assert type(seen[0][2]) is int  # a whole number comes from the browser as JSON's 2, an int


def test_a_caller_without_a_form_gets_the_inputs_defaults(tmp_path):
    """The API for programs calls the chat function with message and history only."""
    seen: list[Any] = []
    chat_fn = additional_inputs_app(tmp_path, seen).extensions["webchat"].runner.chat_fn
    assert shown(list(stream_reply(chat_fn, "hi", []))[-1]) == [("assistant", "ok")]
    assert seen == [("hi", "You are helpful.", 0.7, 3, False, [], None, "a")]  # a Radio starts unset


def test_an_example_sets_its_additional_input_values(tmp_path):
    seen: list[Any] = []
    client = additional_inputs_app(tmp_path, seen).test_client()
    fields = {"example": "Use the example", "input-0": "typed", "input-1": "0.2", "input-5": "0"}
    assert send(client, "", **fields).status_code == 200
    wait_for(lambda: seen)
    assert seen[0][:5] == ("Use the example", "Be brief.", 1.5, None, True)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"input-1": "7"}, "Temperature: 7 is more than the maximum, 2."),
        ({"input-1": "-0.5"}, "Temperature: -0.5 is less than the minimum, 0."),
        ({"input-1": "warm"}, "Temperature: 'warm' is not a number."),
        ({"input-1": "nan"}, "Temperature: 'nan' is not a finite number."),
        ({"input-2": "1e999"}, "Count: '1e999' is not a finite number."),
        ({"input-4": ["9"]}, "Colours: that is not one of the choices."),
        ({"input-4": ["x"]}, "Colours: that is not one of the choices."),
        ({"input-5": "2"}, "Mode: that is not one of the choices."),
    ],
)
def test_bad_additional_input_values_are_refused_and_nothing_is_stored(tmp_path, fields, words):
    seen: list[Any] = []
    app = additional_inputs_app(tmp_path, seen)
    client = app.test_client()
    response = send(client, "keep me", **{"input-1": "1", **fields})
    assert response.status_code == 422
    assert words in html.unescape(response.get_data(as_text=True))
    assert _conversation(app) is None  # no conversation, no message: nothing half-done
    assert seen == []


def test_retry_and_edit_reuse_the_values_the_turn_started_with(tmp_path):
    seen: list[Any] = []
    app = additional_inputs_app(tmp_path, seen)
    client = app.test_client()
    send(client, "hi", **{"input-0": "first", "input-1": "0.4", "input-5": "1"})
    wait_for(lambda: seen)
    store = app.extensions["webchat"].store
    conversation_id = _conversation(app)
    turn = store.last_turn(conversation_id)
    wait_for(lambda: store.get_turn(turn.id).status == "done")
    response = client.post(
        f"/turns/{turn.id}/retry", data={"csrf_token": csrf(client)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    wait_for(lambda: len(seen) == 2)
    assert seen[1] == seen[0]
    retried = store.last_turn(conversation_id)
    wait_for(lambda: store.get_turn(retried.id).status == "done")
    [user] = store.turn_messages(retried.id, "input")
    response = client.post(
        f"/messages/{user.ref}/edit",
        data={"csrf_token": csrf(client), "text": "edited"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    wait_for(lambda: len(seen) == 3)
    assert seen[2] == ("edited", *seen[0][1:])


# --- Options, css, examples, buttons --------------------------------------------------------------


def test_option_buttons_send_their_value(tmp_path):
    seen: list[str] = []

    def chat(message, history):
        seen.append(message)
        if message == "Yes, that's correct.":
            return "Great!"
        return {
            "role": "assistant",
            "content": "Is this correct?",
            "options": [{"value": "Yes, that's correct.", "label": "Yes"}, {"value": "No"}],
        }

    app = gr.ChatInterface(chat, type="messages").app(settings_for(tmp_path))
    client = app.test_client()
    send(client, "Write a function")
    conversation_id = _conversation(app)
    store = app.extensions["webchat"].store
    wait_for(
        lambda: store.running_turn(conversation_id) is None and len(store.messages(conversation_id)) == 2
    )
    page = client.get(f"/c/{conversation_id}").get_data(as_text=True)
    assert re.search(
        r'<button type="submit" form="composer" name="option" value="Yes, that&#39;s correct\."'
        r' class="option">Yes</button>',
        page,
    )
    assert send(client, "", option="Yes, that's correct.", conversation_id=conversation_id).status_code == 200
    wait_for(lambda: len(seen) == 2)
    assert seen == ["Write a function", "Yes, that's correct."]


def test_css_is_served_as_a_stylesheet_and_labels_show(tmp_path):
    app = gr.ChatInterface(
        lambda m, h: "ok",
        css=".chat { letter-spacing: 1px; }",
        examples=["Hello there", "What now?"],
        example_labels=["Greet", "Ask"],
        submit_btn="Go",
        stop_btn=False,
        chatbot=gr.Chatbot(placeholder="**Ask me anything**"),
        textbox=gr.Textbox(placeholder="Your question"),
        title="Helper",
        description="A *helpful* bot",
        theme="ocean",
        fill_height=True,
        save_history=True,
        editable=True,
        flagging_mode="manual",
        concurrency_limit=2,
    ).app(settings_for(tmp_path))
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/interface.css">' in page
    css = client.get("/interface.css")
    assert css.mimetype == "text/css" and css.get_data(as_text=True) == ".chat { letter-spacing: 1px; }"
    assert 'value="Hello there" class="example">Greet</button>' in page
    assert '<button type="submit" class="send">Go</button>' in page
    assert 'placeholder="Your question"' in page
    assert "<strong>Ask me anything</strong>" in page
    assert "<h1>Helper</h1>" in page and "<em>helpful</em>" in page


def test_without_css_there_is_no_stylesheet_route(tmp_path):
    client = gr.ChatInterface(lambda m, h: "ok").app(settings_for(tmp_path)).test_client()
    assert "interface.css" not in client.get("/").get_data(as_text=True)
    assert client.get("/interface.css").status_code == 404


def test_concurrency_limit_makes_replies_wait_their_turn():
    running, most = [], []
    lock = threading.Lock()

    def slow(message, history):
        with lock:
            running.append(1)
            most.append(len(running))
        time.sleep(0.1)
        with lock:
            running.pop()
        return "done"

    fn = GradioFunction(slow, concurrency_limit=1)
    threads = [threading.Thread(target=lambda: list(stream_reply(fn, "x", []))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(most) == 1


def test_a_multimodal_examples_files_are_sent_with_it(tmp_path, monkeypatch):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "cat.png").write_bytes(gr_samples_png())
    monkeypatch.chdir(tmp_path)
    seen: list[Any] = []

    def echo(message, history):
        seen.append(message)
        return f"{message['text']} with {len(message['files'])} files"

    image = gr.get_image("cat.png")  # Gradio's demo media helper: found beside the program
    assert image == str((tmp_path / "files" / "cat.png").resolve())
    demo = gr.ChatInterface(
        echo, multimodal=True, examples=[{"text": "hello"}, {"text": "hola", "files": [image]}]
    )
    app = demo.app(settings_for(tmp_path))
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'value="hola"' in page and "+ 1 file" in page
    response = client.post(
        "/turns",
        data={"text": "", "example": "hola", "conversation_id": "", "csrf_token": csrf(client)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    stored = replies(app)
    assert stored[-1] == ("assistant", "hola with 1 files")
    cat = stored[0][1]
    assert cat["orig_name"] == "cat.png" and client.get(cat["url"]).data == gr_samples_png()
    assert Path(seen[0]["files"][0]).read_bytes() == gr_samples_png()
    (tmp_path / "files" / "cat.png").unlink()  # the message keeps a copy of its own
    assert client.get(cat["url"]).status_code == 200


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: gr.get_image("nowhere.png"), "ships none of Gradio's sample files"),
        (lambda: gr.get_audio(), "without a name is not supported"),
        (
            lambda: gr.ChatInterface(
                lambda m, h: m, examples=[{"text": "a", "files": ["/no/such.png"]}], multimodal=True
            ),
            "is not a file on this machine",
        ),
        (
            lambda: gr.ChatInterface(lambda m, h: m, examples=[{"text": "a", "files": [__file__]}]),
            "multimodal=True",
        ),
    ],
)
def test_bad_example_files_and_demo_media_fail_at_build_naming_them(build, words):
    with pytest.raises((ValueError, UnsupportedError), match=re.escape(words)):
        build()


def test_queue_default_concurrency_limit_is_the_limit_of_chats_without_their_own():
    gate, lock = threading.Event(), threading.Lock()
    running: list[int] = []

    def slow(message, history):
        with lock:
            running.append(1)
        gate.wait(60)
        return "done"

    assert gr.ChatInterface(slow).queue(default_concurrency_limit=2).concurrency_limit == 2
    assert (
        gr.ChatInterface(slow, concurrency_limit=3).queue(default_concurrency_limit=1).concurrency_limit == 3
    )
    assert gr.ChatInterface(slow).queue(default_concurrency_limit=None).concurrency_limit is None
    with gr.Blocks() as demo:
        chat = gr.ChatInterface(slow)
    demo.queue(default_concurrency_limit=2)  # after the chat was placed, as programs call it
    threads = [threading.Thread(target=lambda: list(stream_reply(chat.chat, "x", []))) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        wait_for(lambda: len(running) == 2)
        assert not chat.chat.slots.acquire(blocking=False)  # the third waits for a slot
    finally:
        gate.set()
        for t in threads:
            t.join(60)
    assert len(running) == 3


def test_a_listeners_own_concurrency_limit_limits_its_replies():
    from webchat.gradio.runtime import BlocksChat

    gate, running = threading.Event(), []

    def bot(message, history):
        running.append(message)
        gate.wait(60)
        return [*history, {"role": "user", "content": message}, {"role": "assistant", "content": "ok"}]

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        box = gr.Textbox()
        box.submit(bot, [box, chatbot], chatbot, concurrency_limit=1, show_progress="hidden")
    demo.queue(default_concurrency_limit=5)  # the listener's own limit comes first, as in Gradio
    demo.build()
    chat = BlocksChat(demo)
    threads = [
        threading.Thread(target=lambda n=n: list(chat(f"m{n}", [], "submit", f"owner{n}"))) for n in range(2)
    ]
    try:
        for t in threads:
            t.start()
        wait_for(lambda: len(running) == 1)
        assert not chat.slots["submit"].acquire(blocking=False)  # the other waits for the slot
    finally:
        gate.set()
        for t in threads:
            t.join(60)
    assert sorted(running) == ["m0", "m1"]


# --- Blocks ---------------------------------------------------------------------------------------


def blocks_client(demo: Any, tmp_path: Path) -> tuple[Any, Any]:
    app = demo.app(settings_for(tmp_path))
    return app, app.test_client()


def replies(app: Any, timeout: float = 10.0) -> list[tuple[str, Any]]:
    store = app.extensions["webchat"].store
    conversation_id = _conversation(app)
    wait_for(lambda: store.running_turn(conversation_id) is None, timeout)
    return [(m.message.role, m.message.content) for m in store.messages(conversation_id)]


def test_program_2_builds_a_chat_page(tmp_path):
    source = PROGRAM_2.replace("demo.launch()", "")
    demo = run_program(source)["demo"]
    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert 'id="composer-text"' in page and 'id="messages"' in page
    assert '<a class="gr-button button" href="/new">Clear</a>' in page
    assert send(client, "hi").status_code == 200
    assert replies(app) == [("user", "hi"), ("assistant", "Hello!")]


def test_a_then_chain_streams_and_state_is_kept(tmp_path):
    calls: list[Any] = []

    def user(message, history):
        return "", [*history, {"role": "user", "content": message}]

    def bot(history, count):
        calls.append(history[-1])
        history.append({"role": "assistant", "content": ""})
        for word in ["Hi", " you"]:
            history[-1]["content"] += word
            yield history, count + 1

    with gr.Blocks(title="Chain") as demo:
        gr.Markdown("# Chain")
        with gr.Row():
            chatbot = gr.Chatbot(type="messages")
        count = gr.State(0)
        msg = gr.Textbox(label="Say")
        msg.submit(user, [msg, chatbot], [msg, chatbot]).then(bot, [chatbot, count], [chatbot, count])

    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert "<h1>Chain</h1>" in page and '<div class="gr-row">' in page
    send(client, "one")
    assert replies(app)[-1] == ("assistant", "Hi you")
    send(client, "two", conversation_id=_conversation(app))
    assert replies(app)[-1] == ("assistant", "Hi you")
    # the bot got the user's message as Gradio 6 passes it (content blocks), and State counted on
    assert calls[0] == {
        "role": "user",
        "metadata": None,
        "content": [{"text": "one", "type": "text"}],
        "options": None,
    }
    chat = app.extensions["webchat"].runner.chat_fn
    assert list(chat.sessions.values.values()) == [{count.id: 2}]


def test_a_button_click_sends_with_the_inputs_of_the_layout(tmp_path):
    seen: list[Any] = []

    def answer(message, history, tone, shout):
        seen.append((message, tone, shout))
        return [*history, {"role": "assistant", "content": f"{tone}: {message}"}]

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        with gr.Column():
            tone = gr.Dropdown(["calm", "loud"], label="Tone")
            shout = gr.Checkbox(label="Shout")
        msg = gr.Textbox()
        button = gr.Button("Send it", variant="primary")
        button.click(answer, [msg, chatbot, tone, shout], chatbot)

    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    [event] = demo.events
    assert f'name="trigger" value="event:{event.index}"' in page
    response = send(client, "hi")  # Enter: this layout has no .submit()
    assert response.status_code == 422 and "Enter does not send here" in response.get_data(as_text=True)
    fields = {
        "trigger": f"click:{button.id}",
        tone.name: "1",
        f"{shout.name}-present": "1",
        shout.name: "true",
    }
    assert send(client, "hi", **fields).status_code == 200
    assert replies(app)[-1] == ("assistant", "loud: hi")
    assert seen == [("hi", "loud", True)]
    assert send(client, "hi", trigger="click:999999").status_code == 422


def test_like_handlers_get_gradios_like_data(tmp_path):
    liked: list[Any] = []

    def vote(data: gr.LikeData):
        liked.append((data.index, data.value, data.liked))

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        msg = gr.Textbox()
        msg.submit(lambda m, h: [*h, {"role": "assistant", "content": "liked?"}], [msg, chatbot], chatbot)
        chatbot.like(vote, None, None)

    app, client = blocks_client(demo, tmp_path)
    send(client, "hi")
    replies(app)
    store = app.extensions["webchat"].store
    reply = store.messages(_conversation(app))[-1]
    response = client.post(
        f"/messages/{reply.ref}/feedback",
        data={"csrf_token": csrf(client), "value": "dislike"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert liked == [(1, "liked?", False)]


# --- The Chatbot's own events: retry, undo, edit, clear, option_select, example_select, and unload ----

RETRY_UNDO_LIKE = Path(__file__).parent / "gradio_programs" / "chatbot_retry_undo_like.py"


def stored(app: Any) -> list[Any]:
    return [(r, c) for r, c in replies(app) if r != "system"]


def test_retry_handlers_stream_a_new_reply_from_gradios_retry_data(tmp_path):
    program = run_program(RETRY_UNDO_LIKE.read_text())
    demo = program["demo"]
    seen: list[Any] = []
    retry = program["handle_retry"]

    def handle_retry(history, retry_data: gr.RetryData):
        seen.append((retry_data.index, retry_data.value, [m["role"] for m in history]))
        yield from retry(history, retry_data)

    [event] = [e for e in demo.events if e.kind == "retry"]
    event.steps[0].fn = handle_retry
    app, client = blocks_client(demo, tmp_path)
    send(client, "hello")
    assert stored(app)[-1] == ("assistant", "Answer 1 to: hello ")
    store = app.extensions["webchat"].store
    turn = store.last_turn(_conversation(app))
    page = client.get(f"/c/{_conversation(app)}").get_data(as_text=True)
    assert f'action="/turns/{turn.id}/retry"' in page  # Retry runs the handlers as a streamed turn
    response = client.post(
        f"/turns/{turn.id}/retry", data={"csrf_token": csrf(client)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Answer 1" not in response.get_data(as_text=True)
    # The new reply is drawn live, or already ended (a fast handler on a busy machine): either way
    # it ends as the stored reply.
    retried = store.last_turn(_conversation(app))
    wait_for(lambda: store.get_turn(retried.id).status != "running")
    assert stored(app) == [("user", "hello"), ("assistant", "Answer 2 to: hello ")]
    # Gradio's RetryData: the user's message, at its place in the Chatbot's value.
    [(index, value, roles)] = seen
    assert index == 0 and value == [{"text": "hello", "type": "text"}] and roles == ["user"]


def test_undo_handlers_get_gradios_undo_data_and_set_the_chat_and_the_box(tmp_path):
    demo = run_program(RETRY_UNDO_LIKE.read_text())["demo"]
    app, client = blocks_client(demo, tmp_path)
    send(client, "first")
    replies(app)
    send(client, "second", conversation_id=_conversation(app))
    assert [c for _, c in stored(app)][-1] == "Answer 2 to: second "
    page = client.get(f"/c/{_conversation(app)}").get_data(as_text=True)
    assert 'hx-post="/events/undo"' in page and "/undo" not in page.replace("/events/undo", "")
    status, html = post_event(client, "undo", conversation_id=_conversation(app))
    assert status == 200
    assert stored(app) == [("user", "first"), ("assistant", "Answer 1 to: first ")]
    assert ">second</textarea>" in html and "You are a friendly" not in html  # the box has the text back
    assert 'id="messages" hx-swap-oob="innerHTML"' in html


def test_edit_in_place_runs_the_edit_handlers_and_the_chatbots_change_listeners(tmp_path):
    edits: list[Any] = []

    def edited(data: gr.EditData):
        edits.append((data.index, data.value, data.previous_value))
        return f"from {data.previous_value} to {data.value} at {data.index}"

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(editable="user")
        add = gr.Button("Add")
        joined = gr.Textbox(label="All")
        said = gr.Textbox(label="Edited")
        add.click(
            lambda h: [*h, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            chatbot,
            chatbot,
        )
        chatbot.change(lambda h: "|".join(m["content"][0]["text"] for m in h), chatbot, joined)
        chatbot.edit(edited, None, said)
    app, client = blocks_client(demo, tmp_path)
    post_event(client, 0)
    post_event(client, 0, conversation_id=_conversation(app))
    conversation = _conversation(app)
    store = app.extensions["webchat"].store
    messages = store.messages(conversation)
    page = client.get(f"/c/{conversation}").get_data(as_text=True)
    assert page.count('class="edit"') == 2  # user messages only (editable="user")
    form = client.get(f"/messages/{messages[2].ref}/edit", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert 'hx-post="/events/edit"' in form and ">Save<" in form
    status, html = post_event(
        client, "edit", conversation_id=conversation, message=messages[2].ref, text="hello"
    )
    assert status == 200 and edits == [(2, "hello", "hi")]
    assert [m.message.content for m in store.messages(conversation)] == ["hi", "yo", "hello", "yo"]
    assert "from hi to hello at 2" in html and "hi|yo|hello|yo" in html  # .edit, then .change
    # Bad input: said, and nothing changes.
    for fields, words in [
        ({"message": messages[0].ref, "text": " "}, "empty"),
        ({"message": "nope"}, "out of date"),
    ]:
        status, html = post_event(client, "edit", conversation_id=conversation, **fields)
        assert words in html and len(edits) == 1
    assert [m.message.content for m in store.messages(conversation)] == ["hi", "yo", "hello", "yo"]


def test_an_editable_all_chatbot_edits_replies_in_place(tmp_path):
    edits: list[Any] = []

    def edited(data: gr.EditData):
        edits.append((data.index, data.value, data.previous_value))

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(editable="all")
        add = gr.Button("Add")
        add.click(
            lambda h: [*h, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            chatbot,
            chatbot,
        )
        chatbot.edit(edited, None, None)
    app, client = blocks_client(demo, tmp_path)
    post_event(client, 0)
    conversation = _conversation(app)
    store = app.extensions["webchat"].store
    reply = store.messages(conversation)[1]
    page = client.get(f"/c/{conversation}").get_data(as_text=True)
    assert page.count('class="edit') == 2  # the message and the reply (editable="all")
    form = client.get(f"/messages/{reply.ref}/edit", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Edit the reply" in form and 'hx-post="/events/edit"' in form
    status, _ = post_event(client, "edit", conversation_id=conversation, message=reply.ref, text="hey")
    assert status == 200 and edits == [(1, "hey", "yo")]
    assert [m.message.content for m in store.messages(conversation)] == ["hi", "hey"]


def test_an_editable_user_chatbot_offers_no_edit_of_replies(tmp_path):
    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(editable="user")
        gr.Button("Add").click(
            lambda h: [*h, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            chatbot,
            chatbot,
        )
    app, client = blocks_client(demo, tmp_path)
    post_event(client, 0)
    reply = app.extensions["webchat"].store.messages(_conversation(app))[1]
    assert client.get(f"/messages/{reply.ref}/edit", headers={"HX-Request": "true"}).status_code == 404


def echo_markup(message, history):
    return "**bold** and $x^2$"


@pytest.mark.parametrize(
    ("options", "present", "absent"),
    [
        (
            {},
            ["<strong>bold</strong>", "<math", 'data-copy aria-label="Copy reply"'],
            ["Copy chat", "ungrouped"],
        ),
        ({"render_markdown": False}, ["**bold** and $x^2$"], ["<strong>", "<math"]),
        ({"latex_delimiters": []}, ["<strong>bold</strong>", "$x^2$"], ["<math"]),
        ({"latex_delimiters": [{"left": "$", "right": "$", "display": False}]}, ["<math"], []),
        ({"show_copy_button": False}, [], ["data-copy aria-label"]),
        ({"buttons": ["copy_all"]}, ["Copy chat"], ["data-copy aria-label"]),
        ({"buttons": ["copy", "copy_all"]}, ["Copy chat", 'data-copy aria-label="Copy reply"'], []),
        ({"group_consecutive_messages": False}, ['class="messages ungrouped"'], []),
    ],
)
def test_chatbot_display_options(tmp_path, options, present, absent):
    demo = gr.ChatInterface(echo_markup, chatbot=gr.Chatbot(**options))
    app = demo.app(settings_for(tmp_path))
    client = app.test_client()
    send(client, "hi")
    replies(app)
    page = client.get(f"/c/{_conversation(app)}").get_data(as_text=True)
    for text in present:
        assert text in page, text
    for text in absent:
        assert text not in page, text


def test_feedback_options_leave_out_buttons_and_name_the_option_chosen(tmp_path):
    heard: list[Any] = []

    def vote(data: gr.LikeData):
        heard.append((data.index, data.liked))

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(feedback_options=("Like", "Spam", "Wrong"))
        box = gr.Textbox()
        box.submit(
            lambda m, h: [*h, {"role": "user", "content": m}, {"role": "assistant", "content": "ok"}],
            [box, chatbot],
            chatbot,
        )
        chatbot.like(vote, None, None)
    app, client = blocks_client(demo, tmp_path)
    send(client, "hi", trigger="submit")
    replies(app)
    conversation = _conversation(app)
    store = app.extensions["webchat"].store
    reply = store.messages(conversation)[-1]
    page = client.get(f"/c/{conversation}").get_data(as_text=True)
    assert 'value="like"' in page and 'value="dislike"' not in page
    assert 'value="Spam"' in page and 'value="Wrong"' in page
    token = csrf(client)
    answer = client.post(
        f"/messages/{reply.ref}/feedback",
        data={"csrf_token": token, "value": "Spam"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200 and heard == [(1, "Spam")]
    assert store.get_message(conversation, reply.id).feedback == -1  # kept as a dislike
    bad = client.post(
        f"/messages/{reply.ref}/feedback",
        data={"csrf_token": token, "value": "Nope"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400 and "like, Spam, Wrong" in bad.get_data(as_text=True)
    assert len(heard) == 1


def test_options_examples_and_clear_run_the_chatbots_handlers(tmp_path):
    chosen: list[Any] = []

    def answer(history):
        return [
            *history,
            {"role": "assistant", "content": "Pick", "options": [{"value": "A"}, {"value": "B"}]},
        ]

    def pick(history, data: gr.SelectData):
        chosen.append((data.index, data.value))
        return [*history, {"role": "user", "content": f"picked {data.value}"}]

    def example(data: gr.SelectData, history):
        chosen.append((data.index, data.value))
        return [*history, {"role": "user", "content": data.value["text"]}]

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot(
            examples=[{"text": "Hi"}, {"text": "Tell me", "display_text": "Tell"}],
            placeholder='<h1 style="color: #FFF" onclick="x()">Welcome</h1>',
        )
        note = gr.Markdown("full")
        chatbot.example_select(example, chatbot, chatbot).then(answer, chatbot, chatbot)
        chatbot.option_select(pick, chatbot, chatbot)
        chatbot.clear(lambda: "emptied", None, note)
    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert 'hx-post="/events/example_select"' in page and ">Tell</button>" in page
    assert "<h1>Welcome</h1>" in page  # a placeholder's HTML, sanitised as gr.HTML is (Gradio shows it)
    status, html = post_event(client, "example_select", example="1")
    assert status == 200 and chosen == [(1, {"text": "Tell me", "files": []})]
    conversation = _conversation(app)
    page = client.get(f"/c/{conversation}").get_data(as_text=True)
    assert 'hx-post="/events/option_select"' in page and 'hx-vals=\'{"option": 1, "value": "B"}\'' in page
    post_event(client, "option_select", conversation_id=conversation, option="1", value="B")
    assert chosen[-1] == (1, "B")
    assert [c for _, c in stored(app)] == ["Tell me", "Pick", "picked B"]
    for option, value in [("5", "B"), ("0", "B"), ("x", "A")]:
        html = post_event(client, "option_select", conversation_id=conversation, option=option, value=value)[
            1
        ]
        assert "out of date" in html and len(chosen) == 2
    status, html = post_event(client, "clear", conversation_id=conversation)
    assert stored(app) == [] and "emptied" in html


def test_unload_handlers_run_when_the_page_is_left(tmp_path):
    left: list[int] = []
    with gr.Blocks() as demo:
        gr.Chatbot()
        demo.unload(lambda: left.append(1))
    _, client = blocks_client(demo, tmp_path)
    assert 'data-unload="/events/unload"' in client.get("/").get_data(as_text=True)
    assert post_event(client, "unload")[0] == 200 and left == [1]


# --- What is not supported fails while the program builds, saying what ------------------------------


UNSUPPORTED = [
    (
        "gr.Dataframe",
        "with gr.Blocks():\n    gr.Chatbot()\n    gr.Dataframe()",
        "gr.Dataframe is not supported",
    ),
    ("a key_up event", "with gr.Blocks():\n    gr.Textbox().key_up(print)", "gr.Textbox.key_up() is not"),
    (
        "two Chatbots",
        "with gr.Blocks():\n    gr.Chatbot()\n    gr.Chatbot()",
        "one conversation per page",
    ),
    ("Blocks(js=)", "gr.Blocks(js='alert(1)')", "no inline scripts"),
    ("gr.Request", "request_type = gr.Request", "gr.Request is not supported"),
    (
        "additional_outputs",
        "gr.ChatInterface(print, additional_outputs=[gr.Textbox()])",
        "additional_outputs",
    ),
    ("a Code input", "gr.ChatInterface(print, additional_inputs=['code'])", "additional input 'code' is not"),
    ("nested Blocks", "with gr.Blocks():\n    with gr.Blocks():\n        pass", "inside another gr.Blocks"),
    ("a callable value", "gr.Textbox(value=lambda: 'x')", "value=<function>) is not supported"),
    ("gr.Chatbot(value=<function>)", "gr.Chatbot(value=lambda: [])", "value=<function>) is not supported"),
]


@pytest.mark.parametrize(("source", "words"), [u[1:] for u in UNSUPPORTED], ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_parts_fail_at_build_time_naming_them(source, words):
    with pytest.raises(UnsupportedError, match=re.escape(words)):
        run_program("import webchat as gr\n" + source)


def test_a_tuples_chatbot_and_share_links_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="'messages' format only"):
        gr.ChatInterface(print, type="tuples")
    with pytest.raises(ValueError, match="'messages' format only"):
        gr.Chatbot(type="tuples")
    with pytest.raises(UnsupportedError, match="no tunnels"):
        gr.ChatInterface(print).launch(share=True)
    with pytest.raises(UnsupportedError, match="reverse proxy"):
        gr.ChatInterface(print).launch(ssl_keyfile="key.pem")
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        gr.ChatInterface(print).launch(colour="red")


def test_root_path_serves_under_a_prefix(tmp_path):
    app = gr.ChatInterface(lambda m, h: "ok").app(settings_for(tmp_path))
    app.wsgi_app = PrefixMiddleware(app.wsgi_app, "/chat/")
    client = app.test_client()
    page = client.get("/chat/").get_data(as_text=True)
    assert 'action="/chat/turns"' in page and 'href="/chat/static/css/app.css"' in page


def test_auth_pairs_become_logins():
    from webchat.gradio.launch import _auth_pairs

    assert _auth_pairs(("ann", "pw")) == ("ann:pw",)
    assert _auth_pairs([("ann", "pw"), ("bob", "x:y")]) == ("ann:pw", "bob:x:y")
    with pytest.raises(UnsupportedError, match="give \\(user, password\\) pairs"):
        _auth_pairs(lambda user, password: True)
    with pytest.raises(ValueError, match="cannot contain ':'"):
        _auth_pairs(("a:b", "pw"))


# --- Gradio's names that programs use: themes, event data, OAuth, load_chat, its launch variables ---

# Gradio's guide "Creating a Custom Chatbot with Blocks" (gradio.app/guides, Apache-2.0), with
# its import changed: the Clear button is a plain gr.Button whose handler empties the Chatbot.
CLEAR_IDIOM = """
import webchat as gr
import random
import time

with gr.Blocks(theme=gr.themes.Soft(primary_hue=gr.themes.colors.blue)) as demo:
    chatbot = gr.Chatbot(type="messages")
    msg = gr.Textbox()
    clear = gr.Button("Clear")

    def respond(message, chat_history):
        bot_message = random.choice(["How are you?", "Today is a great day", "I'm very hungry"])
        chat_history.append({"role": "user", "content": message})
        chat_history.append({"role": "assistant", "content": bot_message})
        time.sleep(2)
        return "", chat_history

    msg.submit(respond, [msg, chatbot], [msg, chatbot])
    clear.click(lambda: None, None, chatbot, queue=False)

if __name__ == "__main__":
    demo.launch()
"""
BOT_MESSAGES = ("How are you?", "Today is a great day", "I'm very hungry")


def test_a_chatbot_with_initial_messages_starts_every_conversation_with_them(tmp_path):
    seen: list[Any] = []

    def answer(message, history):
        seen.append(history)
        return f"You said {message}"

    greeting = [{"role": "assistant", "content": "Hi! Ask me **anything**."}]
    demo = gr.ChatInterface(answer, chatbot=gr.Chatbot(value=greeting, type="messages"))
    app = demo.app(settings_for(tmp_path))
    client = app.test_client()
    empty = client.get("/new").get_data(as_text=True)
    assert '<div class="reply greeting">' in empty and "Ask me <strong>anything</strong>." in empty
    assert send(client, "hello").status_code == 200
    stored = replies(app)
    assert stored == [
        ("assistant", "Hi! Ask me **anything**."),
        ("user", "hello"),
        ("assistant", "You said hello"),
    ]
    assert [m["role"] for m in seen[0]] == ["assistant"]  # the history starts with the greeting
    with pytest.raises(ValueError, match="messages format"):
        gr.Chatbot(value=[("hi", "there")])


def test_reasoning_tags_make_the_tagged_passages_thoughts(tmp_path):
    def respond(message, history):
        text = ""
        for piece in [
            "<thinking>Let me ",
            "analyse this.</thinking>\n\nThe answer.",
            "\n\n<thinking>Edge",
            " cases.</thinking>\n\nMore.",
        ]:
            text += piece
            yield text

    chatbot = gr.Chatbot(reasoning_tags=[("<thinking>", "</thinking>")], type="messages")
    app = gr.ChatInterface(respond, chatbot=chatbot).app(settings_for(tmp_path))
    client = app.test_client()
    assert send(client, "why?").status_code == 200
    wait_for(lambda: app.extensions["webchat"].store.running_turn(_conversation(app)) is None)
    stored = app.extensions["webchat"].store.messages(_conversation(app))
    shown_reply = [
        (m.message.content, m.message.metadata.get("title"), m.message.metadata.get("status"))
        for m in stored[1:]
    ]
    assert shown_reply == [
        ("Let me analyse this.", "Reasoning", "done"),
        ("The answer.", None, None),
        ("Edge cases.", "Reasoning", "done"),
        ("More.", None, None),
    ]
    page = client.get(f"/c/{_conversation(app)}").get_data(as_text=True)
    assert "&lt;thinking&gt;" not in page and page.count('<details class="thought"') == 2
    half = list(
        GradioFunction(lambda m, h: "<thinking>still going", reasoning_tags=[("<thinking>", "</thinking>")])(
            "q", []
        )
    )
    assert [(m.content, m.metadata) for m in half[0]] == [
        ("still going", {"title": "Reasoning", "status": "pending"})
    ]
    with pytest.raises(ValueError, match="pairs of strings"):
        gr.Chatbot(reasoning_tags=["<thinking>"])


# Gradio's demo/chatbot_multimodal/run.py (Apache-2.0), its import changed (and its first comment
# wrapped): a MultimodalTextbox in Blocks.
MULTIMODAL_BLOCKS = """
import webchat as gr
import time

# Chatbot demo with multimodal input (text, markdown, LaTeX, code blocks, image, audio, & video).
# Plus shows support for streaming text.


def print_like_dislike(x: gr.LikeData):
    print(x.index, x.value, x.liked)


def add_message(history, message):
    user_msg = {"role": "user", "content": []}
    for x in message["files"]:  # type: ignore
        user_msg["content"].append({"path": x})  # type: ignore
    if message["text"] is not None:  # type: ignore
       user_msg["content"].append(message["text"])  # type: ignore
    history.append(user_msg)
    return history, gr.MultimodalTextbox(value=None, interactive=False)


def bot(history: list):
    response = "**That's cool!**"
    history.append({"role": "assistant", "content": ""})
    for character in response:
        history[-1]["content"] += character
        time.sleep(0.05)
        yield history


with gr.Blocks() as demo:
    chatbot = gr.Chatbot(elem_id="chatbot", like_user_message=True)

    chat_input = gr.MultimodalTextbox(
        interactive=True,
        file_count="multiple",
        placeholder="Enter message or upload file...",
        show_label=False,
        sources=["microphone", "upload"],
    )

    chat_msg = chat_input.submit(
        add_message, [chatbot, chat_input], [chatbot, chat_input]
    )
    bot_msg = chat_msg.then(bot, chatbot, chatbot, api_name="bot_response")
    bot_msg.then(lambda: gr.MultimodalTextbox(interactive=True), None, [chat_input])

    chatbot.like(print_like_dislike, None, None)

if __name__ == "__main__":
    demo.launch()
"""


def test_a_multimodal_textbox_in_blocks_takes_files(tmp_path):
    import io

    demo = run_program(MULTIMODAL_BLOCKS)["demo"]
    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert 'id="composer-file-input"' in page and 'enctype="multipart/form-data"' in page
    image = gr_samples_png()
    data = {
        "text": "look",
        "csrf_token": csrf(client),
        "conversation_id": "",
        "files": (io.BytesIO(image), "dot.png"),
    }
    sent = client.post(
        "/turns", data=data, headers={"HX-Request": "true"}, content_type="multipart/form-data"
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    stored = replies(app)
    kinds = [
        (role, content if isinstance(content, str) else content.get("mime_type")) for role, content in stored
    ]
    assert kinds == [("user", "image/png"), ("user", "look"), ("assistant", "**That's cool!**")]


def gr_samples_png() -> bytes:
    import samples

    return samples.png()


def test_gradios_names_for_themes_and_event_data_exist():
    theme = gr.themes.Soft(primary_hue="blue", font=[gr.themes.GoogleFont("Inter"), "sans-serif"])
    assert theme.set(button_primary_background_fill="*primary_500") is theme
    for name in ("Base", "Default", "Glass", "Monochrome", "Ocean", "Origin", "Citrus"):
        getattr(gr.themes, name)()
    assert gr.UndoData(index=1, value="x").index == 1 and gr.RetryData(0, "y").value == "y"
    assert gr.EditData(2, "new", "old").previous_value == "old" and gr.SelectData(0, "v").selected
    assert gr.validate(False, "Too short") == {
        "__type__": "validate",
        "is_valid": False,
        "message": "Too short",
    }
    message: gr.MessageDict = {"role": "user", "content": "hi"}
    assert message["role"] == "user"


def test_an_oauth_parameter_gets_none_as_for_a_visitor_not_signed_in():
    def greet(message, history, profile: gr.OAuthProfile | None, token: gr.OAuthToken | None):
        return f"{message}: {profile} {token}"

    assert list(GradioFunction(greet)("hi", [])) == ["hi: None None"]


def test_gradios_clear_idiom_starts_a_new_chat(tmp_path):
    demo = run_program(CLEAR_IDIOM)["demo"]
    app, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert '<a class="gr-button button" href="/new">Clear</a>' in page  # not a button that sends
    assert 'value="click:' not in page
    assert send(client, "hi").status_code == 200
    (_, asked), (_, answer) = replies(app)
    assert asked == "hi" and answer in BOT_MESSAGES


def test_launch_honours_gradios_server_variables(monkeypatch, tmp_path):
    from webchat.gradio import launch as launching

    served: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(launching, "serve", lambda app, host, port: served.append((app, host, port)))
    monkeypatch.setenv("WEBCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEBCHAT_SECRET_KEY", "test")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    monkeypatch.setenv("GRADIO_ROOT_PATH", "/chat")
    gr.ChatInterface(lambda m, h: "ok").launch()
    app, host, port = served[-1]
    assert (host, port) == ("0.0.0.0", 7861)
    assert 'action="/chat/turns"' in app.test_client().get("/chat/").get_data(as_text=True)
    gr.ChatInterface(lambda m, h: "ok").launch(server_port=9000)  # launch()'s own argument first
    assert served[-1][2] == 9000
    monkeypatch.setenv("GRADIO_MAX_FILE_SIZE", "5mb")
    gr.ChatInterface(lambda m, h: "ok").launch()
    assert served[-1][0].extensions["webchat"].settings.max_file_size == 5 * 1024**2
    gr.ChatInterface(lambda m, h: "ok").launch(max_file_size=1000)  # launch()'s own argument first
    assert served[-1][0].extensions["webchat"].settings.max_file_size == 1000
    monkeypatch.setenv("GRADIO_MAX_FILE_SIZE", "lots")
    with pytest.raises(ValueError, match="max_file_size must be a number of bytes or like '5mb'"):
        gr.ChatInterface(lambda m, h: "ok").launch()
    monkeypatch.delenv("GRADIO_MAX_FILE_SIZE")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "seventy")
    with pytest.raises(ValueError, match="GRADIO_SERVER_PORT must be a port number"):
        gr.ChatInterface(lambda m, h: "ok").launch()


def test_format_conversation_gives_chat_completions_messages(tmp_path):
    picture = tmp_path / "cat.png"
    picture.write_bytes(gr_samples_png())
    notes = tmp_path / "notes.txt"
    notes.write_text("plain notes")
    history = [
        {
            "role": "user",
            "content": [{"type": "file", "file": {"path": str(picture)}}, {"type": "text", "text": "hi"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "thinking"}],
            "metadata": {"title": "Thought"},
        },
        {"role": "assistant", "content": [{"type": "text", "text": "yo"}]},
    ]
    messages = gr.external.format_conversation(history, {"text": "and this?", "files": [str(notes)]})
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]  # the thought left out
    first, _, last = messages
    assert first["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert first["content"][1] == {"type": "text", "text": "hi"}
    assert "notes.txt" in last["content"] and last["content"].endswith("and this?")  # text: one string
    assert gr.external.format_conversation([], "plain")[-1] == {"role": "user", "content": "plain"}


@pytest.mark.model
def test_load_chat_talks_to_an_openai_compatible_server(tmp_path, default_gguf):
    from webchat.backends.local import LlamaServer

    with LlamaServer(default_gguf, parallel=1) as llama:
        demo = gr.load_chat(llama.base_url, model="smollm2", token=None, title="Local model")
        app = demo.app(settings_for(tmp_path, max_tokens=16))
        client = app.test_client()
        assert "<title>Local model" in client.get("/").get_data(as_text=True)
        assert send(client, "Say hello.").status_code == 200
        (_, asked), *answer = replies(app, timeout=120)  # a model on a busy machine
    assert asked == "Say hello." and answer and answer[-1][1].strip()
    assert "error" not in answer[-1][1].lower()


@pytest.mark.browser
def test_gradios_clear_idiom_in_chromium(tmp_path, watched):
    from playwright.sync_api import expect

    server, url = serve(run_program(CLEAR_IDIOM)["demo"].app(settings_for(tmp_path)))
    try:
        watched.goto(url)
        answered = re.compile("|".join(re.escape(m) for m in BOT_MESSAGES))
        type_and_send(watched, "hi")
        expect(watched.locator(".msg.assistant")).to_have_text(answered, timeout=30_000)
        expect(watched.locator(".reply").last).not_to_have_class(re.compile("streaming"), timeout=30_000)
        watched.get_by_role("link", name="Clear").click()
        expect(watched.locator(".msg")).to_have_count(0)
        type_and_send(watched, "after clearing")
        expect(watched.locator(".msg.assistant")).to_have_text(answered, timeout=30_000)
        # ended (its socket closed) before the server stops: a socket cut off logs an error
        expect(watched.locator(".reply").last).not_to_have_class(re.compile("streaming"), timeout=30_000)
    finally:
        server.shutdown()


@pytest.mark.browser
def test_outputs_change_while_a_reply_streams_in_chromium(tmp_path, watched):
    """Gradio's multimodal chatbot pattern: the message box is made non-interactive while the
    reply streams, and another output follows the reply, each yield drawn as it comes (on the
    reply's socket), not only at its end. The reply waits on a gate, so nothing races."""
    from playwright.sync_api import expect

    gate = threading.Event()

    def add_message(history, message):
        history.append({"role": "user", "content": message["text"]})
        return history, gr.MultimodalTextbox(value=None, interactive=False), "Thinking"

    def bot(history):
        history.append({"role": "assistant", "content": "first"})
        yield history, "Half way"
        gate.wait(120)
        history[-1]["content"] += " second"
        yield history, "Done"

    with gr.Blocks() as demo:
        status = gr.Markdown("Idle")
        chatbot = gr.Chatbot()
        box = gr.MultimodalTextbox(interactive=True)
        sent = box.submit(add_message, [chatbot, box], [chatbot, box, status])
        answered = sent.then(bot, chatbot, [chatbot, status])
        answered.then(lambda: gr.MultimodalTextbox(interactive=True), None, [box])
    server, url = serve(demo.app(settings_for(tmp_path)))
    try:
        watched.goto(url)
        type_and_send(watched, "hi")
        shown = watched.locator(f"#gr-{status.id}")
        expect(watched.locator(".msg.assistant")).to_have_text("first", timeout=30_000)
        expect(shown).to_have_text("Half way", timeout=30_000)
        expect(watched.locator("#composer-text")).to_be_disabled()
        expect(watched.locator(".reply.streaming")).to_have_count(1)  # still streaming: the gate holds
        gate.set()
        expect(watched.locator(".msg.assistant")).to_have_text("first second", timeout=30_000)
        expect(shown).to_have_text("Done", timeout=30_000)
        expect(watched.locator("#composer-text")).to_be_enabled(timeout=30_000)
        type_and_send(watched, "again")  # the box works again
        expect(watched.locator(".msg.user")).to_have_count(2, timeout=30_000)
        expect(watched.locator(".reply.streaming")).to_have_count(0, timeout=30_000)
    finally:
        gate.set()
        server.shutdown()


def yielding_blocks(gate: threading.Event) -> tuple[Any, Any, Any]:
    """A button whose handler yields progress into a Textbox (held at a gate after the first
    value), then puts a message in the Chatbot."""

    def count():
        yield "one"
        gate.wait(120)
        yield "two"

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        progress = gr.Textbox(label="Progress")
        go = gr.Button("Go")
        go.click(count, None, progress).then(
            lambda h: [*h, {"role": "assistant", "content": "finished"}], chatbot, chatbot
        )
    return demo, progress, go


def start_event_run(url: str) -> tuple[Any, Any, str]:
    """A new page posts event 0 (whose handlers yield): the page, the answer, its run's socket URL."""
    from webclient import WS_URL, PageClient

    page = PageClient(url)
    page.get("/")
    answer = page.request("POST", "/events/0", {"csrf_token": page.csrf}, {"HX-Request": "true"})
    return page, answer, WS_URL.search(answer.text).group(1).replace("&amp;", "&")


def test_a_page_event_that_yields_streams_its_values_on_a_socket(tmp_path):
    from webclient import PageClient, frames_until_close

    gate = threading.Event()
    demo, _, _ = yielding_blocks(gate)
    app = demo.app(settings_for(tmp_path))
    server, url = serve(app)
    try:
        page, answer, ws_url = start_event_run(url)
        assert answer.status == 200 and "beforeend:#gr-streams" in answer.text
        stranger = PageClient(url)
        stranger.get("/")
        with stranger.socket(ws_url, origin=url) as ws:  # another session's run: nothing, then closed
            assert [f["swap"] for f in frames_until_close(ws, timeout=60)] == ["outerHTML"]
        with page.socket(ws_url, origin=url) as ws:
            first = json.loads(ws.recv(timeout=60))
            assert 'value="one"' in first["content"] and first["swap"] == "none"
            gate.set()
            rest = frames_until_close(ws, timeout=60)
        contents = "".join(f["content"] for f in rest)
        assert 'value="two"' in contents and "finished" in contents  # the Chatbot, stored at the end
        assert rest[-1] == {"content": "<span hidden></span>", "swap": "outerHTML"}
        store = app.extensions["webchat"].store
        assert [m.message.content for m in store.messages(_conversation(app))] == ["finished"]
        with page.socket(ws_url, origin=url) as ws:  # the run is over: nothing more
            assert len(frames_until_close(ws, timeout=60)) == 1
    finally:
        gate.set()
        server.shutdown()


def test_a_page_event_that_yields_to_the_chatbot_draws_its_messages_as_they_come(tmp_path):
    """Gradio's tool-use demos: a button whose handler yields the Chatbot step by step."""
    from webclient import frames_until_close

    gate = threading.Event()

    def steps(history):
        history = [*history, {"role": "assistant", "content": "step one", "metadata": {"title": "Tool"}}]
        yield history
        gate.wait(120)
        yield [*history, {"role": "assistant", "content": "the answer"}]

    with gr.Blocks() as demo:
        chatbot = gr.Chatbot()
        gr.Button("Go").click(steps, chatbot, chatbot)
    app = demo.app(settings_for(tmp_path))
    server, url = serve(app)
    try:
        page, _, ws_url = start_event_run(url)
        with page.socket(ws_url, origin=url) as ws:
            first = json.loads(ws.recv(timeout=60))
            assert (
                'id="messages" hx-swap-oob="innerHTML"' in first["content"] and "step one" in first["content"]
            )
            assert "the answer" not in first["content"] and "New chat from here" not in first["content"]
            assert conversations_stored(app) == 0  # drawn, not stored yet
            gate.set()
            rest = frames_until_close(ws, timeout=60)
        assert "the answer" in "".join(f["content"] for f in rest)
        stored = app.extensions["webchat"].store.messages(_conversation(app))
        assert [m.message.content for m in stored] == ["step one", "the answer"]
    finally:
        gate.set()
        server.shutdown()


def conversations_stored(app: Any) -> int:
    from sqlalchemy import text

    with app.extensions["webchat"].store.engine.connect() as db:
        return db.execute(text("SELECT count(*) FROM conversations")).scalar()


@pytest.mark.browser
def test_a_page_event_that_yields_draws_each_value_in_chromium(tmp_path, watched):
    from playwright.sync_api import expect

    gate = threading.Event()
    demo, progress, _ = yielding_blocks(gate)
    server, url = serve(demo.app(settings_for(tmp_path)))
    try:
        watched.goto(url)
        watched.get_by_role("button", name="Go").click()
        box = watched.locator(f"#gr-{progress.id} textarea, #gr-{progress.id} input")
        expect(box).to_have_value("one", timeout=30_000)
        gate.set()
        expect(box).to_have_value("two", timeout=30_000)
        expect(watched.locator(".msg.assistant")).to_have_text("finished", timeout=30_000)
        expect(watched.locator("#gr-streams [hx-ws\\:connect]")).to_have_count(0, timeout=30_000)
        watched.reload()
        expect(watched.locator(".msg.assistant")).to_have_text("finished")  # stored
    finally:
        gate.set()
        server.shutdown()


# --- The three programs in Chromium --------------------------------------------------------------


def type_and_send(page: Any, text: str) -> None:
    # After a navigation (Clear is a link to /new) Enter sends only once the page's scripts ran:
    # on a busy machine they can come well after the box is there.
    page.wait_for_load_state("domcontentloaded")
    box = page.locator("#composer-text")
    box.fill(text)
    box.press("Enter")


@pytest.mark.browser
def test_program_1_in_chromium(tmp_path, watched):
    from playwright.sync_api import expect

    chat_function = run_program(PROGRAM_1)["chat_function"]
    server, url = serve(gr.ChatInterface(chat_function, type="messages").app(settings_for(tmp_path)))
    try:
        watched.goto(url)
        type_and_send(watched, "Hi!")
        expect(watched.locator(".msg.assistant")).to_have_text("Hello, how can I help you?")
        type_and_send(watched, "And again")
        expect(watched.locator(".msg.assistant")).to_have_count(2)
        expect(watched.locator(".msg.user")).to_have_count(2)  # the returned history is not repeated
    finally:
        server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_program_2_in_chromium(tmp_path, watched):
    """The program exactly as written, in its own process: demo.launch() serves the page."""
    from playwright.sync_api import expect

    program = tmp_path / "program2.py"
    program.write_text(textwrap.dedent(PROGRAM_2))
    port = free_port()
    env = {
        **os.environ,
        "WEBCHAT_PORT": str(port),
        "WEBCHAT_DATA_DIR": str(tmp_path / "data"),
        "WEBCHAT_SECRET_KEY": "test-secret",
    }
    proc = subprocess.Popen([sys.executable, str(program)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        said = [proc.stderr.readline() for _ in range(1)]
        while "webchat is running at" not in said[-1]:
            assert said[-1], f"the program ended: {''.join(said)}"
            said.append(proc.stderr.readline())
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe from filling
        watched.goto(f"http://127.0.0.1:{port}/")
        type_and_send(watched, "hi")
        expect(watched.locator(".msg.assistant")).to_have_text("Hello!")
        type_and_send(watched, "hi again")
        expect(watched.locator(".msg.assistant")).to_have_count(2)
        watched.get_by_role("link", name="Clear").click()
        expect(watched.locator(".msg")).to_have_count(0)
        expect(watched.locator("#composer-text")).to_have_value("")
        type_and_send(watched, "after clearing")
        expect(watched.locator(".msg.assistant")).to_have_text("Hello!")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.browser
def test_additional_inputs_in_chromium(tmp_path, watched):
    from playwright.sync_api import expect

    seen: list[Any] = []
    server, url = serve(additional_inputs_app(tmp_path, seen))
    try:
        watched.goto(url)
        watched.get_by_text("Settings").click()
        watched.get_by_label("System prompt").fill("Be kind.")
        watched.get_by_label("Temperature").fill("1.2")
        expect(watched.locator("output.gr-value")).to_have_text("1.2")
        watched.get_by_label("Verbose").check()
        watched.get_by_label("Colours").select_option(["green", "3"])
        watched.get_by_label("slow").check()
        watched.get_by_label("Count").fill("")  # an empty Number is None, as in Gradio
        type_and_send(watched, "hello")
        expect(watched.locator(".msg.assistant")).to_have_text("ok")
        assert seen == [("hello", "Be kind.", 1.2, None, True, ["green", 3], 1, "a")]
        watched.get_by_label("Temperature").fill("0")
        type_and_send(watched, "again")
        expect(watched.locator(".msg.assistant")).to_have_count(2)
        assert seen[1][2] == 0
    finally:
        server.shutdown()


class HubLikeClient:
    """The local llama.cpp server, streaming as the hub's TGI does.

    llama.cpp opens a stream with a chunk that only names the role (``delta.content`` is None) and
    closes it with an empty one; TGI's chunks all carry text, which the guide's program relies on
    (``response['content'] += token``). Everything else is the real client and server.
    """

    def __init__(self, base_url: str) -> None:
        from huggingface_hub import InferenceClient

        self.client = InferenceClient(base_url=base_url)

    def chat_completion(self, messages: list[dict[str, Any]], **options: Any) -> Any:
        self.requests = [*getattr(self, "requests", []), messages]
        stream = self.client.chat_completion(messages, **options)
        return (c for c in stream if c.choices and c.choices[0].delta.content is not None)


@pytest.mark.browser
@pytest.mark.model
def test_program_3_in_chromium_with_the_local_model(tmp_path, watched, default_gguf):
    from playwright.sync_api import expect

    from webchat.backends.local import LlamaServer

    namespace = run_program(PROGRAM_3, "program3")  # not __main__: the test serves it
    with LlamaServer(default_gguf, parallel=1) as llama:
        namespace["client"] = HubLikeClient(llama.base_url)
        server, url = serve(namespace["demo"].app(settings_for(tmp_path)))
        try:
            watched.goto(url)
            type_and_send(watched, "Name a colour.")
            reply = watched.locator(".reply").last
            expect(reply).not_to_have_class(re.compile("streaming"), timeout=60_000)
            first = reply.locator(".msg.assistant").inner_text()
            assert first.strip()
            type_and_send(watched, "And another one?")
            reply = watched.locator(".reply").nth(1)
            expect(reply).not_to_have_class(re.compile("streaming"), timeout=60_000)
            expect(reply.locator(".error-bubble")).to_have_count(0)
            assert reply.locator(".msg.assistant").inner_text().strip()
        finally:
            server.shutdown()
    second_request = namespace["client"].requests[1]
    # the history went to the model as Gradio 6 passes it, then the new message
    assert second_request[0] == {
        "role": "user",
        "metadata": None,
        "content": [{"text": "Name a colour.", "type": "text"}],
        "options": None,
    }
    assert second_request[-1] == {"role": "user", "content": "And another one?"}


def test_avatar_images_show_beside_the_messages(tmp_path):
    # Gradio's Chatbot(avatar_images=(user, assistant)): local files, served by webchat itself.
    import samples
    from conftest import settings_for

    user, bot = tmp_path / "me.png", tmp_path / "bot.png"
    user.write_bytes(samples.png(color="green"))
    bot.write_bytes(samples.png(color="purple"))
    demo = gr.ChatInterface(lambda m, h: "hi", chatbot=gr.Chatbot(avatar_images=(str(user), str(bot))))
    client = demo.app(settings_for(tmp_path)).test_client()
    client.get("/new")
    with client.session_transaction() as session:
        token = session["csrf"]
    html = client.post("/turns", data={"text": "x"}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    text = html.get_data(as_text=True)
    assert 'src="/avatars/user"' in text and 'src="/avatars/assistant"' in text
    assert client.get("/avatars/user").data == samples.png(color="green")
    assert client.get("/avatars/assistant").data == samples.png(color="purple")
    assert client.get("/avatars/system").status_code == 404
    # A link is not fetched (the page loads nothing from other sites): no avatar, said in the log.
    assert gr.Chatbot(avatar_images=("https://example.com/me.png", None)).avatar_images == (None, None)
    with pytest.raises(ValueError, match="not a local image file"):
        gr.Chatbot(avatar_images=(str(tmp_path / "missing.png"), None))


# --- Page events: run in their request, answered with what changed ----------------------------------


def post_event(client: Any, index: Any, **fields: Any) -> tuple[int, str]:
    token = csrf(client)
    response = client.post(
        f"/events/{index}", data={"csrf_token": token, **fields}, headers={"HX-Request": "true"}
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_page_event_redraws_exactly_its_outputs(tmp_path):
    def shout(text, times):
        return text.upper() * times, gr.update(visible=False), gr.Button(interactive=False)

    with gr.Blocks() as demo:
        words = gr.Textbox(label="Words")
        times = gr.Slider(1, 3, step=1, label="Times")
        out = gr.Markdown("nothing yet")
        other = gr.Markdown("untouched")
        go = gr.Button("Go")
        go.click(shout, [words, times], [out, other, go])
    _, client = blocks_client(demo, tmp_path)
    page = client.get("/").get_data(as_text=True)
    assert f'hx-post="/events/0" hx-trigger="click from:#ctl-{go.id}"' in page
    status, html = post_event(client, 0, **{words.name: "hi", times.name: "2"})
    assert status == 200
    assert f'id="gr-{out.id}"' in html and "HIHI" in html and 'hx-swap-oob="outerHTML"' in html
    assert f'id="gr-{other.id}" class="gr-item gr-markdown" hidden' in html  # visible=False
    assert f'id="ctl-{go.id}" class="gr-button secondary" disabled' in html  # interactive=False
    assert f'id="gr-{words.id}"' not in html  # not an output: not drawn again


def test_bad_input_and_a_failing_handler_are_said_and_change_nothing(tmp_path):
    def fail(n):
        raise gr.Error("That did not work.")

    with gr.Blocks() as demo:
        n = gr.Number(label="N", minimum=0)
        state = gr.State(0)
        out = gr.Markdown()
        count = gr.Button("Count")
        count.click(lambda n, s: (f"{n}", s + 1), [n, state], [out, state])
        gr.Button("Fail").click(fail, n, out)
    app, client = blocks_client(demo, tmp_path)
    status, html = post_event(client, 0, **{n.name: "-1"})
    assert status == 200 and f'id="gr-{n.id}-error"' in html and "less than the minimum" in html
    status, html = post_event(client, 0, **{n.name: "abc"})
    assert "is not a number" in html
    status, html = post_event(client, 1, **{n.name: "2"})
    assert "That did not work." in html and f'id="gr-{out.id}" ' not in html
    status, html = post_event(client, 0, **{n.name: "2"})
    assert f'id="gr-{out.id}"' in html  # the State counted only the event that ran
    chat = app.extensions["webchat"].runner.chat_fn
    assert [v[state.id] for v in chat.sessions.values.values()] == [1]
    assert post_event(client, 99)[1].count("out of date") == 1
    assert post_event(client, "nope")[0] == 404


def test_a_chatbot_output_becomes_the_stored_conversation(tmp_path):
    def prefill(choice):
        if choice == "Greeting":
            return [{"role": "user", "content": "Hi there!"}, {"role": "assistant", "content": "Hello!"}]
        return []

    with gr.Blocks() as demo:
        radio = gr.Radio(["Greeting", "Blank"])
        chat = gr.ChatInterface(lambda m, h: f"echo {m}")
        radio.change(prefill, radio, chat.chatbot_value)
    app, client = blocks_client(demo, tmp_path)
    status, html = post_event(client, demo.events[-1].index, **{radio.name: "0"})
    assert status == 200 and "Hello!" in html and 'id="conversation-id"' in html
    store = app.extensions["webchat"].store
    [conversation] = store.list_conversations(store_owner(app, client))
    assert [m.message.content for m in store.messages(conversation.id)] == ["Hi there!", "Hello!"]
    status, html = post_event(
        client, demo.events[-1].index, conversation_id=conversation.id, **{radio.name: "1"}
    )
    assert store.messages(conversation.id) == []


def store_owner(app: Any, client: Any) -> str:
    with client.session_transaction() as session:
        return "s:" + session["sid"]
