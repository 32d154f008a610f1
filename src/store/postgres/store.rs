//! [`Store`] on PostgreSQL: each tool operation as one transaction over the
//! SQL in `ops` and `team`, with the same outcomes as the SQLite backend.

use std::sync::Arc;

use super::admit::{self, Refusal};
use super::db::{Db, Write};
use super::deadline::{read, single};
use super::{PgStore, audit, in_tx, inbox, listen, ops, send, team};
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::Quota;
use crate::store::spool;
use crate::store::{
    Addressed, ChangeFeed, ClientBinding, Conversation, Guard, Joined, Lease, NewConversation,
    NewInvite, NewMessage, Page, PageLimit, Pending, ProcessStamp, Receipt, StatusRecord, Store,
    StoreError, Stored, Unread,
};

impl Store for PgStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        read(self.client().await?, async |db| {
            ops::conversation(db, &self.inner.sealer, id).await
        })
        .await
    }

    async fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            if let Some(limit) = max_per_hour {
                ops::check_recent_conversations(w.db(), new.created_at, limit).await?;
            }
            ops::create_conversation(w.db(), &new).await?;
            w.audit(guard.at, guard.audit);
            Ok(())
        })
    }

    async fn send_message<R, F>(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
        address: F,
    ) -> Result<Result<Stored, R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<Addressed, R> + Send + Sync + 'static,
    {
        // A refusal by `address` rolls the transaction back (the quota was
        // spent in the first flight).
        let refusal = Refusal::new();
        let sent = in_tx!(
            self,
            first
                | w
                | async {
                    let quota = ops::PreparedQuota::new(w.db(), &guard).await?;
                    send::open_send(w, &message.conversation, max_pending, &quota).await
                },
            |w, opened| {
                let mut opened = opened;
                let addressed = refusal.check(address(opened.conversation.as_ref()))?;
                let conversation = opened.conversation.take().ok_or(StoreError::NotFound)?;
                let message = NewMessage {
                    to: addressed.to.clone(),
                    deliver_to: addressed.deliver_to.clone(),
                    ..message
                };
                if let Some(limit) = max_pending {
                    send::check_bound(&w, &opened, &conversation, &message, limit, guard.at)
                        .await?;
                }
                opened.spent()?;
                let id = send::insert_message(&w, &message, opened.id).await?;
                w.audit(guard.at, guard.audit);
                Ok(Stored {
                    id,
                    conversation,
                    addressed,
                })
            }
        );
        let stored = match refusal.outcome(sent)? {
            Ok(stored) => stored,
            Err(r) => return Ok(Err(r)),
        };
        // Waiters in this process need no round trip through the server.
        self.inner
            .hub
            .notify_inboxes(&stored.conversation.id, &stored.addressed.deliver_to);
        Ok(Ok(stored))
    }

    async fn take_messages(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        final_attempt: bool,
        guard: Guard,
    ) -> Result<Option<Page>, StoreError> {
        let now = guard.at;
        in_tx!(
            self,
            first
                | w
                | async {
                    let quota = ops::PreparedQuota::new(w.db(), &guard).await?;
                    inbox::open_inbox(w.db(), &conversation, recipient, limit, &quota).await
                },
            |w, rows| {
                let page =
                    inbox::take_messages(&w, rows, &conversation, recipient, limit, lease, now)
                        .await?;
                if page.messages.is_empty() && !final_attempt {
                    return Ok(None);
                }
                let mut draft = guard.audit.clone();
                draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
                w.audit(guard.at, draft);
                Ok(Some(page))
            }
        )
    }

    async fn take_admitted<R, F>(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        guard: Guard,
        admit: F,
    ) -> Result<Result<(Conversation, Page), R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        let now = guard.at;
        let refusal = Refusal::new();
        let taken = in_tx!(
            self,
            first
                | w
                | async {
                    let quota = ops::PreparedQuota::new(w.db(), &guard).await?;
                    // The conversation first, then the inbox's lock and head.
                    let open = inbox::open_inbox(w.db(), &conversation, recipient, limit, &quota);
                    admit::read_with(w, &conversation, open).await
                },
            |w, (found, opened)| {
                refusal.check(admit(found.as_ref()))?;
                let found = found.ok_or(StoreError::NotFound)?;
                let page =
                    inbox::take_messages(&w, opened?, &conversation, recipient, limit, lease, now)
                        .await?;
                let mut draft = guard.audit.clone();
                draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
                w.audit(guard.at, draft);
                Ok((found, page))
            }
        );
        refusal.outcome(taken)
    }

    async fn acknowledge(&self, receipt: Receipt) -> Result<(), StoreError> {
        // One statement, so its own transaction: one round trip. A reader
        // of the same inbox may be waiting behind this lease: it wakes it.
        let payload = super::listen::payload(
            &receipt.conversation,
            &[receipt.recipient],
            &self.inner.origin,
        );
        // Not given up at the deadline (see `deadline`): an acknowledgement
        // that waits out a frozen database commits when it resumes, before
        // anything else on its connection; given up, its page would come
        // again once the database is back.
        let client = self.client().await?;
        inbox::acknowledge(Db::Client(&client), &receipt, &payload).await?;
        self.inner
            .hub
            .notify_inboxes(&receipt.conversation, &[receipt.recipient]);
        Ok(())
    }

    async fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<Pending, StoreError> {
        read(self.client().await?, async |db| {
            inbox::pending(db, conversation, recipient, now).await
        })
        .await
    }

    async fn ready_ids(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        read(self.client().await?, async |db| {
            inbox::ready_ids(db, conversation, recipient, now, limit).await
        })
        .await
    }

    async fn conversation_and_pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<(Option<Conversation>, Pending), StoreError> {
        read(self.client().await?, async |db| {
            // Both in one flight: neither waits for the other's answer.
            let (found, pending) = tokio::join!(
                ops::conversation(db, &self.inner.sealer, conversation),
                inbox::pending(db, conversation, recipient, now),
            );
            Ok((found?, pending?))
        })
        .await
    }

    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        if guard.quota.is_none() {
            return Ok(());
        }
        in_tx!(self, |w| ops::spend_quota(w.db(), &guard).await)
    }

    async fn set_status<R, F>(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
        admit: F,
    ) -> Result<Result<(), R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        let refusal = Refusal::new();
        let set = in_tx!(
            self,
            first | w | admit::read_and_spend(w, &conversation, &guard),
            |w, (found, spent)| {
                refusal.check(admit(found.as_ref()))?;
                spent?;
                ops::set_status(&w, &conversation, side, &status, true).await?;
                w.audit(guard.at, guard.audit);
                Ok(())
            }
        );
        refusal.outcome(set)
    }

    async fn observe_conversation<R, F>(
        &self,
        conversation: ConversationId,
        guard: Guard,
        admit: F,
    ) -> Result<Result<Conversation, R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        let refusal = Refusal::new();
        let observed = in_tx!(
            self,
            first | w | admit::read_and_spend(w, &conversation, &guard),
            |w, (found, spent)| {
                refusal.check(admit(found.as_ref()))?;
                let found = found.ok_or(StoreError::NotFound)?;
                spent?;
                w.audit(guard.at, guard.audit);
                Ok(found)
            }
        );
        refusal.outcome(observed)
    }

    async fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            ops::spend_quota(w.db(), &guard).await?;
            team::create_invite(w.db(), &invite, max_participants).await?;
            w.audit(guard.at, guard.audit);
            Ok(())
        })
    }

    async fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> Result<Option<Joined>, StoreError> {
        in_tx!(self, |w| {
            team::redeem_invite(&w, &code_hash, max_participants, failures.as_ref(), &guard).await
        })
    }

    async fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            team::remove_participant(w.db(), &conversation, side, guard.at).await?;
            w.audit(guard.at, guard.audit);
            // A long-poll of the removed session wakes and finds its token dead.
            w.wake(w.payload(&conversation, &[side]));
            Ok(())
        })?;
        self.inner.hub.notify_conversation(&conversation);
        Ok(())
    }

    async fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
        now: Timestamp,
    ) -> Result<Unread, StoreError> {
        read(self.client().await?, async |db| {
            team::peek_unread(db, &self.inner.sealer, conversation, side, limit, now).await
        })
        .await
    }

    async fn record_binding(&self, binding: ClientBinding) -> Result<(), StoreError> {
        single(self.client().await?, async |db| {
            team::record_binding(db, &binding).await
        })
        .await
    }

    async fn forget_bindings(&self, server: ProcessStamp) -> Result<(), StoreError> {
        single(self.client().await?, async |db| {
            team::forget_bindings(db, server).await
        })
        .await
    }

    async fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> Result<Vec<ClientBinding>, StoreError> {
        read(self.client().await?, async |db| {
            team::client_bindings(db, client).await
        })
        .await
    }

    fn append_audit(&self, at: Timestamp, draft: AuditDraft) {
        spool::defer(self, at, draft);
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.settle_audit().await?;
        read(self.client().await?, async |db| {
            audit::records_after(db, after_seq, limit).await
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.settle_audit().await
    }

    fn changes(&self) -> ChangeFeed {
        self.inner.listening.get_or_init(|| {
            listen::spawn(
                self.inner.config.clone(),
                self.inner.tls.clone(),
                Arc::clone(&self.inner.hub),
                Arc::clone(&self.inner.origin),
            );
        });
        self.inner.hub.subscribe()
    }

    async fn database_size(&self) -> Result<u64, StoreError> {
        // The size of the database's files: one catalog read and a stat of
        // each file, no table scan.
        let client = self.client().await?;
        let row = Db::Client(&client)
            .one("SELECT pg_database_size(current_database())", &[])
            .await?;
        let bytes: i64 = super::db::get(&row, 0)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}
