//! The store contract: one set of tests, each run against SQLite and against
//! PostgreSQL, through the library's service API (the rules are the
//! service's, so what is checked is what the tools promise). Two `App`s on
//! one database stand for two server processes: each has its own connection
//! (SQLite) or pool and `LISTEN` connection (PostgreSQL).
//!
//! The PostgreSQL half needs a server (see `util_pg`) and skips itself,
//! saying why, when there is none.
//!
//! This file holds the shared helpers (`Db`, `contract!`) and the delivery
//! contracts; `store_contract_access` has the limits and permissions across
//! servers, `store_contract_backends` the moves between backends and the
//! migration.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_bridge::app::App;
use mcp_bridge::config::Config;
use mcp_bridge::domain::{ActionType, Side};
use mcp_bridge::service::{
    Addressing, CheckMessages, Created, SendToPartner, ServiceError, SessionCredentials,
};
use mcp_bridge::store::AuditQuery;
use mcp_bridge::store::postgres::PgUrl;
use mcp_bridge::store::sqlite::OpenMode;

use crate::util::EVENT_TIMEOUT;
use crate::util_pg;

/// One database of either kind, with its key file.
pub(crate) struct Db {
    _tmp: tempfile::TempDir,
    _pg: Option<util_pg::Database>,
    pub(crate) target: Target,
    pub(crate) key: PathBuf,
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
            _pg: None,
            target: Target::Sqlite(path),
            key,
        }
    }

    pub(crate) fn postgres(test: &str) -> Option<Db> {
        let database = util_pg::fresh_db(test)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("mcp-bridge-contract-{test}-"))
            .tempdir()
            .expect("temp dir");
        let key = tmp.path().join("keys").join("bridge.key");
        Some(Db {
            _tmp: tmp,
            target: Target::Postgres(PgUrl::parse(&database.url).expect("a postgres URL")),
            _pg: Some(database),
            key,
        })
    }

    /// The database's URL, when it is a PostgreSQL one.
    pub(crate) fn pg_url(&self) -> Option<&str> {
        self._pg.as_ref().map(|d| d.url.as_str())
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

/// Everything `app` holds, as an export file (JSON layout).
pub(crate) async fn export_text(app: &App) -> String {
    let export = app.bridge.export(None, false).await.expect("export");
    let mut out = Vec::new();
    mcp_bridge::service::write_export(
        &mut out,
        &export.records,
        export.at,
        mcp_bridge::service::Layout::Json,
    )
    .expect("write export");
    String::from_utf8(out).expect("utf-8")
}

/// Two "server processes" on `db`, and a conversation between `a` and `b`
/// created through the first.
async fn two_servers(db: &Db, a: &str, b: &str) -> (Arc<App>, Arc<App>, Created) {
    let (one, two) = (Arc::new(db.open(NO_LIMITS)), Arc::new(db.open(NO_LIMITS)));
    let created = one.bridge.create_conversation(a, b).await.expect("create");
    (one, two, created)
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
        parked: None,
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
contract!(long_poll_woken_by_another_server, long_poll_wake);
contract!(
    a_woken_long_poll_behind_a_lease_gets_the_page_when_it_lapses,
    woken_behind_a_lease
);
contract!(texts_travel_verbatim_nul_included, verbatim);
contract!(cancelled_calls_leave_nothing_half_done, cancelled_calls);

/// Four senders on two servers and two readers of the one inbox on both:
/// every message arrives exactly once, ids ascend, each sender's messages in
/// its order; the audit chain is intact afterwards.
async fn exactly_once(db: Db) {
    let (one, two, created) = two_servers(&db, "writer", "reader").await;
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

/// A long-poll on one server returns the message another server stores.
async fn long_poll_wake(db: Db) {
    let (one, two, created) = two_servers(&db, "writer", "reader").await;
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
    assert_eq!(answer(waiter, EVENT_TIMEOUT).await, ["wake up"]);
}

/// The texts a spawned long-poll answers with within `bound`.
async fn answer(
    waiter: tokio::task::JoinHandle<Result<mcp_bridge::service::Inbox, ServiceError>>,
    bound: Duration,
) -> Vec<String> {
    tokio::time::timeout(bound, waiter)
        .await
        .expect("the long-poll answered in time")
        .expect("task")
        .expect("check")
        .messages
        .into_iter()
        .map(|d| d.message.content)
        .collect()
}

/// A long-poll woken by a message while an earlier page of its inbox is
/// leased to another reader (who never acknowledges) finds nothing to take
/// at once: the head is leased, and taking the new message past it would
/// break the order. It goes back to waiting and, once the lease lapses (well
/// before its deadline), gets both messages, in order.
async fn woken_behind_a_lease(db: Db) {
    let (one, two, created) = two_servers(&db, "writer", "reader").await;
    let (a, b) = (creds(&created, Side::A), creds(&created, Side::B));
    one.bridge
        .send_message(&a, text("first"), "send_to_partner")
        .await
        .expect("send");
    let leased = CheckMessages {
        leased: true,
        ..check(0)
    };
    let taken = two
        .bridge
        .check_messages(std::slice::from_ref(&b), leased, std::future::pending())
        .await
        .expect("take under a lease");
    assert_eq!(taken.messages.len(), 1);
    assert_eq!(taken.receipts.len(), 1, "leased, never acknowledged");
    let lapses = std::time::Instant::now() + mcp_bridge::service::LEASE;

    let wait = mcp_bridge::service::LEASE * 3;
    let waiter = {
        let one = Arc::clone(&one);
        tokio::spawn(async move {
            one.bridge
                .check_messages(
                    std::slice::from_ref(&b),
                    CheckMessages { wait, ..check(0) },
                    std::future::pending(),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Wakes the waiter in its own process, naming its inbox.
    one.bridge
        .send_message(&a, text("second"), "send_to_partner")
        .await
        .expect("send");
    // Well before the deadline, three leases away.
    let bound = lapses.saturating_duration_since(std::time::Instant::now()) + wait / 3;
    assert_eq!(answer(waiter, bound).await, ["first", "second"]);
}

/// Message texts and status notes come back byte for byte, NUL and all
/// (PostgreSQL's TEXT cannot hold a NUL, so its schema keeps them as bytes).
async fn verbatim(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let created = one
        .bridge
        .create_conversation("writer", "reader")
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
