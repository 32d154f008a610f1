//! Encryption at rest on both stores (the contract of `store_contract`, one
//! test per backend): what a server writes is sealed in the database's own
//! columns yet reads back intact through another server, and `key rotate`
//! moves every value, legacy plaintext included, to a new data key that a
//! server which never saw the rotation still opens.

use std::sync::Arc;

use mcp_bridge::app::App;
use mcp_bridge::audit::AuditDraft;
use mcp_bridge::domain::{Side, Status, Timestamp, YoloMode};
use mcp_bridge::service::{Created, SendToPartner, UpdateStatus};
use mcp_bridge::store::{ActivationRequest, Guard, Proposal, YoloStore};

use crate::store_contract::{Db, NO_LIMITS, Target, check, contract, creds, text};
use crate::util_pg;

contract!(texts_are_sealed_in_the_database, sealed_at_rest);
contract!(key_rotation_reseals_every_value, rotation);
contract!(planted_plaintext_does_not_open, planted_plaintext);

/// Rows of `pg` (PostgreSQL, texts as BYTEA shown as UTF-8) or `lite` (SQLite) on `db`.
fn raw(db: &Db, pg: &str, lite: &str) -> Vec<String> {
    match &db.target {
        Target::Postgres(url) => util_pg::sql(url.expose(), pg)
            .lines()
            .map(str::to_owned)
            .collect(),
        Target::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).expect("open sqlite");
            let mut stmt = conn.prepare(lite).expect("prepare");
            stmt.query_map([], |r| r.get::<_, String>(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        }
    }
}

/// Runs a statement on `db` (the same SQL on both).
fn exec(db: &Db, sql: &str) {
    match &db.target {
        Target::Postgres(url) => drop(util_pg::sql(url.expose(), sql)),
        Target::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).expect("open sqlite");
            conn.execute_batch(sql).expect("exec");
        }
    }
}

/// The next open of `db` runs the migration that looks for plaintext from
/// before encryption at rest (see `util_cli::as_if_not_yet_upgraded`).
fn as_if_not_yet_upgraded(db: &Db) {
    match &db.target {
        Target::Postgres(url) => {
            crate::util_cli::as_if_not_yet_upgraded(std::path::Path::new(url.expose()))
        }
        Target::Sqlite(path) => crate::util_cli::as_if_not_yet_upgraded(path),
    }
}

/// A statement that stores `text` as it is (no seal) in the note of side b.
fn plant_note(db: &Db, text: &str) -> String {
    let value = match db.target {
        Target::Postgres(_) => format!("convert_to('{text}', 'UTF8')"),
        Target::Sqlite(_) => format!("'{text}'"),
    };
    format!(
        "UPDATE participants SET note = {value}, status = 'waiting', status_at = 1 WHERE side = 'b'"
    )
}

/// Every sealed-column value stored: message contents and file lists,
/// notes, proposed commands.
fn stored_values(db: &Db) -> Vec<String> {
    raw(
        db,
        "SELECT convert_from(content, 'UTF8') FROM messages
         UNION ALL SELECT files FROM messages
         UNION ALL SELECT convert_from(note, 'UTF8') FROM participants WHERE note IS NOT NULL
         UNION ALL SELECT convert_from(command, 'UTF8') FROM yolo_proposals",
        "SELECT content FROM messages UNION ALL SELECT files FROM messages
         UNION ALL SELECT note FROM participants WHERE note IS NOT NULL
         UNION ALL SELECT command FROM yolo_proposals",
    )
}

const PROPOSAL: &str = "proposal-0001";

async fn conversation_with_texts(one: &App, marker: &str) -> Created {
    let created = one
        .bridge
        .create_conversation("writer", "reader")
        .await
        .expect("create");
    for i in 0..3 {
        let message = SendToPartner {
            files_involved: vec![format!("src/{marker}-{i}.rs")],
            ..text(&format!("{marker} number {i}"))
        };
        one.bridge
            .send_message(&creds(&created, Side::A), message, "send_to_partner")
            .await
            .expect("send");
    }
    one.bridge
        .update_my_status(
            &creds(&created, Side::A),
            UpdateStatus {
                status: Status::Working,
                note: Some(format!("note {marker}")),
            },
        )
        .await
        .expect("status");
    let at = Timestamp::now();
    activate(one, &created, at).await;
    let proposal = Proposal {
        command: format!("echo {marker}"),
        ..crate::store_yolo::proposal(PROPOSAL, &created.conversation, at)
    };
    let guard = crate::store_yolo::guard(at);
    one.bridge
        .store()
        .create_proposal(proposal, guard)
        .await
        .expect("propose");
    created
}

/// Makes YOLO mode active in `created`'s conversation, as a human's confirmation does.
pub(crate) async fn activate(app: &App, created: &Created, at: Timestamp) {
    let store = app.bridge.store();
    let request = ActivationRequest {
        conversation: created.conversation.clone(),
        requested_by: Side::A,
        mode: YoloMode::Safe,
        workspace: std::env::temp_dir(),
        timeout_s: 30,
        sandbox: true,
        requested_at: at,
    };
    let guard = Guard {
        at,
        session: None,
        quota: None,
        audit: AuditDraft::new("mcp", "enable_yolo_mode"),
    };
    store
        .request_activation(request, guard)
        .await
        .expect("request");
    let until = Timestamp::from_micros(at.as_micros() + 3_600_000_000);
    let audit = AuditDraft::new("cli", "yolo_confirm");
    store
        .confirm_activation(created.conversation.clone(), at, until, at, audit)
        .await
        .expect("confirm");
}

/// Reads everything `conversation_with_texts` wrote through `app`.
async fn read_back(app: &App, created: &Created, marker: &str) {
    let inbox = app
        .bridge
        .check_messages(&[creds(created, Side::B)], check(0), std::future::pending())
        .await
        .expect("check");
    let got: Vec<(String, Vec<String>)> = inbox
        .messages
        .into_iter()
        .map(|d| (d.message.content, d.message.files_involved))
        .collect();
    let want: Vec<(String, Vec<String>)> = (0..3)
        .map(|i| {
            (
                format!("{marker} number {i}"),
                vec![format!("src/{marker}-{i}.rs")],
            )
        })
        .collect();
    assert_eq!(got, want);
    let seen = app
        .bridge
        .check_partner_status(&creds(created, Side::B))
        .await
        .expect("partner status");
    assert_eq!(seen.note, Some(format!("note {marker}")));
    let proposal = app
        .bridge
        .store()
        .proposal(PROPOSAL)
        .await
        .expect("proposal")
        .expect("stored");
    assert_eq!(proposal.command, format!("echo {marker}"));
    let listed = app.bridge.store().proposals(None).await.expect("proposals");
    assert_eq!(listed, [proposal]);
}

/// A marker sent through one server is nowhere in the raw columns, every
/// value there is sealed, and the other server reads it all back intact.
async fn sealed_at_rest(db: Db) {
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let marker = "MARKER-7f3a9c";
    let created = conversation_with_texts(&one, marker).await;
    let values = stored_values(&db);
    assert_eq!(
        values.len(),
        3 + 3 + 1 + 1,
        "contents, file lists, the note, the command"
    );
    for v in &values {
        assert!(!v.contains(marker), "plaintext at rest: {v}");
        assert!(v.starts_with("s1.1."), "sealed under epoch 1: {v}");
    }
    read_back(&two, &created, marker).await;
}

/// A rotation through one server re-seals every value (a legacy plaintext
/// note included) under epoch 2 and retires epoch 1; the other server,
/// which never saw epoch 2, reads everything back.
async fn rotation(db: Db) {
    let marker = "ROTATE-51d0";
    let created = conversation_with_texts(&db.open(NO_LIMITS), marker).await;
    // A note as an older build stored it: plaintext, and the upgrade that
    // finds it marks it as legitimate.
    exec(&db, &plant_note(&db, "legacy note"));
    as_if_not_yet_upgraded(&db);
    let (one, two) = (db.open(NO_LIMITS), db.open(NO_LIMITS));
    let before = one.bridge.data_key_census().await.expect("census");
    assert_eq!(before.epochs, [1]);
    assert_eq!(before.sealed, [(1, 8)]);
    assert_eq!(before.plaintext, 1);
    assert!(before.legacy_allowed);

    let batches = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = Arc::clone(&batches);
    let rotation = one
        .bridge
        .rotate_data_key(
            2,
            Arc::new(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        )
        .await
        .expect("rotate");
    assert_eq!(rotation.epoch, 2);
    assert_eq!(
        rotation.resealed.resealed, 9,
        "8 sealed values and the legacy note"
    );
    assert_eq!(rotation.resealed.were_plain, 1);
    assert_eq!(rotation.retired.retired, [1]);
    assert!(rotation.retired.kept.is_empty());
    assert!(
        batches.load(std::sync::atomic::Ordering::Relaxed) > 2,
        "batches of 2 rows walk every table"
    );

    let after = two.bridge.data_key_census().await.expect("census");
    assert_eq!(after.epochs, [2]);
    assert_eq!(after.sealed, [(2, 9)]);
    assert_eq!(after.plaintext, 0);
    assert!(
        !after.legacy_allowed,
        "every value is sealed: the mark is gone"
    );
    for v in stored_values(&db) {
        assert!(v.starts_with("s1.2."), "sealed under epoch 2: {v}");
    }
    read_back(&two, &created, marker).await;
    let legacy = one
        .bridge
        .check_partner_status(&creds(&created, Side::A))
        .await
        .expect("partner status");
    assert_eq!(legacy.note.as_deref(), Some("legacy note"));

    // Writes after the rotation seal under the new epoch on both servers.
    two.bridge
        .send_message(&creds(&created, Side::B), text("after"), "send_to_partner")
        .await
        .expect("send");
    let census = one.bridge.data_key_census().await.expect("census");
    assert_eq!(census.sealed, [(2, 10)]);
    let report = one.bridge.verify_audit().await.expect("verify");
    assert!(report.fault.is_none(), "audit chain: {:?}", report.fault);
}

/// Plaintext written into a database the upgrade found fully sealed (or
/// after `key rotate` sealed the last of it) was planted: it does not open,
/// the error names its row, and a rotation stops there instead of sealing it.
async fn planted_plaintext(db: Db) {
    let created = conversation_with_texts(&db.open(NO_LIMITS), "PLANT-2e81").await;
    // Even through the upgrade: it finds nothing but sealed values.
    as_if_not_yet_upgraded(&db);
    let app = db.open(NO_LIMITS);
    exec(&db, &plant_note(&db, "planted note"));
    let census = app.bridge.data_key_census().await.expect("census");
    assert_eq!(census.plaintext, 1);
    assert!(!census.legacy_allowed);
    let err = app
        .bridge
        .check_partner_status(&creds(&created, Side::A))
        .await
        .expect_err("a planted note does not open");
    let text = std::error::Error::source(&err).map(ToString::to_string);
    let text = text.unwrap_or_default();
    assert!(text.contains("participants.note"), "{text}");
    assert!(text.contains("is not sealed"), "{text}");
    let err = app
        .bridge
        .rotate_data_key(50, Arc::new(|_| {}))
        .await
        .expect_err("the rotation stops at the planted value");
    let text = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        text.unwrap_or_default().contains("is not sealed"),
        "{err:?}"
    );
    // A server opened now refuses it too; the sealed values still open.
    let other = db.open(NO_LIMITS);
    assert!(
        other
            .bridge
            .check_partner_status(&creds(&created, Side::A))
            .await
            .is_err()
    );
    exec(&db, "UPDATE participants SET note = NULL WHERE side = 'b'");
    read_back(&other, &created, "PLANT-2e81").await;
}
