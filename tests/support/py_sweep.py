"""Runs a tests/sweep.rs plan through the official MCP Python SDK (1.x or 2.x).

    python py_sweep.py PLAN_FILE

Each server the plan names is spawned by the SDK's `stdio_client` and
initialized by its `ClientSession`; tools are listed first, as real clients
do. Each call's outcome is recorded as the SDK hands it over: the result's
error flag, structured content, text blocks and `_meta`, or what it raised.
Successful structured content is validated against the tool's output schema
with `jsonschema`, the validator the SDK itself uses, and its errors recorded.

Line protocol (stdout): {"sdk_version": ...} first, {"pause": ...} when the
test must act (its answer arrives as one JSON line on stdin), and
{"results": [...]} last.
"""

import contextlib
import importlib.metadata
import json
import re
import sys

import anyio
import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

SDK_VERSION = importlib.metadata.version("mcp")
MAJOR = int(SDK_VERSION.split(".")[0])

if MAJOR >= 2:
    from mcp.shared.exceptions import MCPError as ProtocolError
else:
    from mcp.shared.exceptions import McpError as ProtocolError

PLACEHOLDER = re.compile(r"^\$\{(\d+)\.([A-Za-z0-9_]+)\}$")


def emit(value):
    print(json.dumps(value), flush=True)


def resolve(value, values):
    if isinstance(value, dict):
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    if isinstance(value, str):
        m = PLACEHOLDER.match(value)
        if m:
            source = values.get(int(m.group(1))) or {}
            if m.group(2) not in source:
                raise KeyError(f"{value}: step {m.group(1)} gave {source!r}")
            return source[m.group(2)]
    return value


def attr(obj, snake, camel):
    """2.x names result fields in snake_case, 1.x in camelCase; a missing
    attribute raises, so a renamed field fails the run instead of reading as None."""
    return getattr(obj, snake if MAJOR >= 2 else camel)


def schema_errors(schema, instance):
    cls = jsonschema.validators.validator_for(schema)
    return [e.message for e in cls(schema).iter_errors(instance)]


async def main(plan):
    emit({"sdk_version": SDK_VERSION, "python": sys.version.split()[0]})
    values, results, sessions = {}, [], {}
    async with contextlib.AsyncExitStack() as stack:

        async def session(name):
            if name not in sessions:
                params = StdioServerParameters(
                    command=plan["command"], args=plan["args"], env={**plan["env"], **plan["servers"][name]}
                )
                read, write = await stack.enter_async_context(stdio_client(params))
                s = await stack.enter_async_context(ClientSession(read, write))
                await s.initialize()
                listed = await s.list_tools()
                schemas = {t.name: attr(t, "output_schema", "outputSchema") for t in listed.tools}
                sessions[name] = (s, schemas)
            return sessions[name]

        for n, step in enumerate(plan["steps"]):
            if "pause" in step:
                emit(resolve(step, values))
                line = await anyio.to_thread.run_sync(sys.stdin.readline)
                if not line:
                    raise RuntimeError("stdin closed during a pause")
                values[n] = json.loads(line)
                continue
            s, schemas = await session(step["server"])
            record = {"step": n, "tool": step["tool"], "raised": None}
            try:
                result = await s.call_tool(step["tool"], resolve(step["args"], values))
            except ProtocolError as e:
                record["raised"] = {"code": e.error.code, "message": e.error.message}
                values[n] = {}
            except Exception as e:  # noqa: BLE001 - recorded for the Rust test to judge
                record["raised"] = {"code": None, "message": f"{type(e).__name__}: {e}"}
                values[n] = {}
            else:
                structured = attr(result, "structured_content", "structuredContent")
                is_error = bool(attr(result, "is_error", "isError"))
                record.update(
                    is_error=is_error,
                    structured=structured,
                    texts=[b.text for b in result.content if b.type == "text"],
                    meta=result.meta,
                    schema_errors=(
                        schema_errors(schemas[step["tool"]], structured) if structured and not is_error else []
                    ),
                )
                values[n] = structured or {}
            results.append(record)
    emit({"results": results})


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        anyio.run(main, json.load(f))
