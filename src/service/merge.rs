//! The order in which one `check_messages` page takes from several inboxes.
//!
//! A session bound to several conversations reads them all in one call, and
//! the page promises send order. Each inbox is taken in a transaction of its
//! own, so taking them one after another in binding order filled a page from
//! the first inbox alone: its messages came before older ones of the others,
//! and a partner that kept the first inbox full held back every other
//! conversation for good. Instead the ids ready in each inbox are read first
//! and the page's share of each is decided by merging them: the page holds
//! the oldest messages waiting anywhere, and the inbox with the oldest one
//! is taken first.

use super::SessionCredentials;
use crate::domain::Timestamp;
use crate::store::{Store, StoreError};

/// How much one inbox may give to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Share {
    /// Not read ahead (a page over one inbox, or an inbox with nothing ready
    /// when it was read): as much as the page has room for.
    Open,
    /// At most this many; zero when the inbox has messages ready but older
    /// ones elsewhere fill the page.
    Upto(u32),
}

/// The callers' positions in the order to take from them, each with its
/// share of a page of `limit` messages. `skip(i)`: a caller the take will
/// pass over whatever it holds (nothing is read for it).
///
/// # Errors
/// The position of the caller whose inbox could not be read, with why.
pub(super) async fn plan<S: Store>(
    store: &S,
    creds: &[&SessionCredentials],
    limit: u32,
    now: Timestamp,
    skip: impl Fn(usize) -> bool,
) -> Result<Vec<(usize, Share)>, (usize, StoreError)> {
    if creds.len() < 2 {
        return Ok((0..creds.len()).map(|i| (i, Share::Open)).collect());
    }
    let mut ready = Vec::with_capacity(creds.len());
    for (i, c) in creds.iter().enumerate() {
        if skip(i) {
            continue;
        }
        let ids = store
            .ready_ids(&c.conversation, c.side, now, limit)
            .await
            .map_err(|e| (i, e))?;
        ready.push((i, ids));
    }
    Ok(shares(ready, limit))
}

/// Merges the ready ids of each inbox (`(position, ids in order)`): inboxes
/// with something ready first, oldest first message first, each with the
/// number of its messages among the page's `limit` oldest; then the empty
/// ones, open, in binding order.
fn shares(mut ready: Vec<(usize, Vec<i64>)>, limit: u32) -> Vec<(usize, Share)> {
    let mut all: Vec<(i64, usize)> = ready
        .iter()
        .flat_map(|(i, ids)| ids.iter().map(move |&id| (id, *i)))
        .collect();
    all.sort_unstable();
    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    ready.sort_by_key(|(i, ids)| (ids.first().copied().unwrap_or(i64::MAX), *i));
    ready
        .into_iter()
        .map(|(i, ids)| {
            if ids.is_empty() {
                return (i, Share::Open);
            }
            let n = all.iter().filter(|&&(_, at)| at == i).count();
            (i, Share::Upto(u32::try_from(n).unwrap_or(u32::MAX)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_messages_anywhere_make_the_page() {
        // Sent alternately to two inboxes: 1, 3, 5 and 2, 4, 6.
        let ready = || vec![(0, vec![1, 3, 5]), (1, vec![2, 4, 6])];
        assert_eq!(
            shares(ready(), 1),
            [(0, Share::Upto(1)), (1, Share::Upto(0))]
        );
        assert_eq!(
            shares(ready(), 3),
            [(0, Share::Upto(2)), (1, Share::Upto(1))]
        );
        // Once the first inbox's oldest is taken, the second goes first.
        assert_eq!(
            shares(vec![(0, vec![3, 5]), (1, vec![2, 4, 6])], 1),
            [(1, Share::Upto(1)), (0, Share::Upto(0))]
        );
    }

    #[test]
    fn a_full_inbox_does_not_hold_back_an_older_message_elsewhere() {
        let busy: Vec<i64> = (10..110).collect();
        let plan = shares(vec![(0, busy), (1, vec![7]), (2, vec![])], 100);
        assert_eq!(
            plan,
            [(1, Share::Upto(1)), (0, Share::Upto(99)), (2, Share::Open)]
        );
    }
}
