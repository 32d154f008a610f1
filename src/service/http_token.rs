//! Named bearer tokens of the HTTP transport: made (printed once, stored as a
//! keyed hash, see `AuditKey::credential_hash`), listed, revoked, and matched
//! against a presented bearer token.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Bridge, ServiceError};
use crate::audit::{AuditDraft, Outcome};
use crate::domain::InvalidValue;
use crate::ratelimit::{Outgoing, Window};
use crate::store::{
    AdminStore, HttpRole, HttpToken, HttpTokenStore, NewHttpToken, RequestBucket, StoreError,
};

/// Prefix of every named token, so that secret scanners (ours included)
/// recognise one that leaks into a message or a log.
pub const HTTP_TOKEN_PREFIX: &str = "mcpb_";

/// Up to this many tokens are re-checked one by one; more, in one listing
/// (see [`Bridge::live_http_tokens`]).
const FEW_TOKENS: usize = 8;

/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;

/// Who a presented bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpIdentity {
    /// The token's name (`env` for the token given by setting).
    pub name: String,
    /// What it may do.
    pub role: HttpRole,
}

/// Whether `presented` is `expected`, in time independent of where they differ
/// (both are hashed first, so the length does not show either).
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let digest = |t: &str| -> [u8; 32] { Sha256::digest(t.as_bytes()).into() };
    digest(presented).ct_eq(&digest(expected)).into()
}

/// Checks an operator-chosen token name: 1–64 letters, digits, `_`, `-`, `.`.
///
/// # Errors
/// [`InvalidValue`] for `name` saying what is allowed.
pub fn parse_token_name(name: &str) -> Result<&str, InvalidValue> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_TOKEN_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(name)
    } else {
        Err(InvalidValue::new(
            "name",
            "must be 1-64 letters, digits, '_', '-' or '.'",
        ))
    }
}

fn management_draft(action: &str, name: &str, role: Option<HttpRole>) -> AuditDraft {
    let mut draft = AuditDraft::new("cli", action);
    draft.detail = Some(match role {
        Some(role) => format!("name={name} role={}", role.as_str()),
        None => format!("name={name}"),
    });
    draft
}

impl<S: HttpTokenStore> Bridge<S> {
    /// How a named token is stored and looked up (see `AuditKey::credential_hash`).
    pub fn http_token_hash(&self, token: &str) -> [u8; 32] {
        self.audit_key.credential_hash(token)
    }

    /// Every named token (hashes only), revoked ones included.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn http_tokens(&self) -> Result<Vec<HttpToken>, ServiceError> {
        Ok(self.store.http_tokens().await?)
    }

    /// The named, unrevoked token `presented` is, if any.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn http_identity(
        &self,
        presented: &str,
    ) -> Result<Option<HttpIdentity>, ServiceError> {
        if !presented.starts_with(HTTP_TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = self.http_token_hash(presented);
        let found = self.store.http_token_by_hash(hash).await?;
        // The lookup was by hash; compare again in constant time so that no
        // backend's index comparison is what decides.
        Ok(found
            .filter(|t| bool::from(t.hash.ct_eq(&hash)))
            .map(|t| HttpIdentity {
                name: t.name,
                role: t.role,
            }))
    }

    /// Which of `hashes` are named tokens still in force (the HTTP transport
    /// re-checks the tokens of its waiting calls with this, once a second):
    /// a few are looked up one by one, by index; many at once are read in one
    /// listing, so the cost stays one round trip however many tokens wait.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn live_http_tokens(
        &self,
        hashes: &[[u8; 32]],
    ) -> Result<HashSet<[u8; 32]>, ServiceError> {
        if hashes.len() > FEW_TOKENS {
            let asked: HashSet<&[u8; 32]> = hashes.iter().collect();
            return Ok(self
                .store
                .http_tokens()
                .await?
                .into_iter()
                .filter(|t| t.revoked_at.is_none() && asked.contains(&t.hash))
                .map(|t| t.hash)
                .collect());
        }
        let mut live = HashSet::with_capacity(hashes.len());
        for hash in hashes {
            if self.store.http_token_by_hash(*hash).await?.is_some() {
                live.insert(*hash);
            }
        }
        Ok(live)
    }

    /// Adds this server's request counts to the ones every server shares and
    /// reads back every server's counts of `out.tokens` (see
    /// `ratelimit::SharedWindows`); buckets no window counts any more go.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn sync_http_requests(
        &self,
        out: Outgoing,
    ) -> Result<Vec<RequestBucket>, ServiceError> {
        let at = self.clock.now();
        let prune = Window::ALL
            .map(|w| (w.as_str().to_owned(), w.oldest_bucket(at)))
            .to_vec();
        Ok(self
            .store
            .sync_http_requests(out.spent, prune, out.tokens)
            .await?)
    }

    /// Every server's request counts of `identity`, read before its first
    /// request on this server since the last sync.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn http_request_counts(
        &self,
        identity: &str,
    ) -> Result<Vec<RequestBucket>, ServiceError> {
        Ok(self
            .store
            .http_request_counts(vec![identity.to_owned()])
            .await?)
    }
}

/// Making and revoking named tokens: management commands, whose refusals
/// are audited as any other command's are.
impl<S: HttpTokenStore + AdminStore> Bridge<S> {
    /// Makes a token named `name` with `role` and returns its text, which is
    /// never stored and cannot be shown again.
    ///
    /// # Errors
    /// A bad name, a name already used, or a storage failure.
    pub async fn create_http_token(
        &self,
        name: &str,
        role: HttpRole,
    ) -> Result<String, ServiceError> {
        let name = parse_token_name(name)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| ServiceError::Internal(StoreError::Backend(Box::new(e))))?;
        let token = format!("{HTTP_TOKEN_PREFIX}{}", hex::encode(secret));
        let new = NewHttpToken {
            name: name.to_owned(),
            role,
            hash: self.http_token_hash(&token),
            created_at: self.clock.now(),
        };
        let draft = management_draft("http_token_create", name, Some(role));
        match self.store.create_http_token(new, draft.clone()).await {
            Ok(()) => Ok(token),
            Err(e) => Err(self.token_refused(draft, e.into()).await),
        }
    }

    /// Revokes the token `name`; requests carrying it fail from the next
    /// check on (see the HTTP transport's cache).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when no unrevoked token has that name.
    pub async fn revoke_http_token(&self, name: &str) -> Result<(), ServiceError> {
        let name = parse_token_name(name)?;
        let draft = management_draft("http_token_revoke", name, None);
        let err = match self
            .store
            .revoke_http_token(name.to_owned(), self.clock.now(), draft.clone())
            .await
        {
            Ok(()) => return Ok(()),
            Err(StoreError::NotFound) => ServiceError::NotFound(format!(
                "no active HTTP token named {name:?}; `mcp-bridge http-token list` shows them"
            )),
            Err(e) => e.into(),
        };
        Err(self.token_refused(draft, err).await)
    }

    /// Audits a refused `http-token` command (a name in use, no such token)
    /// as denied, like other commands' refusals, and hands `err` back.
    async fn token_refused(&self, draft: AuditDraft, err: ServiceError) -> ServiceError {
        if !matches!(err, ServiceError::Conflict(_) | ServiceError::NotFound(_)) {
            return err;
        }
        let denied = draft.failed(Outcome::Denied, err.code());
        if let Err(e) = self.store.record_management(self.clock.now(), denied).await {
            tracing::error!(error = %crate::store::error_chain(&e), "cannot append to the audit trail");
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(parse_token_name("ci-runner.1").is_ok());
        for bad in ["", "has space", "ünï", &"x".repeat(65)] {
            assert!(parse_token_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_match_only_themselves() {
        assert!(token_matches("secret-one", "secret-one"));
        assert!(!token_matches("secret-one", "secret-two"));
        assert!(!token_matches("secret", "secret-one"));
        assert!(!token_matches("", "secret-one"));
    }
}
