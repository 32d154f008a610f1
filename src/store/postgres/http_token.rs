//! The PostgreSQL side of [`HttpTokenStore`]: the `http_tokens` table
//! (`migrations/postgres/0004_http_tokens.sql`), named bearer tokens by hash,
//! and `http_request_buckets`, the request counters every server shares.

use tokio_postgres::Row;

use super::db::{Db, Write, get};
use super::deadline::read;
use super::{PgStore, in_tx};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::{HttpRole, HttpToken, HttpTokenStore, NewHttpToken, RequestBucket, StoreError};

const COLUMNS: &str = "name, role, token_hash, created_at, revoked_at";

fn decode(row: &Row) -> Result<HttpToken, StoreError> {
    let corrupt = || StoreError::Corrupt("unreadable HTTP token".into());
    let role: String = get(row, 1)?;
    let hash: Vec<u8> = get(row, 2)?;
    Ok(HttpToken {
        name: get(row, 0)?,
        role: HttpRole::parse(&role).ok_or_else(corrupt)?,
        hash: hash.try_into().map_err(|_| corrupt())?,
        created_at: Timestamp::from_micros(get(row, 3)?),
        revoked_at: get::<Option<i64>>(row, 4)?.map(Timestamp::from_micros),
    })
}

impl HttpTokenStore for PgStore {
    async fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            // ON CONFLICT covers the name only: a duplicate hash (a 256-bit
            // collision) still fails loudly as a unique violation.
            let inserted = w
                .db()
                .exec(
                    &format!(
                        "INSERT INTO http_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, NULL)
                         ON CONFLICT (name) DO NOTHING"
                    ),
                    &[
                        &token.name,
                        &token.role.as_str(),
                        &&token.hash[..],
                        &token.created_at.as_micros(),
                    ],
                )
                .await?;
            if inserted != 1 {
                return Err(StoreError::Conflict(format!(
                    "an HTTP token named {:?} exists (names are never reused, even once revoked)",
                    token.name
                )));
            }
            w.audit(token.created_at, audit);
            Ok(())
        })
    }

    async fn http_token_by_hash(&self, hash: [u8; 32]) -> Result<Option<HttpToken>, StoreError> {
        read(self.client().await?, async |db| {
            db.opt(
                &format!(
                    "SELECT {COLUMNS} FROM http_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
                ),
                &[&&hash[..]],
            )
            .await?
            .as_ref()
            .map(decode)
            .transpose()
        })
        .await
    }

    async fn http_tokens(&self) -> Result<Vec<HttpToken>, StoreError> {
        let client = self.client().await?;
        Db::Client(&client)
            .query(
                &format!("SELECT {COLUMNS} FROM http_tokens ORDER BY name"),
                &[],
            )
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    async fn revoke_http_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            let changed = w
                .db()
                .exec(
                    "UPDATE http_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                    &[&name, &at.as_micros()],
                )
                .await?;
            if changed != 1 {
                return Err(StoreError::NotFound);
            }
            w.audit(at, audit);
            Ok(())
        })
    }

    /// Each statement on its own (no transaction): an upsert is atomic by
    /// itself, and servers adding to the same buckets never wait on each
    /// other's locks for longer than one row's update.
    async fn sync_http_requests(
        &self,
        spent: Vec<RequestBucket>,
        prune: Vec<(String, i64)>,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        let client = self.client().await?;
        let db = Db::Client(&client);
        for b in &spent {
            db.exec(
                "INSERT INTO http_request_buckets (token_name, \"window\", bucket, count)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (token_name, \"window\", bucket)
                 DO UPDATE SET count = http_request_buckets.count + EXCLUDED.count",
                &[&b.token, &b.window, &b.bucket, &b.count],
            )
            .await?;
        }
        for (window, oldest) in &prune {
            db.exec(
                "DELETE FROM http_request_buckets WHERE \"window\" = $1 AND bucket < $2",
                &[window, oldest],
            )
            .await?;
        }
        read_counts(db, &tokens).await
    }

    async fn http_request_counts(
        &self,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        read(self.client().await?, async |db| {
            read_counts(db, &tokens).await
        })
        .await
    }
}

/// Every counter of `tokens`.
async fn read_counts(db: Db<'_>, tokens: &[String]) -> Result<Vec<RequestBucket>, StoreError> {
    let rows = db
        .query(
            "SELECT token_name, \"window\", bucket, count FROM http_request_buckets
             WHERE token_name = ANY($1)",
            &[&tokens],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestBucket {
                token: get(r, 0)?,
                window: get(r, 1)?,
                bucket: get(r, 2)?,
                count: get(r, 3)?,
            })
        })
        .collect()
}
