"""A scripted stand-in for an LLM API, so a real agent CLI can be tested offline.

    python3 stand_in_model.py --api anthropic|openai|gemini --script S.json --record DIR [--port N] [--stdin]

Serves one API on 127.0.0.1 (port N, or a free one; the first stdout line is
`listening on http://127.0.0.1:PORT`) until it is killed or, with `--stdin`,
until its stdin closes (so it cannot outlive a test that dies):

- `anthropic`: the Messages API (`POST /v1/messages`, SSE when `stream` is
  true), what Claude Code speaks to `ANTHROPIC_BASE_URL`;
- `openai`: the Responses API (`POST .../responses`, SSE), what Codex speaks
  to a model provider with `wire_api = "responses"`;
- `gemini`: `POST .../models/M:streamGenerateContent` (SSE) and
  `:generateContent`, what Gemini CLI speaks to `GOOGLE_GEMINI_BASE_URL`.

The script is a JSON object `{"turns": [...]}`; each turn is either
`{"tool": NAME, "args": {...}}` (answer with a call of the declared tool whose
name ends in NAME: `mcp__bridge__NAME`, `mcp_bridge_NAME`, ...) or
`{"text": "..."}` (answer with final text). A string argument of the form
`${N.field}` becomes `field` of the JSON the CLI handed back as the result of
the script's N-th tool call (0-based), so a turn can use the conversation id
and tokens an earlier call returned.

Which turn comes next is read from the request itself, as a model would: the
number of tool calls already in the conversation. A retried request therefore
gets the same answer, and requests without the scripted tools (titles, quota
probes, next-speaker checks) get a short neutral answer without using a turn.

Everything is recorded in DIR: `requests.jsonl` (path and body of every
request) and `exchanges.jsonl`, one line per scripted request: the turn it
got, the tool results it carried back (`{"name", "text", "is_error"}`, in
order) and the tools it declared (`{"name", "description", "parameters"}`), so a test can
check what the CLI handed the model.
"""

import argparse
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLACEHOLDER = re.compile(r"^\$\{(\d+)\.([A-Za-z0-9_]+)\}$")


class ScriptError(Exception):
    """The script cannot go on (a placeholder without a usable result)."""


def result_json(text):
    """The JSON object inside a tool result text, or None.

    CLIs hand results back in different wrappings: the bare text, a JSON
    object around it (`{"output": ...}`), or text with a prefix. Take the
    first text that parses as an object, looking inside known wrappers."""
    if isinstance(text, dict):
        for key in ("output", "content", "result", "text"):
            if key in text:
                found = result_json(text[key])
                if found is not None:
                    return found
        return text
    if isinstance(text, list):
        for item in text:
            found = result_json(item.get("text") if isinstance(item, dict) and "text" in item else item)
            if found is not None:
                return found
        return None
    if not isinstance(text, str):
        return None
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return result_json(value) if set(value) <= {"output", "content", "result", "text"} else value
        start = text.find("{", start + 1)
    return None


def resolve(value, results):
    """`value` with every `${N.field}` replaced from the N-th tool result."""
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    if isinstance(value, str):
        m = PLACEHOLDER.match(value)
        if m:
            index, field = int(m.group(1)), m.group(2)
            if index >= len(results):
                raise ScriptError(f"{value}: only {len(results)} tool results so far")
            parsed = result_json(results[index]["text"])
            if not isinstance(parsed, dict) or field not in parsed:
                raise ScriptError(f"{value}: no field {field!r} in result {results[index]['text']!r}")
            return parsed[field]
    return value


def stringify(content):
    """Tool result content as one text (blocks joined, objects as JSON)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") in ("text", "input_text", "output_text"):
                parts.append(block.get("text", ""))
            else:
                parts.append(json.dumps(block))
        return "\n".join(parts)
    return json.dumps(content)


# ---------------------------------------------------------------------------
# The three APIs: read the conversation, write one answer
# ---------------------------------------------------------------------------


class Anthropic:
    """The Messages API as Claude Code uses it."""

    @staticmethod
    def matches(path):
        return path.split("?")[0].endswith("/v1/messages")

    @staticmethod
    def declared(body):
        return [
            {"name": t.get("name"), "description": t.get("description"), "parameters": t.get("input_schema")}
            for t in body.get("tools") or []
            if "name" in t
        ]

    @staticmethod
    def history(body):
        """(tool calls made so far, tool results handed back, in order)."""
        calls, results, names = 0, [], {}
        for message in body.get("messages", []):
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for block in content:
                if block.get("type") == "tool_use" and message.get("role") == "assistant":
                    calls += 1
                    names[block.get("id")] = block.get("name")
                elif block.get("type") == "tool_result":
                    results.append(
                        {
                            "name": names.get(block.get("tool_use_id")),
                            "text": stringify(block.get("content")),
                            "is_error": bool(block.get("is_error")),
                        }
                    )
        return calls, results

    @staticmethod
    def answer(path, body, n, call):
        """(content type, bytes) for a tool call `call` = (name, args) or text."""
        model = body.get("model", "stand-in")
        msg_id = f"msg_standin_{n}"
        if isinstance(call, tuple):
            name, args = call
            block = {"type": "tool_use", "id": f"toolu_standin_{n}", "name": name, "input": args}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": call}
            stop = "end_turn"
        usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        if not body.get("stream"):
            message = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [block],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage,
            }
            return "application/json", json.dumps(message).encode()
        start = dict(block, input={}) if block["type"] == "tool_use" else dict(block, text="")
        delta = (
            {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            if block["type"] == "tool_use"
            else {"type": "text_delta", "text": block["text"]}
        )
        events = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage,
                    },
                },
            ),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return "text/event-stream", sse(events)


class OpenAIResponses:
    """The Responses API as Codex uses it."""

    @staticmethod
    def matches(path):
        return path.split("?")[0].endswith("/responses")

    @staticmethod
    def declared(body):
        found = []

        def walk(tools, prefix):
            for t in tools or []:
                if t.get("type") == "namespace" or "tools" in t:
                    walk(t.get("tools"), prefix + (t.get("name") or "") + "/")
                elif "name" in t:
                    found.append(
                        {"name": prefix + t["name"], "description": t.get("description"), "parameters": t.get("parameters")}
                    )

        walk(body.get("tools"), "")
        return found

    @staticmethod
    def history(body):
        calls, results, names = 0, [], {}
        items = body.get("input")
        if not isinstance(items, list):
            return 0, []
        for item in items:
            kind = item.get("type")
            if kind == "function_call":
                calls += 1
                names[item.get("call_id")] = item.get("name")
            elif kind == "function_call_output":
                output = item.get("output")
                text = stringify(output) if not isinstance(output, dict) else stringify(output.get("content", output))
                results.append({"name": names.get(item.get("call_id")), "text": text, "is_error": None})
        return calls, results

    @staticmethod
    def answer(path, body, n, call):
        resp_id = f"resp_standin_{n}"
        if isinstance(call, tuple):
            name, args = call
            namespace, _, fn = name.rpartition("/")
            item = {
                "type": "function_call",
                "id": f"fc_standin_{n}",
                "call_id": f"call_standin_{n}",
                "name": fn,
                "arguments": json.dumps(args),
                "status": "completed",
            }
            if namespace:
                item["namespace"] = namespace
        else:
            item = {
                "type": "message",
                "id": f"msg_standin_{n}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": call, "annotations": []}],
            }
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }
        response = {"id": resp_id, "object": "response", "status": "in_progress", "model": body.get("model"), "output": []}
        events = [
            ("response.created", {"type": "response.created", "response": response}),
            ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
            ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": dict(response, status="completed", output=[item], usage=usage),
                },
            ),
        ]
        return "text/event-stream", sse(events)


class Gemini:
    """generateContent / streamGenerateContent as Gemini CLI uses them."""

    @staticmethod
    def matches(path):
        p = path.split("?")[0]
        return p.endswith(":streamGenerateContent") or p.endswith(":generateContent")

    @staticmethod
    def declared(body):
        found = []
        for tool in body.get("tools") or []:
            for decl in tool.get("functionDeclarations") or []:
                found.append(
                    {
                        "name": decl.get("name"),
                        "description": decl.get("description"),
                        "parameters": decl.get("parametersJsonSchema") or decl.get("parameters"),
                    }
                )
        return found

    @staticmethod
    def history(body):
        calls, results = 0, []
        for content in body.get("contents", []):
            for part in content.get("parts") or []:
                if "functionCall" in part and content.get("role") == "model":
                    calls += 1
                elif "functionResponse" in part:
                    fr = part["functionResponse"]
                    response = fr.get("response")
                    results.append(
                        {
                            "name": fr.get("name"),
                            "text": json.dumps(response) if not isinstance(response, str) else response,
                            "is_error": None,
                        }
                    )
        return calls, results

    @staticmethod
    def answer(path, body, n, call):
        stream = ":streamGenerateContent" in path
        if isinstance(call, tuple):
            name, args = call
            part = {"functionCall": {"name": name, "args": args}}
        else:
            part = {"text": call}
        chunk = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "stand-in",
        }
        if stream:
            return "text/event-stream", b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"
        return "application/json", json.dumps(chunk).encode()


def sse(events):
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class StandIn:
    def __init__(self, api, script, record_dir):
        self.api = api
        self.turns = script["turns"]
        self.tool_names = {t["tool"] for t in self.turns if "tool" in t}
        self.record_dir = record_dir
        self.lock = threading.Lock()
        self.served = 0

    def record(self, name, entry):
        with self.lock:
            with open(f"{self.record_dir}/{name}", "a") as f:
                f.write(json.dumps(entry) + "\n")

    def find_tool(self, declared, bare):
        for tool in declared:
            name = tool["name"] or ""
            if name == bare or re.search(r"(^|[_/.])" + re.escape(bare) + "$", name):
                return name
        raise ScriptError(f"no declared tool ends in {bare!r}; declared: {[t['name'] for t in declared]}")

    def respond(self, path, body):
        """(status, content type, bytes) for one request."""
        api = self.api
        if not api.matches(path):
            return 404, "application/json", b'{"error": {"code": 404, "message": "not served by the stand-in"}}'

        declared = api.declared(body)
        scripted = any(self.is_scripted(t["name"]) for t in declared)
        calls, results = api.history(body)
        with self.lock:
            self.served += 1
            n = self.served
        if not scripted:
            # A side request (title, quota, next speaker, ...): a neutral answer.
            call = self.side_answer(body)
        else:
            turn = self.turns[calls] if calls < len(self.turns) else {"text": "(script finished)"}
            try:
                if "tool" in turn:
                    call = (self.find_tool(declared, turn["tool"]), resolve(turn.get("args", {}), results))
                else:
                    call = turn["text"]
            except ScriptError as e:
                # End the session with a final text rather than an HTTP error,
                # which CLIs retry with backoff for minutes; the test reads
                # the recorded error.
                self.record("exchanges.jsonl", {"turn": calls, "error": str(e), "tool_results": results})
                return (200, *api.answer(path, body, n, f"stand-in script stopped: {e}"))
            self.record(
                "exchanges.jsonl",
                {
                    "turn": calls,
                    "answer": call if isinstance(call, str) else {"name": call[0], "args": call[1]},
                    "tool_results": results,
                    "declared": declared,
                },
            )
        return (200, *api.answer(path, body, n, call))

    def is_scripted(self, name):
        return any(name and re.search(r"(^|[_/.])" + re.escape(t) + "$", name) for t in self.tool_names)

    def side_answer(self, body):
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if schema:
            # Gemini CLI's helpers (model routing, next speaker) ask for JSON
            # of a given schema.
            return json.dumps(sample(schema))
        return "ok"


def sample(schema):
    """A small value valid against `schema` (the subset Gemini CLI uses)."""
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema:
        return "user" if "user" in schema["enum"] else schema["enum"][0]
    if kind == "object":
        return {k: sample(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    return "stand-in"


def handler_for(stand_in):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"unparsed": raw.decode("utf-8", "replace")}
            stand_in.record("requests.jsonl", {"method": "POST", "path": self.path, "body": body})
            try:
                status, kind, payload = stand_in.respond(self.path, body)
            except Exception as e:  # noqa: BLE001 - reported to the CLI and the record
                stand_in.record("exchanges.jsonl", {"error": f"{type(e).__name__}: {e}"})
                status, kind, payload = 500, "application/json", json.dumps({"error": {"message": str(e)}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            stand_in.record("requests.jsonl", {"method": "GET", "path": self.path})
            payload = b'{"data": [], "models": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A CLI closing a kept-alive connection is not a failure.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", choices=["anthropic", "openai", "gemini"], required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stdin", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()
    with open(args.script) as f:
        script = json.load(f)
    api = {"anthropic": Anthropic, "openai": OpenAIResponses, "gemini": Gemini}[args.api]
    stand_in = StandIn(api, script, args.record)
    server = Server(("127.0.0.1", args.port), handler_for(stand_in))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    if not args.stdin:
        server.serve_forever()
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
