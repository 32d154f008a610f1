//! Invites: the owner makes a short single-use code, a newcomer redeems it
//! and becomes a participant. Codes are hashed with the server key, expire,
//! and guessing is limited per process and across processes; the store
//! redeems a code in the same transaction that adds the participant.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::team::ParticipantView;
use super::{Bridge, ServiceError, SessionCredentials, session_draft};
use crate::audit::{AuditDraft, Outcome};
use crate::domain::{InvalidValue, InviteCode, ParticipantKind, Role, Timestamp};
use crate::ratelimit::{Quota, Window};
use crate::store::{Guard, NewInvite, Store, StoreError};

/// Failed joins one server process accepts per minute, whatever the
/// configuration says: a second bound on guessing, next to the global one.
pub const JOIN_FAILURES_PER_PROCESS_PER_MINUTE: usize = 10;
/// Longest invite lifetime a caller may ask for, in minutes (one day).
pub const MAX_INVITE_MINUTES: f64 = 1440.0;

/// A new invite, to hand to a human (never through a message).
#[derive(Debug, Clone)]
pub struct Invited {
    /// The code; its `Debug` hides it.
    pub code: InviteCode,
    /// The role the newcomer takes.
    pub role: String,
    /// What the newcomer may do.
    pub kind: ParticipantKind,
    /// When the code stops working.
    pub expires_at: Timestamp,
}

/// A session created by redeeming an invite.
#[derive(Debug, Clone)]
pub struct JoinedSession {
    /// The newcomer's credentials (token included).
    pub creds: SessionCredentials,
    /// Its role.
    pub role: String,
    /// What it may do.
    pub kind: ParticipantKind,
    /// When the conversation expires.
    pub expires_at: Timestamp,
    /// Everyone taking part now, the newcomer included.
    pub participants: Vec<ParticipantView>,
}

/// Failed joins in this process in the last minute, per caller: over stdio
/// the process is one client; over HTTP each bearer token counts apart (see
/// `quota_scope`), so one client's guessing cannot lock the others out of
/// joining through the same server. The store's window bounds them all.
#[derive(Debug, Default)]
pub(super) struct FailureWindow(Mutex<HashMap<Option<String>, VecDeque<Timestamp>>>);

impl FailureWindow {
    /// Seconds until `caller` may try again, if its window is full at `now`.
    fn retry_after(&self, caller: Option<&String>, now: Timestamp) -> Option<u64> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let failures = all.get_mut(&caller.cloned())?;
        let minute_ago = now.plus_micros(-60_000_000);
        while failures.front().is_some_and(|t| *t <= minute_ago) {
            failures.pop_front();
        }
        if failures.len() < JOIN_FAILURES_PER_PROCESS_PER_MINUTE {
            return None;
        }
        let oldest = failures.front().copied().unwrap_or(now);
        let wait_us = oldest.plus_micros(60_000_000).micros_since(now).max(0);
        Some(
            u64::try_from(wait_us)
                .unwrap_or(0)
                .div_ceil(1_000_000)
                .max(1),
        )
    }

    /// Keyed by token name: bounded by the number of tokens.
    fn record(&self, caller: Option<&String>, at: Timestamp) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(caller.cloned())
            .or_default()
            .push_back(at);
    }
}

impl<S: Store> Bridge<S> {
    /// Creates a single-use invite into the caller's conversation. Only the
    /// owner may invite; the role must be free; the code expires after
    /// `minutes` (default `teams.invite_minutes`), never after the conversation.
    ///
    /// # Errors
    /// Authentication, permission, argument, limit or storage failures.
    pub async fn create_invite(
        &self,
        creds: &SessionCredentials,
        role: &str,
        kind: ParticipantKind,
        minutes: Option<f64>,
    ) -> Result<Invited, ServiceError> {
        const TOOL: &str = "create_invite";
        let at = self.clock.now();
        let mut draft = session_draft(TOOL, creds);
        draft.detail = Some(format!("as={kind}"));
        let caller = self.authorize(creds, &draft, at).await?;
        if !caller.kind.may_manage() {
            let e = ServiceError::Forbidden(
                "only the conversation's owner (session a) may invite; ask it to call create_invite".into(),
            );
            return Err(self.refuse(draft, e));
        }
        let checked = Role::parse("role", role).and_then(|role| {
            if kind == ParticipantKind::Owner {
                return Err(InvalidValue::new("as", "must be member or observer"));
            }
            let ttl_us = match minutes {
                None => self.settings.teams.invite_ttl_us,
                Some(m) if m.is_finite() && m > 0.0 && m <= MAX_INVITE_MINUTES => {
                    (m * 60_000_000.0) as i64
                }
                Some(_) => {
                    return Err(InvalidValue::new(
                        "expires_minutes",
                        format!("must be more than 0 and at most {MAX_INVITE_MINUTES}"),
                    ));
                }
            };
            Ok((role, ttl_us))
        });
        let (role, ttl_us) = match checked {
            Ok(v) => v,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        // A role is free text every participant and the CLI see.
        let mut redactions = std::collections::BTreeMap::new();
        let own = Some((&self.key, &creds.conversation));
        let role =
            super::redaction::clean_role(self.redactor.get(), own, "role", role, &mut redactions);
        super::redaction::note_redactions(&mut draft, &redactions);
        // Each invite is a row that stays after it expires, until its
        // conversation is cleaned up (its rate limit bounds one session).
        self.within_storage_budget(&draft, at).await?;
        let expires_at = at.plus_micros(ttl_us).min(caller.conversation.expires_at);
        // 80 random bits: a collision with a stored code is practically
        // impossible, but costs only a retry. Only codes the redactor
        // recognises in every spelling are issued, so an agent that pastes
        // one never shows it to an observer by the luck of the draw.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let code = match InviteCode::random_where(crate::redact::recognises_invite_code) {
                Ok(c) => c,
                Err(e) => {
                    let e = ServiceError::Internal(StoreError::Backend(Box::new(e)));
                    return Err(self.refuse(draft, e));
                }
            };
            let invite = NewInvite {
                code_hash: self.key.invite_hash(&code),
                conversation: creds.conversation.clone(),
                role: role.clone(),
                kind,
                created_by: caller.side,
                created_at: at,
                expires_at,
            };
            let guard = self.guard(creds, TOOL, at, draft.clone());
            match self
                .store
                .create_invite(invite, self.settings.teams.max_participants, guard)
                .await
            {
                Ok(()) => {
                    return Ok(Invited {
                        code,
                        role: role.as_str().to_owned(),
                        kind,
                        expires_at,
                    });
                }
                Err(StoreError::Conflict(text)) if text.starts_with("the role") => {
                    let e = InvalidValue::new(
                        "role",
                        format!(
                            "{role} is already taken in this conversation (by a participant or an outstanding invite); pick another"
                        ),
                    );
                    return Err(self.refuse(draft, e.into()));
                }
                Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) if attempts < 3 => continue,
                Err(e) => return Err(self.refuse(draft, e.into())),
            }
        }
    }

    /// Redeems an invite code: the caller becomes a participant with the next
    /// session id and gets its token. Unknown, used and expired codes are the
    /// same refusal; failures are limited per process and across processes.
    ///
    /// # Errors
    /// [`ServiceError::InviteInvalid`], [`ServiceError::RateLimited`],
    /// limit or storage failures.
    pub async fn join_conversation(&self, code: &str) -> Result<JoinedSession, ServiceError> {
        const TOOL: &str = "join_conversation";
        let at = self.clock.now();
        let draft = AuditDraft::new("mcp", TOOL);
        let caller = super::quota_scope::current();
        let caller = caller.as_ref();
        if let Some(retry_after_s) = self.join_failures.retry_after(caller, at) {
            let e = ServiceError::RateLimited {
                window: Window::Minute,
                limit: JOIN_FAILURES_PER_PROCESS_PER_MINUTE as u32,
                retry_after_s,
                scope: super::error::JOIN_CLIENT_SCOPE,
            };
            self.audit(draft.failed(Outcome::Denied, e.code()));
            return Err(e);
        }
        let Ok(code) = InviteCode::parse(code) else {
            self.join_failures.record(caller, at);
            return Err(self.refuse(draft, ServiceError::InviteInvalid));
        };
        let failures = self.settings.rate_limits.map(|l| Quota {
            class: TOOL,
            limits: l.join_conversation,
        });
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit: draft.clone(),
        };
        let joined = match self
            .store
            .redeem_invite(
                self.key.invite_hash(&code),
                self.settings.teams.max_participants,
                failures,
                guard,
            )
            .await
        {
            Ok(Some(j)) => j,
            // The store counted and audited the failure in its transaction.
            Ok(None) => {
                self.join_failures.record(caller, at);
                return Err(ServiceError::InviteInvalid);
            }
            Err(e) => {
                let e = match ServiceError::from(e) {
                    ServiceError::RateLimited {
                        window,
                        limit,
                        retry_after_s,
                        ..
                    } => ServiceError::RateLimited {
                        window,
                        limit,
                        retry_after_s,
                        scope: super::error::JOIN_SCOPE,
                    },
                    other => other,
                };
                return Err(self.refuse(draft, e));
            }
        };
        let c = &joined.conversation;
        let me = c.participant(joined.side);
        Ok(JoinedSession {
            creds: SessionCredentials {
                conversation: c.id.clone(),
                side: joined.side,
                token: self.key.derive(&c.id, joined.side),
            },
            role: me.map(|p| p.role.clone()).unwrap_or_default(),
            kind: me.map_or(ParticipantKind::Member, |p| p.kind),
            expires_at: c.expires_at,
            participants: self.views(c, at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_process_guessing_window_slides() {
        let w = FailureWindow::default();
        let t0 = Timestamp::from_micros(1_000_000_000);
        let (guesser, other) = (Some("guesser".to_owned()), Some("other".to_owned()));
        for i in 0..JOIN_FAILURES_PER_PROCESS_PER_MINUTE {
            assert_eq!(
                w.retry_after(guesser.as_ref(), t0.plus_micros(i as i64)),
                None
            );
            w.record(guesser.as_ref(), t0.plus_micros(i as i64));
        }
        let after = |us| w.retry_after(guesser.as_ref(), t0.plus_micros(us));
        assert_eq!(after(1_000_000), Some(59));
        assert_eq!(after(59_999_999), Some(1));
        assert_eq!(after(60_000_000), None);
        // Another caller of the same process (another bearer token, or the
        // process itself) is not held back by the guesser.
        assert_eq!(
            w.retry_after(other.as_ref(), t0.plus_micros(1_000_000)),
            None
        );
        assert_eq!(w.retry_after(None, t0.plus_micros(1_000_000)), None);
    }
}
