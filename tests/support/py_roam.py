"""Keeps one MCP session of the official Python SDK across a restart of
`mcp-bridge serve --http`: the session creates a conversation, prints one
JSON line, waits for a line on stdin (the test restarts the server on the
same address meanwhile), then sends without passing any token and prints
the outcome as a second JSON line.

    python py_roam.py --url URL --token TOKEN

Never prints the bearer token.
"""

import argparse
import importlib.metadata
import json
import sys

import anyio
from mcp import ClientSession

MAJOR = int(importlib.metadata.version("mcp").split(".")[0])


def connect(url, token):
    headers = {"Authorization": f"Bearer {token}"}
    if MAJOR >= 2:
        from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

        return streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    from mcp.client.streamable_http import streamablehttp_client

    return streamablehttp_client(url, headers=headers)


def record(result):
    if MAJOR >= 2:
        return {"structured": result.structured_content, "is_error": result.is_error}
    return {"structured": result.structuredContent, "is_error": result.isError}


def emit(value):
    print(json.dumps(value), flush=True)


async def main(args):
    async with connect(args.url, args.token) as (read, write, *_):
        async with ClientSession(read, write) as session:
            await session.initialize()
            created = record(
                await session.call_tool(
                    "create_conversation", {"my_role": "writer", "partner_role": "reader"}
                )
            )
            conv = created["structured"] or {}
            emit({
                "create": {"is_error": created["is_error"]},
                "conversation_id": conv.get("conversation_id"),
                "b_token": conv.get("session_b_token"),
            })
            await anyio.to_thread.run_sync(sys.stdin.readline)
            sent = record(
                await session.call_tool(
                    "send_to_partner", {"message": "sent after the restart", "action_type": "info"}
                )
            )
            emit({"send": sent})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    anyio.run(main, parser.parse_args())
