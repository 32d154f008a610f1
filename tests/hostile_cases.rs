//! The hostile inputs `hostile` writes to a real server's stdin: lines that
//! are not usable JSON-RPC (broken JSON, wrong shapes, unknown methods,
//! invalid UTF-8 and NUL bytes, numbers out of range, deep nesting, 10 MB
//! lines), each with the answer it must get, and every argument of every tool
//! with every JSON type its schema rejects.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::hostile::{
    BAD_CALL, Expect, INVALID_PARAMS, INVALID_REQUEST, NO_ID, NOT_FOUND, PARSE, Raw, request,
    tool_call,
};

/// Lines that are not usable JSON-RPC, each with its answer.
pub(crate) fn wire_cases() -> Vec<(&'static str, Vec<u8>, Vec<Expect>)> {
    let mut cases: Vec<(&'static str, Vec<u8>, Vec<Expect>)> = vec![
        (
            "truncated JSON with an id",
            br#"{"jsonrpc":"2.0","id":101,"method":"ping""#.to_vec(),
            vec![Expect::Error(json!(101), PARSE)],
        ),
        (
            "trailing garbage",
            br#"{"jsonrpc":"2.0","id":102,"method":"ping"} x"#.to_vec(),
            vec![Expect::Error(json!(102), PARSE)],
        ),
        (
            "a string id in broken JSON",
            br#"{"id": "abc", "jsonrpc": 2.0.0}"#.to_vec(),
            vec![Expect::Error(json!("abc"), PARSE)],
        ),
        ("plain text", b"GET / HTTP/1.1".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("a lone brace", b"{".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("single quotes", b"{'jsonrpc':'2.0'}".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("NaN", br#"{"jsonrpc":"2.0","id":103,"method":"ping","params":{"x":NaN}}"#.to_vec(), vec![Expect::Error(json!(103), PARSE)]),
        ("an empty array", b"[]".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a batch", br#"[{"jsonrpc":"2.0","id":104,"method":"ping"}]"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a number", b"42".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a string", br#""ping""#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("null", b"null".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("true", b"true".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an empty object", b"{}".to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an unrelated object", br#"{"hello":"world"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("JSON-RPC 1.0", br#"{"jsonrpc":"1.0","id":105,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("no jsonrpc member", br#"{"id":106,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a method that is a number", br#"{"jsonrpc":"2.0","id":107,"method":5}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id that is an object", br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id that is a fraction", br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("an id below i64", br#"{"jsonrpc":"2.0","id":-9223372036854775809,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, INVALID_REQUEST)]),
        ("a method given twice", br#"{"jsonrpc":"2.0","id":122,"method":"tools/list","method":"prompts/list"}"#.to_vec(), vec![Expect::Error(json!(122), INVALID_REQUEST)]),
        ("an id of 1e400", br#"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#.to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("an unknown method", request(108, "no/such/method", json!({})), vec![Expect::Error(json!(108), NOT_FOUND)]),
        ("an unoffered capability", request(109, "completion/complete", json!({"ref": {"type": "ref/prompt", "name": "x"}, "argument": {"name": "a", "value": "b"}})), vec![Expect::Error(json!(109), NOT_FOUND)]),
        ("an unknown prompt", request(110, "prompts/get", json!({"name": "x"})), vec![Expect::Error(json!(110), INVALID_PARAMS)]),
        ("a 1 MB method name", request(111, &"m".repeat(1 << 20), json!({})), vec![Expect::Error(json!(111), NOT_FOUND)]),
        ("a method name holding a secret", request(112, "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz", json!({})), vec![Expect::Error(json!(112), NOT_FOUND)]),
        ("an unknown tool", tool_call(113, "drop_database", json!({})), vec![Expect::Error(json!(113), INVALID_PARAMS)]),
        ("tools/call without params", br#"{"jsonrpc":"2.0","id":114,"method":"tools/call"}"#.to_vec(), vec![Expect::Error(json!(114), BAD_CALL)]),
        // Params that are not an object: answered with the id (its client
        // waits for it), which used to be left out.
        ("tools/call with params as a string", br#"{"jsonrpc":"2.0","id":115,"method":"tools/call","params":"x"}"#.to_vec(), vec![Expect::Error(json!(115), INVALID_PARAMS)]),
        ("tools/call with params as an array", br#"{"jsonrpc":"2.0","id":"p-115","method":"tools/call","params":["check_messages"]}"#.to_vec(), vec![Expect::Error(json!("p-115"), INVALID_PARAMS)]),
        ("ping with params as a number", br#"{"jsonrpc":"2.0","id":1115,"method":"ping","params":5}"#.to_vec(), vec![Expect::Error(json!(1115), INVALID_PARAMS)]),
        ("resources/read with params as an array", br#"{"jsonrpc":"2.0","id":2115,"method":"resources/read","params":[1]}"#.to_vec(), vec![Expect::Error(json!(2115), INVALID_PARAMS)]),
        ("an unknown method with params as an array", br#"{"jsonrpc":"2.0","id":3115,"method":"x/y","params":[1]}"#.to_vec(), vec![Expect::Error(json!(3115), INVALID_REQUEST)]),
        ("a tool name that is a number", request(116, "tools/call", json!({"name": 5, "arguments": {}})), vec![Expect::Error(json!(116), BAD_CALL)]),
        ("arguments as an array", request(117, "tools/call", json!({"name": "send_to_partner", "arguments": []})), vec![Expect::Error(json!(117), BAD_CALL)]),
        ("arguments as a string", request(118, "tools/call", json!({"name": "send_to_partner", "arguments": "x"})), vec![Expect::Error(json!(118), BAD_CALL)]),
        ("no arguments from an unbound session", request(119, "tools/call", json!({"name": "check_messages"})), vec![Expect::ToolError(json!(119), "invalid_argument")]),
        ("invalid UTF-8 in a string", b"{\"jsonrpc\":\"2.0\",\"id\":120,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}".to_vec(), vec![Expect::Error(json!(120), PARSE)]),
        ("an overlong UTF-8 encoding", b"{\"jsonrpc\":\"2.0\",\"id\":121,\"method\":\"ping\",\"params\":{\"x\":\"\xc0\xaf\"}}".to_vec(), vec![Expect::Error(json!(121), PARSE)]),
        ("a UTF-16 surrogate in UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":122,\"method\":\"ping\",\"params\":{\"x\":\"\xed\xa0\x80\"}}".to_vec(), vec![Expect::Error(json!(122), PARSE)]),
        ("bare invalid bytes", b"\xff\xfe\xfd\x00\x01".to_vec(), vec![Expect::Error(Value::Null, NO_ID)]),
        ("a lone surrogate escape", br#"{"jsonrpc":"2.0","id":123,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(), vec![Expect::Error(json!(123), PARSE)]),
        ("a raw NUL in a string", b"{\"jsonrpc\":\"2.0\",\"id\":124,\"method\":\"ping\",\"params\":{\"x\":\"a\x00b\"}}".to_vec(), vec![Expect::Error(json!(124), PARSE)]),
        ("a raw NUL between tokens", b"{\"jsonrpc\":\"2.0\",\x00\"id\":125,\"method\":\"ping\"}".to_vec(), vec![Expect::Error(json!(125), PARSE)]),
        ("an escaped NUL is fine", br#"{"jsonrpc":"2.0","id":126,"method":"ping","params":{"x":"a\u0000b"}}"#.to_vec(), vec![Expect::Result(json!(126))]),
        ("a limit of 1e400", br#"{"jsonrpc":"2.0","id":127,"method":"tools/call","params":{"name":"check_messages","arguments":{"limit":1e400}}}"#.to_vec(), vec![Expect::Error(json!(127), PARSE)]),
        ("a limit of 2^64", br#"{"jsonrpc":"2.0","id":128,"method":"tools/call","params":{"name":"check_messages","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","limit":18446744073709551616}}}"#.to_vec(), vec![Expect::Error(json!(128), INVALID_PARAMS)]),
        ("a negative limit", tool_call(129, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "limit": -1})), vec![Expect::Error(json!(129), INVALID_PARAMS)]),
        ("wait_seconds 1e308", tool_call(130, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": 1e308})), vec![Expect::Error(json!(130), INVALID_PARAMS)]),
        ("wait_seconds -1e308", tool_call(131, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": -1e308})), vec![Expect::Error(json!(131), INVALID_PARAMS)]),
        ("wait_seconds 5e-324", tool_call(132, "check_messages", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "wait_seconds": 5e-324})), vec![Expect::ToolError(json!(132), "auth_failed")]),
        // A map's last value wins in serde: a proxy reading the first one
        // would see another call than the one run (red team). Refused whole.
        ("a key given twice in a tool's arguments", br#"{"jsonrpc":"2.0","id":170,"method":"tools/call","params":{"name":"create_conversation","arguments":{"my_role":"shown","partner_role":"p","my_role":"run"}}}"#.to_vec(), vec![Expect::Error(json!(170), INVALID_REQUEST)]),
        ("a key given twice, once escaped", br#"{"jsonrpc":"2.0","id":"d-171","method":"tools/call","params":{"name":"create_conversation","arguments":{"my_role":"shown","partner_role":"p","my_r\u006fle":"run"}}}"#.to_vec(), vec![Expect::Error(json!("d-171"), INVALID_REQUEST)]),
        ("a key given twice deeper in a request", br#"{"jsonrpc":"2.0","id":172,"method":"ping","params":{"_meta":{"x":{"k":1,"k":2}}}}"#.to_vec(), vec![Expect::Error(json!(172), INVALID_REQUEST)]),
        ("timeout_s of 2^32", tool_call(133, "enable_yolo_mode", json!({"conversation_id": "conv_0123456789abcdef", "session_id": "a", "token": "0".repeat(64), "mode": "safe", "workspace": "/tmp", "timeout_s": 4_294_967_296_u64})), vec![Expect::Error(json!(133), INVALID_PARAMS)]),
    ];
    cases.push((
        "an integer of 400 digits",
        format!(
            r#"{{"jsonrpc":"2.0","id":134,"method":"ping","params":{{"n":{}}}}}"#,
            "9".repeat(400)
        )
        .into_bytes(),
        vec![Expect::Error(json!(134), PARSE)],
    ));
    // Nesting: within serde_json's depth limit it is just a wrong type; past it, a parse error.
    let nested = |depth: usize| -> Vec<u8> {
        let mut line = br#"{"jsonrpc":"2.0","id":140,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"message":"#.to_vec();
        line.extend(std::iter::repeat_n(b'[', depth));
        line.extend(std::iter::repeat_n(b']', depth));
        line.extend_from_slice(b"}}}");
        line
    };
    cases.push((
        "arrays nested 100 deep",
        nested(100),
        vec![Expect::Error(json!(140), INVALID_PARAMS)],
    ));
    let mut deep = br#"{"jsonrpc":"2.0","id":141,"method":"ping","params":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', 1_000_000));
    cases.push((
        "arrays nested a million deep, unclosed",
        deep,
        vec![Expect::Error(json!(141), PARSE)],
    ));
    let mut objects = br#"{"jsonrpc":"2.0","id":142,"method":"ping","params":"#.to_vec();
    for _ in 0..10_000 {
        objects.extend_from_slice(br#"{"a":"#);
    }
    objects.extend_from_slice(b"1");
    objects.extend(std::iter::repeat_n(b'}', 10_001));
    cases.push((
        "objects nested 10 000 deep",
        objects,
        vec![Expect::Error(json!(142), PARSE)],
    ));
    // Long lines: 10 MB with and without an id, and just under the 4 MiB limit.
    let mut huge = br#"{"jsonrpc":"2.0","id":150,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"message":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(br#""}}}"#);
    cases.push((
        "a 10 MB line",
        huge,
        vec![Expect::Error(json!(150), INVALID_REQUEST)],
    ));
    let mut anonymous = vec![b'['; 1];
    anonymous.extend(std::iter::repeat_n(b'7', 10 << 20));
    cases.push((
        "a 10 MB line without an id",
        anonymous,
        vec![Expect::Error(Value::Null, NO_ID)],
    ));
    let mut near = br#"{"jsonrpc":"2.0","id":151,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","message":""#.to_vec();
    near.extend(std::iter::repeat_n(b'y', (4 << 20) - 1024));
    near.extend_from_slice(br#""}}}"#);
    cases.push((
        "a 4 MB message",
        near,
        vec![Expect::ToolError(json!(151), "auth_failed")],
    ));
    let mut escapes = br#"{"jsonrpc":"2.0","id":152,"method":"tools/call","params":{"name":"send_to_partner","arguments":{"conversation_id":"conv_0123456789abcdef","session_id":"a","token":"0000000000000000000000000000000000000000000000000000000000000000","message":""#.to_vec();
    for _ in 0..300_000 {
        escapes.extend_from_slice(br"\ud83e\udd80");
    }
    escapes.extend_from_slice(br#""}}}"#);
    cases.push((
        "3.6 MB of escaped emoji",
        escapes,
        vec![Expect::ToolError(json!(152), "auth_failed")],
    ));
    cases
}

/// A valid value for each argument, as a base for the wrong-type cases.
fn valid_value(name: &str) -> Value {
    match name {
        "conversation_id" => json!("conv_0123456789abcdef"),
        "session_id" => json!("a"),
        "token" => json!("0".repeat(64)),
        "my_role" | "partner_role" | "role" => json!("dev"),
        "invite_code" => json!("0000-0000-0000-0000"),
        "participant" => json!("b"),
        "message" => json!("hello"),
        "status" => json!("working"),
        "mode" => json!("safe"),
        "workspace" => json!("/tmp"),
        "command" => json!("ls"),
        other => panic!("no valid value known for argument {other}; extend valid_value"),
    }
}

/// The JSON types a schema accepts (an enum of strings is a string).
fn accepted_types(schema: &Value) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut add = |t: &str| {
        out.insert(match t {
            "string" => "string",
            "integer" => "integer",
            "number" => "number",
            "boolean" => "boolean",
            "array" => "array",
            "object" => "object",
            "null" => "null",
            other => panic!("unknown schema type {other}"),
        });
    };
    match &schema["type"] {
        Value::String(t) => add(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).for_each(add),
        _ => {}
    }
    if let Some(one_of) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        for s in one_of {
            out.extend(accepted_types(s));
        }
    }
    if out.is_empty() && schema["enum"].is_array() {
        out.insert("string");
    }
    assert!(!out.is_empty(), "cannot tell the type of {schema}");
    out
}

/// Every argument of every tool with every JSON type its schema rejects.
pub(crate) async fn wrong_types(raw: &mut Raw, tools: &[Value]) -> usize {
    let mut id = 10_000;
    let mut tried = 0;
    for tool in tools {
        let name = tool["name"].as_str().expect("tool name");
        let schema = &tool["inputSchema"];
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties = schema["properties"].as_object().expect("properties");
        let base: serde_json::Map<String, Value> = required
            .iter()
            .map(|k| ((*k).to_owned(), valid_value(k)))
            .collect();
        for (arg, arg_schema) in properties {
            let accepted = accepted_types(arg_schema);
            let optional = !required.contains(arg.as_str());
            let candidates = [
                ("null", json!(null)),
                ("boolean", json!(true)),
                ("integer", json!(7)),
                ("number", json!(1.5)),
                ("string", json!("text")),
                ("array", json!(["text"])),
                ("object", json!({"k": "v"})),
            ];
            for (kind, value) in candidates {
                let fits = accepted.contains(kind)
                    || (kind == "integer" && accepted.contains("number"))
                    || (kind == "null" && optional);
                if fits {
                    continue;
                }
                let mut args = base.clone();
                args.insert(arg.clone(), value);
                id += 1;
                tried += 1;
                raw.exchange(
                    "a wrong-typed argument",
                    &tool_call(id, name, Value::Object(args)),
                    &[Expect::Error(json!(id), INVALID_PARAMS)],
                )
                .await;
            }
        }
    }
    tried
}
