//! The console's tokens, the data keys and named HTTP tokens on [`AnyStore`]:
//! both backends have all three; this only routes each call to the backend in use.

use super::StoreError;
use super::admin::AuditFor;
use super::any::AnyStore;
use super::console::{ConsoleSession, ConsoleStore, ConsoleToken};
use super::data_keys::{DataKeyStore, KeyCensus, ResealCursor, Resealed, Retired};
use super::http_token::{HttpToken, HttpTokenStore, NewHttpToken, RequestBucket};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;

impl ConsoleStore for AnyStore {
    async fn create_console_token(
        &self,
        token: ConsoleToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.create_console_token(token, audit).await,
            AnyStore::Postgres(p) => p.create_console_token(token, audit).await,
        }
    }
    async fn console_tokens(&self) -> Result<Vec<ConsoleToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.console_tokens().await,
            AnyStore::Postgres(p) => p.console_tokens().await,
        }
    }
    async fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.console_token_by_hash(token_hash).await,
            AnyStore::Postgres(p) => p.console_token_by_hash(token_hash).await,
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
            AnyStore::Postgres(p) => p.revoke_console_token(name, at, audit).await,
        }
    }
    async fn touch_console_token(&self, name: String, at: Timestamp) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.touch_console_token(name, at).await,
            AnyStore::Postgres(p) => p.touch_console_token(name, at).await,
        }
    }
    async fn open_console_session(
        &self,
        session: ConsoleSession,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.open_console_session(session, audit).await,
            AnyStore::Postgres(p) => p.open_console_session(session, audit).await,
        }
    }
    async fn console_session(
        &self,
        id_hash: String,
        at: Timestamp,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.console_session(id_hash, at).await,
            AnyStore::Postgres(p) => p.console_session(id_hash, at).await,
        }
    }
    async fn close_console_session(
        &self,
        id_hash: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.close_console_session(id_hash, at, audit).await,
            AnyStore::Postgres(p) => p.close_console_session(id_hash, at, audit).await,
        }
    }
}

impl DataKeyStore for AnyStore {
    async fn add_data_key(&self, at: Timestamp, audit: AuditDraft) -> Result<i64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.add_data_key(at, audit).await,
            AnyStore::Postgres(p) => p.add_data_key(at, audit).await,
        }
    }
    async fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> Result<(ResealCursor, Resealed), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.reseal(cursor, batch).await,
            AnyStore::Postgres(p) => p.reseal(cursor, batch).await,
        }
    }
    async fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> Result<Retired, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.retire_data_keys(at, audit).await,
            AnyStore::Postgres(p) => p.retire_data_keys(at, audit).await,
        }
    }
    async fn data_key_census(&self) -> Result<KeyCensus, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.data_key_census().await,
            AnyStore::Postgres(p) => p.data_key_census().await,
        }
    }
}

impl HttpTokenStore for AnyStore {
    async fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.create_http_token(token, audit).await,
            AnyStore::Postgres(p) => p.create_http_token(token, audit).await,
        }
    }
    async fn http_token_by_hash(&self, hash: [u8; 32]) -> Result<Option<HttpToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.http_token_by_hash(hash).await,
            AnyStore::Postgres(p) => p.http_token_by_hash(hash).await,
        }
    }
    async fn http_tokens(&self) -> Result<Vec<HttpToken>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.http_tokens().await,
            AnyStore::Postgres(p) => p.http_tokens().await,
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
            AnyStore::Postgres(p) => p.revoke_http_token(name, at, audit).await,
        }
    }
    async fn sync_http_requests(
        &self,
        spent: Vec<RequestBucket>,
        prune: Vec<(String, i64)>,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.sync_http_requests(spent, prune, tokens).await,
            AnyStore::Postgres(p) => p.sync_http_requests(spent, prune, tokens).await,
        }
    }
    async fn http_request_counts(
        &self,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.http_request_counts(tokens).await,
            AnyStore::Postgres(p) => p.http_request_counts(tokens).await,
        }
    }
}
