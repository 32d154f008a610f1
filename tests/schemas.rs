//! What `tools/list` publishes: the coordination and team tools, each with a
//! strict input schema (unknown fields refused, closed sets, bounds and
//! patterns on ids and tokens), an output schema, and a short description.
//! Credentials are optional everywhere: a session bound by create or join may
//! leave them out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::util::*;

/// Follows a local `$ref` (`#/$defs/Name`) inside `root`.
fn resolve<'a>(root: &'a Map<String, Value>, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/$defs/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            &root["$defs"][name]
        }
        None => node,
    }
}

/// The closed set of strings a schema node allows: `enum`, or `oneOf`/`anyOf` of `const`s.
fn closed_set(root: &Map<String, Value>, node: &Value) -> BTreeSet<String> {
    let node = resolve(root, node);
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.as_str().expect("string enum").to_owned())
            .collect();
    }
    let alternatives = node
        .get("oneOf")
        .or_else(|| node.get("anyOf"))
        .and_then(Value::as_array);
    let alternatives = alternatives.unwrap_or_else(|| panic!("not a closed set: {node}"));
    alternatives
        .iter()
        .map(|v| {
            v["const"]
                .as_str()
                .unwrap_or_else(|| panic!("not a const: {v}"))
                .to_owned()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn tools_list_publishes_strict_schemas() {
    let env = TestEnv::new("tools_list");
    let s = env.server().await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let by_name: BTreeMap<String, _> = tools.into_iter().map(|t| (t.name.to_string(), t)).collect();
    // The five coordination tools; other tools (the opt-in YOLO ones) may be
    // listed too, and the general checks below apply to them as well.
    let five = set(&[
        "check_messages",
        "check_partner_status",
        "create_conversation",
        "send_to_partner",
        "update_my_status",
        "create_invite",
        "join_conversation",
        "send_message",
        "remove_participant",
        "list_my_conversations",
    ]);
    let listed = by_name.keys().cloned().collect::<BTreeSet<_>>();
    assert!(
        listed.is_superset(&five),
        "tools/list lacks some of {five:?}: {listed:?}"
    );

    let mut required_of = BTreeMap::new();
    for (name, tool) in &by_name {
        let input = &*tool.input_schema;
        let description = tool.description.as_deref().unwrap_or("");
        assert!(!description.is_empty(), "{name} has no description");
        assert!(
            !five.contains(name) || description.len() < 300,
            "{name}: description should be short: {description:?}"
        );
        assert_eq!(input.get("type"), Some(&json!("object")), "{name}");
        assert_eq!(
            input.get("additionalProperties"),
            Some(&json!(false)),
            "{name} must refuse unknown fields"
        );
        let output = tool
            .output_schema
            .as_deref()
            .unwrap_or_else(|| panic!("{name} has no outputSchema"));
        assert_eq!(
            output.get("type"),
            Some(&json!("object")),
            "{name} outputSchema"
        );
        assert!(
            output
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty()),
            "{name} outputSchema has no properties"
        );
        let required: BTreeSet<String> = input
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        required_of.insert(name.clone(), required);

        let props = input["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no properties"));
        if name == "join_conversation" {
            let code = &props["invite_code"];
            assert!(
                code["pattern"].as_str().is_some_and(|p| p.starts_with('^')),
                "{code}"
            );
            continue;
        }
        if name == "create_conversation" {
            for role in ["my_role", "partner_role"] {
                let p = &props[role];
                assert_eq!(
                    (p["minLength"].as_u64(), p["maxLength"].as_u64()),
                    (Some(1), Some(64)),
                    "{name}.{role}"
                );
                assert!(
                    p["pattern"]
                        .as_str()
                        .is_some_and(|s| s.starts_with('^') && s.ends_with('$')),
                    "{name}.{role}: {p}"
                );
            }
            continue;
        }
        let id = &props["conversation_id"];
        assert_eq!(
            (id["minLength"].as_u64(), id["maxLength"].as_u64()),
            (Some(21), Some(21)),
            "{name}.conversation_id"
        );
        assert_eq!(
            id["pattern"], "^conv_[0-9a-f]{16}$",
            "{name}.conversation_id"
        );
        let token = &props["token"];
        assert_eq!(
            (token["minLength"].as_u64(), token["maxLength"].as_u64()),
            (Some(64), Some(64)),
            "{name}.token"
        );
        assert!(
            token["pattern"]
                .as_str()
                .is_some_and(|p| p.contains("{64}")),
            "{name}.token: {token}"
        );
        let session = &props["session_id"];
        assert_eq!(
            (
                session["minLength"].as_u64(),
                session["maxLength"].as_u64(),
                session["pattern"].as_str()
            ),
            (Some(1), Some(1), Some("^[a-z]$")),
            "{name}.session_id"
        );
    }

    let schema = |tool: &str| by_name[tool].input_schema.clone();
    let send = schema("send_to_partner");
    let actions = closed_set(&send, &send["properties"]["action_type"]);
    assert_eq!(
        actions,
        set(&[
            "proposal", "question", "answer", "info", "review", "status", "request", "ack"
        ])
    );
    assert_eq!(send["properties"]["message"]["minLength"], 1);
    let files = &send["properties"]["files_involved"];
    assert_eq!(
        (
            files["maxItems"].as_u64(),
            files["items"]["maxLength"].as_u64()
        ),
        (Some(100), Some(4096)),
        "{files}"
    );
    let status = schema("update_my_status");
    assert_eq!(
        closed_set(&status, &status["properties"]["status"]),
        set(&["working", "waiting", "blocked", "complete"])
    );
    assert_eq!(status["properties"]["note"]["maxLength"], 500);
    let checkm = schema("check_messages");
    let wait = &checkm["properties"]["wait_seconds"];
    assert_eq!(
        (wait["minimum"].as_f64(), wait["maximum"].as_f64()),
        (Some(0.0), Some(60.0)),
        "{wait}"
    );
    let limit = &checkm["properties"]["limit"];
    assert_eq!(
        (limit["minimum"].as_f64(), limit["maximum"].as_f64()),
        (Some(1.0), Some(500.0)),
        "{limit}"
    );

    // Credentials are never required: a bound session leaves them out.
    assert_eq!(
        required_of["create_conversation"],
        set(&["my_role", "partner_role"])
    );
    assert_eq!(required_of["send_to_partner"], set(&["message"]));
    assert_eq!(required_of["send_message"], set(&["message"]));
    assert_eq!(required_of["check_messages"], set(&[]));
    assert_eq!(required_of["update_my_status"], set(&["status"]));
    assert_eq!(required_of["check_partner_status"], set(&[]));
    assert_eq!(required_of["create_invite"], set(&["role"]));
    assert_eq!(required_of["join_conversation"], set(&["invite_code"]));
    assert_eq!(required_of["remove_participant"], set(&["participant"]));
    assert_eq!(required_of["list_my_conversations"], set(&[]));
    let invite = schema("create_invite");
    assert_eq!(
        closed_set(&invite, &invite["properties"]["as"]),
        set(&["member", "observer"])
    );
    let to = &schema("send_message")["properties"]["to"];
    assert_eq!(
        (
            to["anyOf"][0]["type"].as_str(),
            to["anyOf"][1]["type"].as_str(),
            to["anyOf"][1]["maxItems"].as_u64()
        ),
        (Some("string"), Some("array"), Some(26)),
        "{to}"
    );

    // The output schema names the fields the results really carry.
    let out = by_name["check_messages"].output_schema.clone().unwrap();
    let fields: BTreeSet<String> = out["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(fields, set(&["messages", "more"]));
    let message = &out["$defs"]["MessageView"]["properties"];
    for field in [
        "conversation_id",
        "to",
        "from_session",
        "from_role",
        "content",
    ] {
        assert!(
            message.get(field).is_some(),
            "MessageView lacks {field}: {out:?}"
        );
    }
    s.stop().await;
}

/// The descriptions a model reads name this server's lifetimes, not the
/// defaults, and the conversation's partner learns which session id it has.
#[tokio::test]
async fn descriptions_name_the_configured_lifetimes() {
    let env = TestEnv::new("tools_lifetimes");
    let s = env
        .server_with(&[
            ("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "30"),
            ("MCP_BRIDGE_TEAMS__INVITE_MINUTES", "90"),
        ])
        .await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let described = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).expect(name);
        (
            tool.description.as_deref().unwrap_or_default().to_owned(),
            serde_json::to_string(&tool.input_schema).unwrap(),
        )
    };
    let (create, _) = described("create_conversation");
    assert!(
        create.contains("Expires after 30 min on this server."),
        "{create}"
    );
    assert!(create.contains("session_id \"b\""), "{create}");
    let (invite, schema) = described("create_invite");
    assert!(invite.contains("(expires in 90 min unless"), "{invite}");
    assert!(schema.contains("default 90 min on this server"), "{schema}");
    assert!(!invite.contains("10 min") && !schema.contains("default 10,"));
    // So does the start_team prompt.
    let mut request = rmcp::model::GetPromptRequestParams::new("start_team");
    request.arguments = json!({"my_role": "backend", "teammates": "frontend, qa"})
        .as_object()
        .cloned();
    let prompt = s.client.get_prompt(request).await.expect("start_team");
    let text = serde_json::to_string(&prompt).expect("JSON");
    assert!(text.contains("expire in 90 min"), "{text}");
    s.stop().await;
}
