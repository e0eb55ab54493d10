"""An MCP server (the official Python SDK) for the agent to use: streamable
HTTP at http://$MCP_HOST:$MCP_PORT/mcp (default 0.0.0.0:8000). Replace the
tools with your own; agent-init only needs the protocol to answer."""
import datetime
import os
import platform

from mcp.server.fastmcp import FastMCP

server = FastMCP(
    os.environ.get("MCP_NAME", "agent-init-mcp-server"),
    host=os.environ.get("MCP_HOST", "0.0.0.0"),
    port=int(os.environ.get("MCP_PORT", "8000")),
)


@server.tool()
def echo(text: str) -> str:
    """Returns its input."""
    return text


@server.tool()
def server_time() -> str:
    """The server's clock, in UTC (RFC 3339)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


@server.resource("info://host")
def host() -> str:
    """Where the server runs."""
    return f"{platform.node()} ({platform.system()} {platform.release()})"


if __name__ == "__main__":
    server.run(transport="streamable-http")
