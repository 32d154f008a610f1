//! Schema migrations for PostgreSQL, run when a store opens. A session-level
//! advisory lock makes servers that start together take turns: the first
//! migrates, the others find the schema current.

use tokio_postgres::Client;

use super::db::{Db, get, pg_err};
use crate::audit::AuditKey;
use crate::store::{StoreError, rekey};

/// Forward migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_console.sql"),
    include_str!("../../../migrations/postgres/0003_data_keys.sql"),
    include_str!("../../../migrations/postgres/0004_http_tokens.sql"),
    include_str!("../../../migrations/postgres/0005_audit_pending.sql"),
    include_str!("../../../migrations/postgres/0006_console_sessions.sql"),
    include_str!("../../../migrations/postgres/0007_mcp_sessions.sql"),
    include_str!("../../../migrations/postgres/0008_http_request_buckets.sql"),
    include_str!("../../../migrations/postgres/0009_message_seq.sql"),
    include_str!("../../../migrations/postgres/0010_legacy_plaintext.sql"),
    include_str!("../../../migrations/postgres/0011_keyed_credentials.sql"),
    include_str!("../../../migrations/postgres/0012_hidden_paths.sql"),
];

/// The version whose migration keys the stored credential hashes (see
/// `store::rekey`).
const KEYED_CREDENTIALS_VERSION: i64 = 11;

/// The version whose migration marks plaintext from before encryption at
/// rest as legitimate, if it finds any (see `store::data_keys::legacy_mark`).
const LEGACY_PLAINTEXT_VERSION: i64 = 10;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key migrations hold (any constant no other tool uses).
const MIGRATION_LOCK: i64 = 0x6d63_705f_6272_6467; // "mcp_brdg"

/// Brings the schema up to [`SCHEMA_VERSION`]; signs the audit head the
/// first migration creates.
pub async fn migrate(client: &mut Client, key: &AuditKey) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    let done = run(client, key).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err);
    done.and(unlocked.map(drop))
}

async fn run(client: &mut Client, key: &AuditKey) -> Result<(), StoreError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS mcp_bridge_schema (version BIGINT NOT NULL)")
        .await
        .map_err(pg_err)?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM mcp_bridge_schema",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let version: i64 = get(&row, 0)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, script) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.batch_execute(script).await.map_err(pg_err)?;
        let to = i as i64 + 1;
        if i == 0 {
            // The first script creates the keyed chain's head; it needs the key.
            sign(&tx, key).await?;
        }
        if to == LEGACY_PLAINTEXT_VERSION {
            super::keys::mark_legacy_plaintext(Db::Raw(&tx), key).await?;
        }
        if to == KEYED_CREDENTIALS_VERSION {
            rekey_credentials(&tx, key).await?;
        }
        tx.execute("DELETE FROM mcp_bridge_schema", &[])
            .await
            .map_err(pg_err)?;
        tx.execute(
            "INSERT INTO mcp_bridge_schema (version) VALUES ($1)",
            &[&to],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
    }
    Ok(())
}

/// Replaces every stored credential hash with its keyed form.
async fn rekey_credentials(
    tx: &tokio_postgres::Transaction<'_>,
    key: &AuditKey,
) -> Result<(), StoreError> {
    let done: i64 = get(
        &tx.query_one("SELECT count(*) FROM keyed_credentials", &[])
            .await
            .map_err(pg_err)?,
        0,
    )?;
    if done > 0 {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO keyed_credentials (since) VALUES ($1)",
        &[&KEYED_CREDENTIALS_VERSION],
    )
    .await
    .map_err(pg_err)?;
    for c in rekey::HASH_COLUMNS {
        let (table, column) = (c.table, c.column);
        let rows = tx
            .query(
                &format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL"),
                &[],
            )
            .await
            .map_err(pg_err)?;
        let update = format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2");
        for row in rows {
            if c.hex {
                let old: String = get(&row, 0)?;
                if let Some(new) = rekey::rekey_hex(key, &old) {
                    tx.execute(&update, &[&new, &old]).await.map_err(pg_err)?;
                }
            } else {
                let old: Vec<u8> = get(&row, 0)?;
                if let Some(new) = rekey::rekey_bytes(key, &old) {
                    tx.execute(&update, &[&new.as_slice(), &old])
                        .await
                        .map_err(pg_err)?;
                }
            }
        }
    }
    Ok(())
}

async fn sign(tx: &tokio_postgres::Transaction<'_>, key: &AuditKey) -> Result<(), StoreError> {
    let row = tx
        .query_one(
            "SELECT count, hash, coalesce(detail, '') FROM audit_log WHERE seq = 9223372036854775807",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let head = crate::audit::ChainHead::sign(
        key,
        get::<Option<i64>>(&row, 0)?.unwrap_or(0),
        get(&row, 1)?,
        get(&row, 2)?,
    );
    tx.execute(
        "UPDATE audit_log SET count = $1, hash = $2, prev_hash = $3, detail = $4 WHERE seq = 9223372036854775807",
        &[&head.last_seq, &head.last_hash, &head.mac, &head.anchor],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}
