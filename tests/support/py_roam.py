"""Keeps one MCP session of the official Python SDK across a restart of
`mcp-bridge serve --http`: the session creates a conversation, prints one
JSON line, waits for a line on stdin (the test restarts the server on the
same address meanwhile), then sends without passing any token and prints
the outcome as a second JSON line.

    python py_roam.py --url URL --token TOKEN

Never prints the bearer token.
"""

import argparse
import json
import os
import sys

import anyio
from mcp import ClientSession

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_http import connect, record  # noqa: E402  (the same SDK glue)


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
