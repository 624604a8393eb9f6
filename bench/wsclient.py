"""A lean websocket client that reads a turn's stream as the page does (RFC 6455, text frames,
permessage-deflate offered as browsers offer it, pings answered, the server's close answered).

It is written on asyncio's Protocol rather than a library so that one process can read a
thousand streams (50,000 frames a second) on one core and count every byte on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import zlib
from collections.abc import Callable
from typing import Any

from bench.common import HOST

OnMessage = Callable[[float, dict[str, Any]], None]


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


class StreamProtocol(asyncio.Protocol):
    def __init__(self, request: bytes, on_message: OnMessage) -> None:
        self.request = request
        self.on_message = on_message
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.wire = 0  # bytes received: the 101 response and every frame
        self.open = False
        self.inflate: Any = None
        self.no_context = False
        self.parts: list[bytes] = []
        self.compressed = False
        self.close_code = 1006
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.wire += len(data)
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").lower()
            del self.buffer[: end + 4]
            if not head.startswith("http/1.1 101"):
                self._finish(-int(head.split()[1]) if len(head.split()) > 1 else -1)
                return
            self.open = True
            if "permessage-deflate" in head:
                self.inflate = zlib.decompressobj(-15)
                self.no_context = "server_no_context_takeover" in head
        self._frames(time.monotonic())

    def _frames(self, now: float) -> None:
        buf, pos, size = self.buffer, 0, len(self.buffer)
        while size - pos >= 2:
            first, length = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if size - start < length:
                break
            payload = bytes(buf[start : start + length])
            pos = start + length
            opcode = first & 0x0F
            if opcode in (0x1, 0x2, 0x0):
                if opcode:
                    self.compressed = bool(first & 0x40)
                self.parts.append(payload)
                if first & 0x80:
                    self._message(now, b"".join(self.parts))
                    self.parts = []
            elif opcode == 0x9:  # ping: answer as browsers do
                self.transport.write(_masked(0xA, payload))
            elif opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.transport.write(_masked(0x8, payload[:2]))
                self.transport.close()
                self._finish(self.close_code)
                break
        del buf[:pos]

    def _message(self, now: float, payload: bytes) -> None:
        if self.compressed and self.inflate is not None:
            payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
            if self.no_context:
                self.inflate = zlib.decompressobj(-15)
        self.on_message(now, json.loads(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(self.close_code)

    def _finish(self, code: int) -> None:
        if not self.done.done():
            self.done.set_result(code)


async def stream(
    port: int, path: str, origin: str, cookie: str, on_message: OnMessage, timeout: float = 90
) -> tuple[int, int]:
    """Open the socket, hand each message to ``on_message`` until the server closes; returns
    (close code, or -HTTP status if refused; bytes received)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nOrigin: {origin}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "User-Agent: webchat-bench\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    transport, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: StreamProtocol(request, on_message), HOST, port), timeout
    )
    try:
        code = await asyncio.wait_for(protocol.done, timeout)
    finally:
        transport.close()
    return code, protocol.wire
