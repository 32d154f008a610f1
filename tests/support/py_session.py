"""Drives real `mcp-bridge serve` processes through the official MCP Python SDK.

Run by tests/clients.rs with the interpreter of a virtualenv holding either
mcp 1.x or mcp 2.x:

    python py_session.py --bin BIN --db DB --log-dir DIR --secret S [--env K=V ...]

Two servers share DB, each started by the SDK's own `stdio_client` and
`ClientSession.initialize()` handshake. The script only drives the calls and
records what the SDK hands back (protocol version, tool listings, each result's
structured content, text copy and error flag, raised exceptions); the Rust test
asserts on that record, which it reads as the one JSON line on stdout. With
mcp 2.x it also connects a third server through the SDK's high-level `Client`,
whose default `mode="auto"` probes `server/discover` (the stateless 2026-07-28
protocol) before falling back to `initialize`.

Nothing here echoes the secret it sends, so the Rust test can require that the
secret appears nowhere in the output.
"""

import argparse
import importlib.metadata
import json
import os
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

SDK_VERSION = importlib.metadata.version("mcp")
MAJOR = int(SDK_VERSION.split(".")[0])

if MAJOR >= 2:
    from mcp.shared.exceptions import MCPError as ProtocolError
else:
    from mcp.shared.exceptions import McpError as ProtocolError

# How long the long-poll waits at most, and how long after it starts the
# partner sends.
LONGPOLL_WAIT_S = 10
LONGPOLL_SEND_AFTER_S = 0.5


def result_record(result):
    """What the SDK exposes of a CallToolResult: 1.x names its attributes in
    camelCase (`structuredContent`, `isError`), 2.x in snake_case
    (`structured_content`, `is_error`). A missing attribute raises, so a
    renamed field fails the run instead of reading as None."""
    if MAJOR >= 2:
        structured, is_error = result.structured_content, result.is_error
    else:
        structured, is_error = result.structuredContent, result.isError
    texts = [block.text for block in result.content if block.type == "text"]
    return {"structured": structured, "texts": texts, "is_error": is_error}


def tool_record(tool):
    if MAJOR >= 2:
        return {"name": tool.name, "input_schema": tool.input_schema, "output_schema": tool.output_schema}
    return {"name": tool.name, "input_schema": tool.inputSchema, "output_schema": tool.outputSchema}


def init_version(init):
    return init.protocol_version if MAJOR >= 2 else init.protocolVersion


async def call(session, name, arguments):
    """A tool call whose failure is recorded: a result, or the error the SDK raised."""
    try:
        result = await session.call_tool(name, arguments)
    except ProtocolError as e:
        return {"raised": "protocol_error", "code": e.error.code, "message": e.error.message}
    except Exception as e:  # noqa: BLE001 - recorded for the Rust test to judge
        return {"raised": type(e).__name__, "message": str(e)}
    return result_record(result)


def server_params(args, index):
    env = dict(kv.split("=", 1) for kv in args.env)
    return StdioServerParameters(command=args.bin, args=["serve", "--db", args.db], env=env, cwd=args.log_dir)


async def session_pair(args, out):
    log1 = open(os.path.join(args.log_dir, "server1.stderr"), "w")
    log2 = open(os.path.join(args.log_dir, "server2.stderr"), "w")
    async with (
        stdio_client(server_params(args, 1), errlog=log1) as (r1, w1),
        stdio_client(server_params(args, 2), errlog=log2) as (r2, w2),
        ClientSession(r1, w1) as s1,
        ClientSession(r2, w2) as s2,
    ):
        out["protocol_versions"] = [init_version(await s1.initialize()), init_version(await s2.initialize())]

        listed = await s1.list_tools()
        out["tools"] = [tool_record(t) for t in listed.tools]

        created = await call(s1, "create_conversation", {"my_role": "backend dev", "partner_role": "frontend_dev"})
        out["create"] = created
        conv = created["structured"]
        cid = conv["conversation_id"]
        a = {"conversation_id": cid, "session_id": "a", "token": conv["session_a_token"]}
        b = {"conversation_id": cid, "session_id": "b", "token": conv["session_b_token"]}

        out["send"] = await call(
            s1,
            "send_to_partner",
            {
                **a,
                "message": f"deploy with {args.secret} then run the migration",
                "action_type": "request",
                "files_involved": ["deploy/aws.env"],
            },
        )
        out["check"] = await call(s2, "check_messages", b)

        # The long-poll on server 2, woken by a send on server 1.
        longpoll = {}

        async def poll():
            start = time.monotonic()
            longpoll["result"] = await call(s2, "check_messages", {**b, "wait_seconds": LONGPOLL_WAIT_S})
            longpoll["elapsed_s"] = time.monotonic() - start

        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await anyio.sleep(LONGPOLL_SEND_AFTER_S)
            longpoll["send"] = await call(s1, "send_to_partner", {**a, "message": "woken?", "action_type": "question"})
        longpoll["wait_seconds"] = LONGPOLL_WAIT_S
        longpoll["send_after_s"] = LONGPOLL_SEND_AFTER_S
        out["longpoll"] = longpoll

        out["update_status"] = await call(s2, "update_my_status", {**b, "status": "working", "note": "wiring the UI"})
        out["partner_status"] = await call(s1, "check_partner_status", a)

        wrong = "0" * 64 if b["token"] != "0" * 64 else "1" * 64
        out["wrong_token"] = await call(s2, "check_messages", {**b, "token": wrong})
        out["extra_field"] = await call(s2, "check_partner_status", {**b, "extra_field": 1})
        # The session still works after both refusals.
        out["after_errors"] = await call(s1, "check_messages", a)
    log1.close()
    log2.close()


async def auto_client(args, out):
    """mcp 2.x only: the high-level Client, which negotiates the stateless
    protocol through server/discover when the server offers it."""
    from mcp import Client

    # Client spawns the server with its own stdio transport; its stderr goes
    # to this script's stderr.
    async with Client(server_params(args, 3)) as client:
        record = {"protocol_version": client.protocol_version}
        listed = await client.list_tools()
        record["tool_names"] = sorted(t.name for t in listed.tools)
        created = await client.call_tool("create_conversation", {"my_role": "writer", "partner_role": "reader"})
        record["create"] = result_record(created)
        conv = created.structured_content
        record["partner_status"] = result_record(
            await client.call_tool(
                "check_partner_status",
                {
                    "conversation_id": conv["conversation_id"],
                    "session_id": "a",
                    "token": conv["session_a_token"],
                },
            )
        )
    out["auto_client"] = record


async def main(args):
    out = {"sdk_version": SDK_VERSION, "python": sys.version.split()[0]}
    with anyio.fail_after(90):
        await session_pair(args, out)
        if MAJOR >= 2:
            await auto_client(args, out)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--env", action="append", default=[])
    anyio.run(main, parser.parse_args())
