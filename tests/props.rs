//! Property tests that need no nightly toolchain (the `fuzz/` targets go
//! deeper where one is available). Here the tool dispatcher, in process
//! (`BridgeServer` over `tokio::io::duplex`, as rmcp's own tests connect
//! client and server): arbitrary JSON as the arguments of every tool — random
//! shapes, and near-valid calls with real credentials and one field changed —
//! always gets an answer (a result, a tool error with a code, or a JSON-RPC
//! invalid-params error), never hangs or panics, and the server keeps
//! serving. `Config::load` on arbitrary input is in `props_config`.
//!
//! `PROPTEST_CASES` raises the number of cases for a longer run.

use std::cell::RefCell;
use std::time::Duration;

use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::store::sqlite::OpenMode;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ErrorCode};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde_json::{Map, Value, json};

/// Every tool the server offers (the YOLO ones answer `yolo_disabled`).
const TOOLS: [&str; 12] = [
    "create_conversation",
    "send_to_partner",
    "check_messages",
    "update_my_status",
    "check_partner_status",
    "enable_yolo_mode",
    "execute_command",
    "create_invite",
    "join_conversation",
    "send_message",
    "remove_participant",
    "list_my_conversations",
];

/// Every argument name of every tool.
const KEYS: [&str; 23] = [
    "role",
    "as",
    "expires_minutes",
    "invite_code",
    "to",
    "participant",
    "my_role",
    "partner_role",
    "conversation_id",
    "session_id",
    "token",
    "message",
    "action_type",
    "files_involved",
    "wait_seconds",
    "limit",
    "status",
    "note",
    "mode",
    "workspace",
    "timeout_s",
    "sandbox",
    "command",
];

pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A bridge served in process, with one real conversation.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    peer: Peer<RoleClient>,
    conv: (String, String, String),
    _client: rmcp::service::RunningService<RoleClient, ()>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::load(
            None,
            [
                ("MCP_BRIDGE_RATE_LIMITS".to_owned(), "off".to_owned()),
                (
                    "MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR".to_owned(),
                    "100000000".to_owned(),
                ),
            ],
        )
        .expect("config");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let db = dir.path().join("bridge.db");
        let (client, conv) = runtime.block_on(async {
            let app = App::open(&db, config, OpenMode::Create).expect("open bridge");
            let (server_io, client_io) = tokio::io::duplex(1 << 16);
            let server = app.mcp_server();
            tokio::spawn(async move {
                let running = server.serve(server_io).await.expect("serve");
                let _ = running.waiting().await;
            });
            let client = ().serve(client_io).await.expect("client handshake");
            let created = call(
                client.peer(),
                "create_conversation",
                json!({"my_role": "backend", "partner_role": "frontend"}),
            )
            .await
            .expect("create_conversation");
            let body = created.structured_content.expect("structured");
            let field = |k: &str| body[k].as_str().expect("field").to_owned();
            let conv = (
                field("conversation_id"),
                field("session_a_token"),
                field("session_b_token"),
            );
            (client, conv)
        });
        Fixture {
            runtime,
            peer: client.peer().clone(),
            conv,
            _client: client,
            _dir: dir,
        }
    }

    fn valid(&self, side: &str) -> Map<String, Value> {
        let token = if side == "a" {
            &self.conv.1
        } else {
            &self.conv.2
        };
        json!({"conversation_id": self.conv.0, "session_id": side, "token": token})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Makes sure both sides have a message waiting, so that no valid
    /// long-poll the generator happens to build waits for its full time.
    async fn fill_inboxes(&self) {
        for side in ["a", "b"] {
            let mut args = self.valid(side);
            args.insert("message".into(), json!("keep the inbox non-empty"));
            let r = call(&self.peer, "send_to_partner", Value::Object(args))
                .await
                .expect("send");
            assert_ne!(r.is_error, Some(true), "{r:?}");
        }
    }
}

async fn call(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<rmcp::model::CallToolResult, ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    match tokio::time::timeout(Duration::from_secs(20), peer.call_tool(params)).await {
        Ok(answer) => answer,
        Err(_) => panic!("{tool} did not answer within 20 s"),
    }
}

/// Arbitrary JSON: every kind of value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop_oneof![
            Just(0.0),
            Just(0.001),
            Just(60.0),
            Just(60.0001),
            Just(-0.0),
            Just(1e308)
        ]
        .prop_map(|f: f64| json!(f)),
        ".{0,24}".prop_map(Value::from),
        "[a-z_ -]{0,70}".prop_map(Value::from),
        "[0-9a-fA-F]{62,66}".prop_map(Value::from),
        "conv_[0-9a-f]{14,18}".prop_map(Value::from),
        prop::sample::select(vec![
            "a",
            "b",
            "c",
            "",
            "info",
            "system",
            "proposal",
            "working",
            "blocked",
            "unknown",
            "safe",
            "restricted",
            "yolo",
            "/tmp",
            "ls",
            "rm -rf /",
            "\u{0}",
            "apv_0",
            "💥",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An argument name: a real one most of the time.
fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{0,12}",
    ]
}

/// A value that fits `key`'s schema (ids and tokens are filled in by the fixture).
fn fitting(key: &str) -> BoxedStrategy<Value> {
    match key {
        "my_role" | "partner_role" | "role" => "[a-zA-Z0-9_ -]{1,64}".prop_map(Value::from).boxed(),
        "as" => prop::sample::select(vec!["member", "observer"])
            .prop_map(Value::from)
            .boxed(),
        "expires_minutes" => (1u32..=1440).prop_map(Value::from).boxed(),
        "invite_code" => "[0-9A-Za-z-]{16,24}".prop_map(Value::from).boxed(),
        "to" => prop_oneof![
            "[a-z]{1,8}".prop_map(Value::from),
            prop::collection::vec(
                prop::sample::select(vec!["a", "b", "c", "backend", "frontend"]),
                1..4
            )
            .prop_map(|v| json!(v)),
        ]
        .boxed(),
        // Never side b: removing it would break the fixture's later calls
        // (removal itself is proven in tests/teams.rs).
        "participant" => prop::sample::select(vec!["a", "c", "ghost", "backend"])
            .prop_map(Value::from)
            .boxed(),
        "message" | "command" => ".{1,40}".prop_map(Value::from).boxed(),
        "note" => ".{0,40}".prop_map(Value::from).boxed(),
        "action_type" => prop::sample::select(vec![
            "proposal", "question", "answer", "info", "review", "status", "request", "ack",
        ])
        .prop_map(Value::from)
        .boxed(),
        "files_involved" => prop::collection::vec("[a-z/._]{1,20}", 0..4)
            .prop_map(|v| json!(v))
            .boxed(),
        "wait_seconds" => prop_oneof![Just(0.0), 0.0f64..2.0]
            .prop_map(|f| json!(f))
            .boxed(),
        "limit" => (1u32..=500).prop_map(Value::from).boxed(),
        "status" => prop::sample::select(vec!["working", "waiting", "blocked", "complete"])
            .prop_map(Value::from)
            .boxed(),
        "mode" => prop::sample::select(vec!["safe", "restricted", "yolo"])
            .prop_map(Value::from)
            .boxed(),
        "workspace" => Just(json!("/tmp")).boxed(),
        "timeout_s" => (1u32..=600).prop_map(Value::from).boxed(),
        "sandbox" => any::<bool>().prop_map(Value::from).boxed(),
        "session_id" => prop::sample::select(vec!["a", "b"])
            .prop_map(Value::from)
            .boxed(),
        "conversation_id" => "conv_[0-9a-f]{16}".prop_map(Value::from).boxed(),
        "token" => "[0-9a-f]{64}".prop_map(Value::from).boxed(),
        _ => any_json().boxed(),
    }
}

/// The arguments a tool needs besides the credentials.
fn required(tool: &str) -> &'static [&'static str] {
    match tool {
        "create_conversation" => &["my_role", "partner_role"],
        "send_to_partner" => &["message"],
        "update_my_status" => &["status"],
        "enable_yolo_mode" => &["mode", "workspace"],
        "execute_command" => &["command"],
        "create_invite" => &["role"],
        "join_conversation" => &["invite_code"],
        "send_message" => &["message"],
        "remove_participant" => &["participant"],
        _ => &[],
    }
}

/// One change to a valid call.
#[derive(Debug, Clone)]
enum Change {
    /// Set an argument (a real name most of the time) to a fitting or arbitrary value.
    Set(String, Value),
    /// Remove an argument.
    Remove(String),
}

fn any_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        5 => prop::sample::select(KEYS.to_vec())
            .prop_flat_map(|k| (Just(k.to_owned()), prop_oneof![2 => fitting(k), 1 => any_json()]))
            .prop_map(|(k, v)| Change::Set(k, v)),
        1 => (any_key(), any_json()).prop_map(|(k, v)| Change::Set(k, v)),
        1 => any_key().prop_map(Change::Remove),
    ]
}

/// How a case builds its arguments.
#[derive(Debug, Clone)]
enum Shape {
    /// Random keys and values.
    Random(Vec<(String, Value)>),
    /// A valid call (real credentials of side a or b, fitting values for the
    /// tool's other arguments), then a few changes.
    NearValid(bool, Vec<(String, Value)>, Vec<Change>),
    /// Not an object at all (sent as no arguments).
    NotObject(Value),
}

fn any_shape(tool: &'static str) -> impl Strategy<Value = Shape> {
    let base: Vec<BoxedStrategy<(String, Value)>> = required(tool)
        .iter()
        .map(|k| fitting(k).prop_map(move |v| ((*k).to_owned(), v)).boxed())
        .collect();
    prop_oneof![
        2 => prop::collection::vec((any_key(), any_json()), 0..6).prop_map(Shape::Random),
        8 => (any::<bool>(), base, prop::collection::vec(any_change(), 0..3))
            .prop_map(|(a, base, changes)| Shape::NearValid(a, base, changes)),
        1 => any_json().prop_map(Shape::NotObject),
    ]
}

#[test]
fn arbitrary_tool_arguments_always_get_an_answer() {
    let fixture = Fixture::new();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy =
        prop::sample::select(TOOLS.to_vec()).prop_flat_map(|tool| (Just(tool), any_shape(tool)));
    let answered = RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    runner
        .run(&strategy, |(tool, shape)| {
            let args = match shape {
                Shape::Random(fields) => Value::Object(fields.into_iter().collect()),
                Shape::NearValid(side_a, base, changes) => {
                    let mut args = if tool == "create_conversation" || tool == "join_conversation" {
                        Map::new()
                    } else {
                        fixture.valid(if side_a { "a" } else { "b" })
                    };
                    args.extend(base);
                    for change in changes {
                        match change {
                            Change::Set(k, v) => {
                                args.insert(k, v);
                            }
                            Change::Remove(k) => {
                                args.remove(&k);
                            }
                        }
                    }
                    Value::Object(args)
                }
                Shape::NotObject(v) => v,
            };
            let outcome = fixture.runtime.block_on(async {
                if tool == "check_messages" {
                    fixture.fill_inboxes().await;
                }
                call(&fixture.peer, tool, args.clone()).await
            });
            let kind = match outcome {
                Ok(result) if result.is_error == Some(true) => {
                    let raw = serde_json::to_value(&result).unwrap_or_default();
                    let code = crate::util::raw_error_code(&raw);
                    prop_assert!(
                        code.is_some() && raw["_meta"]["mcp-bridge/error"]["message"].is_string(),
                        "a tool error without code or message: {raw}"
                    );
                    format!("tool error {}", code.unwrap_or_default())
                }
                Ok(result) => {
                    prop_assert!(
                        result
                            .structured_content
                            .as_ref()
                            .is_some_and(Value::is_object),
                        "a result without structured content: {result:?}"
                    );
                    "ok".to_owned()
                }
                Err(ServiceError::McpError(e)) => {
                    prop_assert!(
                        e.code == ErrorCode::INVALID_PARAMS,
                        "{tool} {args}: unexpected JSON-RPC error {e:?}"
                    );
                    "invalid params".to_owned()
                }
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "{tool} {args}: the connection failed: {e}"
                    )));
                }
            };
            *answered.borrow_mut().entry(kind).or_default() += 1;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // The server still serves a normal call.
    fixture.runtime.block_on(async {
        let r = call(
            &fixture.peer,
            "check_partner_status",
            Value::Object(fixture.valid("a")),
        )
        .await
        .expect("still serving");
        assert_ne!(r.is_error, Some(true), "{r:?}");
    });
    let answered = answered.into_inner();
    eprintln!("dispatcher property: answers by kind {answered:?}");
    let tool_errors: usize = answered
        .iter()
        .filter(|(k, _)| k.starts_with("tool error"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        answered.get("ok").is_some_and(|n| *n > 0)
            && answered.get("invalid params").is_some_and(|n| *n > 0)
            && tool_errors > 0,
        "the generator should reach accepted calls, tool errors and schema errors: {answered:?}"
    );
}
