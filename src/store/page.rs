//! The records of taking from an inbox: how much one take may hold, the
//! lease that hides its messages from other readers until acknowledged, and
//! the rules every backend's take applies to fill a page ([`PageFill`]).

use super::StoreError;
use crate::domain::{ConversationId, Message, Side, Timestamp};

/// How much one inbox check may take: a count and a size, so that a page of
/// large messages stays a reply of bounded size. At least one message is
/// always taken when one is available, whatever its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// Most messages.
    pub count: u32,
    /// Most bytes of text and paths together.
    pub bytes: usize,
}

/// A lease on the messages of one take: they stay queued, invisible to
/// other readers of the same inbox, until [`Store::acknowledge`] removes them
/// or `until` passes (the reader died before its reply was written), when
/// they are handed out again, with the same ids, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Random per take, so an acknowledgement removes exactly its own rows.
    pub id: i64,
    /// When an unacknowledged lease lapses.
    pub until: Timestamp,
}

impl Lease {
    /// The receipt of the page `first..=last` of `recipient`'s inbox taken under this lease.
    pub fn receipt(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        first: i64,
        last: i64,
    ) -> Receipt {
        Receipt {
            conversation: conversation.clone(),
            recipient,
            lease_id: self.id,
            first,
            last,
        }
    }
}

/// Proof that a page was handed out under a lease, for [`Store::acknowledge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The conversation.
    pub conversation: ConversationId,
    /// The reader.
    pub recipient: Side,
    /// The lease.
    pub lease_id: i64,
    /// First message id of the page.
    pub first: i64,
    /// Last message id of the page.
    pub last: i64,
}

/// What an inbox holds for its reader right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Nothing queued.
    Nothing,
    /// Messages ready to take.
    Ready,
    /// The oldest queued message is leased to another reader until then;
    /// nothing after it may be delivered before it (order per recipient).
    LeasedUntil(Timestamp),
}

/// A page of messages taken from an inbox.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Messages in send order.
    pub messages: Vec<Message>,
    /// Whether more were waiting beyond this page.
    pub more: bool,
    /// When the page was taken under a lease: what acknowledges it.
    pub receipt: Option<Receipt>,
}

/// Fills a page from an inbox's rows, read in message order: the rules every
/// backend's take applies. A row leased to another reader ends the page
/// (nothing may overtake it); so do the count and the byte bound, except that
/// the first message is always taken.
#[derive(Debug)]
pub struct PageFill {
    limit: PageLimit,
    now: Timestamp,
    bytes: usize,
    /// The messages taken so far.
    pub messages: Vec<Message>,
    /// Whether messages were left for a later page.
    pub more: bool,
}

impl PageFill {
    /// An empty page under `limit`, for a take at `now`.
    pub fn new(limit: PageLimit, now: Timestamp) -> Self {
        Self {
            limit,
            now,
            bytes: 0,
            messages: Vec::new(),
            more: false,
        }
    }

    /// Offers the next row (its lease, then its message, decoded only when
    /// needed); `false` when the page is complete and reading should stop.
    ///
    /// # Errors
    /// When `decode` fails.
    pub fn offer(
        &mut self,
        leased_until: Option<i64>,
        decode: impl FnOnce() -> Result<Message, StoreError>,
    ) -> Result<bool, StoreError> {
        if leased_until.is_some_and(|until| until > self.now.as_micros()) {
            self.more = !self.messages.is_empty();
            return Ok(false);
        }
        if self.messages.len() == self.limit.count as usize {
            self.more = true;
            return Ok(false);
        }
        let message = decode()?;
        let size = message.reply_bytes();
        if !self.messages.is_empty() && self.bytes + size > self.limit.bytes {
            self.more = true;
            return Ok(false);
        }
        self.bytes += size;
        self.messages.push(message);
        Ok(true)
    }
}
