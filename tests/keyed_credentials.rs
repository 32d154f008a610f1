//! Credential hashes are keyed with the key file. Tokens made by an older
//! build (stored as a plain SHA-256) keep working after the upgrade rewrites
//! them, while a plain SHA-256 row written into the database afterwards —
//! what someone with write access but without `bridge.key` could plant —
//! authenticates nothing, on the HTTP transport or the console.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::console_util::{self, ConsoleProc, api};
use crate::util::*;
use crate::util_cli::tamper;
use crate::util_http::{self, HttpServer, stateless};

/// The HTTP status a `create_conversation` call with `token` gets from `server`.
async fn status_with(server: &HttpServer, token: &str) -> u16 {
    let roles = json!({"my_role": "writer", "partner_role": "reader"});
    let answer = stateless(&server.url, Some(token), 1, "create_conversation", roles).await;
    answer.status
}

/// The hex SHA-256 an older build stored for `token`.
fn plain(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An SQL literal for the 32 bytes whose hex is `hex`.
fn bytes(env: &TestEnv, hex: &str) -> String {
    if env.pg_url().is_some() {
        format!("decode('{hex}', 'hex')")
    } else {
        format!("X'{hex}'")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_before_the_upgrade_work_and_planted_ones_do_not() {
    let env = TestEnv::new("keyed_credentials");
    let agent = util_http::make_token(&env, "old-agent", "agent");
    let admin = console_util::make_token(&env, "old-admin", "admin");
    // As an older build left them: plain digests, and the schema before the upgrade.
    let (old_version, pg) = match env.pg_url() {
        Some(_) => (
            "DROP TABLE keyed_credentials; DROP TABLE hidden_paths; UPDATE mcp_bridge_schema SET version = 10",
            true,
        ),
        None => (
            "DROP TABLE keyed_credentials; DROP TABLE hidden_paths; PRAGMA user_version = 12",
            false,
        ),
    };
    tamper(
        &env.db,
        &format!(
            "UPDATE http_tokens SET token_hash = {} WHERE name = 'old-agent';
             UPDATE console_tokens SET token_hash = '{}' WHERE name = 'old-admin';
             {old_version}",
            bytes(&env, &plain(&agent)),
            plain(&admin)
        ),
    );
    assert_eq!(
        env.value("SELECT token_hash FROM console_tokens WHERE name = 'old-admin'"),
        Some(plain(&admin)),
        "pg={pg}"
    );
    // `doctor` finds such a database sound (its servers bring it up to
    // date; only `restore` refuses a file that old).
    if !pg {
        let report = crate::util_cli::cli(&env, &["doctor"]).await.stdout;
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("ok    database") && l.contains("schema 12")),
            "{report}"
        );
    }
    // The first server upgrades the database; both old tokens still work.
    let server = HttpServer::start(&env, &[], &[]).await;
    assert_eq!(status_with(&server, &agent).await, 200);
    let console = ConsoleProc::start(&env).await;
    let seen = api(&console, Some(&admin), "/api/conversations").await;
    assert_eq!(seen.status(), 200);
    assert_ne!(
        env.value("SELECT token_hash FROM console_tokens WHERE name = 'old-admin'"),
        Some(plain(&admin)),
        "rewritten in keyed form"
    );

    // Planted rows: plain digests of tokens nobody issued.
    let http_planted = format!("mcpb_{}", "ab".repeat(32));
    let console_planted = format!("mcpc_{}", "cd".repeat(32));
    tamper(
        &env.db,
        &format!(
            "INSERT INTO http_tokens (name, role, token_hash, created_at) VALUES ('planted', 'operator', {}, 1);
             INSERT INTO console_tokens (name, role, token_hash, created_at) VALUES ('planted', 'admin', '{}', 1)",
            bytes(&env, &plain(&http_planted)),
            plain(&console_planted)
        ),
    );
    assert_eq!(status_with(&server, &http_planted).await, 401);
    let refused = api(&console, Some(&console_planted), "/api/conversations").await;
    assert_eq!(refused.status(), 401);
    // A restart upgrades nothing again: the planted rows stay useless.
    drop(server.terminate().await);
    let server = HttpServer::start(&env, &[], &[]).await;
    assert_eq!(status_with(&server, &http_planted).await, 401);
    assert_eq!(status_with(&server, &agent).await, 200);
    console.terminate().await;
}

/// A backup file is what anyone may have written. One rolled back to the
/// schema before keyed credentials, with a plain digest of a token nobody
/// issued, used to be restored: bringing it up to date keyed the planted
/// digest with the real key, and the token then passed as an operator's
/// (red team). A backup older than the schemas whose migrations vouch with
/// the key for what they find is refused, and nothing is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_rolled_back_to_an_older_schema_is_not_restored() {
    let env = TestEnv::new("keyed_credentials_backup");
    if env.pg_url().is_some() {
        // PostgreSQL's backups are exports: no schema, no credentials.
        return;
    }
    util_http::make_token(&env, "agent", "agent");
    let file = env.dir.join("bk.db");
    crate::util_cli::cli(&env, &["backup", file.to_str().unwrap()])
        .await
        .ok();
    let planted = format!("mcpb_{}", "ab".repeat(32));
    tamper(
        &file,
        &format!(
            "DROP TABLE keyed_credentials; DROP TABLE hidden_paths;
             INSERT INTO http_tokens (name, role, token_hash, created_at) VALUES ('evil', 'operator', {}, 1);
             PRAGMA user_version = 12",
            bytes(&env, &plain(&planted))
        ),
    );
    let target = env.dir.join("restored").join("bridge.db");
    crate::util_cli::cli_on(&env, &target, &["restore", file.to_str().unwrap()])
        .await
        .fails(
            2,
            "has schema version 12, older than the 13 this mcp-bridge restores",
        );
    assert!(!target.exists(), "nothing restored");
    // Nor over the live database.
    crate::util_cli::cli(&env, &["restore", file.to_str().unwrap(), "--force"])
        .await
        .fails(2, "older than");
    assert_eq!(
        env.value("SELECT count(*) FROM http_tokens WHERE name = 'evil'"),
        Some("0".to_owned())
    );
}
