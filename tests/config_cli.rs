//! The binary's start-up: configuration errors, the example configuration,
//! file permissions, the key-file check, and the demo.

use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};

use serde_json::json;

use crate::util::*;

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run mcp-bridge")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts that `serve` refused to start, saying something containing every one of `words`.
fn assert_refused(out: &Output, words: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "serve should have refused to start; stderr:\n{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing may reach stdout (the protocol channel): {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    for word in words {
        assert!(
            err.contains(word),
            "the error should mention {word:?}:\n{err}"
        );
    }
}

/// A FIFO named as the config hung every command, and `/dev/zero` was read
/// until memory ran out (red team): only a regular file is read.
#[test]
fn a_config_that_is_no_regular_file_is_refused_at_once() {
    let env = TestEnv::new("config_not_regular");
    let fifo = env.dir.join("config.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for file in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        assert_refused(
            &run(env.serve_command(&[]).arg("--config").arg(file)),
            &["not a regular file"],
        );
    }
}

#[test]
fn unknown_settings_are_start_up_errors_that_name_them() {
    let env = TestEnv::new("unknown_settings");
    let file = env.dir.join("config.toml");
    std::fs::write(
        &file,
        "conversation_ttl_minutes = 5\nconversation_tll_minutes = 10\n",
    )
    .unwrap();
    assert_refused(
        &run(env.serve_command(&[]).arg("--config").arg(&file)),
        &["conversation_tll_minutes", "config.toml"],
    );
    std::fs::write(
        &file,
        "[rate_limits.send_to_partner]\nper_minute = 3\nper_second = 1\n",
    )
    .unwrap();
    assert_refused(
        &run(env.serve_command(&[]).arg("--config").arg(&file)),
        &["per_second"],
    );
    assert_refused(
        &run(&mut env.serve_command(&[("MCP_BRIDGE_FOO", "1")])),
        &["MCP_BRIDGE_FOO"],
    );
    assert_refused(
        &run(&mut env.serve_command(&[("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_WEEK", "1")])),
        &["MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_WEEK"],
    );
    // $MCP_BRIDGE_CONFIG is read as well.
    std::fs::write(&file, "bogus_key = true\n").unwrap();
    assert_refused(
        &run(&mut env.serve_command(&[("MCP_BRIDGE_CONFIG", file.to_str().unwrap())])),
        &["bogus_key"],
    );
    // Nothing was created for a server that never started.
    assert!(!env.db.exists(), "a refused start created the database");
}

#[tokio::test]
async fn the_example_configuration_is_a_valid_config_file() {
    let env = TestEnv::new("config_example");
    let out = run(env.bridge().args(["config", "example"]));
    assert!(
        out.status.success(),
        "config example failed: {}",
        stderr(&out)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 example");
    let table: toml::Table = toml::from_str(&text).expect("the example is TOML");
    assert!(
        table.contains_key("rate_limits") && table.contains_key("conversation_ttl_minutes"),
        "{text}"
    );
    let file = env.dir.join("example.toml");
    std::fs::write(&file, &text).unwrap();
    // `redact --list` loads the configuration (user patterns included) and
    // refuses a bad one, so it validates the file without a database.
    let listed = run(env
        .bridge()
        .args(["redact", "--list", "--config"])
        .arg(&file));
    assert!(
        listed.status.success(),
        "the example was rejected: {}",
        stderr(&listed)
    );

    // A server started with it works.
    let mut cmd = env.serve_command(&[]);
    cmd.arg("--config").arg(&file);
    let server = Server::spawn(cmd).await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", "configured by the example").await;
    assert_eq!(
        contents(&check(&server, &conv, "b", json!({})).await),
        vec!["configured by the example"]
    );
    server.stop().await;
}

#[tokio::test]
async fn database_files_are_private_and_an_open_key_file_is_refused() {
    let env = TestEnv::new("permissions");
    let server = env.server().await;
    let conv = Conv::create(&server).await;
    send(&server, &conv, "a", "make the WAL exist").await;

    // The key file (beside an SQLite file, or key_file's on PostgreSQL,
    // whose database files belong to the server) and its directory.
    let key = env.key_file();
    let dir = key.parent().unwrap();
    assert_eq!(mode(dir), 0o700, "key directory");
    assert_eq!(mode(&key), 0o600, "key file");
    if env.pg_url().is_none() {
        assert_eq!(mode(&env.db), 0o600, "database file");
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is open to other users",
            path.display()
        );
    }
    server.stop().await;

    // A key file others can read: serve refuses to start and says why.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(&run(&mut env.serve_command(&[])), &["bridge.key", "644"]);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_refused(&run(&mut env.serve_command(&[])), &["bridge.key"]);
    // Fixed, it starts again and the old tokens still work.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = env.server().await;
    assert_eq!(
        contents(&check(&server, &conv, "b", json!({})).await),
        vec!["make the WAL exist"]
    );
    server.stop().await;
}

#[test]
fn the_database_can_be_given_positionally_or_by_environment() {
    let env = TestEnv::new("db_path");
    // `serve PATH` and `serve --db PATH` together are ambiguous.
    let both = run(env
        .bridge()
        .arg("serve")
        .arg("--db")
        .arg(&env.db)
        .arg(env.dir.join("other.db")));
    assert_refused(&both, &["--db"]);
    assert!(!env.db.exists());
    // With stdin closed at once, serve still opens (creating) the database first.
    let positional = env.dir.join("pos").join("bridge.db");
    run(env.bridge().arg("serve").arg(&positional));
    // (Every process of a PostgreSQL test has key_file set: the key is there.)
    let key = if env.pg_url().is_some() {
        env.key_file()
    } else {
        positional.with_file_name("bridge.key")
    };
    assert!(positional.is_file() && key.is_file());
    let by_env = env.dir.join("env").join("bridge.db");
    run(env.bridge().arg("serve").env("MCP_BRIDGE_DB", &by_env));
    assert!(by_env.is_file());
}

#[test]
fn the_demo_shows_a_message_crossing_and_a_redaction() {
    let env = TestEnv::new("demo");
    let out = run(env.bridge().arg("demo"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        stderr(&out)
    );
    let received: Vec<&str> = stdout.lines().filter(|l| l.contains('←')).collect();
    assert!(
        !received.is_empty(),
        "no message was received in the demo:\n{stdout}"
    );
    assert!(
        received[0].contains("AWS_KEY_REDACTED"),
        "the received proposal should be redacted: {}",
        received[0]
    );
    assert!(
        !received.iter().any(|l| l.contains("AKIA")),
        "a received message holds an AWS key:\n{stdout}"
    );
    assert!(
        stdout.contains("refused (auth_failed)"),
        "the demo's intruder check:\n{stdout}"
    );
    // The demo cleans up after itself.
    let left: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("mcp-bridge-demo")
        })
        .collect();
    assert!(left.is_empty(), "the demo left {left:?} behind");
}

/// Output to a full disk (or a reader that is gone) is an error of the
/// command, not an internal error: `println!` panicked and the report said
/// "internal error …; please report it" with exit 101 (acceptance run).
#[test]
fn a_full_disk_on_stdout_is_an_error_not_an_internal_one() {
    let env = TestEnv::new("config-full");
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let out = run(env
        .bridge()
        .args(["config", "example"])
        .stdout(Stdio::from(full)));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}

/// `--db=~/…` (which no shell expands) names the home directory, as
/// `key_file = "~/…"` does: before, `serve` made a directory named `~` in
/// the current one (acceptance run), a trap for a later `rm -rf ~`.
#[test]
fn a_database_path_under_tilde_is_in_the_home_directory() {
    let env = TestEnv::new("config-tilde");
    let (home, cwd) = (env.dir.join("home"), env.dir.join("cwd"));
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&cwd).expect("cwd");
    let out = run(env
        .bridge()
        .env("HOME", &home)
        .current_dir(&cwd)
        .args(["list", "--db=~/team/bridge.db"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let meant = home.join("team").join("bridge.db");
    assert!(err.contains(&meant.display().to_string()), "{err}");
    assert!(!cwd.join("~").exists(), "no directory named ~");
}

/// A libpq keyword/value string or a URL of another kind given as `--db`
/// was taken for a file path: a file named after it (its password
/// included) was created and the value printed on stderr (red team).
#[test]
fn a_database_that_is_no_path_nor_postgres_url_is_refused_unechoed() {
    let env = TestEnv::new("db_not_a_path");
    for db in [
        "host=127.0.0.1 port=1 password=KwSecret9 user=u",
        "mysql://u:KwSecret9@127.0.0.1/db",
    ] {
        for how in ["--db", "env"] {
            let mut cmd = env.bridge();
            cmd.current_dir(&env.dir).arg("serve");
            if how == "env" {
                cmd.env("MCP_BRIDGE_DB", db);
            } else {
                cmd.arg("--db").arg(db);
            }
            let out = run(&mut cmd);
            assert_refused(&out, &["the database", "postgres://"]);
            assert!(!stderr(&out).contains("KwSecret9"), "{}", stderr(&out));
            let made: Vec<_> = std::fs::read_dir(&env.dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().contains("KwSecret9") || n == "bridge.key")
                .collect();
            assert!(made.is_empty(), "{made:?}");
        }
    }
}

/// A setting of the wrong type is named, its value not shown: an unquoted
/// numeric token came back on stderr in serde's type error (red team).
#[test]
fn a_wrongly_typed_token_is_not_echoed() {
    let env = TestEnv::new("config_typed_token");
    let config = env.dir.join("config.toml");
    for value in ["1234567890123456789", "31415.9265358979"] {
        std::fs::write(&config, format!("[http]\ntoken = {value}\n")).unwrap();
        let out = run(env.serve_command(&[]).arg("--config").arg(&config));
        assert_refused(&out, &["http.token", "value not shown"]);
        assert!(!stderr(&out).contains(value), "{}", stderr(&out));
    }
}
