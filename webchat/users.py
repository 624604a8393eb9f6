"""Who may sign in: user names with password hashes, from ``--auth user:password`` and ``--auth-file``.

An auth file holds one ``name:hash`` line per user, the hash in werkzeug's format (``scrypt:…`` or
``pbkdf2:…``), so the file never holds a password. ``python -m webchat.users NAME`` prints such a
line. The file is read again when it changes, so adding or removing a user needs no restart;
a user removed from it is signed out on their next request.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import secrets
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger("webchat.users")

USER_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
HASH_PREFIXES = ("scrypt:", "pbkdf2:")


class UsersError(ValueError):
    """A bad ``--auth`` entry or auth file; the text says which and why (never the password)."""


def check_name(name: str, where: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise UsersError(f"{where}: {name!r} is not a valid user name (1 to 64 letters, digits or . _ @ + -)")
    return name


def parse_entry(entry: str) -> tuple[str, str]:
    """``user:password`` (the password may contain ``:``) into the name and a hash of the password."""
    name, sep, password = entry.partition(":")
    if not sep or not name or not password:
        shown = name if sep else "…"
        raise UsersError(f"--auth expects user:password, got {shown!r} without a password")
    return check_name(name, "--auth"), generate_password_hash(password)


def parse_file(text: str, path: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        name, sep, password_hash = line.partition(":")
        if not sep or not password_hash.startswith(HASH_PREFIXES) or password_hash.count("$") != 2:
            raise UsersError(
                f"{where}: expected name:hash with a scrypt or pbkdf2 hash "
                "(make one with: python -m webchat.users NAME)"
            )
        check_name(name, where)
        if name in users:
            raise UsersError(f"{where}: {name!r} appears twice")
        users[name] = password_hash
    return users


class Users:
    """The users who may sign in; ``verify`` takes as long for an unknown name as for a known one."""

    def __init__(self, entries: Iterable[str] = (), file: Path | None = None) -> None:
        self._inline: dict[str, str] = {}
        for entry in entries:
            name, password_hash = parse_entry(entry)
            if name in self._inline:
                raise UsersError(f"--auth: {name!r} is given twice")
            self._inline[name] = password_hash
        self._file = file
        self._file_users: dict[str, str] = {}
        self._file_stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        if file is not None:
            self._reload(strict=True)
        self._dummy = generate_password_hash(secrets.token_urlsafe(16))

    def _stamp(self) -> tuple[int, int] | None:
        assert self._file is not None
        try:
            stat = self._file.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _reload(self, *, strict: bool = False) -> None:
        """Read the auth file again if it changed; a broken edit keeps the users we had (and logs)."""
        if self._file is None:
            return
        stamp = self._stamp()
        if stamp is not None and stamp == self._file_stamp:
            return
        with self._lock:
            try:
                if stamp is None:
                    raise UsersError(f"--auth-file {self._file}: cannot read it")
                users = parse_file(self._file.read_text(encoding="utf-8"), self._file)
            except (UsersError, OSError, UnicodeDecodeError) as error:
                if strict:
                    raise UsersError(str(error)) from None
                if stamp != self._file_stamp:
                    log.error("keeping the previous users: %s", error)
                    self._file_stamp = stamp
                return
            self._file_users = users
            self._file_stamp = stamp

    def _hash_of(self, name: str) -> str | None:
        self._reload()
        return self._inline.get(name) or self._file_users.get(name)

    def __bool__(self) -> bool:
        return bool(self._inline) or self._file is not None

    def exists(self, name: str) -> bool:
        return self._hash_of(name) is not None

    def verify(self, name: str, password: str) -> bool:
        password_hash = self._hash_of(name)
        ok = check_password_hash(password_hash or self._dummy, password)
        return ok and password_hash is not None


def main(argv: list[str] | None = None) -> None:
    """Print an auth-file line for a user, asking for the password (or reading it from stdin)."""
    parser = argparse.ArgumentParser(
        prog="python -m webchat.users", description="Print a line for webchat's --auth-file."
    )
    parser.add_argument("name", help="the user name")
    parser.add_argument("--stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    try:
        check_name(args.name, "name")
    except UsersError as error:
        raise SystemExit(str(error)) from None
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("The two passwords differ.")
    if not password:
        raise SystemExit("The password is empty.")
    print(f"{args.name}:{generate_password_hash(password)}")


if __name__ == "__main__":
    main()
