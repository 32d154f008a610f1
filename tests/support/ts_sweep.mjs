// Runs a tests/sweep.rs plan through the official MCP TypeScript SDK.
//
//     node ts_sweep.mjs SDK_PREFIX PLAN_FILE
//
// SDK_PREFIX is an npm prefix holding @modelcontextprotocol/sdk. Each server
// the plan names is spawned by the SDK's own StdioClientTransport and
// initialized by its Client; tools are listed first, as real clients do, so
// Client.callTool validates structured content against each tool's
// outputSchema. Each call's outcome is recorded as the SDK hands it over: the
// result's isError, structuredContent, text blocks and _meta, or what it threw.
// Successful structured content is also checked with the SDK's own JSON
// Schema validator (the one Client uses) and its errors recorded.
//
// A step's optional "options" ({timeout_ms, reset_on_progress}) become the
// request options of callTool, with a progress callback whose calls are
// counted in the record's "progress".
//
// Line protocol (stdout): {"sdk_version": ...} first, {"pause": ...} when the
// test must act (its answer arrives as one JSON line on stdin), and
// {"results": [...]} last.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [prefix, planFile] = process.argv.slice(2);
const require = createRequire(join(prefix, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { AjvJsonSchemaValidator } = require("@modelcontextprotocol/sdk/validation/ajv");
// Read directly: the package's exports map does not expose package.json.
const sdkVersion = JSON.parse(
  readFileSync(join(prefix, "node_modules/@modelcontextprotocol/sdk/package.json"), "utf8"),
).version;

const plan = JSON.parse(readFileSync(planFile, "utf8"));
const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const PLACEHOLDER = /^\$\{(\d+)\.([A-Za-z0-9_]+)\}$/;
const values = [];

function resolve(value) {
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  }
  if (typeof value === "string") {
    const m = PLACEHOLDER.exec(value);
    if (m) {
      const source = values[Number(m[1])];
      if (!source || !(m[2] in source)) {
        throw new Error(`${value}: step ${m[1]} gave ${JSON.stringify(source)}`);
      }
      return source[m[2]];
    }
  }
  return value;
}

const servers = new Map();
const validator = new AjvJsonSchemaValidator();

async function server(name) {
  if (!servers.has(name)) {
    const transport = new StdioClientTransport({
      command: plan.command,
      args: plan.args,
      env: { ...plan.env, ...plan.servers[name] },
      stderr: "inherit",
    });
    const client = new Client({ name: "mcp-bridge-sweep", version: "1.0.0" });
    await client.connect(transport);
    const { tools } = await client.listTools();
    const schemas = Object.fromEntries(tools.map((t) => [t.name, t.outputSchema]));
    servers.set(name, { client, schemas });
  }
  return servers.get(name);
}

async function main() {
  emit({ sdk_version: sdkVersion });
  const results = [];
  for (const [n, step] of plan.steps.entries()) {
    if (step.pause) {
      const pause = resolve(step);
      emit(pause);
      const { value, done } = await answers.next();
      if (done) throw new Error("stdin closed during a pause");
      values[n] = JSON.parse(value);
      continue;
    }
    const { client, schemas } = await server(step.server);
    const record = { step: n, tool: step.tool, raised: null };
    try {
      // A step may set the request's timeout and whether progress resets it;
      // the SDK sends a progressToken only when it is given onprogress.
      const options = step.options && {
        timeout: step.options.timeout_ms,
        resetTimeoutOnProgress: step.options.reset_on_progress,
        onprogress: () => {
          record.progress = (record.progress ?? 0) + 1;
        },
      };
      const result = await client.callTool({ name: step.tool, arguments: resolve(step.args) }, undefined, options);
      record.is_error = result.isError ?? false;
      record.structured = result.structuredContent ?? null;
      record.texts = result.content.filter((c) => c.type === "text").map((c) => c.text);
      record.meta = result._meta ?? null;
      record.schema_errors = [];
      if (record.structured && !record.is_error) {
        const check = validator.getValidator(schemas[step.tool])(record.structured);
        if (!check.valid) record.schema_errors.push(check.errorMessage);
      }
      values[n] = record.structured ?? {};
    } catch (e) {
      record.raised = { code: e.code ?? null, message: String(e.message ?? e) };
      values[n] = {};
    }
    results.push(record);
  }
  for (const { client } of servers.values()) await client.close();
  emit({ results });
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`ts_sweep: ${e.stack ?? e}\n`);
    process.exit(1);
  },
);
