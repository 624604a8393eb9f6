"""A real MCP server for the tests, spoken to over stdio, written with the ``mcp`` SDK: a
calculator, an image tool, one that crashes the process, one that hangs, one that answers a lot.

    python tests/mcp_tools_server.py              # over stdio
    python tests/mcp_tools_server.py --http PORT  # over streamable HTTP at http://127.0.0.1:PORT/mcp
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
def garbage() -> str:
    """Writes something that is not the protocol into the protocol's stream, then answers. (The
    SDK diverts a tool's own stdout away from the wire: a broken server written otherwise would
    not be so careful, so this writes to the wire's own descriptor.)"""
    from mcp.server import stdio as wire  # its record of where the wire went

    claim = wire._claims.get(1)
    fd = claim.private_fd if claim is not None and claim.private_fd is not None else 1
    os.write(fd, b"this is not JSON-RPC\n{{{\n")
    return "after the garbage"


@server.tool()
def markup() -> str:
    """Text that looks like HTML."""
    return '<img src=x onerror="alert(1)"><script>alert(2)</script> done'


if __name__ == "__main__":
    marks = os.environ.get("MCP_TEST_MARKS")
    if marks:  # each start leaves its pid: a test sees restarts and that none is left running
        with open(os.path.join(marks, f"started-{os.getpid()}"), "w") as handle:
            handle.write(str(os.getpid()))
    if len(sys.argv) > 1 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:<port>
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
