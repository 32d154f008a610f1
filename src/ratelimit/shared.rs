//! Request counters of a quota that many servers enforce together without a
//! database write per request: each server decides from every server's
//! counts as of the last sync plus its own requests since, and adds those to
//! the shared counts about once a second (`transport::http::request_limit`).
//! So all servers together exceed a limit by at most what they admit between
//! two syncs. A server reads an identity's counts before a request when that
//! identity made none there since the last sync ([`SharedWindows::knows`]),
//! so a new server does not start from zero and an idle one keeps nothing.
//! Pure: the store round trips are the caller's.

use std::collections::HashMap;

use super::{Limits, Refusal, Window, decide};
use crate::domain::Timestamp;
use crate::store::RequestBucket;

/// Counts of one identity.
#[derive(Debug, Default)]
struct Counts {
    /// Every server's `(window, bucket, count)`, as of the last sync.
    synced: Vec<(Window, i64, i64)>,
    /// This server's requests that a sync under way is adding to the shared
    /// counts: still counted here until its answer (which holds them) comes.
    in_flight: Vec<(Window, i64, i64)>,
    /// This server's requests since the last sync.
    unsynced: Vec<(Window, i64, i64)>,
    /// A request here was decided with these counts (until then, they were
    /// read for one about to be).
    used: bool,
    /// Whether `synced` has been read at least once.
    known: bool,
}

impl Counts {
    /// `(bucket, count)` of `window` from its oldest bucket at `at` on,
    /// oldest first, both sources together.
    fn buckets(&self, window: Window, at: Timestamp) -> Vec<(i64, i64)> {
        let oldest = window.oldest_bucket(at);
        let mut buckets: Vec<(i64, i64)> = self
            .synced
            .iter()
            .chain(&self.in_flight)
            .chain(&self.unsynced)
            .filter(|&&(w, bucket, _)| w == window && bucket >= oldest)
            .map(|&(_, bucket, n)| (bucket, n))
            .collect();
        buckets.sort_unstable();
        buckets
    }

    /// Counts `n` more of this server's requests in `window`'s `bucket`.
    fn add(&mut self, window: Window, bucket: i64, n: i64) {
        match self
            .unsynced
            .iter_mut()
            .find(|(w, b, _)| *w == window && *b == bucket)
        {
            Some((_, _, count)) => *count += n,
            None => self.unsynced.push((window, bucket, n)),
        }
    }
}

/// What one sync sends: this server's requests since the last one, and the
/// identities whose counts to read back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// Requests admitted here since the last sync.
    pub spent: Vec<RequestBucket>,
    /// Identities whose counts to read back.
    pub tokens: Vec<String>,
}

/// Every identity's counters on this server.
#[derive(Debug, Default)]
pub struct SharedWindows {
    counts: HashMap<String, Counts>,
}

impl SharedWindows {
    /// Whether every server's counts of `identity` have been read here; if
    /// not, the caller reads them ([`Self::synced`]) before spending.
    pub fn knows(&self, identity: &str) -> bool {
        self.counts.get(identity).is_some_and(|c| c.known)
    }

    /// Spends one request of `identity` at `at` if every window of `limits`
    /// has room in all servers' counts.
    ///
    /// # Errors
    /// The [`Refusal`] when a window is full; nothing is spent then.
    pub fn spend(&mut self, identity: &str, limits: &Limits, at: Timestamp) -> Result<(), Refusal> {
        let counts = self.counts.entry(identity.to_owned()).or_default();
        // Refused or not, the counts read for this request have been used:
        // the next sync forgets them unless a request was admitted.
        counts.used = true;
        decide(limits, at, |window| counts.buckets(window, at))?;
        for window in Window::ALL {
            counts.add(window, window.bucket_of(at), 1);
        }
        Ok(())
    }

    /// Takes what the next sync sends: the identities with requests here
    /// since the last sync, and those requests. The others are forgotten, so
    /// their next request here reads their counts afresh ([`Self::knows`]):
    /// an idle server syncs nothing.
    pub fn outgoing(&mut self) -> Outgoing {
        // Kept: identities just read for a request that has not spent yet.
        self.counts
            .retain(|_, c| !c.unsynced.is_empty() || !c.in_flight.is_empty() || !c.used);
        let mut out = Outgoing::default();
        for (token, counts) in &mut self.counts {
            if counts.unsynced.is_empty() {
                continue;
            }
            out.tokens.push(token.clone());
            out.spent
                .extend(
                    counts
                        .unsynced
                        .iter()
                        .map(|&(window, bucket, count)| RequestBucket {
                            token: token.clone(),
                            window: window.as_str().to_owned(),
                            bucket,
                            count,
                        }),
                );
            // A request decided while the sync is under way must still see
            // these: moved, not dropped, until the answer holds them.
            let sent = std::mem::take(&mut counts.unsynced);
            counts.in_flight.extend(sent);
        }
        // One order for every server's upserts.
        out.spent.sort_unstable_by(|a, b| {
            (&a.token, &a.window, a.bucket).cmp(&(&b.token, &b.window, b.bucket))
        });
        out.tokens.sort_unstable();
        out
    }

    /// Takes in the counts of `identity` read before its first request here
    /// ([`Self::knows`]). Ignored if a sync's answer came first: that one is
    /// newer.
    pub fn read(&mut self, identity: &str, stored: Vec<RequestBucket>) {
        let counts = self.counts.entry(identity.to_owned()).or_default();
        if counts.known {
            return;
        }
        counts.known = true;
        counts.synced = stored
            .into_iter()
            .filter(|b| b.token == identity)
            .filter_map(|b| Some((Window::parse(&b.window)?, b.bucket, b.count)))
            .collect();
    }

    /// Takes in a sync's answer: every server's counts of `tokens` (those
    /// sent, now counted there).
    pub fn synced(&mut self, tokens: &[String], stored: Vec<RequestBucket>) {
        for token in tokens {
            let counts = self.counts.entry(token.clone()).or_default();
            counts.synced.clear();
            counts.in_flight.clear();
            counts.known = true;
        }
        for b in stored {
            if let (Some(window), Some(counts)) =
                (Window::parse(&b.window), self.counts.get_mut(&b.token))
            {
                counts.synced.push((window, b.bucket, b.count));
            }
        }
    }

    /// Puts back what a failed sync took, so it is sent with the next one.
    pub fn unsent(&mut self, spent: Vec<RequestBucket>) {
        for b in &spent {
            if let Some(counts) = self.counts.get_mut(&b.token) {
                counts.in_flight.clear();
            }
        }
        for b in spent {
            if let Some(window) = Window::parse(&b.window) {
                let counts = self.counts.entry(b.token).or_default();
                counts.add(window, b.bucket, b.count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: Limits = Limits {
        per_minute: Some(5),
        per_hour: None,
        per_day: None,
    };

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    /// A stand-in for the shared table and for the transport's round trips.
    #[derive(Default)]
    struct Table(Vec<RequestBucket>);

    impl Table {
        fn rows(&self, tokens: &[String]) -> Vec<RequestBucket> {
            self.0
                .iter()
                .filter(|b| tokens.contains(&b.token))
                .cloned()
                .collect()
        }

        /// A request, as the transport makes it: counts read first if unknown.
        fn spend(&self, server: &mut SharedWindows, token: &str, now: i64) -> Result<(), Refusal> {
            if !server.knows(token) {
                server.read(token, self.rows(&[token.to_owned()]));
            }
            server.spend(token, &FIVE, at(now))
        }

        /// Every server's requests in the minute window.
        fn minute(&self) -> i64 {
            self.0
                .iter()
                .filter(|b| b.window == "minute")
                .map(|b| b.count)
                .sum()
        }

        fn sync(&mut self, server: &mut SharedWindows) {
            let out = server.outgoing();
            for b in out.spent {
                match self
                    .0
                    .iter_mut()
                    .find(|s| s.token == b.token && s.window == b.window && s.bucket == b.bucket)
                {
                    Some(s) => s.count += b.count,
                    None => self.0.push(b),
                }
            }
            let rows = self.rows(&out.tokens);
            server.synced(&out.tokens, rows);
        }
    }

    #[test]
    fn servers_share_one_limit() {
        let mut table = Table::default();
        let (mut one, mut two) = (SharedWindows::default(), SharedWindows::default());
        for _ in 0..3 {
            assert!(table.spend(&mut one, "alice", 100).is_ok());
        }
        table.sync(&mut one);
        // The second server reads alice's counts before her first request.
        assert!(table.spend(&mut two, "alice", 101).is_ok());
        assert!(table.spend(&mut two, "alice", 101).is_ok());
        let refused = table.spend(&mut two, "alice", 101).unwrap_err();
        assert_eq!(refused.window, Window::Minute);
        assert!(table.spend(&mut two, "bob", 101).is_ok(), "per identity");
        // Synced, the first server sees the second's requests too.
        table.sync(&mut two);
        table.sync(&mut one);
        assert!(table.spend(&mut one, "alice", 102).is_err());
        // A minute later the window has room again.
        assert!(table.spend(&mut one, "alice", 162).is_ok());
    }

    #[test]
    fn nothing_is_counted_twice_or_lost() {
        let (mut one, mut table) = (SharedWindows::default(), Table::default());
        table.spend(&mut one, "alice", 100).unwrap();
        table.sync(&mut one);
        table.sync(&mut one);
        assert_eq!(
            table.0.iter().map(|b| b.count).sum::<i64>(),
            3,
            "one per window"
        );
        // A failed sync puts its requests back for the next one.
        table.spend(&mut one, "alice", 100).unwrap();
        let out = one.outgoing();
        assert_eq!(out.tokens, ["alice".to_owned()]);
        one.unsent(out.spent);
        table.sync(&mut one);
        assert_eq!(table.minute(), 2);
        for _ in 0..3 {
            table.spend(&mut one, "alice", 100).unwrap();
        }
        assert!(table.spend(&mut one, "alice", 100).is_err());
    }

    #[test]
    fn requests_a_sync_is_sending_still_count_until_its_answer() {
        let (mut one, mut table) = (SharedWindows::default(), Table::default());
        for _ in 0..4 {
            table.spend(&mut one, "alice", 100).unwrap();
        }
        // The sync has taken the four; its answer has not come yet.
        let out = one.outgoing();
        table.spend(&mut one, "alice", 100).unwrap();
        assert!(
            table.spend(&mut one, "alice", 100).is_err(),
            "the four being sent still count"
        );
        // A stale read of the counts changes nothing once they are known.
        one.read("alice", Vec::new());
        assert!(table.spend(&mut one, "alice", 100).is_err());
        // Failed: the four go out again with the fifth, counted all along.
        one.unsent(out.spent);
        assert!(table.spend(&mut one, "alice", 100).is_err());
        table.sync(&mut one);
        assert_eq!(table.minute(), 5);
        assert!(table.spend(&mut one, "alice", 100).is_err(), "answered");
    }

    #[test]
    fn an_idle_server_syncs_nothing_and_reads_again_when_asked() {
        let (mut one, mut table) = (SharedWindows::default(), Table::default());
        table.spend(&mut one, "alice", 100).unwrap();
        table.sync(&mut one);
        assert!(one.outgoing().tokens.is_empty(), "no request since");
        assert!(!one.knows("alice"), "read again before her next request");
        // A refused request leaves nothing behind either.
        table.0.push(RequestBucket {
            token: "bob".to_owned(),
            window: "minute".to_owned(),
            bucket: 100,
            count: 5,
        });
        assert!(table.spend(&mut one, "bob", 100).is_err());
        assert!(one.outgoing().tokens.is_empty());
        assert!(!one.knows("bob"));
        table.0.push(RequestBucket {
            token: "alice".to_owned(),
            window: "minute".to_owned(),
            bucket: 100,
            count: 5,
        });
        assert!(
            table.spend(&mut one, "alice", 100).is_err(),
            "another server's requests count"
        );
    }
}
