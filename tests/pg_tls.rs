//! PostgreSQL over TLS, as managed databases require it: libpq's `sslmode`
//! and `sslrootcert` in the database URL, against a server of the test's own
//! whose certificate names `localhost` only, signed by a throw-away CA.

use serde_json::json;

use crate::util::{Conv, TestEnv, check, contents, send};
use crate::util_pg::{self, TlsPg};

/// Encrypted and plain connections of `application` on `tls`'s database `db`.
fn connections(tls: &TlsPg, db: &str, application: &str) -> (i64, i64) {
    let out = tls
        .server
        .run_sql(
            db,
            &format!(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = '{application}'"
            ),
        )
        .expect("pg_stat_ssl");
    let (on, off) = out.split_once('|').expect("two counts");
    (on.parse().expect("count"), off.parse().expect("count"))
}

/// `mcp-bridge list` on `url`: its stderr when it fails, `None` when it works.
fn list_fails(env: &TestEnv, url: &str) -> Option<String> {
    let out = env
        .bridge()
        .args(["list", "--db", url])
        .output()
        .expect("run mcp-bridge list");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A server on `url`, one message through it, and how its connections
/// to the database are made while it runs (encrypted, plain).
async fn session(name: &str, url: &str, tls: &TlsPg, db: &str, application: &str) -> (i64, i64) {
    let env = TestEnv::postgres_at(name, url);
    let server = env.server().await;
    let peer = server.peer();
    let conv = Conv::create(&peer).await;
    send(&peer, &conv, "a", "over the wire").await;
    assert_eq!(
        contents(&check(&peer, &conv, "b", json!({})).await),
        ["over the wire"]
    );
    let seen = connections(tls, db, application);
    server.stop().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_and_sslrootcert_work_as_in_libpq() {
    let tls = match util_pg::tls_server() {
        Ok(tls) => tls,
        Err(why) => {
            eprintln!("skipping pg_tls: {why}");
            return;
        }
    };
    let by_address = tls.server.create_db("pg_tls");
    let db = by_address
        .rsplit_once('/')
        .expect("a database URL")
        .1
        .to_owned();
    let by_name = by_address.replacen("127.0.0.1", "localhost", 1);
    let (ca, other_ca) = (tls.ca.display(), tls.other_ca.display());

    // verify-full with the CA that signed the certificate: every connection
    // the server makes is encrypted.
    let url = format!("{by_name}?sslmode=verify-full&sslrootcert={ca}&application_name=tls_full");
    let (encrypted, plain) = session("pg_tls_full", &url, tls, &db, "tls_full").await;
    assert!(
        encrypted > 0 && plain == 0,
        "{encrypted} encrypted, {plain} plain"
    );

    // require without a root: encrypted, the certificate not checked.
    let url = format!("{by_address}?sslmode=require&application_name=tls_require");
    let (encrypted, plain) = session("pg_tls_require", &url, tls, &db, "tls_require").await;
    assert!(
        encrypted > 0 && plain == 0,
        "{encrypted} encrypted, {plain} plain"
    );

    // disable: plain, as asked.
    let url = format!("{by_address}?sslmode=disable&application_name=tls_disable");
    let (encrypted, plain) = session("pg_tls_disable", &url, tls, &db, "tls_disable").await;
    assert!(
        encrypted == 0 && plain > 0,
        "{encrypted} encrypted, {plain} plain"
    );

    let env = TestEnv::postgres_at("pg_tls_cli", &by_address);
    // The certificate names localhost, not 127.0.0.1: verify-full refuses,
    // verify-ca (the chain only) accepts.
    let refused = list_fails(
        &env,
        &format!("{by_address}?sslmode=verify-full&sslrootcert={ca}"),
    )
    .expect("verify-full accepted a certificate for another name");
    assert!(refused.contains("certificate"), "{refused}");
    assert_eq!(
        list_fails(
            &env,
            &format!("{by_address}?sslmode=verify-ca&sslrootcert={ca}")
        ),
        None
    );
    // A CA that signed nothing here: refused by every mode given roots.
    for mode in ["verify-full", "verify-ca", "require"] {
        let refused = list_fails(
            &env,
            &format!("{by_name}?sslmode={mode}&sslrootcert={other_ca}"),
        )
        .unwrap_or_else(|| panic!("{mode} trusted a certificate from another CA"));
        assert!(refused.contains("certificate"), "{mode}: {refused}");
    }
    // Options that cannot be honoured are refused, not ignored.
    for (options, says) in [
        ("sslmode=verify-full", "sslrootcert"),
        ("sslcert=/tmp/client.pem", "not supported"),
    ] {
        let refused = list_fails(&env, &format!("{by_name}?{options}"));
        assert!(
            refused.as_deref().is_some_and(|e| e.contains(says)),
            "{options}: {refused:?}"
        );
    }
}
