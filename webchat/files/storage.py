"""Where files live: saving uploads within the limits, FileData for them, copies for imports, and
taking in the files a chat function answers with.

A file lives at ``<data>/files/<id>/<name>``: the random id (128 bits) keeps files apart and
unguessable, and the cleaned original name at the end keeps ``Path(path).name`` and its suffix
meaningful to chat functions, as in Gradio. The type is sniffed from the bytes; the browser's
claim and the file's extension are never believed. Only the server makes FileData paths: a path
that comes from a client is at most a hint of which of the owner's files it means.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from webchat.errors import Error
from webchat.files import remote
from webchat.files.limits import UploadError, UploadLimits, human_size
from webchat.files.types import HEAD_BYTES, describe_type, name_for_type, sniff, sniff_file
from webchat.messages import ChatMessage, FileData, filedata, is_filedata
from webchat.store.files import FileRecord, FileRecords

log = logging.getLogger("webchat.files")

CHUNK = 1024 * 1024
MAX_NAME_BYTES = 200  # file systems allow 255 bytes a name; leave room
FILE_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
URL_ID = re.compile(r"/files/([A-Za-z0-9_-]{16,32})/")
# Where the media helpers (webchat.Image(...) of a PIL image, Plot, ...) write what they render;
# files from here are moved into the store rather than copied.
MEDIA_TEMP_DIR = Path(tempfile.gettempdir()) / "webchat-media"


class ReplyFileError(Error):
    """A file a chat function answered with cannot be shown; the text says why (shown in the chat)."""


def safe_filename(name: str | None, fallback: str = "file") -> str:
    """A name that is safe on disk, in a URL and in a header: the last path segment, without
    control or formatting characters (NUL, right-to-left override...), leading dots or excess length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # browsers may send a whole Windows path
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not dot or not 0 < len(ext) <= 16 or not stem:
            stem, ext = name, ""
        suffix = "." + ext if ext else ""
        room = MAX_NAME_BYTES - len(suffix.encode())
        stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .")
        name = (stem or fallback) + suffix
    return name


class UploadedFile(Protocol):
    """What a posted file offers (Werkzeug's FileStorage)."""

    filename: str | None
    stream: IO[bytes]


UrlFor = Callable[[FileRecord], str]


class Uploads:
    """The files of every owner: saving, looking up, taking in a chat function's files."""

    def __init__(
        self,
        data_dir: Path,
        records: FileRecords,
        limits: UploadLimits,
        fetch_allow: Sequence[remote.Network] = (),
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.root = self.data_dir / "files"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.records = records
        self.limits = limits
        self.fetch_allow = tuple(fetch_allow)  # private networks media URLs may come from

    def path_of(self, record: FileRecord) -> Path:
        return self.root / record.id / record.name

    def filedata(self, record: FileRecord, url: str | None = None) -> FileData:
        return filedata(
            str(self.path_of(record)),
            url=url,
            size=record.size,
            orig_name=record.name,
            mime_type=record.mime_type,
        )

    def shareable(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Message dicts as they leave the server (an export, the API): each stored file's
        ``path`` relative to the data folder (``files/<id>/<name>``), so nobody learns where the
        data folder is. Import takes that form back, as it takes the absolute one."""
        return [{**m, "content": self._shareable_content(m.get("content"))} for m in messages]

    def _shareable_content(self, content: Any) -> Any:
        if isinstance(content, Mapping) and "component" in content:
            value = content.get("value")
            shared = (
                [self._shareable_file(v) for v in value]
                if isinstance(value, list)
                else self._shareable_file(value)
            )
            return {**content, "value": shared}
        return self._shareable_file(content)

    def _shareable_file(self, value: Any) -> Any:
        if not isinstance(value, Mapping) or not isinstance(value.get("path"), str):
            return value
        try:
            relative = Path(value["path"]).relative_to(self.root.parent)
        except ValueError:
            return value
        return {**value, "path": relative.as_posix()}

    def get(self, owner: str, file_id: str) -> FileRecord | None:
        if not FILE_ID.match(file_id):
            return None
        record = self.records.get(owner, file_id)
        if record is None or not self.path_of(record).is_file():
            return None
        return record

    # Uploads

    def save(self, owner: str, posted: Sequence[UploadedFile]) -> list[FileRecord]:
        """Store the files of one message, all or none: a file over a limit refuses the message."""
        posted = [f for f in posted if f.filename]  # an empty part: no file was chosen
        limits = self.limits
        if len(posted) > limits.max_files:
            raise UploadError(
                f"You attached {len(posted)} files; at most {limits.max_files} can go in one message. "
                "Remove some and send again.",
                413,
            )
        saved: list[FileRecord] = []
        try:
            for item in posted:
                saved.append(self._save_one(owner, item))
            # Recorded first, then counted: two uploads at once each see the other's files, so
            # together they cannot pass the quota (at worst both are refused).
            self.records.add(*saved)
            total = self.records.total_size(owner)
            if saved and total > limits.max_session_size:
                raise UploadError(
                    f"These files would take this session's uploads to {human_size(total)}; the limit "
                    f"is {human_size(limits.max_session_size)}. Send smaller files, or fewer.",
                    413,
                )
        except BaseException:
            self.discard(saved)
            raise
        return saved

    def _save_one(self, owner: str, item: UploadedFile) -> FileRecord:
        name = safe_filename(item.filename)
        limit = self.limits.max_file_size
        file_id = secrets.token_urlsafe(16)
        folder = self.root / file_id
        folder.mkdir(mode=0o700)  # with 0600 files: only webchat's user reads them
        partial = folder / ".partial"
        size = 0
        head = b""
        try:
            with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                while chunk := item.stream.read(CHUNK):
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    size += len(chunk)
                    if size > limit:
                        raise UploadError(
                            f"{name} is larger than {human_size(limit)}, the most one file may be. "
                            "Send a smaller file.",
                            413,
                        )
                    out.write(chunk)
            if size == 0:
                raise UploadError(f"{name} is empty (0 bytes). Attach a file with something in it.", 422)
            mime = sniff(head, name)
            if not self.limits.allows(mime):
                raise UploadError(
                    f"{name} is {describe_type(mime)}, which this chat does not accept. "
                    f"Accepted: {self.limits.allowed_text}.",
                    415,
                )
            name = safe_filename(name_for_type(name, mime))
            partial.rename(folder / name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileRecord(file_id, owner, None, name, mime, size, "upload", time.time())

    def discard(self, records: Iterable[FileRecord]) -> None:
        """Forget files that were saved for a message that was then refused."""
        records = list(records)
        self.records.remove(r.id for r in records)
        self._remove_files(records)

    def _remove_files(self, records: Iterable[FileRecord]) -> None:
        for record in records:
            shutil.rmtree(self.root / record.id, ignore_errors=True)

    def remove_orphans(self, unsent_for: float = 86400.0) -> int:
        """Delete the files of purged conversations, and uploads never sent with a message."""
        doomed = self.records.orphans(time.time() - unsent_for)
        self.discard(doomed)
        return len(doomed)

    def duplicate(self, record: FileRecord) -> FileRecord:
        """The same file under a new id, not yet recorded (a hard link when the filesystem allows
        it, so no bytes are copied): deleting the conversation of one leaves the other intact."""
        file_id = secrets.token_urlsafe(16)
        folder = self.root / file_id
        folder.mkdir(mode=0o700)  # with 0600 files: only webchat's user reads them
        source, target = self.path_of(record), folder / record.name
        try:
            os.link(source, target)
        except OSError:  # another filesystem, or links not allowed
            shutil.copyfile(source, target)
            target.chmod(0o600)
        return dataclasses.replace(record, id=file_id, conversation_id=None, created_at=time.time())

    def link(self, records: Iterable[FileRecord], conversation_id: str) -> None:
        self.records.link((r.id for r in records), conversation_id)

    # Client FileData

    def id_of(self, value: Mapping[str, Any]) -> str | None:
        """Which stored file a FileData dict names: by the id in its URL, or by its path when the
        path is inside our files folder. Nothing else about the path is used."""
        url = value.get("url")
        if isinstance(url, str) and (found := URL_ID.search(url)):
            return found.group(1)
        path = value.get("path")
        if isinstance(path, str) and path:
            try:
                # An export's path is relative to the data folder (see shareable); a FileData from
                # a chat function or an older export has the absolute one.
                relative = (self.root.parent / path).resolve().relative_to(self.root)
            except (ValueError, OSError, RuntimeError):
                return None
            if relative.parts and FILE_ID.match(relative.parts[0]):
                return relative.parts[0]
        return None

    def resolve(self, owner: str, value: object, url_for: UrlFor | None = None) -> FileData:
        """A FileData dict from a client, as the owner's own stored file.

        The client's ``path``, ``size``, ``mime_type`` are ignored: the result is rebuilt from our
        record. A dict that names no file of this owner is refused (a 404 to the client).
        """
        record = self.named_record(owner, value)
        return self.filedata(record, url_for(record) if url_for else None)

    def named_record(self, owner: str, value: object) -> FileRecord:
        """The owner's stored file that a client's FileData dict names (by ``id_of``); UploadError
        (422 for a malformed dict, 404 for anything that is not the owner's file) otherwise."""
        if not is_filedata(value) and not (isinstance(value, Mapping) and "url" in value):
            raise UploadError("a file must be a FileData dict with the 'url' of one of your uploads", 422)
        file_id = self.id_of(value)  # type: ignore[arg-type]
        record = self.get(owner, file_id) if file_id else None
        if record is None:
            raise UploadError(
                "That file is not one of your uploads: send the 'url' of a file you uploaded here.", 404
            )
        return record

    # Files a chat function answers with

    def adopt(self, owner: str, conversation_id: str | None, source: Mapping[str, Any]) -> FileRecord:
        """Keep a file a chat function answered with, so it outlives the function's temp files."""
        raw = str(source.get("path") or "")
        shown = safe_filename(source.get("orig_name") or raw.replace("\\", "/").rsplit("/", 1)[-1])
        fetched: Path | None = None
        if re.match(r"^https?://", raw, re.IGNORECASE):  # downloaded first, as Gradio does
            try:
                fetched = remote.fetch(
                    raw,
                    MEDIA_TEMP_DIR / secrets.token_urlsafe(12),
                    max_bytes=self.limits.max_file_size,
                    allowed=self.fetch_allow,
                )
            except remote.RemoteFileError as error:
                log.warning("a chat function answered with a link that was not fetched: %s", error)
                raise ReplyFileError(
                    f"The chat function answered with a link that cannot be shown: {error}."
                ) from None
            raw = str(fetched)
            source = {**source, "orig_name": source.get("orig_name") or fetched.name}
        elif re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.IGNORECASE):
            raise ReplyFileError(
                f"The chat function answered with a link ({shown}); webchat shows only http(s) links "
                "and local files."
            )
        try:
            path = Path(raw).resolve(strict=True)
        except (OSError, RuntimeError):
            log.warning("a chat function answered with a missing file: %s", raw)
            raise ReplyFileError(
                f"The chat function answered with a file that does not exist ({shown})."
            ) from None
        mine = self.id_of({"path": str(path)})
        if mine:
            record = self.records.get_any(mine)
            if record is not None and record.owner == owner:
                return record
        elif path.is_relative_to(self.data_dir):
            log.warning("a chat function answered with webchat's own data file %s", path)
            raise ReplyFileError(f"The chat function answered with one of webchat's own files ({shown}).")
        if not path.is_file():
            raise ReplyFileError(f"The chat function answered with something that is not a file ({shown}).")
        name = safe_filename(source.get("orig_name") or path.name)
        file_id = secrets.token_urlsafe(16)
        folder = self.root / file_id
        folder.mkdir(mode=0o700)  # with 0600 files: only webchat's user reads them
        try:
            target = folder / name
            if path.is_relative_to(MEDIA_TEMP_DIR.resolve()):
                shutil.move(path, target)  # rendered by a media helper for this reply only
            else:
                shutil.copyfile(path, target)
            target.chmod(0o600)
            size = target.stat().st_size
            mime = sniff_file(target, name)
            if (fitting := safe_filename(name_for_type(name, mime))) != name:
                target = target.rename(folder / fitting)
                name = fitting
            record = FileRecord(file_id, owner, conversation_id, name, mime, size, "reply", time.time())
            self.records.add(record)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return record

    def reply_files(
        self, owner: str, conversation_id: str | None, url_for: UrlFor
    ) -> Callable[[list[ChatMessage]], list[ChatMessage]]:
        """For one turn: a function that swaps the files in each reply for stored copies.

        A reply that is only text passes through untouched (the per-token path does no I/O); a
        file is copied the first time it appears, and the copy is reused for later steps. A
        function that makes a new ``Image(...)`` for every step still gets one copy: a new file
        with the same name and bytes as one kept earlier in the turn is that one.
        """
        kept: dict[str, FileData] = {}
        by_content: dict[tuple[str, str], FileData] = {}

        def keep(value: Mapping[str, Any]) -> FileData:
            key = str(value.get("path"))
            if key not in kept:
                record = self.adopt(owner, conversation_id, value)
                content = (record.name, _digest(self.path_of(record)))
                if content in by_content and by_content[content]["path"] != str(self.path_of(record)):
                    self.discard([record])
                else:
                    by_content[content] = self.filedata(record, url_for(record))
                kept[key] = by_content[content]
                kept[kept[key]["path"]] = kept[key]
            return kept[key]

        def adopt_reply(reply: list[ChatMessage]) -> list[ChatMessage]:
            if all(isinstance(m.content, str) for m in reply):
                return reply
            return [_with_files(m, keep) for m in reply]

        return adopt_reply


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _with_files(message: ChatMessage, keep: Callable[[Mapping[str, Any]], FileData]) -> ChatMessage:
    content = message.content
    if isinstance(content, str):
        return message
    if "component" in content:
        value = content["value"]  # type: ignore[typeddict-item]
        files = [keep(v) for v in value] if isinstance(value, list) else keep(value)
        return dataclasses.replace(message, content={**content, "value": files})  # type: ignore[arg-type]
    return dataclasses.replace(message, content=keep(content))  # type: ignore[arg-type]
