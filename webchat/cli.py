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
        "--provider", help="a Hugging Face Inference Provider for --model (e.g. together); default: routed"
    )
    model.add_argument(
        "--mcp-config",
        type=Path,
        help='MCP servers whose tools the models may call: JSON {"mcpServers": {name: {command, args}}}',
    )
    model.add_argument(
        "--mcp",
        dest="mcp_server",
        action="store_true",
        default=None,
        help="also serve the chat as an MCP tool at /mcp (for IDEs and agents; with the API on, tokens)",
    )
    model.add_argument(
        "--models",
        dest="models_file",
        type=Path,
        help="a TOML file of models each conversation can pick from (see the README), instead of the above",
    )
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
    gen.add_argument(
        "--request-timeout",
        type=float,
        help="seconds to wait for the model server's next bytes before the reply fails (default 120)",
    )
    page = p.add_argument_group("page")
    page.add_argument("--title", help="title shown at the top of the page")
    page.add_argument("--description", help="Markdown shown under the title")
    files = p.add_argument_group("files (attached to messages)")
    files.add_argument("--max-file-size", type=int, help="bytes one file may have (default 25 MiB)")
    files.add_argument("--max-files", type=int, help="files one message may carry (default 10)")
    files.add_argument(
        "--max-session-files-size", type=int, help="bytes of uploads one session may keep (default 512 MiB)"
    )
    files.add_argument(
        "--allowed-file-types",
        help="accepted kinds, checked against the bytes: '*' (default) or e.g. 'image, .pdf, audio/*'",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where conversations and models are kept (default ~/.local/share/webchat)",
    )
    p.add_argument(
        "--api",
        action="store_true",
        default=None,
        help="serve the API for programs (/v1/chat/completions, /api/conversations) without logins; "
        "with --auth it is always on. Callers need an API token made in the page",
    )
    deploy = p.add_argument_group("production (see the README's deployment section)")
    deploy.add_argument(
        "--production",
        action="store_true",
        default=None,
        help="serve with gunicorn and the gevent worker instead of the development server",
    )
    deploy.add_argument("--workers", type=int, help="gunicorn workers (default 1; more need a shared hub)")
    deploy.add_argument(
        "--proxy-hops",
        type=int,
        help="reverse proxies in front whose X-Forwarded-For/-Proto/-Prefix are trusted (default 0)",
    )
    deploy.add_argument(
        "--public-origin", help="the address people open, e.g. https://chat.example.com (for websockets)"
    )
    signin = p.add_argument_group("sign-in (off by default; see the README's Auth section)")
    signin.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASSWORD",
        help="let this user sign in (repeat for several users)",
    )
    signin.add_argument(
        "--auth-file",
        type=Path,
        help="a file of name:hash lines (make a line with: python -m webchat.users NAME)",
    )
    signin.add_argument(
        "--trusted-user-header",
        metavar="HEADER",
        help="take the signed-in user from this header set by a proxy, e.g. X-Forwarded-User",
    )
    signin.add_argument(
        "--trusted-proxy",
        action="append",
        dest="trusted_proxies",
        metavar="ADDRESS",
        help="an address or network allowed to send that header, or 'unix' (default: loopback)",
    )
    scale = p.add_argument_group("several workers and hosts")
    scale.add_argument(
        "--database-url", help="keep conversations in this database, e.g. postgresql://user:pw@host/webchat"
    )
    scale.add_argument(
        "--redis-url", help="share replies being written through Redis, e.g. redis://127.0.0.1:6379/0"
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = vars(parser().parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations speak up only when they fail
    production = args.pop("production", None)
    settings = Settings.load(args)
    if production:
        from webchat.production import serve_production  # gunicorn; the app loads in its workers

        serve_production(settings)
        return

    # Not for --production above: there gunicorn's workers load the app, after gevent's patch.
    from webchat.app import create_app
    from webchat.server import serve

    try:
        app = create_app(settings)
    except Exception as error:  # a model that cannot start is the common case: say it plainly
        raise SystemExit(f"webchat could not start: {error}") from None
    serve(app, settings.host, settings.port)


if __name__ == "__main__":
    main()
