// Validates JSON values against JSON Schemas with the validator an npm-installed
// MCP client uses (the Inspector's @modelcontextprotocol/client, or the
// TypeScript SDK's @modelcontextprotocol/sdk).
//
//     node validate.mjs NPM_PREFIX < [{"schema": ..., "instance": ...}, ...]
//
// Prints one JSON list: for each pair, the list of error messages (empty when valid).

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.argv[2], "package.json"));
let module;
for (const name of ["@modelcontextprotocol/client/validators/ajv", "@modelcontextprotocol/sdk/validation/ajv"]) {
  try {
    module = require(name);
    break;
  } catch {
    // Not this client; try the next.
  }
}
if (!module) throw new Error(`no MCP client validator under ${process.argv[2]}`);
const validator = new module.AjvJsonSchemaValidator();
const pairs = JSON.parse(readFileSync(0, "utf8"));
const errors = pairs.map(({ schema, instance }) => {
  const check = validator.getValidator(schema)(instance);
  return check.valid ? [] : [check.errorMessage];
});
process.stdout.write(JSON.stringify(errors) + "\n");
