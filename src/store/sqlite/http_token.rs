//! The SQLite side of [`HttpTokenStore`]: named bearer tokens by hash, and
//! the request counters every server on the file shares.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, ops, sql_err};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::{HttpRole, HttpToken, HttpTokenStore, NewHttpToken, RequestBucket, StoreError};

const COLUMNS: &str = "name, role, token_hash, created_at, revoked_at";

fn decode(row: &Row<'_>) -> Result<HttpToken, StoreError> {
    let corrupt = || StoreError::Corrupt("unreadable HTTP token".into());
    let role: String = row.get(1).map_err(sql_err)?;
    let hash: Vec<u8> = row.get(2).map_err(sql_err)?;
    Ok(HttpToken {
        name: row.get(0).map_err(sql_err)?,
        role: HttpRole::parse(&role).ok_or_else(corrupt)?,
        hash: hash.try_into().map_err(|_| corrupt())?,
        created_at: Timestamp::from_micros(row.get(3).map_err(sql_err)?),
        revoked_at: row
            .get::<_, Option<i64>>(4)
            .map_err(sql_err)?
            .map(Timestamp::from_micros),
    })
}

impl HttpTokenStore for SqliteStore {
    async fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let taken: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM http_tokens WHERE name = ?1")
                .and_then(|mut s| s.query_row([&token.name], |r| r.get(0)).optional())
                .map_err(sql_err)?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!(
                    "an HTTP token named {:?} exists (names are never reused, even once revoked)",
                    token.name
                )));
            }
            tx.prepare_cached(&format!(
                "INSERT INTO http_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, NULL)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    token.name,
                    token.role.as_str(),
                    &token.hash[..],
                    token.created_at.as_micros()
                ])
            })
            .map_err(sql_err)?;
            ops::append_audit(tx, token.created_at, &audit)
        })
        .await
    }

    async fn http_token_by_hash(&self, hash: [u8; 32]) -> Result<Option<HttpToken>, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM http_tokens WHERE token_hash = ?1 AND revoked_at IS NULL"
            ))
            .and_then(|mut s| s.query_row([&hash[..]], |r| Ok(decode(r))).optional())
            .map_err(sql_err)?
            .transpose()
        })
        .await
    }

    async fn http_tokens(&self) -> Result<Vec<HttpToken>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM http_tokens ORDER BY name"))
                .map_err(sql_err)?;
            let mut rows = stmt.query([]).map_err(sql_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql_err)? {
                out.push(decode(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn revoke_http_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE http_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![name, at.as_micros()]))
                .map_err(sql_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            ops::append_audit(tx, at, &audit)
        })
        .await
    }

    async fn sync_http_requests(
        &self,
        spent: Vec<RequestBucket>,
        prune: Vec<(String, i64)>,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        self.write(move |tx| {
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO http_request_buckets (token_name, \"window\", bucket, count)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO UPDATE SET count = count + excluded.count",
                )
                .map_err(sql_err)?;
            for b in &spent {
                add.execute(params![b.token, b.window, b.bucket, b.count])
                    .map_err(sql_err)?;
            }
            let mut drop_old = tx
                .prepare_cached(
                    "DELETE FROM http_request_buckets WHERE \"window\" = ?1 AND bucket < ?2",
                )
                .map_err(sql_err)?;
            for (window, oldest) in &prune {
                drop_old.execute(params![window, oldest]).map_err(sql_err)?;
            }
            read_counts(tx, &tokens)
        })
        .await
    }

    async fn http_request_counts(
        &self,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        self.call(move |conn| read_counts(conn, &tokens)).await
    }
}

/// Every counter of `tokens`.
fn read_counts(conn: &Connection, tokens: &[String]) -> Result<Vec<RequestBucket>, StoreError> {
    let mut read = conn
        .prepare_cached(
            "SELECT \"window\", bucket, count FROM http_request_buckets WHERE token_name = ?1",
        )
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for token in tokens {
        let rows = read
            .query_map([token], |r| {
                Ok(RequestBucket {
                    token: token.clone(),
                    window: r.get(0)?,
                    bucket: r.get(1)?,
                    count: r.get(2)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(sql_err)?;
        out.extend(rows);
    }
    Ok(out)
}
