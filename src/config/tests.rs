use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load_str(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), env(vars))
}

#[test]
fn defaults_need_no_file() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.bridge.conversation_ttl_us, 180 * 60_000_000);
    assert_eq!(c.bridge.rate_limits, Some(DEFAULT_LIMITS));
    assert!(!c.bridge.yolo.enabled);
}

#[test]
fn the_example_file_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    Config::load(Some(&path), env(&[])).unwrap();
}

#[test]
fn environment_overrides_the_file() {
    let c = load_str(
        "conversation_ttl_minutes = 10\n[rate_limits.send_to_partner]\nper_minute = 3\n",
        &[
            ("MCP_BRIDGE_CONVERSATION_TTL_MINUTES", "0.5"),
            ("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_HOUR", "7"),
        ],
    )
    .unwrap();
    assert_eq!(c.bridge.conversation_ttl_us, 30_000_000);
    let send = c.bridge.rate_limits.unwrap().send_to_partner;
    assert_eq!(
        (send.per_minute, send.per_hour, send.per_day),
        (Some(3), Some(7), Some(500))
    );
    let off = Config::load(
        None,
        env(&[("MCP_BRIDGE_RATE_LIMITS", "off"), ("MCP_BRIDGE_YOLO", "1")]),
    )
    .unwrap();
    assert_eq!(off.bridge.rate_limits, None);
    assert!(off.bridge.yolo.enabled);
}

#[test]
fn http_read_timeout_is_bounded() {
    let c = Config::load(None, env(&[("MCP_BRIDGE_HTTP__READ_TIMEOUT_S", "5")])).unwrap();
    assert_eq!(c.http.read_timeout, std::time::Duration::from_secs(5));
    assert_eq!(
        Config::default().http.read_timeout,
        std::time::Duration::from_secs(30)
    );
    for bad in ["0", "3601"] {
        let e = load_str(&format!("[http]\nread_timeout_s = {bad}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.read_timeout_s"), "{e}");
    }
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let e = load_str("conversation_ttl_minute = 5\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("conversation_ttl_minute"), "{e}");
    let e = Config::load(None, env(&[("MCP_BRIDGE_BOGUS", "1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("MCP_BRIDGE_BOGUS"), "{e}");
    let e = Config::load(None, env(&[("MCP_BRIDGE_RATE_LIMITS", "maybe")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("MCP_BRIDGE_RATE_LIMITS"), "{e}");
    let e = load_str("durability = \"sometimes\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("durability"), "{e}");
    let e = load_str("conversation_ttl_minutes = -1\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("conversation_ttl_minutes"), "{e}");
    let e = load_str("[rate_limits.send_to_partner]\nper_minute = 0\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("rate_limits.send_to_partner.per_minute"), "{e}");
    // A level, not a filter: `bogus` read as a target passed, and an empty
    // value turned on every level (acceptance run).
    for bad in ["bogus", "", "mcp_bridge=debug", "info,rmcp=trace"] {
        let text = format!("log_level = {bad:?}\n");
        let e = load_str(&text, &[]).unwrap_err().to_string();
        assert!(e.contains("log_level"), "{bad}: {e}");
        let e = Config::load(None, env(&[("MCP_BRIDGE_LOG", bad)])).unwrap_err();
        assert!(e.to_string().contains("log_level"), "{bad}: {e}");
    }
    for ok in ["debug", "WARN", "off"] {
        assert!(
            load_str(&format!("log_level = {ok:?}\n"), &[]).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn audit_retention_and_unauthenticated_quotas_are_settings() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.bridge.audit_retention_us, None, "kept forever by default");
    let unauth = c.bridge.rate_limits.unwrap().unauthenticated;
    assert!(
        unauth.per_hour.unwrap() < c.bridge.limits.conversations_per_hour,
        "one process must not be able to use up the database-wide quota"
    );
    let c = load_str(
        "[audit]\nretention_days = 30\n[rate_limits.unauthenticated]\nper_minute = 5\n",
        &[("MCP_BRIDGE_RATE_LIMITS__UNAUTHENTICATED__PER_HOUR", "9")],
    )
    .unwrap();
    assert_eq!(c.bridge.audit_retention_us, Some(30 * 86_400_000_000));
    let unauth = c.bridge.rate_limits.unwrap().unauthenticated;
    assert_eq!(
        (unauth.per_minute, unauth.per_hour, unauth.per_day),
        (Some(5), Some(9), Some(1_000))
    );
    let e = load_str("[audit]\nretention_days = 0\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("audit.retention_days"), "{e}");
    let e = load_str("[audit]\nretention = 3\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("retention"), "{e}");
}

#[test]
fn team_settings_are_bounded() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.bridge.teams.max_participants, 16);
    assert_eq!(c.bridge.teams.invite_ttl_us, 10 * 60_000_000);
    let c = load_str("[teams]\ninvite_minutes = 1440\n", &[]).unwrap();
    assert_eq!(c.bridge.teams.invite_ttl_us, 1440 * 60_000_000);
    let c = load_str("[teams]\nmax_participants = 3\ninvite_minutes = 1.5\n", &[]).unwrap();
    assert_eq!(c.bridge.teams.max_participants, 3);
    assert_eq!(c.bridge.teams.invite_ttl_us, 90_000_000);
    for bad in [
        "max_participants = 1",
        "max_participants = 27",
        "invite_minutes = 0",
        "invite_minutes = 1441",
    ] {
        let e = load_str(&format!("[teams]\n{bad}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("teams."), "{bad}: {e}");
    }
    let c = Config::load(None, env(&[("MCP_BRIDGE_TEAMS__MAX_PARTICIPANTS", "4")])).unwrap();
    assert_eq!(c.bridge.teams.max_participants, 4);
}

#[test]
fn a_bad_redaction_regex_names_the_pattern() {
    let e = load_str("[[redaction.patterns]]\nname = \"acme_token\"\nregex = \"acme_(\"\nplaceholder = \"ACME_REDACTED\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("acme_token"), "{e}");
}

#[test]
fn the_storage_budget_is_a_setting_and_zero_is_refused() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.bridge.limits.max_database_mb, 10_240);
    let c = load_str("[limits]\nmax_database_mb = 200\n", &[]).unwrap();
    assert_eq!(c.bridge.limits.max_database_mb, 200);
    let c = Config::load(None, env(&[("MCP_BRIDGE_LIMITS__MAX_DATABASE_MB", "1")])).unwrap();
    assert_eq!(c.bridge.limits.max_database_mb, 1);
    let e = load_str("[limits]\nmax_database_mb = 0\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("limits.max_database_mb"), "{e}");
}

#[test]
fn a_symlinked_secret_is_kept_from_commands_as_given_and_as_resolved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical");
    let (key, live) = (root.join("privkey1.pem"), root.join("privkey.pem"));
    std::fs::write(&key, "key").expect("write");
    std::os::unix::fs::symlink(&key, &live).expect("symlink");
    let mut config = load_str("", &[]).expect("defaults");
    let before = config.bridge.yolo.hide.len();
    config.keep_from_commands(&live);
    config.keep_from_commands(&live);
    assert_eq!(config.bridge.yolo.hide[before..], [key, live]);
}

/// A config file's error names the place, never quotes the file: `doctor`
/// loads whatever file a client entry points `--config` at, and toml's own
/// message shows the offending line (a file holding a bare secret was
/// printed whole).
#[test]
fn file_errors_never_quote_the_file() {
    let secret = "xq7Kd92mZLpw0Rtv";
    for (text, place) in [
        (format!("{secret}\n"), "not valid TOML (line 1, column 17)"),
        (
            format!("# a\n\nkey = {secret}\n"),
            "not valid TOML (line 3, column 7)",
        ),
        (
            format!("[http]\nbind = \"{secret}"),
            "not valid TOML (line 2",
        ),
        (
            format!("conversation_ttl_minutes = \"{secret}\"\n"),
            "conversation_ttl_minutes",
        ),
        (format!("token = \"{secret}\"\n"), "unknown field `token`"),
    ] {
        let err = load_str(&text, &[]).unwrap_err().to_string();
        assert!(err.contains(place), "{place:?} not in {err:?}");
        assert!(!err.contains(secret), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
