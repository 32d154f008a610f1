//! The web console's rules: its sign-in tokens (created and revoked from the
//! command line, stored hashed), who a presented token is, what each view
//! reveals and records in the audit trail (actor `console`, with the token's
//! name), and the human YOLO decisions taken from a page — admins only, with
//! the same operator passphrase as the terminal.
//!
//! Reads that feed the live event stream are not audited one by one (they
//! poll); opening the stream is.

use subtle::ConstantTimeEq;

mod decide;
mod session;

pub use session::{LiveSession, SESSION_TTL, SignedIn};

use super::admin::{ChainReport, ChainWalk};
use super::oversight::Decider;
use super::{Bridge, Listing, ServiceError, Shown};
use crate::audit::{AuditDraft, AuditRecord, Outcome};
use crate::domain::{ConversationId, Timestamp};
use crate::store::{
    Activation, AdminStore, AuditQuery, ConsoleRole, ConsoleStore, ConsoleToken,
    ConversationRecord, Proposal, StoreError, YoloStore,
};

/// The prefix of every console token, so a leaked one is recognisable.
pub const CONSOLE_TOKEN_PREFIX: &str = "mcpc_";
/// Longest console token name, in bytes.
pub const MAX_TOKEN_NAME: usize = 64;
/// How often a token's `last_used_at` is updated at most, in microseconds.
const TOUCH_INTERVAL_US: i64 = 60 * 1_000_000;
/// What a human types to confirm an activation from the console.
pub const CONFIRM_PHRASE: &str = "I UNDERSTAND THE RISKS";

/// Who is looking: a console token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The token's name.
    pub name: String,
    /// What it allows.
    pub role: ConsoleRole,
    /// The hex SHA-256 of the token, to re-check it is not revoked.
    pub token_hash: String,
}

impl ConsoleUser {
    fn decider(&self) -> Decider<'_> {
        Decider {
            actor: "console",
            name: Some(&self.name),
        }
    }

    fn draft(&self, action: &str, conversation: Option<&ConversationId>) -> AuditDraft {
        let mut draft =
            AuditDraft::new("console", action).on(conversation.map(ConversationId::as_str), None);
        draft.detail = Some(format!("by={}", self.name));
        draft
    }
}

/// Whether `name` is a valid token name: 1–64 letters, digits, `.`, `_`, `-`.
pub fn valid_token_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOKEN_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn random_hex(bytes: usize) -> Result<String, ServiceError> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw)
        .map_err(|e| ServiceError::Internal(StoreError::Backend(Box::new(e))))?;
    Ok(hex::encode(raw))
}

/// A new random secret: 256 bits in hex (session ids, CSRF tokens).
///
/// # Errors
/// When the OS random generator fails.
pub fn random_secret() -> Result<String, ServiceError> {
    random_hex(32)
}

impl<S: ConsoleStore + AdminStore + YoloStore> Bridge<S> {
    /// Creates a console token and returns it with the secret to show once.
    ///
    /// # Errors
    /// `invalid_argument` for a bad name, `conflict` when the name is taken.
    pub async fn console_token_create(
        &self,
        name: &str,
        role: ConsoleRole,
    ) -> Result<(ConsoleToken, String), ServiceError> {
        if !valid_token_name(name) {
            return Err(ServiceError::Conflict(format!(
                "{name:?} is not a token name: 1 to {MAX_TOKEN_NAME} letters, digits, '.', '_' or '-'"
            )));
        }
        let secret = format!("{CONSOLE_TOKEN_PREFIX}{}", random_hex(32)?);
        let at = self.clock.now();
        let token = ConsoleToken {
            name: name.to_owned(),
            role,
            token_hash: self.credential_digest(&secret),
            created_at: at,
            revoked_at: None,
            last_used_at: None,
        };
        let mut draft = AuditDraft::new("cli", "console token create");
        draft.detail = Some(format!("name={name} role={}", role.as_str()));
        match self.store.create_console_token(token.clone(), draft).await {
            Ok(()) => Ok((token, secret)),
            Err(StoreError::Conflict(m)) => Err(ServiceError::Conflict(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes the token `name`; sessions it opened end with their next request.
    ///
    /// # Errors
    /// `not_found` when there is no such unrevoked token.
    pub async fn console_token_revoke(&self, name: &str) -> Result<(), ServiceError> {
        let mut draft = AuditDraft::new("cli", "console token revoke");
        draft.detail = Some(format!("name={name}"));
        match self
            .store
            .revoke_console_token(name.to_owned(), self.clock.now(), draft)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(format!(
                "no console token named {name:?} (or it is revoked already)"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every console token (hashes only), oldest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_token_list(&self) -> Result<Vec<ConsoleToken>, ServiceError> {
        Ok(self.store.console_tokens().await?)
    }

    /// The keyed digests of every unrevoked console token (unaudited), so
    /// the console's sign-in throttle can tell the operator's token from a
    /// guess in memory: one read per refresh however many guesses arrive.
    /// A match is no sign-in; [`Self::console_authenticate`] still decides.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_token_digests(
        &self,
    ) -> Result<std::collections::HashSet<String>, ServiceError> {
        Ok(self
            .store
            .console_tokens()
            .await?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|t| t.token_hash)
            .collect())
    }

    /// Who holds `token`, if it is a valid unrevoked console token. A refusal
    /// is audited (`how`: `sign_in` or `api`); a sign-in's success is
    /// audited with its session.
    ///
    /// # Errors
    /// `auth_failed` for an unknown or revoked token.
    pub async fn console_authenticate(
        &self,
        token: &str,
        how: &str,
    ) -> Result<ConsoleUser, ServiceError> {
        let at = self.clock.now();
        let hash = self.credential_digest(token);
        let found = self.store.console_token_by_hash(hash.clone()).await?;
        // The lookup is by digest; the comparison is constant-time anyway so
        // no timing depends on how much of a digest matched.
        let valid = found.filter(|t| {
            t.revoked_at.is_none() && bool::from(t.token_hash.as_bytes().ct_eq(hash.as_bytes()))
        });
        let Some(t) = valid else {
            let draft = AuditDraft::new("console", format!("console {how}"))
                .failed(Outcome::Denied, ServiceError::AuthFailed.code());
            self.audit(draft);
            return Err(ServiceError::AuthFailed);
        };
        let user = ConsoleUser {
            name: t.name.clone(),
            role: t.role,
            token_hash: t.token_hash,
        };
        // A script polling the API should not cost a write per request.
        let stale = t
            .last_used_at
            .is_none_or(|used| at.micros_since(used) >= TOUCH_INTERVAL_US);
        if stale && let Err(e) = self.store.touch_console_token(t.name, at).await {
            tracing::warn!(error = %crate::store::error_chain(&e), "cannot record a console token's use");
        }
        Ok(user)
    }

    /// Whether `user`'s token is still unrevoked. Not audited: a long-lived
    /// event stream asks again whenever access may have ended.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_token_live(&self, user: &ConsoleUser) -> Result<bool, ServiceError> {
        let found = self
            .store
            .console_token_by_hash(user.token_hash.clone())
            .await?;
        Ok(found.is_some_and(|t| t.revoked_at.is_none()))
    }

    /// Records a console action refused before it reached the service (a
    /// missing CSRF token, an observer trying to act).
    pub async fn console_refused(
        &self,
        user: Option<&ConsoleUser>,
        action: &str,
        conversation: Option<&ConversationId>,
        code: &str,
    ) {
        let draft = match user {
            Some(u) => u.draft(action, conversation),
            None => AuditDraft::new("console", action)
                .on(conversation.map(ConversationId::as_str), None),
        };
        self.audit(draft.failed(Outcome::Denied, code));
    }

    /// Every conversation with counts and heartbeats (audited `console list`).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_list(&self, user: &ConsoleUser) -> Result<Listing, ServiceError> {
        let at = self.clock.now();
        let conversations = self.store.conversation_summaries().await?;
        let mut draft = user.draft("console list", None);
        draft.count = Some(i64::try_from(conversations.len()).unwrap_or(i64::MAX));
        self.store.record_management(at, draft).await?;
        Ok(Listing {
            at,
            heartbeat_timeout_s: self.settings.heartbeat_timeout_s,
            conversations,
        })
    }

    /// One conversation with its messages and read state (audited `console show`).
    ///
    /// # Errors
    /// `unknown_conversation`, or storage failures.
    pub async fn console_show(
        &self,
        user: &ConsoleUser,
        id: &ConversationId,
    ) -> Result<Shown, ServiceError> {
        let at = self.clock.now();
        let found = self
            .store
            .conversation_records(Some(vec![id.clone()]))
            .await?;
        let Some(record) = found.into_iter().next() else {
            let draft = user
                .draft("console show", Some(id))
                .failed(Outcome::Denied, "unknown_conversation");
            self.store.record_management(at, draft).await?;
            return Err(ServiceError::UnknownConversation(id.clone()));
        };
        let mut draft = user.draft("console show", Some(id));
        draft.count = Some(i64::try_from(record.messages.len()).unwrap_or(i64::MAX));
        self.store.record_management(at, draft).await?;
        Ok(Shown {
            at,
            heartbeat_timeout_s: self.settings.heartbeat_timeout_s,
            record,
        })
    }

    /// Audit records matching `query` (audited `console audit`).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_audit(
        &self,
        user: &ConsoleUser,
        query: AuditQuery,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        let at = self.clock.now();
        let mut draft = user.draft("console audit", query.conversation.as_ref());
        let records = self.store.audit_query(query).await?;
        draft.count = Some(i64::try_from(records.len()).unwrap_or(i64::MAX));
        self.store.record_management(at, draft).await?;
        Ok(records)
    }

    /// Walks the audit chain, as `mcp-bridge audit --verify` does.
    ///
    /// # Errors
    /// Storage failures (a broken chain is a report).
    pub async fn console_verify(&self, user: &ConsoleUser) -> Result<ChainReport, ServiceError> {
        let at = self.clock.now();
        let report = self
            .store
            .walk_audit_chain(ChainWalk::new(self.audit_key.clone()))
            .await?;
        let mut draft = user.draft("console audit_verify", None);
        draft.count = Some(report.records);
        if let Some(fault) = &report.fault {
            draft.detail = Some(format!(
                "{} at record {} by={}",
                fault.kind(),
                fault.seq(),
                user.name
            ));
            draft = draft.failed(Outcome::Error, "chain_broken");
        }
        if let Err(e) = self.store.record_management(at, draft).await {
            tracing::warn!(error = %crate::store::error_chain(&e), "cannot record the console's chain verification");
        }
        Ok(report)
    }

    /// Records that `user` opened the live event stream.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_watch(
        &self,
        user: &ConsoleUser,
        conversation: Option<&ConversationId>,
    ) -> Result<(), ServiceError> {
        let draft = user.draft("console events", conversation);
        Ok(self
            .store
            .record_management(self.clock.now(), draft)
            .await?)
    }

    /// The newest audit sequence number (0 for an empty trail), where a live
    /// stream starts.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_audit_head(&self) -> Result<i64, ServiceError> {
        let newest = self
            .store
            .audit_query(AuditQuery {
                limit: 1,
                ..AuditQuery::default()
            })
            .await?;
        Ok(newest.last().map_or(0, |r| r.seq))
    }

    /// Audit records after `after_seq`, oldest first, at most `limit`
    /// (unaudited: the live stream's poll).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_audit_since(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        Ok(self.store.audit_records(after_seq, limit).await?)
    }

    /// Conversations with their messages and read state (unaudited: the
    /// live stream's poll, after [`Bridge::console_watch`]).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_records(
        &self,
        ids: Vec<ConversationId>,
    ) -> Result<Vec<ConversationRecord>, ServiceError> {
        Ok(self.store.conversation_records(Some(ids)).await?)
    }

    /// Activations and proposals, commands redacted as `yolo status` shows them.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_yolo(&self) -> Result<(Vec<Activation>, Vec<Proposal>), ServiceError> {
        self.yolo_status(None).await
    }

    /// The store's change feed, for the live stream's watcher.
    pub fn console_changes(&self) -> crate::store::ChangeFeed {
        self.store.changes()
    }

    /// Every conversation with its messages (unaudited: the live stream's
    /// baseline, taken once when a console starts).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_all_records(&self) -> Result<Vec<ConversationRecord>, ServiceError> {
        Ok(self.store.conversation_records(None).await?)
    }

    /// A participant is alive if its heartbeat is at most this old.
    pub fn console_heartbeat_timeout_s(&self) -> u64 {
        self.settings.heartbeat_timeout_s
    }

    /// The current time on the service's clock.
    pub fn console_now(&self) -> Timestamp {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_checked() {
        assert!(valid_token_name("alice"));
        assert!(valid_token_name("ci-bot_2.x"));
        for bad in ["", "a b", "<script>", "ä", &"x".repeat(65)] {
            assert!(!valid_token_name(bad), "{bad:?}");
        }
    }
}
