//! The store contract: one set of tests, each run against SQLite and against
//! PostgreSQL, through the library's service API (the rules are the
//! service's, so what is checked is what the tools promise). Two `App`s on
//! one database stand for two server processes: each has its own connection
//! (SQLite) or pool and `LISTEN` connection (PostgreSQL).
//!
//! The PostgreSQL half needs a server (see `util_pg`) and skips itself,
//! saying why, when there is none.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::domain::{ActionType, ParticipantKind, Side};
use mcp_bridge::service::{
    Addressing, CheckMessages, Created, Layout, SendToPartner, ServiceError, SessionCredentials,
    console_token_hash, write_export,
};
use mcp_bridge::store::postgres::PgUrl;
use mcp_bridge::store::sqlite::OpenMode;
use mcp_bridge::store::{AuditQuery, ConsoleRole};

use crate::util::EVENT_TIMEOUT;
use crate::util_pg;

/// One database of either kind, with its key file.
pub(crate) struct Db {
    _tmp: tempfile::TempDir,
    pub(crate) target: Target,
    key: PathBuf,
}

pub(crate) enum Target {
    Sqlite(PathBuf),
    Postgres(PgUrl),
}

impl Db {
    pub(crate) fn sqlite(test: &str) -> Db {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("mcp-bridge-contract-{test}-"))
            .tempdir()
            .expect("temp dir");
        let path = tmp.path().join("data").join("bridge.db");
        let key = tmp.path().join("data").join("bridge.key");
        Db {
            _tmp: tmp,
            target: Target::Sqlite(path),
            key,
        }
    }

    pub(crate) fn postgres(test: &str) -> Option<Db> {
        let url = util_pg::fresh_db(test)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("mcp-bridge-contract-{test}-"))
            .tempdir()
            .expect("temp dir");
        let key = tmp.path().join("keys").join("bridge.key");
        Some(Db {
            _tmp: tmp,
            target: Target::Postgres(PgUrl::parse(&url).expect("a postgres URL")),
            key,
        })
    }

    /// A "server process" on this database with `env` as its MCP_BRIDGE_* settings.
    pub(crate) fn open(&self, env: &[(&str, &str)]) -> App {
        let config = Config::load(
            None,
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .expect("config");
        match &self.target {
            Target::Sqlite(path) => App::open(path, config, OpenMode::Create).expect("open sqlite"),
            Target::Postgres(url) => {
                App::open_postgres(url, &self.key, config, OpenMode::Create).expect("open postgres")
            }
        }
    }
}

pub(crate) const NO_LIMITS: &[(&str, &str)] = &[("MCP_BRIDGE_RATE_LIMITS", "off")];

pub(crate) fn creds(created: &Created, side: Side) -> SessionCredentials {
    SessionCredentials {
        conversation: created.conversation.clone(),
        side,
        token: if side == Side::A {
            created.token_a.clone()
        } else {
            created.token_b.clone()
        },
    }
}

pub(crate) fn text(message: &str) -> SendToPartner {
    SendToPartner {
        message: message.to_owned(),
        action_type: ActionType::Info,
        files_involved: Vec::new(),
        to: Addressing::Everyone,
    }
}

pub(crate) fn check(wait_s: u64) -> CheckMessages {
    CheckMessages {
        wait: Duration::from_secs(wait_s),
        limit: 100,
        leased: false,
    }
}

/// Defines `$name::sqlite` and `$name::postgres` running `$body(db)`.
macro_rules! contract {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$body($crate::store_contract::Db::sqlite(stringify!($name))).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::store_contract::Db::postgres(stringify!($name)) {
                    super::$body(db).await;
                }
            }
        }
    };
}
pub(crate) use contract;

contract!(
    concurrent_senders_and_readers_exactly_once_in_order,
    exactly_once
);
contract!(quota_holds_across_servers, quota_across_servers);
contract!(invite_redeemed_once_across_servers, invite_once);
contract!(long_poll_woken_by_another_server, long_poll_wake);
contract!(removed_sender_is_refused_by_every_server, removed_sender);
contract!(texts_travel_verbatim_nul_included, verbatim);
contract!(console_tokens_across_servers, console_tokens);
contract!(cancelled_calls_leave_nothing_half_done, cancelled_calls);

/// Four senders on two servers and two readers of the one inbox on both:
/// every message arrives exactly once, ids ascend, each sender's messages in
/// its order; the audit chain is intact afterwards.
async fn exactly_once(db: Db) {
    let (one, two) = (Arc::new(db.open(NO_LIMITS)), Arc::new(db.open(NO_LIMITS)));
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    const PER: usize = 25;
    let mut senders = Vec::new();
    for s in 0..4 {
        let app = Arc::clone(if s % 2 == 0 { &one } else { &two });
        let a = creds(&created, Side::A);
        senders.push(tokio::spawn(async move {
            for k in 0..PER {
                app.bridge
                    .send_message(&a, text(&format!("s{s} m{k}")), "send_to_partner")
                    .await
                    .expect("send");
            }
        }));
    }
    let mut readers = Vec::new();
    for app in [Arc::clone(&one), Arc::clone(&two)] {
        let b = creds(&created, Side::B);
        readers.push(tokio::spawn(async move {
            let mut got: Vec<(i64, String)> = Vec::new();
            let mut idle = 0;
            while idle < 3 {
                let inbox = app
                    .bridge
                    .check_messages(std::slice::from_ref(&b), check(1), std::future::pending())
                    .await
                    .expect("check");
                if inbox.messages.is_empty() {
                    idle += 1;
                } else {
                    idle = 0;
                }
                got.extend(
                    inbox
                        .messages
                        .into_iter()
                        .map(|d| (d.message.id, d.message.content)),
                );
            }
            got
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    let mut all = Vec::new();
    for r in readers {
        let got = r.await.expect("reader");
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "one reader saw ids out of order: {got:?}"
        );
        all.extend(got);
    }
    let unique: HashSet<&String> = all.iter().map(|(_, c)| c).collect();
    assert_eq!(all.len(), 4 * PER, "every message exactly once");
    assert_eq!(unique.len(), 4 * PER, "no duplicates");
    all.sort();
    for s in 0..4 {
        let mine: Vec<usize> = all
            .iter()
            .filter_map(|(_, c)| {
                c.strip_prefix(&format!("s{s} m"))
                    .and_then(|k| k.parse().ok())
            })
            .collect();
        assert_eq!(mine, (0..PER).collect::<Vec<_>>(), "sender {s}'s order");
    }
    for app in [&one, &two] {
        let report = app.bridge.verify_audit().await.expect("verify");
        assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
        assert!(report.records > 100, "every call audited");
    }
}

/// A quota of 5 sends a minute, spent by 20 concurrent sends over two
/// servers: exactly 5 go through.
async fn quota_across_servers(db: Db) {
    let env = [("MCP_BRIDGE_RATE_LIMITS__SEND_TO_PARTNER__PER_MINUTE", "5")];
    let (one, two) = (Arc::new(db.open(&env)), Arc::new(db.open(&env)));
    let created = one
        .bridge
        .create_conversation("a", "b")
        .await
        .expect("create");
    let mut calls = Vec::new();
    for i in 0..20 {
        let app = Arc::clone(if i % 2 == 0 { &one } else { &two });
        let a = creds(&created, Side::A);
        calls.push(tokio::spawn(async move {
            app.bridge
                .send_message(&a, text(&format!("m{i}")), "send_to_partner")
                .await
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for c in calls {
        match c.await.expect("task") {
            Ok(_) => ok += 1,
            Err(ServiceError::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!((ok, limited), (5, 15));
}

/// One invite code redeemed by six concurrent joins on two servers: one wins.
async fn invite_once(db: Db) {
    let (one, two) = (Arc::new(db.open(NO_LIMITS)), Arc::new(db.open(NO_LIMITS)));
    let created = one
        .bridge
        .create_conversation("owner", "member")
        .await
        .expect("create");
    let invited = one
        .bridge
        .create_invite(
            &creds(&created, Side::A),
            "reviewer",
            ParticipantKind::Member,
            None,
        )
        .await
        .expect("invite");
    let code = invited.code.to_display();
    let mut joins = Vec::new();
    for i in 0..6 {
        let app = Arc::clone(if i % 2 == 0 { &one } else { &two });
        let code = code.clone();
        joins.push(tokio::spawn(async move {
            app.bridge.join_conversation(&code).await
        }));
    }
    let mut winners = Vec::new();
    for j in joins {
        match j.await.expect("task") {
            Ok(joined) => winners.push(joined.creds.side),
            Err(ServiceError::InviteInvalid | ServiceError::RateLimited { .. }) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    assert_eq!(winners, vec![Side::nth(2).expect("side c")]);
}

/// A long-poll on one server returns the message another server stores.
async fn long_poll_wake(db: Db) {
    let (one, two) = (Arc::new(db.open(NO_LIMITS)), Arc::new(db.open(NO_LIMITS)));
    let created = one
        .bridge
        .create_conversation("a", "b")
        .await
        .expect("create");
    let b = creds(&created, Side::B);
    let waiter = {
        let one = Arc::clone(&one);
        tokio::spawn(async move {
            one.bridge
                .check_messages(std::slice::from_ref(&b), check(30), std::future::pending())
                .await
        })
    };
    two.bridge
        .send_message(
            &creds(&created, Side::A),
            text("wake up"),
            "send_to_partner",
        )
        .await
        .expect("send");
    let inbox = tokio::time::timeout(EVENT_TIMEOUT, waiter)
        .await
        .expect("the long-poll returned")
        .expect("task")
        .expect("check");
    let got: Vec<String> = inbox
        .messages
        .into_iter()
        .map(|d| d.message.content)
        .collect();
    assert_eq!(got, vec!["wake up".to_owned()]);
}

/// Message texts and status notes come back byte for byte, NUL and all
/// (PostgreSQL's TEXT cannot hold a NUL, so its schema keeps them as bytes).
async fn verbatim(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("a", "b")
        .await
        .expect("create");
    let texts = [
        "a NUL \u{0} inside",
        "'; DROP TABLE messages; --",
        "🦀 \u{202E}rtl \u{10FFFF}",
    ];
    for t in texts {
        one.bridge
            .send_message(&creds(&created, Side::A), text(t), "send_to_partner")
            .await
            .expect("send");
    }
    let inbox = two
        .bridge
        .check_messages(
            &[creds(&created, Side::B)],
            check(0),
            std::future::pending(),
        )
        .await
        .expect("check");
    let got: Vec<String> = inbox
        .messages
        .into_iter()
        .map(|d| d.message.content)
        .collect();
    assert_eq!(got, texts);
    let note = "note with a NUL \u{0} too";
    one.bridge
        .update_my_status(
            &creds(&created, Side::A),
            mcp_bridge::service::UpdateStatus {
                status: mcp_bridge::domain::Status::Working,
                note: Some(note.to_owned()),
            },
        )
        .await
        .expect("status");
    let seen = two
        .bridge
        .check_partner_status(&creds(&created, Side::B))
        .await
        .expect("partner status");
    assert_eq!(seen.note.as_deref(), Some(note));
}

/// A participant removed through one server can no longer send through the other.
async fn removed_sender(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("owner", "member")
        .await
        .expect("create");
    one.bridge
        .remove_participant(&creds(&created, Side::A), "b")
        .await
        .expect("remove");
    let refused = two
        .bridge
        .send_message(
            &creds(&created, Side::B),
            text("still here?"),
            "send_to_partner",
        )
        .await;
    assert!(
        refused.is_err(),
        "a removed participant's token must stop working"
    );
}

/// Console tokens: created through one server, listed, signed in with
/// (found by hash, use recorded) and revoked through the other; a taken name
/// (revoked or not) conflicts; the `console` actor's records keep the chain intact.
async fn console_tokens(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let (admin, admin_secret) = one
        .bridge
        .console_token_create("ops-admin", ConsoleRole::Admin)
        .await
        .expect("create admin");
    let (watcher, _) = one
        .bridge
        .console_token_create("watcher", ConsoleRole::Observer)
        .await
        .expect("create observer");
    assert_eq!(admin.token_hash, console_token_hash(&admin_secret));
    let taken = two
        .bridge
        .console_token_create("ops-admin", ConsoleRole::Observer)
        .await;
    assert!(
        matches!(taken, Err(ServiceError::Conflict(_))),
        "a taken name conflicts: {taken:?}"
    );

    let listed = two.bridge.console_token_list().await.expect("list");
    let names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["ops-admin", "watcher"], "oldest first");
    assert_eq!(listed[0].role, ConsoleRole::Admin);
    assert_eq!(listed[1], watcher);
    assert!(listed[0].last_used_at.is_none() && listed[0].revoked_at.is_none());

    let user = two
        .bridge
        .console_authenticate(&admin_secret, "sign_in")
        .await
        .expect("sign in by hash");
    assert_eq!(user.name, "ops-admin");
    assert_eq!(user.role, ConsoleRole::Admin);
    let used = one.bridge.console_token_list().await.expect("list")[0].clone();
    assert!(used.last_used_at.is_some(), "the sign-in touched the token");
    assert!(
        matches!(
            one.bridge.console_authenticate("mcpc_0000", "api").await,
            Err(ServiceError::AuthFailed)
        ),
        "an unknown token is refused"
    );

    one.bridge
        .console_token_revoke("ops-admin")
        .await
        .expect("revoke");
    assert!(
        matches!(
            two.bridge.console_token_revoke("ops-admin").await,
            Err(ServiceError::NotFound(_))
        ),
        "revoking twice finds nothing to revoke"
    );
    assert!(!two.bridge.console_still_valid(&user).await.expect("valid?"));
    assert!(
        matches!(
            two.bridge.console_authenticate(&admin_secret, "api").await,
            Err(ServiceError::AuthFailed)
        ),
        "a revoked token signs nobody in"
    );
    let revoked = two.bridge.console_token_list().await.expect("list")[0].clone();
    assert!(revoked.revoked_at.is_some(), "revoking keeps the row");
    assert!(
        matches!(
            one.bridge
                .console_token_create("ops-admin", ConsoleRole::Admin)
                .await,
            Err(ServiceError::Conflict(_))
        ),
        "a revoked name stays taken"
    );

    let trail = one
        .bridge
        .audit_trail(AuditQuery {
            conversation: None,
            since: None,
            action: Some("console sign_in".into()),
            limit: 10,
        })
        .await
        .expect("audit trail");
    assert_eq!(trail.len(), 1, "one sign-in recorded");
    assert_eq!(trail[0].draft.actor, "console");
    let report = two.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}

/// Sends cut off at every point of their flight (the client went away):
/// each one either happened in full, message and audit record, or not at
/// all, and the connections they ran on serve the calls after them cleanly.
async fn cancelled_calls(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    let a = creds(&created, Side::A);
    for k in 0..60u64 {
        let send = one
            .bridge
            .send_message(&a, text(&format!("cut {k}")), "send_to_partner");
        let _ = tokio::time::timeout(Duration::from_micros(k * 40), send).await;
    }
    for k in 0..5 {
        one.bridge
            .send_message(&a, text(&format!("whole {k}")), "send_to_partner")
            .await
            .expect("a send after the cancelled ones");
    }
    let b = creds(&created, Side::B);
    let mut delivered = Vec::new();
    loop {
        let inbox = two
            .bridge
            .check_messages(std::slice::from_ref(&b), check(0), std::future::pending())
            .await
            .expect("check");
        if inbox.messages.is_empty() {
            break;
        }
        delivered.extend(inbox.messages.into_iter().map(|d| d.message.content));
    }
    let sends = two
        .bridge
        .audit_trail(AuditQuery {
            conversation: Some(created.conversation.clone()),
            since: None,
            action: Some("send_to_partner".into()),
            limit: 1000,
        })
        .await
        .expect("audit trail");
    assert_eq!(
        sends.len(),
        delivered.len(),
        "one audit record per stored message: {delivered:?}"
    );
    assert!(
        delivered.ends_with(&(0..5).map(|k| format!("whole {k}")).collect::<Vec<_>>()),
        "the later sends arrived, last: {delivered:?}"
    );
    let report = two.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}

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

async fn export_text(app: &App) -> String {
    let export = app.bridge.export(None, false).await.expect("export");
    let mut out = Vec::new();
    write_export(&mut out, &export.records, export.at, Layout::Json).expect("write export");
    String::from_utf8(out).expect("utf-8")
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
            .create_conversation("a", "b")
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
