"""The turn lifecycle of a conversation, without Flask: send (or queue while a reply is being
written), retry, undo, edit, stop, clear, delete, import and fork. The page's routes and the API
call these and nothing else to change a conversation, so each rule is written here once.

One lock per process is held while checking that a conversation has no running turn and starting
one, so two tabs sending at once cannot start two replies; another worker may race past it, and
then the database refuses the second running turn (``TurnBusy``, 409). Every refusal is a
:class:`~webchat.errors.Refused` with its message and status, raised before anything changed:
the person keeps their text, files and conversation.

A chat function receives ``message`` (the text, or Gradio's ``{"text", "files"}`` when the chat
takes files) and the history before the turn, read by the runner rather than here, so starting a
turn costs the same however long the conversation is (webchat.history copies it ahead).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from webchat.backends.compare import is_compared
from webchat.errors import InputError, Refused, too_long
from webchat.files.storage import Uploads
from webchat.history import HistoryCache
from webchat.limits import RateWindow, check_client_limits, check_turn_limits
from webchat.messages import ChatMessage
from webchat.store import Conversation, MessageKind, Store, StoredMessage, Turn, TurnBusy
from webchat.store.files import FileRecord
from webchat.store.queued import Queued, QueuedStore
from webchat.store.tree_json import Node
from webchat.turns import TurnRunner

KEEP_DELETED_SECONDS = 24 * 3600  # a deleted conversation can be restored for a day
MAX_QUEUED = 10  # messages that may wait for a conversation's running reply
# Another tab switched versions since this page was drawn.
NOT_SHOWN = "{what} is not in the conversation as shown any more (another version is): reload the page."
NOT_STORED = (
    "The server could not store your message (its disk may be full, or its database busy), so it "
    "was not sent. It is still in the box: send it again in a moment."
)


@dataclass(frozen=True)
class Sent:
    """A message accepted: its conversation (``is_new`` if the message created it), the turn
    writing the reply, and the stored input messages."""

    conversation: Conversation
    turn: Turn
    inputs: list[StoredMessage]
    is_new: bool


def message_for(inputs: Sequence[StoredMessage], multimodal: bool) -> Any:
    """What the chat function gets as ``message``: the text, or Gradio's multimodal dict."""
    text = next((m.message.content for m in inputs if isinstance(m.message.content, str)), "")
    if not multimodal:
        return text
    files = [
        m.message.content["path"]
        for m in inputs
        if isinstance(m.message.content, dict) and "path" in m.message.content
    ]
    return {"text": text, "files": files}


def in_history(stored: StoredMessage) -> bool:
    """Is this stored message part of the history (not the empty row of a failed reply)?"""
    return not (stored.status != "complete" and stored.message.content == "")


def up_to(stored: Sequence[StoredMessage], message_id: int) -> list[StoredMessage]:
    """The messages up to this one and the rest of its group (the turn's input, or its reply):
    what a fork from it copies. Empty rows of failed replies are left out."""
    end = next((i for i, m in enumerate(stored) if m.id == message_id), None)
    if end is None:
        return []
    while end + 1 < len(stored) and (stored[end + 1].kind, stored[end + 1].turn_id) == (
        stored[end].kind,
        stored[end].turn_id,
    ):
        end += 1
    return [m for m in stored[: end + 1] if in_history(m) and m.status != "running"]


def history_dicts(stored: Iterable[StoredMessage]) -> list[dict[str, Any]]:
    """The ``history`` a chat function receives (and an export holds): plain message dicts,
    without the empty rows of failed replies."""
    return [m.message.to_dict() for m in stored if in_history(m)]


def runs(messages: Iterable[ChatMessage]) -> Iterator[tuple[MessageKind, list[ChatMessage]]]:
    """Consecutive messages of one kind (the user's are input, the rest replies), as turns store them."""
    run: list[ChatMessage] = []
    kind: MessageKind = "input"
    for message in messages:
        this: MessageKind = "input" if message.role == "user" else "reply"
        if run and this != kind:
            yield kind, run
            run = []
        kind = this
        run.append(message)
    if run:
        yield kind, run


class Conversations:
    """Starts and ends the turns of every conversation in this process."""

    def __init__(
        self,
        store: Store,
        runner: TurnRunner,
        uploads: Uploads,
        rate: RateWindow,
        *,
        max_message_chars: int,
        max_running_turns: int,
        multimodal: bool,
        client_rate: RateWindow | None = None,
        client_max_running_turns: int = 0,
        greeting: Sequence[ChatMessage] = (),
        retry_inputs: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    ) -> None:
        self.store = store
        self.queued = QueuedStore(store.engine)  # messages sent while a reply was being written
        self.runner = runner
        self.uploads = uploads
        self.rate = rate
        self.max_message_chars = max_message_chars
        self.max_running_turns = max_running_turns
        # The same limits per client address (``client``: a key the web layer makes of it).
        self.client_rate = client_rate
        self.client_max_running_turns = client_max_running_turns
        self.greeting = tuple(greeting)  # what every new conversation starts with (a first reply)
        self.multimodal = multimodal  # the chat takes files: ``message`` is Gradio's dict
        # A retried turn's extra inputs from the ones it ran with (a program's page decides).
        self.retry_inputs = retry_inputs or (lambda extra: extra)
        self.histories = HistoryCache(store)
        self.lock = threading.Lock()

    # The rules a message must keep

    def check_text(self, text: str, *, has_files: bool = False, what: str = "This message") -> None:
        """Refuse an empty message (unless it carries files) and one over the length limit."""
        if not text.strip() and not has_files:
            raise InputError("Type a message first.")
        error = too_long(text, self.max_message_chars, what)
        if error is not None:
            raise InputError(error.message + " Shorten it and send again.", 413)

    # Starting turns

    def send(
        self,
        owner: str,
        conversation: Conversation | None,
        files: list[ChatMessage],
        text: str,
        extra: tuple[Any, ...] = (),
        *,
        saved: Sequence[FileRecord] = (),
        client: str | None = None,
        wait: bool = False,
        settings: Mapping[str, Any] | None = None,
    ) -> Sent | Queued:
        """Store the user's message (one message per file, then the text, Gradio's order) as a new
        turn, in a new conversation if none is given, and start its reply. ``saved``: the files
        stored for this message, removed again if it is refused, else linked to the conversation.
        While the conversation's reply is being written the message is refused (TurnBusy), or,
        with ``wait``, queued: it starts as its own turn when that reply ends. ``settings``: the
        model and settings the page showed (the built-in models), remembered for the conversation
        before its reply starts."""
        sent = [*files, ChatMessage(role="user", content=text)] if text.strip() else list(files)
        with self.lock:
            is_new = conversation is None
            try:
                # The database refuses a second running turn too (another worker may start one now).
                if conversation and self.store.running_turn(conversation.id):
                    if not wait:
                        raise TurnBusy()
                    queued = self._enqueue(conversation, sent, extra)
                    self.uploads.link(saved, conversation.id)
                    if settings is not None:
                        self.store.set_conversation_settings(conversation.id, settings)
                    return queued
                self._check_limits(owner, client)  # before a new conversation exists: a refusal leaves none
                if conversation is None:
                    conversation = self._new_conversation(owner)
                else:
                    self._settle(conversation)
                if settings is not None:
                    self.store.set_conversation_settings(conversation.id, settings)
                turn, inputs = self._begin(conversation, sent, extra, checked=True, client=client)
            except (SQLAlchemyError, OSError) as error:  # a full disk, a database past its timeout
                self.uploads.discard(saved)
                raise Refused(NOT_STORED, 503) from error
            except BaseException:  # refused (busy, too many replies at once...): the files were not sent
                self.uploads.discard(saved)
                raise
            conversation = self.store.get_conversation(owner, conversation.id) or conversation  # now titled
        self.uploads.link(saved, conversation.id)
        return Sent(conversation, turn, inputs, is_new)

    def _new_conversation(self, owner: str, settings: Mapping[str, Any] | None = None) -> Conversation:
        conversation = self.store.create_conversation(owner)
        if settings:
            self.store.set_conversation_settings(conversation.id, settings)
        if self.greeting:
            self.store.append(conversation.id, self.greeting, kind="reply")
        return conversation

    def start_from(self, owner: str, settings: Mapping[str, Any]) -> Conversation:
        """A new, empty conversation with this model and settings (a preset)."""
        return self._new_conversation(owner, settings)

    def choose(self, conversation: Conversation, settings: Mapping[str, Any]) -> None:
        """Remember the model and settings the conversation's next replies use (a Retry too)."""
        self.store.set_conversation_settings(conversation.id, settings)

    def _enqueue(self, conversation: Conversation, sent: list[ChatMessage], extra: tuple[Any, ...]) -> Queued:
        if self.queued.count(conversation.id) >= MAX_QUEUED:
            raise Refused(
                f"{MAX_QUEUED} messages are already waiting for this reply: wait for it, or remove one.", 429
            )
        return self.queued.add(conversation.id, conversation.owner, sent, extra)

    def start_queued(self, conversation_id: str) -> Turn | None:
        """Start the oldest waiting message of the conversation as a turn, if it has no running one
        (after a reply ends; a page that asks does it too, so a lost runner leaves none waiting)."""
        with self.lock:
            if self.store.running_turn(conversation_id) is not None:
                return None
            queued = self.queued.take_first(conversation_id)
            if queued is None:
                return None
            conversation = self.store.get_conversation(queued.owner, conversation_id)
            if conversation is None:  # deleted meanwhile: nothing waits for it any more
                self.queued.clear(conversation_id)
                return None
            try:
                turn, _ = self._begin(conversation, queued.messages, queued.extra, checked=True)
            except TurnBusy:  # another worker started a turn just now: wait for that one
                self.queued.put_back(queued)
                return None
        return turn

    def remove_queued(self, conversation: Conversation, ref: str) -> None:
        if not self.queued.remove(conversation.id, ref):
            raise Refused("That message is no longer waiting: it was sent or removed.", 404)

    def retry(self, old: Turn, client: str | None = None) -> Turn:
        """Run a turn again from its stored input, with the additional inputs it had: any reply of
        the selected branch, once it has ended. The old reply and what followed it stay, as
        another version (webchat.store.tree); the conversation goes on from the new one."""
        with self.lock:
            if old.status == "running":
                raise Refused("This reply is still being written: stop it first, or wait for it.", 409)
            if not self._shown(old):
                raise Refused(NOT_SHOWN.format(what="That reply"), 409)
            self._check_limits(old.owner, client)
            # TurnBusy when another worker started one just now
            turn = self.store.restart_turn(old, self.runner.id, client)
            inputs = self.store.turn_messages(turn.id, "input")
            stored = self.store.history_before(old.conversation_id, inputs[0].id) if inputs else []
            extra = self.retry_inputs(self.store.turn_inputs(old.id))
            self.store.save_turn_inputs(turn.id, extra)
            self.runner.start(
                turn,
                message_for(inputs, self.multimodal),
                history_dicts(stored),
                extra,
                after=lambda: self.start_queued(old.conversation_id),  # a message that waited
            )
        return turn

    def edit(
        self, conversation: Conversation, stored: StoredMessage, text: str, client: str | None = None
    ) -> Turn:
        """Replace a sent message's text and run the conversation again from its turn (the turns
        from there on go only once the new one exists: a refusal changes nothing)."""
        if not text.strip():
            raise InputError("The edited message is empty; type something or cancel.")
        error = too_long(text, self.max_message_chars, "The edited message")
        if error is not None:
            raise error
        with self.lock:
            self.stop_running(conversation)
            turn = self.store.get_turn(stored.turn_id or "")
            if turn is None:
                raise Refused("That message is no longer in the conversation.", 404)
            if not self.store.is_shown(stored.id):
                raise Refused(NOT_SHOWN.format(what="That message"), 409)
            old_inputs = self.store.turn_messages(turn.id, "input")
            inputs = [
                ChatMessage(role="user", content=text) if m.id == stored.id else m.message for m in old_inputs
            ]
            new, _ = self._begin(
                conversation,
                inputs,
                self.store.turn_inputs(turn.id),
                branch_from=old_inputs[0].id,
                client=client,
            )
        return new

    def _shown(self, turn: Turn) -> bool:
        """Is this turn's reply (or, if it wrote none, its input) on the selected branch?"""
        written = self.store.turn_messages(turn.id, "reply") or self.store.turn_messages(turn.id, "input")
        return bool(written) and self.store.is_shown(written[-1].id)

    def keep(self, turn: Turn, index: int) -> None:
        """Keep one model's answer of a comparison as the reply; the others become its versions."""
        with self.lock:
            if turn.status == "running":
                raise Refused("The answers are still being written: wait for them, or stop them.", 409)
            replies = self.store.turn_messages(turn.id, "reply")
            if not replies or not all(is_compared(m.message) for m in replies):
                raise Refused("That reply is not a comparison of models (any more).", 409)
            if not 0 <= index < len(replies):
                raise Refused("There is no such answer in this comparison.", 404)
            self.store.keep_compared(turn, index)

    def _settle(self, conversation: Conversation) -> None:
        """A message sent after a comparison goes on from its first answer (the others stay as
        versions of it), unless the reader kept another one first."""
        compared = self.store.last_compared(conversation.id)
        if compared is not None and compared.status != "running":
            self.store.keep_compared(compared, 0)

    def select_version(self, conversation: Conversation, message: StoredMessage) -> None:
        """Show the branch through this version of a message or reply: the conversation as it
        went on from it (refused while a reply is being written)."""
        if message.conversation_id != conversation.id:
            raise Refused("That version is not in this conversation.", 404)
        with self.lock:
            self.store.select_version(message)

    def _begin(
        self,
        conversation: Conversation,
        inputs: list[ChatMessage],
        extra: tuple[Any, ...] = (),
        *,
        branch_from: int | None = None,
        checked: bool = False,
        client: str | None = None,
    ) -> tuple[Turn, list[StoredMessage]]:
        """Store the input as a new turn and start its reply (with ``lock`` held). ``branch_from``:
        an edit; the conversation from that message on becomes another branch, kept, and the new
        input a version beside it, in the same transaction as the new turn; ``checked``: the
        owner's limits were checked already."""
        if not checked:
            self._check_limits(conversation.owner, client)
        turn, stored = self.store.start_turn(
            conversation.id,
            conversation.owner,
            inputs,
            runner_id=self.runner.id,
            client=client,
            branch_from=branch_from,
        )
        if extra:
            self.store.save_turn_inputs(turn.id, extra)
        histories, before = self.histories, stored[0].id

        def history() -> list[dict[str, Any]]:
            # Read by the runner, not here: the POST answers at once however long the conversation.
            return histories.load(conversation.id, before_id=before)

        def after() -> None:
            histories.prepare(conversation.id)  # the next reply's history, copied now
            self.start_queued(conversation.id)  # a message that waited for this reply

        self.runner.start(turn, message_for(stored, self.multimodal), history, extra, after=after)
        return turn, stored

    def _check_limits(self, owner: str, client: str | None = None) -> None:
        """TooFast (429) when the owner, or the client address asking, may not start another
        reply now."""
        running = self.store.count_running_turns(owner)
        check_turn_limits(self.rate, owner, running, self.max_running_turns)
        if client is not None and self.client_rate is not None:
            running = self.store.count_client_running_turns(client)
            check_client_limits(self.client_rate, client, running, self.client_max_running_turns)

    # Ending turns and changing what is stored

    def stop(self, turn: Turn) -> None:
        """End a running turn now, keeping what it wrote (nothing happens if it had ended); the
        next message waiting for it then starts."""
        self.runner.stop(turn.id)

    def stop_all(self, conversation: Conversation) -> None:
        """Remove the messages waiting in the conversation, then stop its running turn."""
        self.queued.clear(conversation.id)
        self.stop_running(conversation)

    def stop_running(self, conversation: Conversation) -> None:
        running = self.store.running_turn(conversation.id)
        if running:
            self.runner.stop(running.id)

    def undo(self, turn: Turn) -> list[StoredMessage]:
        """Remove the last turn (stopping it if it runs), with the versions of its reply; returns
        its input, to send again. If the input was an edit, the message it replaced shows again."""
        with self.lock:
            last = self.store.last_turn(turn.conversation_id)
            if last is None or last.id != turn.id:
                raise Refused("Only the last turn can be undone.", 409)
            self.runner.stop(turn.id)
            return self.store.remove_turn(self.store.get_turn(turn.id) or turn, "undone")

    def rewrite(
        self, owner: str, conversation: Conversation | None, messages: Sequence[ChatMessage]
    ) -> Conversation:
        """Make the conversation's messages ``messages`` (a program's handler set the Chatbot's
        value): what they share with the stored ones at the start stays as it is, the rest is
        replaced, in one transaction. No conversation yet: one is made. Refused while a reply is
        being written; each text must keep the message-length limit."""
        self.check_messages(messages)
        with self.lock:
            if conversation is None:
                conversation = self.store.create_conversation(owner)
            elif self.store.running_turn(conversation.id) is not None:
                raise Refused("A reply is still being written: wait for it, or stop it first.", 409)
            stored = [m.message for m in self.store.messages(conversation.id)]
            keep = 0
            while keep < min(len(stored), len(messages)) and stored[keep] == messages[keep]:
                keep += 1
            if keep < len(stored) or keep < len(messages):
                self.store.rewrite(conversation, keep, list(runs(messages[keep:])))
        return self.store.get_conversation(owner, conversation.id) or conversation

    def clear(self, conversation: Conversation) -> None:
        with self.lock:
            self.queued.clear(conversation.id)
            self.stop_running(conversation)
            self.store.clear_conversation(conversation.id)

    def delete(self, owner: str, conversation: Conversation) -> None:
        """Delete (restorable for a day; older deletions are purged now)."""
        self.stop_running(conversation)
        self.store.delete_conversation(owner, conversation.id)
        self.store.purge_deleted(time.time() - KEEP_DELETED_SECONDS)

    # Conversations from elsewhere

    def check_messages(self, messages: Sequence[ChatMessage]) -> None:
        """Refuse posted messages (an import, the API) whose text breaks the length limit."""
        for index, message in enumerate(messages):
            if isinstance(message.content, str):
                where = f"messages[{index}].content"
                error = too_long(message.content, self.max_message_chars, f"message {index}", where=where)
                if error is not None:
                    raise error

    def fork(
        self,
        owner: str,
        conversation: Conversation,
        message: StoredMessage,
        copy_files: Callable[[list[ChatMessage]], tuple[list[ChatMessage], list[FileRecord]]],
    ) -> Conversation:
        """A new conversation holding this one up to ``message`` (and the rest of its turn's input
        or reply): "New chat from here", titled as the original with "(branch)". Its files are
        copies (``copy_files``), so deleting either conversation takes nothing from the other. The
        original is not changed."""
        kept = up_to(self.store.messages(conversation.id), message.id)
        if not kept:
            raise Refused("There is nothing before this message to start a chat from.", 409)
        messages, copies = copy_files([m.message for m in kept])
        # Named apart in the sidebar from the conversation it came from.
        return self.import_messages(owner, messages, copies, f"{conversation.title or 'Chat'} (branch)")

    def import_messages(
        self, owner: str, messages: Sequence[ChatMessage], copies: Sequence[FileRecord], title: str = ""
    ) -> Conversation:
        """A new conversation holding ``messages`` (its files already copied for it: ``copies``),
        all stored at once or not at all. Each text must keep the message-length limit."""
        return self._imported(
            messages, copies, lambda: self.store.import_messages(owner, list(runs(messages)), title)
        )

    def import_tree(
        self, owner: str, nodes: Sequence[Node], copies: Sequence[FileRecord], title: str = ""
    ) -> Conversation:
        """A new conversation holding a whole exported tree, every version (webchat.store.tree_json),
        as ``import_messages`` holds a branch."""
        messages = [node.message for node in nodes]
        return self._imported(messages, copies, lambda: self.store.import_tree(owner, nodes, title))

    def _imported(
        self, messages: Sequence[ChatMessage], copies: Sequence[FileRecord], store: Callable[[], Conversation]
    ) -> Conversation:
        try:
            self.check_messages(messages)
            conversation = store()
        except BaseException:
            self.uploads.discard(copies)
            raise
        self.uploads.link(copies, conversation.id)
        return conversation
