//! Which messages of an import file a conversation holds already, the same
//! on every backend.
//!
//! Two messages are the same when sender, time, action type, text, files and
//! recipients agree; ids are not compared, because an import may have
//! renumbered them. Identical messages are counted, not just noted: agents
//! sending as one session from several processes store the same text in the
//! same microsecond under different ids, and each is a message of its own.
//! So a file adds as many copies of a message as it holds beyond those
//! stored before the import began: into a fresh database every message of
//! the file, and the same file a second time nothing.

use std::collections::HashMap;

use super::StoreError;
use crate::domain::{Message, Side};

/// What makes two messages of one conversation the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    from: String,
    at: i64,
    action: String,
    content: String,
    files: String,
    /// Sorted: the same addressees are the same message in any order.
    to: Option<Vec<Side>>,
}

impl MessageKey {
    /// The key of a stored row: `files` as its JSON text (opened), `to` as
    /// decoded from the `recipients` column.
    pub fn stored(
        from: String,
        at: i64,
        action: String,
        content: String,
        files: String,
        mut to: Option<Vec<Side>>,
    ) -> Self {
        if let Some(to) = &mut to {
            to.sort_unstable();
        }
        Self {
            from,
            at,
            action,
            content,
            files,
            to,
        }
    }

    /// The key of a message of the file.
    ///
    /// # Errors
    /// When its files cannot be written as JSON.
    pub fn of(m: &Message) -> Result<Self, StoreError> {
        Ok(Self::stored(
            m.from.as_str().to_owned(),
            m.created_at.as_micros(),
            m.action_type.as_str().to_owned(),
            m.content.clone(),
            files_json(m)?,
            m.to.clone(),
        ))
    }
}

/// The `files` column of `m` before sealing: its paths as a JSON list.
///
/// # Errors
/// When they cannot be written as JSON.
pub fn files_json(m: &Message) -> Result<String, StoreError> {
    serde_json::to_string(&m.files_involved).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// How many copies of each message a conversation held before the import.
#[derive(Debug, Default)]
pub struct StoredCopies(HashMap<MessageKey, u64>);

impl StoredCopies {
    /// Counts one stored copy of `key`.
    pub fn add(&mut self, key: MessageKey) {
        *self.0.entry(key).or_default() += 1;
    }

    /// Whether a message of the file with `key` is one already stored. Each
    /// stored copy stands for one message of the file only, so the file's
    /// further copies are added.
    pub fn take(&mut self, key: &MessageKey) -> bool {
        match self.0.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ActionType, Sender, Timestamp};

    fn message(id: i64, to: &[Side]) -> Message {
        Message {
            id,
            from: Sender::Side(Side::A),
            from_role: "x".into(),
            action_type: ActionType::parse("info").unwrap(),
            content: "same".into(),
            files_involved: vec![],
            created_at: Timestamp::from_micros(1),
            to: Some(to.to_vec()),
        }
    }

    #[test]
    fn identical_messages_count_as_many_copies_and_recipients_tell_them_apart() {
        let c = Side::nth(2).unwrap();
        let mut stored = StoredCopies::default();
        stored.add(MessageKey::of(&message(1, &[Side::B, c])).unwrap());
        // The same message under another id, addressees in another order: present once.
        assert!(stored.take(&MessageKey::of(&message(7, &[c, Side::B])).unwrap()));
        assert!(!stored.take(&MessageKey::of(&message(8, &[Side::B, c])).unwrap()));
        // Other recipients: another message.
        stored.add(MessageKey::of(&message(2, &[Side::B])).unwrap());
        assert!(!stored.take(&MessageKey::of(&message(9, &[c])).unwrap()));
        assert!(stored.take(&MessageKey::of(&message(2, &[Side::B])).unwrap()));
    }
}
