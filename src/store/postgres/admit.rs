//! Calls whose admission rule runs inside their own transaction (the
//! service's rule, handed to the store as a function): the conversation is
//! read in the transaction's first flight, with the caller's quota, and a
//! refusal rolls both back.

use std::sync::Mutex;

use super::db::{Params, Write};
use super::ops::{self, PreparedQuota};
use crate::domain::ConversationId;
use crate::store::{Conversation, Guard, StoreError};

/// Carries a rule's refusal out of the transaction it rolls back: the
/// refusal leaves `in_tx!`'s body as an error (so the transaction, quota
/// and all, is rolled back) and [`Refusal::outcome`] tells it apart.
pub struct Refusal<R>(Mutex<Option<R>>);

impl<R> Refusal<R> {
    pub fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The rule's decision: its value, or an error that ends the
    /// transaction once the refusal is kept.
    pub fn check<T>(&self, decided: Result<T, R>) -> Result<T, StoreError> {
        decided.map_err(|r| {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            StoreError::NotFound
        })
    }

    /// The call's outcome: the kept refusal, or the transaction's result.
    pub fn outcome<T>(self, result: Result<T, StoreError>) -> Result<Result<T, R>, StoreError> {
        match self.0.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(r) => Ok(Err(r)),
            None => result.map(Ok),
        }
    }
}

/// A first flight that reads `conversation` and spends `guard`'s quota:
/// the conversation (`None` when it is gone) and the spending, reported
/// after the rule's decision.
pub async fn read_and_spend(
    w: &Write,
    conversation: &ConversationId,
    guard: &Guard,
) -> Result<(Option<Conversation>, Result<(), StoreError>), StoreError> {
    let quota = PreparedQuota::new(w.db(), guard).await?;
    read_with(w, conversation, quota.spend(w.db())).await
}

/// A first flight that reads `conversation` and then sends `rest` (not
/// polled before the read has gone out): the conversation (`None` when it
/// is gone) and what `rest` gave, whatever it was.
pub async fn read_with<T>(
    w: &Write,
    conversation: &ConversationId,
    rest: impl Future<Output = T>,
) -> Result<(Option<Conversation>, T), StoreError> {
    let read = w.db().prepare(&ops::CONVERSATION).await?;
    let (db, id) = (w.db(), conversation.as_str());
    let params: Params<'_> = &[&id];
    let (rows, rest) = tokio::join!(biased; db.query_prepared(&read, params), rest);
    let found = ops::decode_conversation(db, w.sealer(), conversation, &rows?).await?;
    Ok((found, rest))
}
