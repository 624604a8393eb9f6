"""Fetching a file a chat function answered with as an http(s) URL, as Gradio downloads such media
(``gr.Image("https://…")``, ``gr.Audio(url)``) to its cache before showing it.

The URL comes from a program, and often from a model's words, so the fetch is an SSRF risk: a
reply must not make the server read its own network (a cloud's metadata service, a database on
localhost, the LAN). So:

- only ``http`` and ``https``, to the default or any port, with no credentials in the URL;
- the host is resolved once and every address must be public (``is_global``), unless it is in a
  network the settings allow (``fetch_allow_networks``, e.g. a media server on the LAN); the
  connection goes to that checked address, so a DNS answer that changes (rebinding) cannot send it
  elsewhere; TLS still checks the certificate against the host name;
- redirects are followed (at most 3), each new address checked the same way;
- at most ``max_bytes`` are read, and the whole fetch has a deadline.

Anything else fails with :class:`RemoteFileError`, whose text the chat shows.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from webchat.errors import Error

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RemoteFileError(Error):
    """A URL that cannot be fetched; the text says why, for the chat."""


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """The allowed private networks of the settings ("10.0.0.0/8", "127.0.0.1")."""
    try:
        return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())
    except ValueError as error:
        raise ValueError(f"fetch_allow_networks: {error}") from None


def fetch(
    url: str,
    folder: Path,
    *,
    max_bytes: int,
    timeout: float = 10.0,
    deadline_seconds: float = 60.0,
    allowed: Sequence[Network] = (),
) -> Path:
    """Download ``url`` into ``folder`` (named after the URL's last segment); the file's path."""
    deadline = time.monotonic() + deadline_seconds
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteFileError(f"only http and https links can be shown, not {_short(url)}")
        if parts.username or parts.password:
            raise RemoteFileError(f"a link with a user name or password is not fetched ({_short(url)})")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _checked_address(parts.hostname, port, allowed)
        connection = _connect(parts.scheme, parts.hostname, address, port, timeout)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(
                "GET", target, headers={"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "*/*"}
            )
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location", ""))
                continue
            if response.status != 200:
                raise RemoteFileError(f"{_short(url)} answered {response.status} {response.reason}")
            return _save(response, url, folder, max_bytes, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise RemoteFileError(f"{_short(url)} could not be fetched ({type(error).__name__})") from None
        finally:
            connection.close()
    raise RemoteFileError(f"{_short(url)} redirects more than {MAX_REDIRECTS} times")


def _checked_address(host: str, port: int, allowed: Sequence[Network]) -> str:
    """One address of ``host``, all of whose addresses are public (or allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise RemoteFileError(f"the host {host} is not known") from None
    addresses = [info[4][0] for info in infos]
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not (address.is_global or any(address in network for network in allowed)):
            raise RemoteFileError(
                f"{host} is a private or local address ({address}); webchat fetches only public ones"
            )
    return addresses[0]


def _connect(scheme: str, host: str, address: str, port: int, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPS(host, address, port, timeout)
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    return connection


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, the certificate checked against the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _save(
    response: http.client.HTTPResponse, url: str, folder: Path, max_bytes: int, deadline: float
) -> Path:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise RemoteFileError(f"{_short(url)} is larger than {max_bytes // (1024 * 1024)} MB")
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or "download"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe(name)
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise RemoteFileError(f"{_short(url)} is larger than {max_bytes // (1024 * 1024)} MB")
                if time.monotonic() > deadline:
                    raise RemoteFileError(f"{_short(url)} took too long to download")
                out.write(chunk)
        if size == 0:
            raise RemoteFileError(f"{_short(url)} is empty")
    except BaseException:
        path.unlink(missing_ok=True)  # nothing half-downloaded stays behind
        raise
    return path


def _safe(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\:*?"<>|').strip(" .")
    return cleaned[:120] or "download"


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."
