"""Child process that hosts llama.cpp's HTTP server (from the xllamacpp wheel) for one GGUF.

xllamacpp only offers an in-process server (`xllamacpp.Server(params)` loads the model, then serves
HTTP from background threads), so `webchat.backends.local.LlamaServer` runs this file in a separate
interpreter: a crash, a hang or 200 MB of model memory then stay out of the web app's process.

It is run by path (`python -P llama_child.py ...`), not with `-m`, so that it never imports the
`webchat` package (Flask and friends): it needs only the standard library and xllamacpp.

Protocol with the parent:
- the server binds port 0 on 127.0.0.1; once the model is loaded and the socket listens, the child
  writes the base URL (`http://127.0.0.1:PORT`) to `--ready-file` (atomically);
- a model that fails to load ends the child with exit code 2 and a one-line reason on stderr;
- the child exits as soon as its parent is gone (its parent pid changes), so killing the web app
  with SIGKILL never leaves an orphan server. Polling the parent pid is used instead of
  PR_SET_PDEATHSIG because the death signal fires when the *thread* that started the child exits,
  which would kill the model whenever it was started from a short-lived request thread.
- SIGTERM keeps its default action (immediate exit), which is how the parent stops it.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

PARENT_POLL_SECONDS = 0.2
EXIT_LOAD_FAILED = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--ready-file", required=True, type=Path, help="where to write the base URL")
    parser.add_argument("--parent-pid", required=True, type=int, help="exit when this process is gone")
    parser.add_argument("--ctx", type=int, default=4096, help="total context, shared by all slots")
    parser.add_argument("--parallel", type=int, default=1, help="number of simultaneous requests")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: llama.cpp's)")
    return parser.parse_args(argv)


def watch_parent(parent_pid: int) -> None:
    """Exit the whole process once the parent has died (we get re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def build_params(args: argparse.Namespace):  # -> xllamacpp.CommonParams
    """Server settings; the chat template is left empty so the GGUF's own template is used."""
    import xllamacpp  # only installed on Linux x86_64, and only this child process needs it

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    return params


def write_ready_file(path: Path, url: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(url, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    try:
        import xllamacpp  # as above: the parent never loads llama.cpp

        server = xllamacpp.Server(build_params(args))
    except Exception as exc:  # xllamacpp raises RuntimeError for a bad model; report any failure
        print(f"llama_child: could not load {args.model}: {exc}", file=sys.stderr, flush=True)
        os._exit(EXIT_LOAD_FAILED)
    write_ready_file(args.ready_file, server.listening_address)
    print(f"llama_child: serving {args.model} at {server.listening_address}", file=sys.stderr, flush=True)
    threading.Event().wait()  # serve until SIGTERM/SIGKILL, or until watch_parent exits us


if __name__ == "__main__":
    main()
