"""Drives `mcp-bridge serve --http` through the official MCP Python SDK's
streamable HTTP client, with a bearer token in the Authorization header.

    python py_http.py --url URL --token TOKEN

Two sessions on one server: a creates a conversation, b long-polls, a sends,
b receives; both publish and read heartbeats. With mcp 2.x the high-level
`Client` (mode "auto", which probes the stateless 2026-07-28 protocol with
`server/discover`) makes a third connection. Prints one JSON line recording
what the SDK handed back; the Rust test (tests/http_clients.rs) asserts on it.
Never prints the token.
"""

import argparse
import importlib.metadata
import json
import sys

import anyio
from mcp import ClientSession

SDK_VERSION = importlib.metadata.version("mcp")
MAJOR = int(SDK_VERSION.split(".")[0])


def connect(url, token):
    headers = {"Authorization": f"Bearer {token}"}
    if MAJOR >= 2:
        from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

        return streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    from mcp.client.streamable_http import streamablehttp_client

    return streamablehttp_client(url, headers=headers)


def record(result):
    if MAJOR >= 2:
        structured, is_error = result.structured_content, result.is_error
    else:
        structured, is_error = result.structuredContent, result.isError
    return {"structured": structured, "is_error": is_error}


async def sessions(args, out):
    async with connect(args.url, args.token) as sa, connect(args.url, args.token) as sb:
        async with ClientSession(sa[0], sa[1]) as a, ClientSession(sb[0], sb[1]) as b:
            init_a = await a.initialize()
            await b.initialize()
            out["protocol_version"] = str(
                init_a.protocol_version if MAJOR >= 2 else init_a.protocolVersion
            )
            out["tools"] = sorted(t.name for t in (await a.list_tools()).tools)
            created = record(
                await a.call_tool("create_conversation", {"my_role": "writer", "partner_role": "reader"})
            )
            out["create"] = created
            conv = created["structured"]
            creds = lambda side: {  # noqa: E731
                "conversation_id": conv["conversation_id"],
                "session_id": side,
                "token": conv[f"session_{side}_token"],
            }
            got = {}

            async def poll():
                got["check"] = record(
                    await b.call_tool("check_messages", {**creds("b"), "wait_seconds": 20})
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(poll)
                await anyio.sleep(0.5)
                out["send"] = record(
                    await a.call_tool("send_to_partner", {**creds("a"), "message": "hello from python over http"})
                )
            out["check"] = got["check"]
            out["status"] = record(
                await b.call_tool("update_my_status", {**creds("b"), "status": "working", "note": "reading"})
            )
            out["partner"] = record(await a.call_tool("check_partner_status", creds("a")))
            out["wrong"] = record(
                await b.call_tool("send_to_partner", {**creds("b"), "token": "0" * 64, "message": "x"})
            )


async def auto_client(args, out):
    from mcp import Client

    async with Client(connect(args.url, args.token)) as client:
        created = await client.call_tool("create_conversation", {"my_role": "writer", "partner_role": "reader"})
        out["auto_client"] = {
            "protocol_version": str(client.protocol_version),
            "create": record(created),
        }


async def main(args):
    out = {"sdk_version": SDK_VERSION, "python": sys.version.split()[0]}
    with anyio.fail_after(60):
        await sessions(args, out)
        if MAJOR >= 2:
            await auto_client(args, out)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    anyio.run(main, parser.parse_args())
