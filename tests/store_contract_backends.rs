//! The store contract across backends (helpers are in `store_contract`):
//! conversations moved SQLite → PostgreSQL → SQLite through export/import,
//! and servers starting together on a fresh PostgreSQL database migrating it
//! once. Both need a PostgreSQL server and skip themselves without one.

use std::sync::Arc;

use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::domain::Side;
use mcp_bridge::service::CheckMessages;
use mcp_bridge::store::sqlite::OpenMode;

use crate::store_contract::{Db, NO_LIMITS, Target, check, creds, export_text, text};
use crate::util_pg;

/// Conversations move SQLite → PostgreSQL → SQLite through export/import
/// unchanged, unread state included, and keep working on each side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_moves_data_between_backends() {
    let Some(pg) = Db::postgres("export_import_moves") else {
        return;
    };
    let sqlite = Db::sqlite("export_import_moves");
    let lite = sqlite.open(NO_LIMITS);
    let created = lite
        .bridge
        .create_conversation("alice", "bob")
        .await
        .expect("create");
    for i in 0..5 {
        lite.bridge
            .send_message(
                &creds(&created, Side::A),
                text(&format!("hello {i}")),
                "send_to_partner",
            )
            .await
            .expect("send");
    }
    // Bob reads two of them first: the rest stay unread across the move.
    let first = lite
        .bridge
        .check_messages(
            &[creds(&created, Side::B)],
            CheckMessages {
                limit: 2,
                ..check(0)
            },
            std::future::pending(),
        )
        .await
        .expect("check");
    assert_eq!(first.messages.len(), 2);
    let exported = export_text(&lite).await;

    // The key file is copied first: texts are sealed with it as they are imported.
    let postgres = postgres_with_key(&pg, &sqlite);
    let imported = postgres
        .bridge
        .import(&exported)
        .await
        .expect("import into postgres");
    assert_eq!(imported.report.messages_added, 5);
    assert_eq!(export_records(&postgres).await, export_records(&lite).await);
    // Unread messages are still unread for bob on PostgreSQL; the same key
    // file makes his old token valid there.
    let on_pg = postgres_with_key(&pg, &sqlite);
    let rest = on_pg
        .bridge
        .check_messages(
            &[creds(&created, Side::B)],
            check(0),
            std::future::pending(),
        )
        .await
        .expect("check on postgres");
    let got: Vec<String> = rest
        .messages
        .into_iter()
        .map(|d| d.message.content)
        .collect();
    assert_eq!(got, vec!["hello 2", "hello 3", "hello 4"]);
    on_pg
        .bridge
        .send_message(
            &creds(&created, Side::B),
            text("reply from postgres"),
            "send_to_partner",
        )
        .await
        .expect("send on postgres");

    let back = Db::sqlite("export_import_back");
    let lite2 = back.open(NO_LIMITS);
    lite2
        .bridge
        .import(&export_text(&on_pg).await)
        .await
        .expect("import back");
    assert_eq!(export_records(&lite2).await, export_records(&on_pg).await);
}

/// A PostgreSQL "server" holding the SQLite database's key (as a team moving
/// its database would copy the key file along).
fn postgres_with_key(pg: &Db, sqlite: &Db) -> App {
    let Target::Postgres(url) = &pg.target else {
        unreachable!("a postgres db")
    };
    App::open_postgres(
        url,
        &sqlite.key,
        Config::load(
            None,
            NO_LIMITS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .expect("config"),
        OpenMode::Create,
    )
    .expect("open postgres with the sqlite key")
}

/// The records of an export as comparable JSON (without the export time).
async fn export_records(app: &App) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_str(&export_text(app).await).expect("json");
    if let Some(o) = value.as_object_mut() {
        o.retain(|k, _| k == "conversations");
    }
    value
}

/// Servers starting together on a fresh PostgreSQL database: the advisory
/// lock lets one migrate while the others wait, and all of them work on the
/// one schema with one audit chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_migrate_once() {
    let Some(db) = Db::postgres("migrate_together") else {
        return;
    };
    // Hosts share a key file made once (creating it is not what races here).
    std::fs::create_dir_all(db.key.parent().expect("key dir")).expect("key dir");
    mcp_bridge::auth::ServerKey::load_or_create(&db.key).expect("key");
    let db = Arc::new(db);
    let mut opening = Vec::new();
    for _ in 0..6 {
        let db = Arc::clone(&db);
        opening.push(std::thread::spawn(move || db.open(NO_LIMITS)));
    }
    let apps: Vec<App> = opening
        .into_iter()
        .map(|t| t.join().expect("open"))
        .collect();
    let Target::Postgres(url) = &db.target else {
        unreachable!("a postgres db")
    };
    let versions = util_pg::sql(
        url.expose(),
        "SELECT count(*), max(version) FROM mcp_bridge_schema",
    );
    assert_eq!(
        versions,
        format!("1|{}", mcp_bridge::store::postgres::SCHEMA_VERSION),
        "one schema version row"
    );
    for (i, app) in apps.iter().enumerate() {
        let created = app
            .bridge
            .create_conversation("writer", "reader")
            .await
            .expect("create");
        app.bridge
            .send_message(
                &creds(&created, Side::A),
                text(&format!("from {i}")),
                "send_to_partner",
            )
            .await
            .expect("send");
    }
    let report = apps[0].bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "{:?}", report.fault);
    assert_eq!(report.records, 12, "two records per server, one chain");
}

/// Dropping a store does not wait for another linker of the audit chain.
/// The drop blocks its thread (often a runtime's) until it is done, and a
/// linker holding the lock may be a task of the same process that only
/// that thread can run: the end of `servers_starting_together_migrate_once`
/// hung that way. Here another connection holds the linkers' lock while a
/// store with records not yet linked is dropped; nothing is lost after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_store_never_waits_for_another_linker() {
    let Some(db) = Db::postgres("drop_no_wait") else {
        return;
    };
    let Target::Postgres(url) = &db.target else {
        unreachable!("a postgres db")
    };
    let (mut holder, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let held = holder.transaction().await.expect("begin");
    held.execute(
        "SELECT pg_advisory_xact_lock(hashtext('mcp_bridge.audit_link'))",
        &[],
    )
    .await
    .expect("lock");

    let app = db.open(NO_LIMITS);
    // Committed and staged; the store's own linker would run 100 ms later.
    app.bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(app);
        let _ = done.send(());
    });
    let returned = dropped.recv_timeout(std::time::Duration::from_secs(30));
    held.rollback().await.expect("unlock");
    assert!(returned.is_ok(), "the drop waited for the linkers' lock");

    let again = db.open(NO_LIMITS);
    let report = again.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "{:?}", report.fault);
    let linked = util_pg::sql(
        url.expose(),
        "SELECT (SELECT count(*) FROM audit_log WHERE action = 'create_conversation'),
                (SELECT count(*) FROM audit_pending WHERE action = 'create_conversation')",
    );
    assert_eq!(linked, "1|0", "the conversation's record was linked, once");
}
