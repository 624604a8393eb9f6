"""A small HTTP + websocket client that behaves like the page: cookies, CSRF, hx headers, Origin."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from websockets.sync.client import ClientConnection, connect

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
WS_URL = re.compile(r'hx-ws:connect="([^"]+)"')
TURN_ID = re.compile(r'id="turn-([A-Za-z0-9_-]+)"')


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


class PageClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def request(
        self,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                reply = Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            reply = Reply(error.code, dict(error.headers), error.read().decode())
        if found := CSRF.search(reply.text):
            self.csrf = found.group(1)
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def send(self, text: str, conversation_id: str = "") -> Reply:
        if not self.csrf:
            self.get("/new")
        return self.request(
            "POST",
            "/turns",
            {"text": text, "conversation_id": conversation_id},
            {"HX-Request": "true", "X-CSRF-Token": self.csrf},
        )

    def send_files(self, text: str, files: list[tuple[str, bytes]], conversation_id: str = "") -> Reply:
        """Send text and files as the composer does: one multipart body, ``files`` parts."""
        if not self.csrf:
            self.get("/new")
        boundary = "webchat-test-boundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in (("text", text), ("conversation_id", conversation_id))
        ]
        for filename, data in files:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            self.base_url + "/turns",
            data=body,
            method="POST",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "HX-Request": "true",
                "X-CSRF-Token": self.csrf,
            },
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode())

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def socket(self, ws_url: str, origin: str | None = None) -> ClientConnection:
        origin = self.base_url if origin is None else origin
        headers = {"Cookie": self.cookie_header()}
        ws_url = html.unescape(ws_url)  # as found in the page's hx-ws:connect attribute
        # A generous bound: on a loaded machine a handshake may wait seconds for the worker.
        return connect(ws_url, additional_headers=headers, origin=origin, open_timeout=60)


def frames_until_close(ws: ClientConnection, timeout: float = 20) -> list[dict[str, Any]]:
    frames = []
    try:
        while True:
            frames.append(json.loads(ws.recv(timeout=timeout)))
    except Exception as error:  # ConnectionClosed ends the stream
        if "ConnectionClosed" not in type(error).__name__:
            raise
    return frames
