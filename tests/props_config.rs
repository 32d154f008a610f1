//! A property test that needs no nightly toolchain (see `props`):
//! `Config::load` on arbitrary TOML-ish text and `MCP_BRIDGE_*` variables
//! returns a value or an error, never panics. `PROPTEST_CASES` raises the
//! number of cases for a longer run.

use std::cell::Cell;

use mcp_bridge::config::Config;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use crate::props::cases;

/// A line of TOML-ish text: real sections and keys with values of every
/// type, broken syntax, and arbitrary text.
fn toml_line() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "rate_limits",
        "rate_limits.send_to_partner",
        "rate_limits.check_messages",
        "redaction",
        "[redaction.patterns]",
        "yolo",
        "yolo.limits",
        "limits",
        "unknown",
        "",
    ]);
    let key = prop::sample::select(vec![
        "conversation_ttl_minutes",
        "heartbeat_timeout_s",
        "durability",
        "log_level",
        "enabled",
        "per_minute",
        "per_hour",
        "per_day",
        "allow",
        "name",
        "regex",
        "placeholder",
        "activation_minutes",
        "approval_minutes",
        "allow_unsandboxed",
        "max_output_bytes",
        "extra_ro_binds",
        "cpu_seconds",
        "memory_mb",
        "conversations_per_hour",
        "max_pending_messages",
        "max_long_polls",
        "max_database_mb",
        "bogus",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "0",
            "-1",
            "1e400",
            "nan",
            "inf",
            "-inf",
            "true",
            "false",
            "\"full\"",
            "\"normal\"",
            "\"debug\"",
            "\"[\"",
            "'(a+)+$'",
            "\"(?P<secret>x)\"",
            "[]",
            "[\"/\", \"rel\"]",
            "{}",
            "{ per_minute = 1 }",
            "\"\"",
            "'''multi\nline'''",
            "1979-05-27T07:32:00Z",
            "18446744073709551616",
            "4294967296",
            "0.0000001",
        ])
        .prop_map(str::to_owned),
        "\"[^\"\\\\]{0,20}\"",
    ];
    prop_oneof![
        3 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => section.prop_map(|s| format!("[{s}]")),
        1 => ".{0,30}",
    ]
}

/// A `MCP_BRIDGE_*` variable: real keys and shorthands, and nonsense.
fn env_var() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "MCP_BRIDGE_RATE_LIMITS",
            "MCP_BRIDGE_YOLO",
            "MCP_BRIDGE_LOG",
            "MCP_BRIDGE_DURABILITY",
            "MCP_BRIDGE_CONVERSATION_TTL_MINUTES",
            "MCP_BRIDGE_LIMITS__MAX_LONG_POLLS",
            "MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE",
            "MCP_BRIDGE_YOLO__LIMITS__MEMORY_MB",
            "MCP_BRIDGE___",
            "MCP_BRIDGE_",
            "MCP_BRIDGE_RATE_LIMITS__ENABLED__X",
        ])
        .prop_map(str::to_owned),
        "MCP_BRIDGE_[A-Z_]{0,20}",
    ];
    (name, ".{0,20}")
}

#[test]
fn config_load_never_panics_on_arbitrary_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::collection::vec(toml_line(), 0..12),
        prop::collection::vec(env_var(), 0..3),
        any::<bool>(),
    );
    let (accepted, refused) = (Cell::new(0), Cell::new(0));
    runner
        .run(&strategy, |(lines, vars, use_file)| {
            std::fs::write(&path, lines.join("\n")).expect("write config");
            let file = use_file.then_some(path.as_path());
            match std::panic::catch_unwind(|| Config::load(file, vars.clone())) {
                Ok(Ok(_)) => accepted.set(accepted.get() + 1),
                Ok(Err(e)) => {
                    prop_assert!(!e.to_string().is_empty());
                    refused.set(refused.get() + 1);
                }
                Err(_) => {
                    return Err(TestCaseError::fail(format!(
                        "Config::load panicked on {lines:?} with {vars:?}"
                    )));
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("config property: {accepted} accepted, {refused} refused");
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
