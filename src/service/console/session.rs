//! Console sessions: a sign-in opens one in the store, so every console on a
//! shared database knows it (a browser behind a load balancer stays signed
//! in, a sign-out ends it on every host, a restart signs nobody out). The
//! store keeps only the SHA-256 of a session id; the id itself lives in the
//! browser's cookie, and the session's CSRF token is derived from it, so
//! nothing a database reader sees opens a session or forges a form.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{ConsoleUser, random_secret};
use crate::service::{Bridge, ServiceError};
use crate::store::{AdminStore, ConsoleSession, ConsoleStore, ConsoleToken, StoreError, YoloStore};

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A session just opened: what the browser is given.
// No `Debug`: it holds the session id.
pub struct SignedIn {
    /// The session id, for the cookie; never stored.
    pub id: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Who signed in.
    pub user: ConsoleUser,
}

/// A live session: who it belongs to and its CSRF token.
// No `Debug`: it holds the CSRF token.
pub struct LiveSession {
    /// The token's holder.
    pub user: ConsoleUser,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

/// The CSRF token of the session with id `id`. A digest of the id under its
/// own label: it shows in every page, and reveals neither the id nor the
/// id's stored digest.
fn csrf_of(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"mcp-bridge console csrf\0");
    h.update(id.as_bytes());
    hex::encode(h.finalize())
}

impl ConsoleUser {
    fn of(token: ConsoleToken) -> Self {
        Self {
            name: token.name,
            role: token.role,
            token_hash: token.token_hash,
        }
    }
}

impl<S: ConsoleStore + AdminStore + YoloStore> Bridge<S> {
    /// Signs in with console token `token`: opens a session (audited
    /// `console sign_in`). A refusal is audited too.
    ///
    /// # Errors
    /// `auth_failed` for an unknown or revoked token (also when it is revoked
    /// while signing in).
    pub async fn console_sign_in(&self, token: &str) -> Result<SignedIn, ServiceError> {
        let user = self.console_authenticate(token, "sign_in").await?;
        let id = random_secret()?;
        let at = self.clock.now();
        let session = ConsoleSession {
            id_hash: self.credential_digest(&id),
            token_name: user.name.clone(),
            started_at: at,
            expires_at: at.plus_micros(i64::try_from(SESSION_TTL.as_micros()).unwrap_or(i64::MAX)),
        };
        match self
            .store
            .open_console_session(session, user.draft("console sign_in", None))
            .await
        {
            Ok(()) => Ok(SignedIn {
                csrf: csrf_of(&id),
                id,
                user,
            }),
            Err(StoreError::NotFound) => Err(ServiceError::AuthFailed),
            Err(e) => Err(e.into()),
        }
    }

    /// The live session with id `id`: `None` when there is none, it has
    /// expired, or its token has been revoked.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_session(&self, id: &str) -> Result<Option<LiveSession>, ServiceError> {
        let found = self
            .store
            .console_session(self.credential_digest(id), self.clock.now())
            .await?;
        Ok(found
            .filter(|t| t.revoked_at.is_none())
            .map(|t| LiveSession {
                user: ConsoleUser::of(t),
                csrf: csrf_of(id),
            }))
    }

    /// Ends the session with id `id` on every host (audited `console
    /// sign_out`); nothing happens for an unknown one.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn console_sign_out(&self, id: &str, user: &ConsoleUser) -> Result<(), ServiceError> {
        match self
            .store
            .close_console_session(
                self.credential_digest(id),
                self.clock.now(),
                user.draft("console sign_out", None),
            )
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_not_the_id_nor_its_stored_digest() {
        let id = "ab".repeat(32);
        let csrf = csrf_of(&id);
        assert_eq!(csrf.len(), 64);
        assert_ne!(csrf, id);
        let key = crate::audit::AuditKey::from_bytes(&[1; 32]);
        assert_ne!(csrf, hex::encode(key.credential_hash(&id)));
        assert_eq!(csrf, csrf_of(&id));
        assert_ne!(csrf, csrf_of(&"cd".repeat(32)));
    }
}
