//! Arbitrary bytes as a tool's JSON arguments, through the real dispatcher:
//! `BridgeServer` served in process over `tokio::io::duplex`, called by
//! rmcp's client. The first byte picks the tool; the rest is parsed as JSON
//! (anything else is sent as no arguments). The strings `$CONV`, `$A` and `$B`
//! stand for a real conversation and its tokens, so seeds reach past
//! authentication. Every call must be answered — a result, a tool error with
//! a code, or a JSON-RPC invalid-params error — within seconds; a panic
//! anywhere aborts the process (libFuzzer's panic hook).
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::mcp::error::ERROR_META_KEY;
use mcp_bridge::store::sqlite::OpenMode;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ErrorCode};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceError};
use serde_json::{Value, json};

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

struct Fixture {
    runtime: tokio::runtime::Runtime,
    peer: Peer<RoleClient>,
    conv: [String; 3],
    _client: RunningService<RoleClient, ()>,
    _dir: tempfile::TempDir,
}

async fn call(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    tokio::time::timeout(Duration::from_secs(10), peer.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} was not answered within 10 s"))
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::load(
        None,
        [
            ("MCP_BRIDGE_RATE_LIMITS".to_owned(), "off".to_owned()),
            ("MCP_BRIDGE_LOG".to_owned(), "off".to_owned()),
            (
                "MCP_BRIDGE_LIMITS__CONVERSATIONS_PER_HOUR".to_owned(),
                "4000000000".to_owned(),
            ),
            (
                "MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES".to_owned(),
                "4000000000".to_owned(),
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
            json!({"my_role": "writer", "partner_role": "reader"}),
        )
        .await
        .expect("create_conversation");
        let body = created.structured_content.expect("structured content");
        let field = |k: &str| body[k].as_str().expect("field").to_owned();
        let conv = [
            field("conversation_id"),
            field("session_a_token"),
            field("session_b_token"),
        ];
        (client, conv)
    });
    Fixture {
        runtime,
        peer: client.peer().clone(),
        conv,
        _client: client,
        _dir: dir,
    }
});

/// Replaces the placeholders with the real conversation and tokens.
fn substitute(value: &mut Value, conv: &[String; 3]) {
    match value {
        Value::String(s) => match s.as_str() {
            "$CONV" => *s = conv[0].clone(),
            "$A" => *s = conv[1].clone(),
            "$B" => *s = conv[2].clone(),
            _ => {}
        },
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, conv)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, conv)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let tool = TOOLS[usize::from(selector) % TOOLS.len()];
    let fixture = &*FIXTURE;
    let mut args = serde_json::from_slice::<Value>(rest).unwrap_or(Value::Null);
    substitute(&mut args, &fixture.conv);
    let answer = fixture.runtime.block_on(async {
        if tool == "check_messages" {
            // A message waits on both sides, so a valid long-poll returns at once.
            for (side, token) in [("a", &fixture.conv[1]), ("b", &fixture.conv[2])] {
                let fill = json!({"conversation_id": fixture.conv[0], "session_id": side, "token": token, "message": "x"});
                let sent = call(&fixture.peer, "send_to_partner", fill).await.expect("fill inbox");
                assert_ne!(sent.is_error, Some(true), "{sent:?}");
            }
        }
        call(&fixture.peer, tool, args).await
    });
    match answer {
        Ok(result) if result.is_error == Some(true) => {
            // A refusal carries no structuredContent (clients validate it
            // against the output schema); its code and advice are in `_meta`
            // and in the one text block, which starts with the code.
            assert!(result.structured_content.is_none(), "{result:?}");
            let body = result
                .meta
                .as_ref()
                .and_then(|m| m.0.get(ERROR_META_KEY))
                .cloned()
                .unwrap_or_default();
            let code = body["code"]
                .as_str()
                .unwrap_or_else(|| panic!("tool error without code: {result:?}"));
            assert!(
                body["message"].is_string(),
                "tool error without message: {body}"
            );
            let text = result
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.as_str());
            assert!(
                text.is_some_and(|t| t.starts_with(&format!("{code}: "))),
                "tool error text does not start with its code: {result:?}"
            );
        }
        Ok(result) => assert!(
            result
                .structured_content
                .as_ref()
                .is_some_and(Value::is_object),
            "result without structured content: {result:?}"
        ),
        Err(ServiceError::McpError(e)) => assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{e:?}"),
        Err(e) => panic!("the connection failed: {e}"),
    }
});
