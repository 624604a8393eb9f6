"""A real MCP server for the tests, spoken to over stdio, written with the ``mcp`` SDK: a
calculator, an image tool, one that crashes the process, one that hangs, one that answers a lot.

    python tests/mcp_tools_server.py
"""

from __future__ import annotations

import io
import os
import sys
import time

from mcp.server.mcpserver import Image, MCPServer

server = MCPServer("webchat-test-tools")


@server.tool()
def add(a: float, b: float) -> str:
    """Add two numbers."""
    return f"{a + b:g}"


@server.tool()
def red_square(size: int = 16) -> Image:
    """A red square image of the given size, in pixels."""
    from PIL import Image as Picture

    buffer = io.BytesIO()
    Picture.new("RGB", (size, size), "red").save(buffer, "PNG")
    return Image(data=buffer.getvalue(), format="png")


@server.tool()
def crash() -> str:
    """Ends the server process at once."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
def hang(seconds: float = 3600) -> str:
    """Never answers (sleeps)."""
    time.sleep(seconds)
    return "woke up"


@server.tool()
def lots() -> str:
    """An answer far longer than any model needs."""
    return "x" * 50_000


@server.tool()
def markup() -> str:
    """Text that looks like HTML."""
    return '<img src=x onerror="alert(1)"><script>alert(2)</script> done'


if __name__ == "__main__":
    marks = os.environ.get("MCP_TEST_MARKS")
    if marks:  # each start leaves its pid: a test sees restarts and that none is left running
        with open(os.path.join(marks, f"started-{os.getpid()}"), "w") as handle:
            handle.write(str(os.getpid()))
    server.run()
