"""Tools from MCP servers: a real stdio MCP server written with the ``mcp`` SDK
(tests/mcp_tools_server.py: a calculator, an image, one that crashes, one that hangs), and a fake
OpenAI-compatible server that asks for the tool calls (small models rarely do so reliably)."""

from __future__ import annotations

import html
import json
import os
import sys
import time
from pathlib import Path

import pytest
from conftest import settings_for
from fake_openai import FakeModelServer
from test_models import Browser

from webchat.app import create_app
from webchat.backends.tools import MAX_RESULT_CHARS, ToolsConfigError, read_mcp_config

HX = {"HX-Request": "true"}
SERVER = Path(__file__).with_name("mcp_tools_server.py")
ASKS = {
    "add 2 3": ("calc__add", {"a": 2, "b": 3}),
    "image please": ("calc__red_square", {"size": 8}),
    "crash it": ("calc__crash", {}),
    "hang it": ("calc__hang", {}),
    "lots please": ("calc__lots", {}),
    "markup please": ("calc__markup", {}),
    "ask first": ("asker__add", {"a": 1, "b": 1}),
    "bad arguments": ("calc__add", "not json"),
    "garbage please": ("calc__garbage", {}),
    "remote add": ("remote__add", {"a": 4, "b": 5}),
}


def script(body):
    """The fake model: a tool call for the user's words, then an answer quoting the result."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return [f"The tool said: {last['content'][:80]}"]
    said = last["content"] if isinstance(last["content"], str) else ""
    if said in ASKS and "tools" in body:
        name, arguments = ASKS[said]
        if isinstance(arguments, str):
            return [{"tool": name, "arguments": {}, "raw": arguments}]
        return [{"tool": name, "arguments": arguments}]
    return [f"No tool for: {said}"]


@pytest.fixture
def marks(tmp_path):
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


@pytest.fixture
def setup(tmp_path, marks):
    model = FakeModelServer("tooly").start()
    model.script = script
    config = tmp_path / "mcp.json"
    command = {"command": sys.executable, "args": [str(SERVER)], "env": {"MCP_TEST_MARKS": str(marks)}}
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "calc": {**command, "timeout": 3},
                    "asker": {**command, "approve": "ask"},
                }
            }
        )
    )
    app = create_app(settings_for(tmp_path, base_url=model.base_url, mcp_config=config, backend="auto"))
    yield app, model
    app.extensions["webchat"].toolbox.stop()
    model.stop()


class Chat(Browser):
    """A browser session (tests/test_models.py) that also reads a turn's reply."""

    def reply(self, turn):
        return self.app.extensions["webchat"].store.turn_messages(turn, "reply")


def test_a_tool_call_runs_shows_its_block_and_the_model_goes_on(setup):
    app, model = setup
    chat = Chat(app)
    turn = chat.send("add 2 3")
    first, second = model.requests[0].body, model.requests[1].body
    offered = {t["function"]["name"] for t in first["tools"]}
    assert {"calc__add", "calc__red_square", "asker__add"} <= offered
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "calc__add"
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call-1", "content": "5"}
    [block, answer] = chat.reply(turn)
    meta = block.message.metadata
    assert meta["title"] == "🛠️ Used tool add (calc)" and meta["status"] == "done" and meta["duration"] >= 0
    assert '"a": 2' in block.message.content and "**Result**" in block.message.content
    assert answer.message.content == "The tool said: 5"
    page = chat.page()
    assert "Used tool add (calc)" in page and "The tool said: 5" in page
    [record] = app.extensions["webchat"].store.conversation_turn_records(chat.conversation_id)
    assert record["tool_calls"][0]["tool"] == "calc__add" and record["tool_calls"][0]["result"] == "5"
    # The exported conversation has the call as Gradio's messages with metadata.
    exported = json.loads(chat.client.get(f"/c/{chat.conversation_id}/export").get_data(as_text=True))
    assert exported[1]["metadata"]["title"] == "🛠️ Used tool add (calc)"


def test_an_image_from_a_tool_shows_as_a_file_of_the_conversation(setup):
    app, _ = setup
    chat = Chat(app)
    turn = chat.send("image please")
    files = [m for m in chat.reply(turn) if isinstance(m.message.content, dict)]
    [image] = files
    assert image.message.content["mime_type"] == "image/png"
    assert not image.message.metadata  # shown in the bubble, not folded into the block
    url = image.message.content["url"]
    served = chat.client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert app.test_client().get(url).status_code == 404  # another browser gets nothing


def test_a_crashing_server_shows_its_error_and_is_started_again(setup, marks):
    app, _ = setup
    chat = Chat(app)
    turn = chat.send("crash it")
    [block, answer] = chat.reply(turn)
    assert "**Error**" in block.message.content and "failed" in block.message.content
    assert "started again" in block.message.content and answer.message.content.startswith("The tool said:")
    turn = chat.send("add 2 3")
    assert chat.reply(turn)[-1].message.content == "The tool said: 5"
    assert len(list(marks.glob("started-*"))) >= 2


def test_a_hanging_tool_times_out_in_words_and_the_reply_ends(setup):
    app, _ = setup
    chat = Chat(app)
    started = time.monotonic()
    turn = chat.send("hang it")
    [block, answer] = chat.reply(turn)
    assert "did not answer within 3 s" in block.message.content
    assert answer.message.content.startswith("The tool said:") and time.monotonic() - started < 45
    assert chat.reply(chat.send("add 2 3"))[-1].message.content == "The tool said: 5"


def test_a_huge_result_is_cut_and_marked(setup):
    app, model = setup
    chat = Chat(app)
    chat.send("lots please")
    told = model.requests[-1].body["messages"][-1]["content"]
    assert len(told) < MAX_RESULT_CHARS + 200 and "[cut: the result was 50,000 characters" in told


def test_tool_output_is_drawn_as_text_never_run(setup):
    app, _ = setup
    chat = Chat(app)
    chat.send("markup please")
    page = chat.page()
    assert "<script>alert(2)" not in page and "<img src=x" not in page  # no element made of it
    assert "&lt;script&gt;alert(2)" in page and "&lt;img src=x" in page  # shown as the text it is


def test_arguments_that_are_not_json_are_refused_to_the_model(setup):
    app, model = setup
    chat = Chat(app)
    turn = chat.send("bad arguments")
    block = chat.reply(turn)[0].message
    assert block.metadata["status"] == "done" and "not valid JSON" in block.content
    assert model.requests[-1].body["messages"][-1]["content"] == "The arguments were not valid JSON."


def test_a_conversation_can_turn_tool_servers_off(setup):
    app, model = setup
    chat = Chat(app)
    chat.send("hello", tools_present="1", tools="calc")
    assert {t["function"]["name"].split("__")[0] for t in model.requests[-1].body["tools"]} == {"calc"}
    chat.send("add 2 3", tools_present="1")  # every box unticked: no tools at all
    assert "tools" not in model.requests[-1].body
    assert 'name="tools" value="calc">' in chat.page()  # shown off


def wait_for_question(hub, turn: str) -> None:
    """Until the reply asks whether its tool call may run (generous: a busy machine is slow)."""
    deadline = time.monotonic() + 30
    while "waiting for your approval" not in json.dumps([m.to_dict() for m in (hub.get(turn).reply or [])]):
        assert time.monotonic() < deadline, "the question was not asked"
        time.sleep(0.05)


def test_a_server_that_asks_waits_for_allow_and_a_reload_shows_the_question(setup):
    app, _ = setup
    chat = Chat(app)
    turn = chat.start("ask first")
    hub = app.extensions["webchat"].hub
    wait_for_question(hub, turn)
    page = chat.page()  # a reload while it waits shows the question again
    allow = f"/turns/{turn}/tools/call-1/allow"
    assert allow in page and "Wants to use tool add (asker)" in html.unescape(page)
    assert chat.post(allow).status_code == 200
    assert hub.wait_final(turn, 30).final
    assert chat.reply(turn)[-1].message.content == "The tool said: 2"


def test_deny_tells_the_model_the_call_was_refused(setup):
    app, model = setup
    chat = Chat(app)
    turn = chat.start("ask first")
    hub = app.extensions["webchat"].hub
    wait_for_question(hub, turn)
    # Without JavaScript: a form post, back to the conversation.
    denied = chat.client.post(f"/turns/{turn}/tools/call-1/deny", data={"csrf_token": chat.token})
    assert denied.status_code == 303
    hub.wait_final(turn, 30)
    assert "denied" in model.requests[-1].body["messages"][-1]["content"]
    assert "denied" in chat.reply(turn)[0].message.content


def test_no_child_process_is_left_when_webchat_stops(setup, marks):
    app, _ = setup
    Chat(app).send("add 2 3")
    pids = [int(p.read_text()) for p in marks.glob("started-*")]
    assert pids
    app.extensions["webchat"].toolbox.stop()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "an MCP server process outlived its toolbox"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "line 1: not valid JSON"),
        ('{"servers": {}}', 'expected {"mcpServers"'),
        ('{"mcpServers": {"a": {"command": "x", "url": "http://y"}}}', "either command"),
        ('{"mcpServers": {"a": {"command": "x", "colour": 1}}}', "unknown key 'colour'"),
        ('{"mcpServers": {"a b": {"command": "x"}}}', "a name is letters"),
        ('{"mcpServers": {"a": {"command": "x", "approve": "maybe"}}}', "approve is always, ask or never"),
    ],
)
def test_a_bad_mcp_config_says_what_is_wrong(tmp_path, text, says):
    path = tmp_path / "mcp.json"
    path.write_text(text)
    with pytest.raises(ToolsConfigError, match=None) as raised:
        read_mcp_config(path)
    assert says in str(raised.value) and str(path) in str(raised.value)


def test_mcp_servers_can_be_listed_in_the_models_file(tmp_path):
    model = FakeModelServer("tooly").start()
    model.script = script
    path = tmp_path / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "Tooly"
base_url = "{model.base_url}"

[mcpServers.calc]
command = {json.dumps(sys.executable)}
args = [{json.dumps(str(SERVER))}]
"""
    )
    app = create_app(settings_for(tmp_path, models_file=path, backend="auto"))
    try:
        chat = Chat(app)
        assert chat.reply(chat.send("add 2 3"))[-1].message.content == "The tool said: 5"
        assert 'name="tools" value="calc" checked' in chat.page()
    finally:
        app.extensions["webchat"].toolbox.stop()
        model.stop()
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"calc": {"command": "x"}}}))
    with pytest.raises(ToolsConfigError, match="'calc' is used twice"):
        create_app(settings_for(tmp_path, models_file=path, mcp_config=config, backend="auto"))


def test_a_server_writing_garbage_into_the_protocol_is_said_in_its_block(setup):
    # The SDK skips lines that are not JSON-RPC: the call's answer still comes, with a warning.
    app, _ = setup
    chat = Chat(app)
    [block, answer] = chat.reply(chat.send("garbage please"))
    assert block.message.metadata["status"] == "done"
    assert "**Warning**: The tool server wrote 2 line(s) that are not MCP" in block.message.content
    assert answer.message.content == "The tool said: after the garbage"
    assert chat.reply(chat.send("add 2 3"))[-1].message.content == "The tool said: 5"


def test_a_server_set_to_never_offers_nothing(tmp_path):
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"off": {"command": sys.executable, "args": [str(SERVER)], "approve": "never"}}}
        )
    )
    model = FakeModelServer("tooly").start()
    app = create_app(settings_for(tmp_path, base_url=model.base_url, mcp_config=config, backend="auto"))
    try:
        Chat(app).send("add 2 3")
        assert "tools" not in model.requests[-1].body
    finally:
        app.extensions["webchat"].toolbox.stop()
        model.stop()


def test_a_streamable_http_server_by_url(tmp_path):
    import subprocess

    from servers import free_port, wait_for_port

    port = free_port()
    server = subprocess.Popen([sys.executable, str(SERVER), "--http", str(port)], stderr=subprocess.DEVNULL)
    model = FakeModelServer("tooly").start()
    model.script = script
    try:
        wait_for_port(port, process=server)
        config = tmp_path / "mcp.json"
        config.write_text(json.dumps({"mcpServers": {"remote": {"url": f"http://127.0.0.1:{port}/mcp"}}}))
        app = create_app(settings_for(tmp_path, base_url=model.base_url, mcp_config=config, backend="auto"))
        chat = Chat(app)
        [block, answer] = chat.reply(chat.send("remote add"))
        assert block.message.metadata["title"] == "🛠️ Used tool add (remote)"
        assert answer.message.content == "The tool said: 9"
        app.extensions["webchat"].toolbox.stop()
    finally:
        server.terminate()
        server.wait(10)
        model.stop()
