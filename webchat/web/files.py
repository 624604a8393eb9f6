"""Files over HTTP: serving ``/files/<id>/<name>`` to its owner only, taking the files posted with
a message, and the helpers the templates use to show files by kind.

A file is served inline, with the type sniffed when it was stored, only when the browser cannot
run anything in it (raster images, audio, video, PDF); the rest, SVG and HTML included, downloads
as ``application/octet-stream`` with ``nosniff``, which a browser will not run as a script or apply
as a stylesheet. Anybody but the owner gets the same 404 as for an id that does not exist.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    has_request_context,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import FileStorage

from webchat.chat import Reply
from webchat.files.limits import UploadError, UploadLimits, human_size, require_files_taken
from webchat.files.remote import parse_networks
from webchat.files.storage import FILE_ID, ReplyFileError, Uploads
from webchat.files.types import MediaKind, is_inline, media_kind
from webchat.messages import ChatMessage, FileData
from webchat.settings import Settings
from webchat.store import Conversation, Store, Turn
from webchat.store.files import FileRecord, FileRecords
from webchat.store.tree_json import tree_of
from webchat.web.services import services
from webchat.web.session import client_key, current_owner

bp = Blueprint("files", __name__)
log = logging.getLogger("webchat.files")

# A file is the whole document when opened: it may show itself, and nothing else, ever run.
FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
# Chromium's PDF viewer does not run in a sandboxed document.
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"
CACHE = "private, max-age=86400"


def make_uploads(app: Flask, settings: Settings, store: Store) -> Uploads:
    """The app's files, with the request size the limits allow (for ``create_app``)."""
    limits = UploadLimits.from_settings(settings)
    allowed = parse_networks(settings.fetch_allow_networks)
    uploads = Uploads(settings.data_dir, FileRecords(store.engine), limits, fetch_allow=allowed)
    removed = uploads.remove_orphans()  # conversations purged since the last start took their files
    if removed:
        log.info("removed %d files no conversation uses any more", removed)
    # Werkzeug refuses a bigger body with 413 before reading it; too_large() words the answer.
    app.config["MAX_CONTENT_LENGTH"] = max(app.config.get("MAX_CONTENT_LENGTH") or 0, limits.request_size)
    return uploads


def uploads() -> Uploads:
    return services().uploads


def file_url(record: FileRecord) -> str:
    return url_for("files.serve", file_id=record.id, name=record.name)


def reply_files_for(app: Flask, store: Uploads, turn: Turn) -> Callable[[Reply], Reply]:
    """The runner's hook, called when a turn starts (in the request, which knows the URL prefix)."""
    script_root = request.script_root if has_request_context() else ""
    adapter = app.url_map.bind("localhost", script_name=script_root or "/")

    def url(record: FileRecord) -> str:
        return adapter.build("files.serve", {"file_id": record.id, "name": record.name})

    return store.reply_files(turn.owner, turn.conversation_id, url)


def send_stored(record: FileRecord, *, inline: bool) -> Response | None:
    """The stored file's bytes (as a download unless ``inline``), with the type sniffed when it
    was stored; None unless it is a regular file inside our files folder: a symlink put in the
    data folder (by anyone) must not turn a route into a way to read other files of the machine."""
    store = uploads()
    path = store.path_of(record)
    if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(store.root):
        return None
    return send_file(
        path,
        # Only types a browser shows as media keep their type: under nosniff it then refuses the
        # rest (an uploaded x.js or x.css) as a script or a stylesheet of our own pages.
        mimetype=record.mime_type if is_inline(record.mime_type) else "application/octet-stream",
        as_attachment=not inline,
        download_name=record.name,
        conditional=True,  # answers Range requests, so audio and video can seek
        etag=True,
        max_age=None,
    )


@bp.get("/files/<file_id>/<name>")
def serve(file_id: str, name: str) -> Response:
    record = uploads().get(current_owner(), file_id)
    if record is not None and record.name != name:  # the name is part of the address, as in the API
        record = None
    response = send_stored(record, inline=is_inline(record.mime_type)) if record else None
    if record is None or response is None:
        abort(404, description="There is no such file.")
    response.headers["X-Content-Type-Options"] = "nosniff"
    pdf = record.mime_type == "application/pdf"
    response.headers["Content-Security-Policy"] = PDF_CSP if pdf else FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = CACHE  # never "public": a shared cache would skip the owner check
    return response


# Taking the files posted with a message


def posted_files() -> list[FileStorage]:
    """The files of the composer's ``files`` input; the empty part a browser sends when no file
    was chosen is not a file."""
    return [f for f in request.files.getlist("files") if f.filename]


def form_is_truncated() -> bool:
    """A multipart body that ended early parses to nothing at all (Werkzeug is silent about it);
    the composer always sends at least its hidden fields."""
    return request.mimetype == "multipart/form-data" and not request.form and not request.files


def check_complete() -> None:
    if form_is_truncated():
        raise UploadError("The message arrived incomplete (cut off). Send it again.", 400)


def kept_file_ids() -> list[str]:
    """The ids of the files undo gave back to the composer, posted to send again (not trusted)."""
    return request.form.getlist("kept_files")


def composer_files(
    owner: str, conversation: Conversation | None, posted: list[FileStorage], kept_ids: list[str]
) -> tuple[list[FileRecord], list[FileRecord]]:
    """A message's files in order (the kept ones first) and, of those, the ones stored now. Kept
    files are already stored (never trusted: each must be the owner's, in this conversation) and
    count toward the limit with the new ones; UploadError says what is wrong."""
    kept = kept_files(owner, conversation.id if conversation else None, kept_ids, adding=len(posted))
    saved = save_posted(owner, posted)
    return kept + saved, saved


def attached_files(
    owner: str, conversation: Conversation | None, sources: tuple[str, ...]
) -> list[FileRecord]:
    """The files a program attaches to the message (an example's), stored for the owner as a
    chat function's files are; UploadError says why one cannot be (a link that cannot be fetched)."""
    store = uploads()
    kept: list[FileRecord] = []
    try:
        for source in sources:
            kept.append(store.adopt(owner, conversation.id if conversation else None, {"path": source}))
    except ReplyFileError as error:
        store.discard(kept)
        raise UploadError(f"This example's file cannot be attached: {error.message}", 422) from None
    return kept


def save_posted(owner: str, posted: list[FileStorage]) -> list[FileRecord]:
    """Store a message's files (all or none); UploadError says what is wrong with them."""
    if not posted:
        return []
    require_files_taken(services().page.multimodal)
    saved = uploads().save(owner, posted)
    limit = services().client_uploads
    wait = limit.add(client_key(), sum(r.size for r in saved))
    if wait:  # every session of this address together: a new cookie is no new quota
        uploads().discard(saved)
        raise UploadError(
            f"These files would take your network address past {human_size(limit.limit)} of uploads "
            f"in an hour, the most it may send (all its sessions together). Wait "
            f"{math.ceil(wait / 60)} min, or send smaller files; your message is still in the box.",
            429,
        )
    return saved


def file_messages(records: list[FileRecord]) -> list[ChatMessage]:
    """One user message per file, its content the FileData (Gradio's messages format)."""
    store = uploads()
    return [ChatMessage(role="user", content=store.filedata(r, file_url(r))) for r in records]


class ImportedFileError(UploadError):
    """A file in posted messages that is not one of the owner's; ``index`` is its message's."""

    def __init__(self, index: int, name: str) -> None:
        super().__init__(
            f"message {index}: the file {name!r} is not one of your files here (files cannot come from "
            "another server or session; attach it again in the chat)",
            400,
        )
        self.index = index


def copy_posted_files(owner: str, messages: list[ChatMessage]) -> tuple[list[ChatMessage], list[FileRecord]]:
    """Messages posted as JSON (an import), each FileData in them swapped for a new copy of the
    owner's stored file it names (found by its ``url``; a client's ``path`` never reads anything).
    The copies belong to the new conversation alone; link them to it once it is stored. A file
    that is not the owner's raises ImportedFileError, and no copy is left behind."""
    store = uploads()
    copies: list[FileRecord] = []

    def copy(value: FileData, index: int) -> FileData:
        try:
            record = store.named_record(owner, value)
        except UploadError:
            raise ImportedFileError(
                index, str(value.get("orig_name") or PurePath(str(value["path"])).name)
            ) from None
        copies.append(store.duplicate(record))
        return store.filedata(copies[-1], file_url(copies[-1]))

    result = []
    try:
        for index, message in enumerate(messages):
            content: Any = message.content
            if isinstance(content, Mapping) and "component" in content:
                value = content["value"]
                fresh = [copy(v, index) for v in value] if isinstance(value, list) else copy(value, index)
                content = {**content, "value": fresh}
            elif isinstance(content, Mapping):
                content = copy(content, index)  # type: ignore[arg-type]
            result.append(dataclasses.replace(message, content=content))
        store.records.add(*copies)
    except BaseException:
        store.discard(copies)
        raise
    return result, copies


KEPT_GONE = "One of the attached files is no longer available; remove it and send again."


def sent_files(owner: str, conversation_id: str, messages: list[ChatMessage]) -> list[FileRecord]:
    """The stored files a message of the owner's conversation carried (its FileData contents, in
    order), for undo to give back to the composer; a file that could not be sent again is left out."""
    store = uploads()
    records = []
    for message in messages:
        content = message.content
        if not isinstance(content, Mapping) or "component" in content:
            continue
        file_id = store.id_of(content)
        record = _keepable(store, owner, conversation_id, file_id) if file_id else None
        if record is not None and record not in records:
            records.append(record)
    return records


def kept_files(
    owner: str, conversation_id: str | None, ids: list[str], *, adding: int = 0
) -> list[FileRecord]:
    """The files a message sends again from the composer (``kept_files``: the ids undo gave back),
    in order. Each must be the owner's, in this conversation (a file shared with another one would
    go when that one is deleted) and still on disk; UploadError if one is not, or if with the
    ``adding`` new files the message would carry more than allowed. Nothing is stored or removed."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    require_files_taken(services().page.multimodal)
    store = uploads()
    total = len(ids) + adding
    if total > store.limits.max_files:
        raise UploadError(
            f"You attached {total} files; at most {store.limits.max_files} can go in one message. "
            "Remove some and send again.",
            413,
        )
    if conversation_id is None:  # a new chat has no files yet
        raise UploadError(KEPT_GONE, 422)
    records = []
    for file_id in ids:
        record = _keepable(store, owner, conversation_id, file_id)
        if record is None:
            raise UploadError(KEPT_GONE, 422)
        records.append(record)
    return records


def still_kept(owner: str, conversation_id: str | None, ids: list[str]) -> list[FileRecord]:
    """Of the files a refused message kept, those it may send again: the page drawn without
    JavaScript shows them in the composer once more (the others are left out)."""
    if conversation_id is None or not services().page.multimodal:
        return []
    store = uploads()
    found = (
        _keepable(store, owner, conversation_id, i)
        for i in list(dict.fromkeys(ids))[: store.limits.max_files]
    )
    return [r for r in found if r is not None]


def _keepable(store: Uploads, owner: str, conversation_id: str, file_id: str) -> FileRecord | None:
    """The owner's file in that conversation, as a regular file in our files folder."""
    record = store.get(owner, file_id)
    if record is None or record.conversation_id != conversation_id:
        return None
    path = store.path_of(record)
    if path.is_symlink() or not path.resolve().is_relative_to(store.root):
        return None
    return record


# Showing files in the page


@dataclass(frozen=True)
class FileView:
    url: str | None
    name: str
    size: int | None
    mime: str
    kind: MediaKind
    alt: str
    inline: bool


@bp.app_template_global()
def file_views(content: Mapping[str, Any]) -> list[FileView]:
    """The files of a message's content (FileData, or a component with one or a list), by kind."""
    component = content.get("component")
    value = content.get("value") if component else content
    items = value if isinstance(value, list) else [value]
    store = uploads()
    views = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        mime = item.get("mime_type") or "application/octet-stream"
        name = item.get("orig_name") or PurePath(str(item.get("path", ""))).name or "file"
        place = _stored_place(store, item.get("path"))
        url = url_for("files.serve", file_id=place[0], name=place[1]) if place else None
        kind = "file" if component == "file" else media_kind(mime)
        alt = content.get("alt_text") or name if component else name
        views.append(FileView(url, name, item.get("size"), mime, kind, alt, is_inline(mime)))
    return views


def _stored_place(store: Uploads, path: object) -> tuple[str, str] | None:
    """``(id, name)`` of a path in our files folder, from the path alone (no disk access): only
    the server writes FileData paths into stored messages, and serving checks the owner anyway."""
    if not isinstance(path, str):
        return None
    try:
        parts = PurePath(path).relative_to(store.root).parts
    except ValueError:
        return None
    if len(parts) != 2 or not FILE_ID.match(parts[0]):
        return None
    return parts[0], parts[1]


@bp.app_template_global()
def upload_limits() -> UploadLimits:
    return uploads().limits


@bp.app_template_filter("human_size")
def human_size_filter(size: int | None) -> str:
    return human_size(size) if isinstance(size, int) else ""


def shared_tree(conversation_id: str) -> list[dict[str, Any]]:
    """Every message of the conversation, on every branch, as an export's ``tree``
    (webchat.store.tree_json), file paths as they leave the server."""
    nodes = tree_of(services().store.all_messages(conversation_id))
    shared = uploads().shareable([node["message"] for node in nodes])
    return [{**node, "message": message} for node, message in zip(nodes, shared, strict=True)]
