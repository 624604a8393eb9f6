"""Files for programs: ``POST /api/files`` stores one (to use in conversations posted here), and
``GET /api/files/<id>/<name>`` downloads one of the caller's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask import jsonify as json_response

from webchat.files.limits import UploadError
from webchat.web.api.access import caller
from webchat.web.api.errors import ApiError
from webchat.web.files import file_url, form_is_truncated, save_posted, send_stored
from webchat.web.services import services

bp = Blueprint("api_files", __name__)

UPLOAD_FORM_ROOM = 64 * 1024  # a file's multipart headers, around its bytes


@bp.post("/api/files")
def upload_file() -> Any:
    """Store one file (the multipart field ``file``) to use in conversations posted here.

    The same limits and type sniffing as the page's uploads apply. A file that no conversation
    uses within a day is removed, as an upload never sent with a message is.
    """
    store = services().uploads
    request.max_content_length = store.limits.max_file_size + UPLOAD_FORM_ROOM
    if form_is_truncated():
        raise ApiError(400, "The upload arrived incomplete (cut off); send it again.", param="file")
    posted = [f for f in request.files.getlist("file") if f.filename]
    if len(posted) != 1 or set(request.files) - {"file"}:
        message = "Send exactly one file, as the multipart/form-data field 'file' with a filename."
        raise ApiError(400, message, param="file")
    try:
        [record] = save_posted(caller().owner, posted)
    except UploadError as error:  # an empty file is a 422 in the page, a 400 here as in OpenAI's API
        raise ApiError(400 if error.status == 422 else error.status, error.message, param="file") from None
    [shared] = store.shareable([{"content": store.filedata(record, file_url(record))}])
    response = json_response(shared["content"])
    response.status_code = 201
    response.headers["Location"] = url_for("api_files.get_file", file_id=record.id, name=record.name)
    return response


@bp.get("/api/files/<file_id>/<name>")
def get_file(file_id: str, name: str) -> Any:
    """A file of the caller's, named as in a FileData ``url`` (``/files/<id>/<name>``) under ``/api``.

    Always a download (``attachment``), with the type sniffed when it was stored.
    """
    record = services().uploads.get(caller().owner, file_id)
    if record is None or record.name != name:
        raise ApiError(404, "There is no such file here.", code="file_not_found")
    response = send_stored(record, inline=False)
    if response is None:
        raise ApiError(404, "There is no such file here.", code="file_not_found")
    response.headers["Cache-Control"] = "private, no-cache"
    return response
