"""Gzip, so the page is as light without nginx as with it.

Static scripts and stylesheets are served without their comments (whole-line ``//`` comments of
our scripts, ``/* */`` in stylesheets; the vendored files have none) and compressed once per
version (path, size, mtime), kept in memory: the set is small (about 100 KB raw) and the same for
every visitor. The comments stay in the repository for whoever reads the code: served, they cost
2.3 KB of the page's 30 KB gzipped. Pages and partials
are compressed as they are sent (level 5, as nginx does); the CSRF token in them is masked
differently in every response (``webchat.web.session.csrf_token``), so compressing them beside
reflected text reveals nothing (BREACH).
"""

from __future__ import annotations

import gzip
import os
import re
import threading

from flask import Flask, Response, request
from werkzeug.security import safe_join

COMPRESSIBLE = frozenset({"text/css", "text/javascript", "application/javascript", "image/svg+xml"})
HTML_LEVEL = 5
HTML_MIN_BYTES = 512  # below this, gzip's own header and trailer eat the gain
_cache: dict[tuple[str, int, int], tuple[bytes, bytes]] = {}
_lock = threading.Lock()


_CSS_COMMENT = re.compile(rb"/\*.*?\*/\s*", re.DOTALL)
_JS_LINE_COMMENT = re.compile(rb"^[ \t]*//[^\n]*\n", re.MULTILINE)  # whole lines only: never in a string


def _served(path: str) -> tuple[bytes, bytes]:
    """The file as served (without comments) and its gzip, made once per version of the file."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _lock:
        found = _cache.get(key)
    if found is None:
        with open(path, "rb") as f:
            body = f.read()
        if path.endswith(".css"):
            body = _CSS_COMMENT.sub(b"", body)
        elif path.endswith(".js") and not path.endswith(".min.js"):
            body = _JS_LINE_COMMENT.sub(b"", body)
        found = (body, gzip.compress(body, compresslevel=9, mtime=0))
        with _lock:
            _cache[key] = found
    return found


def init_app(app: Flask) -> None:
    static = app.static_folder or ""

    @app.after_request
    def compress_html(response: Response) -> Response:
        if (
            response.mimetype != "text/html"
            or response.is_streamed
            or response.direct_passthrough
            or "Content-Encoding" in response.headers
            or "gzip" not in request.headers.get("Accept-Encoding", "")
        ):
            return response
        body = response.get_data()
        if len(body) < HTML_MIN_BYTES:
            return response
        response.set_data(gzip.compress(body, compresslevel=HTML_LEVEL, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
        response.headers.add("Vary", "Accept-Encoding")
        return response

    @app.after_request
    def compress_static(response: Response) -> Response:
        if (
            request.endpoint != "static"
            or response.status_code != 200
            or response.mimetype not in COMPRESSIBLE
            or "Range" in request.headers
        ):
            return response
        path = safe_join(static, (request.view_args or {}).get("filename", ""))
        if path is None or not os.path.isfile(path):
            return response
        body, packed = _served(path)
        response.direct_passthrough = False
        response.headers.add("Vary", "Accept-Encoding")
        etag, weak = response.get_etag()
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(packed)
            response.headers["Content-Encoding"] = "gzip"
            suffix = "-min-gz"  # another representation: its own validator
        else:
            response.set_data(body)
            suffix = "-min"
        if etag:
            response.set_etag(etag + suffix, weak=weak)
        return response
