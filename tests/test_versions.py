"""Versions through the routes: Retry and Edit keep what they replace, the ‹ 2/3 › control switches
between versions (with htmx, and as links without JavaScript), and the whole tree is exported and
imported back, by the page and by the API."""

from __future__ import annotations

import html
import io
import itertools
import json
import re

import pytest
from conftest import TURN_ID, csrf_of
from test_api import bearer, new_token
from test_controls import HX, Chat

VERSION_LINK = re.compile(
    r'<a href="(/messages/[^/"]+/show\?csrf_token=[^"]+)"[^>]*aria-label="Show version (\d+) of (\d+)"'
)


def numbered():
    """A chat function whose every answer differs: versions are told apart by their number."""
    counter = itertools.count(1)

    def reply(message, history):
        return f"answer {next(counter)} to {message} after {len(history)}"

    return reply


@pytest.fixture
def chat(make_app):
    return Chat(make_app(numbered()))


def retry(chat, turn_id, **headers):
    response = chat.post(f"/turns/{turn_id}/retry", **headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    new = TURN_ID.findall(response.get_data(as_text=True))[-1]
    chat.wait(new)
    return new, response


def texts(chat):
    return [content for _, content in chat.stored()]


def test_retry_keeps_the_old_reply_and_the_control_switches_back(chat):
    first = chat.send("hello")
    _, response = retry(chat, first)
    assert response.headers["HX-Retarget"] == "#messages"
    assert texts(chat) == ["hello", "answer 2 to hello after 0"]
    page = chat.page()
    assert 'aria-label="Versions of this reply"' in page
    assert re.search(r'<span class="version-at"[^>]*><span class="visually-hidden">Version </span>2', page)
    link = VERSION_LINK.search(html.unescape(page))
    assert link and link.group(2, 3) == ("1", "2")
    # With htmx: a post redraws the messages, now showing the first version.
    ref = link.group(1).split("/")[2]
    switched = chat.post(f"/messages/{ref}/show")
    assert switched.status_code == 200 and switched.headers["HX-Retarget"] == "#messages"
    assert "answer 1 to hello" in switched.get_data(as_text=True)
    assert texts(chat) == ["hello", "answer 1 to hello after 0"]


def test_without_javascript_the_control_is_a_pair_of_links(chat):
    first = chat.send("hello")
    response = chat.client.post(f"/turns/{first}/retry", data={"csrf_token": chat.token})
    assert response.status_code == 303  # the page once the new reply has ended
    page = html.unescape(chat.page())
    link = VERSION_LINK.search(page)
    moved = chat.client.get(link.group(1))
    assert moved.status_code == 303 and f"/c/{chat.conversation_id}#turn-" in moved.headers["Location"]
    assert texts(chat) == ["hello", "answer 1 to hello after 0"]
    later = VERSION_LINK.search(html.unescape(chat.page()))
    assert later.group(2, 3) == ("2", "2")


def test_a_version_link_without_the_session_token_changes_nothing(chat):
    first = chat.send("hello")
    retry(chat, first)
    link = VERSION_LINK.search(html.unescape(chat.page())).group(1)
    bare = link.split("?")[0]
    assert chat.client.get(bare).status_code == 403
    other = chat.app.test_client()  # another browser: not its conversation
    csrf_of(other)
    assert other.get(link).status_code in (403, 404)
    assert texts(chat) == ["hello", "answer 2 to hello after 0"]


def test_retrying_an_earlier_reply_branches_and_keeps_what_followed(chat):
    first = chat.send("one")
    chat.send("two")
    assert texts(chat) == ["one", "answer 1 to one after 0", "two", "answer 2 to two after 2"]
    page = chat.page()
    # Every reply offers Retry, not only the newest.
    assert page.count('class="retry"') == 2
    retry(chat, first)
    assert texts(chat) == ["one", "answer 3 to one after 0"]
    link = VERSION_LINK.search(html.unescape(chat.page()))
    chat.client.get(link.group(1))
    assert texts(chat) == ["one", "answer 1 to one after 0", "two", "answer 2 to two after 2"]


def test_an_edit_keeps_the_original_message_and_its_reply(chat):
    chat.send("one")
    chat.send("two")
    store = chat.app.extensions["webchat"].store
    two = next(m for m in store.messages(chat.conversation_id) if m.message.content == "two")
    response = chat.post(f"/messages/{two.ref}/edit", {"text": "TWO"})
    chat.wait(TURN_ID.findall(response.get_data(as_text=True))[-1])
    assert texts(chat)[2:] == ["TWO", "answer 3 to TWO after 2"]
    page = html.unescape(chat.page())
    assert 'aria-label="Versions of this message"' in page
    link = VERSION_LINK.search(page)
    assert link.group(2, 3) == ("1", "2")
    chat.client.get(link.group(1))
    assert texts(chat)[2:] == ["two", "answer 2 to two after 2"]
    # The chat function gets only the branch shown, in today's format.
    chat.send("three")
    assert texts(chat)[-1] == "answer 4 to three after 4"


def test_switching_while_a_reply_is_written_is_refused_in_words(make_app):
    import threading

    release = threading.Event()

    def held(message, history):
        if message == "hold":
            release.wait(30)
        return f"re: {message}"

    chat = Chat(make_app(held))
    first = chat.send("hello")
    retry(chat, first)
    link = VERSION_LINK.search(html.unescape(chat.page())).group(1)
    response = chat.post("/turns", {"text": "hold", "conversation_id": chat.conversation_id})
    running = TURN_ID.search(response.get_data(as_text=True)).group(1)
    try:
        refused = chat.post(link.split("?")[0])
        assert refused.status_code == 409
        assert "still being written" in refused.get_data(as_text=True)
    finally:
        release.set()
    chat.wait(running)


def test_export_gives_the_branch_and_optionally_the_whole_tree_which_import_takes_back(chat):
    first = chat.send("one")
    retry(chat, first)
    chat.send("two")
    branch = json.loads(chat.client.get(f"/c/{chat.conversation_id}/export").get_data(as_text=True))
    assert [m["content"] for m in branch] == [
        "one",
        "answer 2 to one after 0",
        "two",
        "answer 3 to two after 2",
    ]
    whole = json.loads(chat.client.get(f"/c/{chat.conversation_id}/export?tree=1").get_data(as_text=True))
    assert whole["messages"] == branch
    nodes = whole["tree"]
    assert [n["message"]["content"] for n in nodes] == [
        "one",
        "answer 1 to one after 0",
        "answer 2 to one after 0",
        "two",
        "answer 3 to two after 2",
    ]
    assert [n["selected"] for n in nodes] == [True, False, True, True, True]
    assert nodes[1]["parent"] == nodes[2]["parent"] == nodes[0]["id"]
    upload = {"file": (io.BytesIO(json.dumps(whole).encode()), "tree.json"), "csrf_token": chat.token}
    response = chat.client.post("/import", data=upload, content_type="multipart/form-data")
    assert response.status_code == 303
    chat.conversation_id = response.headers["Location"].rsplit("/", 1)[1]
    assert texts(chat) == ["one", "answer 2 to one after 0", "two", "answer 3 to two after 2"]
    again = json.loads(chat.client.get(f"/c/{chat.conversation_id}/export?tree=1").get_data(as_text=True))
    assert [(n["message"], n["selected"]) for n in again["tree"]] == [
        (n["message"], n["selected"]) for n in nodes
    ]
    # The imported versions are versions: the control shows and switches.
    link = VERSION_LINK.search(html.unescape(chat.page()))
    chat.client.get(link.group(1))
    assert texts(chat) == ["one", "answer 1 to one after 0"]
    # and a retry of the imported reply makes a third version
    store = chat.app.extensions["webchat"].store
    retry(chat, store.last_turn(chat.conversation_id).id)
    assert texts(chat)[-1] == "answer 4 to one after 0"
    assert (
        'Version </span>3<span aria-hidden="true">/</span><span class="visually-hidden"> of </span>3'
        in chat.page()
    )


@pytest.mark.parametrize(
    ("tree", "says"),
    [
        ([], "'tree' must be a list"),
        (
            [{"id": "a", "parent": "b", "message": {"role": "user", "content": "x"}}],
            "not a node listed before it",
        ),
        ([{"id": "a", "parent": None, "message": {"role": "user", "content": "x"}}] * 2, "used twice"),
        ([{"id": "a", "parent": None, "message": {"role": "robot", "content": "x"}}], "tree[0].message"),
        (
            [
                {"id": "a", "parent": None, "selected": False, "message": {"role": "user", "content": "x"}},
                {
                    "id": "b",
                    "parent": "a",
                    "selected": True,
                    "message": {"role": "assistant", "content": "y"},
                },
            ],
            "its parent is not",
        ),
        (
            [
                {"id": "a", "parent": None, "selected": True, "message": {"role": "user", "content": "x"}},
                {
                    "id": "b",
                    "parent": "a",
                    "selected": True,
                    "message": {"role": "assistant", "content": "y"},
                },
                {
                    "id": "c",
                    "parent": "a",
                    "selected": True,
                    "message": {"role": "assistant", "content": "z"},
                },
            ],
            "same parent",
        ),
    ],
)
def test_a_bad_tree_is_refused_whole_with_the_node_at_fault(chat, tree, says):
    chat.send("kept")
    store = chat.app.extensions["webchat"].store
    owner = store.get_turn(store.last_turn(chat.conversation_id).id).owner
    data = {"json": json.dumps({"messages": [], "tree": tree}), "csrf_token": chat.token}
    response = chat.client.post("/import", data=data, headers=HX)
    assert response.status_code == 422
    assert says in html.unescape(response.get_data(as_text=True))
    assert len(store.list_conversations(owner)) == 1


def test_the_api_gives_the_tree_with_a_query_parameter(make_app):
    app = make_app(numbered(), api=True)
    chat = Chat(app)
    first = chat.send("one")
    retry(chat, first)
    owner = app.extensions["webchat"].store.get_turn(first).owner
    headers = bearer(new_token(app, owner=owner))
    client = app.test_client()
    url = f"/api/conversations/{chat.conversation_id}"
    plain = client.get(url, headers=headers).get_json()
    assert "tree" not in plain
    assert [m["content"] for m in plain["messages"]] == ["one", "answer 2 to one after 0"]
    whole = client.get(f"{url}?tree=1", headers=headers).get_json()
    assert whole["messages"] == plain["messages"]
    assert [(n["message"]["content"], n["selected"]) for n in whole["tree"]] == [
        ("one", True),
        ("answer 1 to one after 0", False),
        ("answer 2 to one after 0", True),
    ]
    bad = client.get(f"{url}?tree=yes", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "tree"
