//! The console's tokens, the data keys and named HTTP tokens on [`AnyStore`]:
//! both backends have all three; this only routes each call to the backend in use.

use super::StoreError;
use super::admin::AuditFor;
use super::any::{AnyStore, each_await};
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
        each_await!(self, s => s.create_console_token(token, audit))
    }
    async fn console_tokens(&self) -> Result<Vec<ConsoleToken>, StoreError> {
        each_await!(self, s => s.console_tokens())
    }
    async fn console_token_by_hash(
        &self,
        token_hash: String,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        each_await!(self, s => s.console_token_by_hash(token_hash))
    }
    async fn revoke_console_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.revoke_console_token(name, at, audit))
    }
    async fn touch_console_token(&self, name: String, at: Timestamp) -> Result<(), StoreError> {
        each_await!(self, s => s.touch_console_token(name, at))
    }
    async fn open_console_session(
        &self,
        session: ConsoleSession,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.open_console_session(session, audit))
    }
    async fn console_session(
        &self,
        id_hash: String,
        at: Timestamp,
    ) -> Result<Option<ConsoleToken>, StoreError> {
        each_await!(self, s => s.console_session(id_hash, at))
    }
    async fn close_console_session(
        &self,
        id_hash: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.close_console_session(id_hash, at, audit))
    }
}

impl DataKeyStore for AnyStore {
    async fn add_data_key(&self, at: Timestamp, audit: AuditDraft) -> Result<i64, StoreError> {
        each_await!(self, s => s.add_data_key(at, audit))
    }
    async fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> Result<(ResealCursor, Resealed), StoreError> {
        each_await!(self, s => s.reseal(cursor, batch))
    }
    async fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> Result<Retired, StoreError> {
        each_await!(self, s => s.retire_data_keys(at, audit))
    }
    async fn data_key_census(&self) -> Result<KeyCensus, StoreError> {
        each_await!(self, s => s.data_key_census())
    }
}

impl HttpTokenStore for AnyStore {
    async fn create_http_token(
        &self,
        token: NewHttpToken,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.create_http_token(token, audit))
    }
    async fn http_token_by_hash(&self, hash: [u8; 32]) -> Result<Option<HttpToken>, StoreError> {
        each_await!(self, s => s.http_token_by_hash(hash))
    }
    async fn http_tokens(&self) -> Result<Vec<HttpToken>, StoreError> {
        each_await!(self, s => s.http_tokens())
    }
    async fn revoke_http_token(
        &self,
        name: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.revoke_http_token(name, at, audit))
    }
    async fn sync_http_requests(
        &self,
        spent: Vec<RequestBucket>,
        prune: Vec<(String, i64)>,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        each_await!(self, s => s.sync_http_requests(spent, prune, tokens))
    }
    async fn http_request_counts(
        &self,
        tokens: Vec<String>,
    ) -> Result<Vec<RequestBucket>, StoreError> {
        each_await!(self, s => s.http_request_counts(tokens))
    }
}
