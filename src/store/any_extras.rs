//! The console's tokens, the data keys and named HTTP tokens on [`AnyStore`]: SQLite
//! has all three; this build's PostgreSQL backend not yet, and says so clearly
//! instead of pretending (the console and `key rotate` refuse on it).

use super::StoreError;
use super::admin::AuditFor;
use super::any::AnyStore;
use super::console::{ConsoleStore, ConsoleToken};
use super::data_keys::{DataKeyStore, KeyCensus, ResealCursor, Resealed, Retired};
use super::http_token::{HttpToken, HttpTokenStore, NewHttpToken};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;

/// What a PostgreSQL database cannot do in this build.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} is not available on a PostgreSQL database in this build; use an SQLite database for it"
)]
pub struct NotOnPostgres(pub &'static str);

fn not_on_postgres(what: &'static str) -> StoreError {
    StoreError::Backend(Box::new(NotOnPostgres(what)))
}

impl ConsoleStore for AnyStore {
    async fn create_console_token(
        &self,
        token: ConsoleToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.create_console_token(token, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("the web console")),
        }
    }
    async fn console_tokens(&self) -> Result<Vec<ConsoleToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.console_tokens().await,
            AnyStore::Postgres(_) => Err(not_on_postgres("the web console")),
        }
    }
    async fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.console_token_by_hash(token_hash).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("the web console")),
        }
    }
    async fn revoke_console_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.revoke_console_token(name, at, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("the web console")),
        }
    }
    async fn touch_console_token(&self, name: String, at: Timestamp) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.touch_console_token(name, at).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("the web console")),
        }
    }
}

impl DataKeyStore for AnyStore {
    async fn add_data_key(&self, at: Timestamp, audit: AuditDraft) -> Result<i64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.add_data_key(at, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("encryption at rest (key rotate)")),
        }
    }
    async fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> Result<(ResealCursor, Resealed), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.reseal(cursor, batch).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("encryption at rest (key rotate)")),
        }
    }
    async fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> Result<Retired, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.retire_data_keys(at, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("encryption at rest (key rotate)")),
        }
    }
    async fn data_key_census(&self) -> Result<KeyCensus, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.data_key_census().await,
            AnyStore::Postgres(_) => Err(not_on_postgres("encryption at rest (key rotate)")),
        }
    }
}

/// Named HTTP tokens live in SQLite only in this build. On PostgreSQL none can
/// be created, so none exists: `serve --http` accepts the shared token
/// (`MCP_BRIDGE_HTTP_TOKEN`) alone there.
impl HttpTokenStore for AnyStore {
    async fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.create_http_token(token, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres(
                "named HTTP tokens (serve --http takes the shared MCP_BRIDGE_HTTP_TOKEN there)",
            )),
        }
    }
    async fn http_token_by_hash(&self, hash: [u8; 32]) -> Result<Option<HttpToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.http_token_by_hash(hash).await,
            AnyStore::Postgres(_) => Ok(None),
        }
    }
    async fn http_tokens(&self) -> Result<Vec<HttpToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.http_tokens().await,
            AnyStore::Postgres(_) => Ok(Vec::new()),
        }
    }
    async fn revoke_http_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.revoke_http_token(name, at, audit).await,
            AnyStore::Postgres(_) => Err(not_on_postgres("named HTTP tokens")),
        }
    }
}
