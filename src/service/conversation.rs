//! The coordination tools: create a conversation, send (to the partner, to
//! everyone or to chosen participants), heartbeats and the others' status.
//! Reading the inbox lives in `delivery`; invites and membership in `team`.

use std::collections::BTreeMap;

use super::addressing::{Addressing, recipients};
use super::error::SESSION_SCOPE;
use super::own_tokens::redact_session_tokens;
use super::redaction::{clean_role, note_redactions};
use super::team::ParticipantView;
use super::{Bridge, Denied, ServiceError, admission, admitted, session_draft};
use crate::audit::AuditDraft;
use crate::auth::Token;
use crate::domain::{
    ActionType, ConversationId, InvalidValue, MAX_STORED_MESSAGE_BYTES, MessageText, Role, Sender,
    Side, Status, Timestamp, check_files, check_note,
};
use crate::store::{
    Addressed, Conversation, Guard, NewConversation, NewMessage, StatusRecord, Store, StoreError,
};

/// Proof of identity presented with every session call.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    /// The conversation.
    pub conversation: ConversationId,
    /// The caller's side.
    pub side: Side,
    /// The caller's token.
    pub token: Token,
}

/// A new conversation and its two tokens.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its id.
    pub conversation: ConversationId,
    /// Token of side `a` (the caller).
    pub token_a: Token,
    /// Token of side `b` (to hand to the partner).
    pub token_b: Token,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct SendToPartner {
    /// The text, not yet redacted.
    pub message: String,
    /// What it is for.
    pub action_type: ActionType,
    /// Paths it concerns, not yet redacted.
    pub files_involved: Vec<String>,
    /// Who it is for.
    pub to: Addressing,
}

/// A stored message's receipt.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The new message's id.
    pub message_id: i64,
    /// When it was stored.
    pub created_at: Timestamp,
    /// Secrets removed, per kind.
    pub redactions: BTreeMap<String, usize>,
    /// The roles it was addressed to.
    pub to: Vec<String>,
}

/// A heartbeat to record.
#[derive(Debug, Clone)]
pub struct UpdateStatus {
    /// The status.
    pub status: Status,
    /// An optional note, not yet redacted.
    pub note: Option<String>,
}

/// A recorded heartbeat.
#[derive(Debug, Clone)]
pub struct StatusUpdated {
    /// The status.
    pub status: Status,
    /// When it was recorded.
    pub updated_at: Timestamp,
}

/// What the partner last reported, and every participant's status.
#[derive(Debug, Clone)]
pub struct PartnerStatus {
    /// Every active participant (the caller included), in session order.
    pub participants: Vec<ParticipantView>,
    /// The partner's role; `None` when the caller is alone (the owner, after
    /// removing everyone else), and then every other field says nothing.
    pub partner_role: Option<String>,
    /// Its status, or `None` before its first heartbeat.
    pub status: Option<Status>,
    /// Its note.
    pub note: Option<String>,
    /// When it last reported.
    pub last_heartbeat: Option<Timestamp>,
    /// Seconds since then.
    pub seconds_since_heartbeat: Option<u64>,
    /// Whether the heartbeat is recent enough.
    pub alive: bool,
}

impl<S: Store> Bridge<S> {
    /// Opens a conversation; the caller is side `a`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidArgument`] for bad roles, or storage failures.
    pub async fn create_conversation(
        &self,
        my_role: &str,
        partner_role: &str,
    ) -> Result<Created, ServiceError> {
        let draft = AuditDraft::new("mcp", "create_conversation");
        let roles = Role::parse("my_role", my_role)
            .and_then(|a| Ok((a, Role::parse("partner_role", partner_role)?)));
        let (role_a, role_b) = match roles {
            Ok(r) => r,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        let mut draft = draft;
        let mut redactions = BTreeMap::new();
        let redactor = self.redactor.get();
        // The conversation has no tokens yet: only the engine's secrets.
        let role_a = clean_role(redactor, None, "my_role", role_a, &mut redactions);
        let role_b = clean_role(redactor, None, "partner_role", role_b, &mut redactions);
        note_redactions(&mut draft, &redactions);
        // Roles name participants in `to`, so they must be told apart.
        if role_a.as_str().eq_ignore_ascii_case(role_b.as_str()) {
            let e = crate::domain::InvalidValue::new(
                "partner_role",
                "must differ from my_role (roles name participants)",
            );
            return Err(self.refuse(draft, e.into()));
        }
        let created_at = self.clock.now();
        // Nobody is authenticated yet: this process's quota of such calls
        // keeps one client from spending the database-wide one alone.
        if let Err(e) = self.spend_unauthenticated(created_at) {
            return Err(self.refuse(draft, e));
        }
        self.within_storage_budget(&draft, created_at).await?;
        let expires_at = created_at.plus_micros(self.settings.conversation_ttl_us);
        // 64 random bits make a collision unlikely; retry the rare one.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let id = match ConversationId::random() {
                Ok(id) => id,
                Err(e) => {
                    return Err(self.refuse(
                        draft,
                        ServiceError::Internal(StoreError::Backend(Box::new(e))),
                    ));
                }
            };
            let new = NewConversation {
                id: id.clone(),
                role_a: role_a.clone(),
                role_b: role_b.clone(),
                created_at,
                expires_at,
            };
            let guard = Guard {
                at: created_at,
                session: None,
                quota: None,
                audit: draft.clone().on(Some(id.as_str()), Some("a")),
            };
            match self
                .store
                .create_conversation(
                    new,
                    Some(self.settings.limits.conversations_per_hour),
                    guard,
                )
                .await
            {
                Ok(()) => {
                    return Ok(Created {
                        token_a: self.key.derive(&id, Side::A),
                        token_b: self.key.derive(&id, Side::B),
                        conversation: id,
                        expires_at,
                    });
                }
                Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) if attempts < 5 => continue,
                Err(e) => return Err(self.refuse(draft, e.into())),
            }
        }
    }

    /// Sends a message as `tool` (`send_to_partner` or `send_message`): to
    /// the participants `send.to` names, or to everyone else. Observers get a
    /// copy of every message and may not send.
    ///
    /// # Errors
    /// Authentication, permission, expiry, size, argument, rate-limit or storage failures.
    pub async fn send_message(
        &self,
        creds: &SessionCredentials,
        send: SendToPartner,
        tool: &'static str,
    ) -> Result<Sent, ServiceError> {
        let at = self.clock.now();
        let mut draft = session_draft(tool, creds);
        draft.bytes = Some(i64::try_from(send.message.len()).unwrap_or(i64::MAX));
        self.verify_token(creds, &draft, at)?;
        let session = (creds.conversation.clone(), creds.side);
        if let Some(full) = self.full_sends.still_full(&session, at) {
            return Err(self.refuse(draft, ServiceError::rate_limited(full, SESSION_SCOPE)));
        }
        self.within_storage_budget(&draft, at).await?;
        let text = match MessageText::parse(send.message) {
            Ok(t) => t,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        if let Err(e) = check_files(&send.files_involved) {
            return Err(self.refuse(draft, e.into()));
        }
        if send.action_type == ActionType::System {
            let e = crate::domain::InvalidValue::new(
                "action_type",
                "`system` is reserved for the bridge",
            );
            return Err(self.refuse(draft, e.into()));
        }

        let redactor = self.redactor.get();
        let mut redactions = BTreeMap::new();
        let mut tally = |counts: BTreeMap<String, usize>| {
            for (kind, n) in counts {
                *redactions.entry(kind).or_insert(0) += n;
            }
        };
        let redacted = redactor.redact(text.as_str());
        let mut content = redacted.text.into_owned();
        tally(redacted.counts);
        let mut files_involved: Vec<String> = send
            .files_involved
            .iter()
            .map(|path| {
                let r = redactor.redact(path);
                let out = r.text.into_owned();
                tally(r.counts);
                out
            })
            .collect();
        // The conversation's own session tokens, which look like any digest.
        for text in std::iter::once(&mut content).chain(files_involved.iter_mut()) {
            if let Some(clean) =
                redact_session_tokens(&self.key, &creds.conversation, text, &mut redactions)
            {
                *text = clean;
            }
        }

        // What is stored must pass what `import` and `restore` check, or one
        // message makes every later backup of the database unrestorable.
        if let Err(e) = stored_within_limits(&content, &files_involved) {
            return Err(self.refuse(draft, e.into()));
        }
        draft.count = Some(i64::try_from(redactions.values().sum::<usize>()).unwrap_or(i64::MAX));
        if !redactions.is_empty() {
            let kinds: Vec<String> = redactions.iter().map(|(k, n)| format!("{k}:{n}")).collect();
            draft.detail = Some(format!("redactions={}", kinds.join(",")));
        }
        let message = NewMessage {
            conversation: creds.conversation.clone(),
            from: Sender::Side(creds.side),
            action_type: send.action_type,
            content,
            files_involved,
            created_at: at,
            to: Vec::new(),
            deliver_to: Vec::new(),
        };
        // Who may send, and to whom, is decided on the conversation as the
        // send's own transaction reads it, under its lock.
        let (side, to) = (creds.side, send.to);
        let address = move |found: Option<&Conversation>| {
            let conversation = found.ok_or(Denied::Credentials)?;
            let kind = admitted(conversation, side, at).map_err(Denied::Refused)?;
            if !kind.may_send() {
                return Err(Denied::Refused(ServiceError::Forbidden(
                    "observers receive every message but cannot send; ask the owner to invite you as a member".into(),
                )));
            }
            let (to, deliver_to) = recipients(conversation, side, &to).map_err(Denied::Refused)?;
            Ok(Addressed { to, deliver_to })
        };
        // Both sending tools spend the same quota.
        let guard = self.guard(creds, "send_to_partner", at, draft.clone());
        // The bound leaves out messages in flight (leased to their reader,
        // awaiting the acknowledgement of a written reply): counted, they
        // refused sends for half a second after the recipient had read
        // everything. They come back if the lease lapses, but one live lease
        // holds at most one page and no other take passes it, so an inbox
        // then exceeds the bound by at most that page (≤ 500 messages) and
        // refuses sends until it is read; storage stays bounded.
        let max_pending = Some(self.settings.limits.max_pending_messages);
        match self
            .store
            .send_message(message, max_pending, guard, address)
            .await
        {
            Ok(Ok(stored)) => Ok(Sent {
                message_id: stored.id,
                created_at: at,
                redactions,
                to: stored.conversation.roles_of(&stored.addressed.to),
            }),
            Ok(Err(denied)) => {
                if self.settings.rate_limits.is_some() {
                    self.full_sends.refused(session, at);
                }
                Err(self.deny(&draft, at, denied))
            }
            Err(e) => {
                if let StoreError::QuotaExceeded(refusal) = &e {
                    self.full_sends.remember(session, at, *refusal);
                }
                Err(self.refuse(draft, e.into()))
            }
        }
    }

    /// Records the caller's heartbeat.
    ///
    /// # Errors
    /// Authentication, expiry, argument, rate-limit or storage failures.
    pub async fn update_my_status(
        &self,
        creds: &SessionCredentials,
        update: UpdateStatus,
    ) -> Result<StatusUpdated, ServiceError> {
        const TOOL: &str = "update_my_status";
        let at = self.clock.now();
        let mut draft = session_draft(TOOL, creds);
        self.verify_token(creds, &draft, at)?;
        if let Some(note) = &update.note
            && let Err(e) = check_note(note)
        {
            return Err(self.refuse(draft, e.into()));
        }
        if update.note.is_some() {
            // A note is text every participant reads, as a message is: an
            // observer, which sends nothing, publishes a bare status (red
            // team: an observer's note told the members to force-push).
            let caller = self.authorize(creds, &draft, at).await?;
            if !caller.kind.may_send() {
                let e = ServiceError::Forbidden(
                    "observers publish a status without a note: a note is read by every participant, and observers send nothing".into(),
                );
                return Err(self.refuse(draft, e));
            }
            // A note is stored content; a bare heartbeat is not refused.
            self.within_storage_budget(&draft, at).await?;
        }
        let note = update.note.map(|n| {
            let r = self.redactor.get().redact(&n);
            let mut counts = r.counts;
            let mut text = r.text.into_owned();
            if let Some(clean) =
                redact_session_tokens(&self.key, &creds.conversation, &text, &mut counts)
            {
                text = clean;
            }
            draft.count = Some(i64::try_from(counts.values().sum::<usize>()).unwrap_or(i64::MAX));
            text
        });
        if let Some(Err(e)) = note.as_deref().map(check_note) {
            let e = InvalidValue::new(
                "note",
                format!(
                    "{}, counting the placeholders of the secrets redacted from it",
                    e.reason
                ),
            );
            return Err(self.refuse(draft, e.into()));
        }
        let record = StatusRecord {
            status: update.status,
            note,
            updated_at: at,
        };
        draft.detail = Some(format!("status={}", update.status));
        let guard = self.guard(creds, TOOL, at, draft.clone());
        // Admitted on the conversation the store's transaction reads.
        let admit = admission(creds.side, at);
        match self
            .store
            .set_status(creds.conversation.clone(), creds.side, record, guard, admit)
            .await
        {
            Ok(Ok(())) => Ok(StatusUpdated {
                status: update.status,
                updated_at: at,
            }),
            Ok(Err(denied)) => Err(self.deny(&draft, at, denied)),
            Err(e) => Err(self.refuse(draft, e.into())),
        }
    }

    /// Reports the partner's last heartbeat.
    ///
    /// # Errors
    /// Authentication, expiry, rate-limit or storage failures.
    pub async fn check_partner_status(
        &self,
        creds: &SessionCredentials,
    ) -> Result<PartnerStatus, ServiceError> {
        const TOOL: &str = "check_partner_status";
        let at = self.clock.now();
        let draft = session_draft(TOOL, creds);
        let guard = self.guard(creds, TOOL, at, draft.clone());
        // With no quota to spend, a status check is its authorisation's read:
        // its audit record goes through the store's batched appends. With
        // one, the read is the quota's transaction's, admitted there.
        let conversation = if guard.quota.is_none() {
            let caller = self.authorize(creds, &draft, at).await?;
            self.store.append_audit(guard.at, guard.audit);
            caller.conversation
        } else {
            self.verify_token(creds, &draft, at)?;
            let admit = admission(creds.side, at);
            let observed = self
                .store
                .observe_conversation(creds.conversation.clone(), guard, admit)
                .await;
            match observed {
                Ok(Ok(c)) => c,
                Ok(Err(denied)) => return Err(self.deny(&draft, at, denied)),
                Err(e) => return Err(self.refuse(draft, e.into())),
            }
        };
        let participants: Vec<ParticipantView> = conversation
            .active()
            .map(|p| ParticipantView::of(p, at, self.settings.heartbeat_timeout_s))
            .collect();
        // The partner: the owner for everyone else, `b` (or the next one still
        // there) for the owner — in a two-party conversation, the other side.
        let others = || participants.iter().filter(|p| p.side != creds.side);
        let partner = others()
            .find(|p| p.kind == crate::domain::ParticipantKind::Owner)
            .or_else(|| others().next());
        Ok(match partner {
            Some(p) => PartnerStatus {
                partner_role: Some(p.role.clone()),
                status: p.status,
                note: p.note.clone(),
                last_heartbeat: p.last_heartbeat,
                seconds_since_heartbeat: p.seconds_since_heartbeat,
                alive: p.alive,
                participants,
            },
            None => PartnerStatus {
                partner_role: None,
                status: None,
                note: None,
                last_heartbeat: None,
                seconds_since_heartbeat: None,
                alive: false,
                participants,
            },
        })
    }
}

/// A message's text and paths as they will be stored (redacted) are within
/// the limits `import` and `restore` apply to them.
fn stored_within_limits(content: &str, files: &[String]) -> Result<(), InvalidValue> {
    if content.len() > MAX_STORED_MESSAGE_BYTES {
        return Err(InvalidValue::new(
            "message",
            format!(
                "takes {} bytes once its secrets are replaced by placeholders, more than the {MAX_STORED_MESSAGE_BYTES} a message may be stored with; send fewer secrets or split it",
                content.len()
            ),
        ));
    }
    check_files(files).map_err(|e| {
        InvalidValue::new(
            "files_involved",
            format!(
                "{}, counting the placeholders of the secrets redacted from them",
                e.reason
            ),
        )
    })
}
