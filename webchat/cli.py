"""The ``webchat`` command: settings from flags (over ``WEBCHAT_*`` variables), then serve."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from webchat.settings import Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="webchat",
        description="A self-hosted LLM chat web app. With no model flags it runs a small local model.",
        epilog="Every flag can also be set as an environment variable: --base-url is WEBCHAT_BASE_URL.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000)")
    model = p.add_argument_group("model (pick one; default: the embedded SmolLM2 model)")
    model.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    model.add_argument(
        "--model", help="a Hugging Face model id (uses HF_TOKEN), or the model name to send to --base-url"
    )
    model.add_argument("--gguf", type=Path, help="run this local GGUF file with llama.cpp")
    model.add_argument(
        "--backend",
        choices=["auto", "local", "inference", "echo"],
        help="force a backend; 'echo' repeats your words (a demo needing nothing)",
    )
    gen = p.add_argument_group("generation")
    gen.add_argument("--system-prompt", help="instructions sent before every conversation")
    gen.add_argument("--max-tokens", type=int, help="longest reply, in tokens (default 1024)")
    gen.add_argument("--temperature", type=float)
    gen.add_argument("--top-p", type=float)
    page = p.add_argument_group("page")
    page.add_argument("--title", help="title shown at the top of the page")
    page.add_argument("--description", help="Markdown shown under the title")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where conversations and models are kept (default ~/.local/share/webchat)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = vars(parser().parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load(args)

    from webchat.app import create_app
    from webchat.server import serve

    try:
        app = create_app(settings)
    except Exception as error:  # a model that cannot start is the common case: say it plainly
        raise SystemExit(f"webchat could not start: {error}") from None
    serve(app, settings.host, settings.port)


if __name__ == "__main__":
    main()
