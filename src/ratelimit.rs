//! Sliding-window rate limits, decided from stored counters. Pure: no I/O.
//!
//! Each session (conversation + side) has, per tool, three windows: a minute,
//! an hour and a day. The store keeps a counter per time bucket (1 s buckets for
//! the minute window, 1 min for the hour, 15 min for the day) so that every
//! process sharing the database sees the same counts. A window's count is the
//! sum of the buckets that overlap it; the oldest bucket is counted whole, so
//! the limit is never exceeded within any true window (at worst a call is
//! refused up to one bucket early). Deciding is here; counting is the store's —
//! except for quotas that are per server process by design (unauthenticated
//! calls, counted per client process), whose buckets [`LocalWindows`] keeps
//! in memory with the same windows and the same decision.

use crate::domain::Timestamp;

mod shared;

pub use shared::{Outgoing, SharedWindows};

/// One of the three sliding windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last 60 seconds.
    Minute,
    /// The last hour.
    Hour,
    /// The last 24 hours.
    Day,
}

impl Window {
    /// All windows, shortest first.
    pub const ALL: [Window; 3] = [Window::Minute, Window::Hour, Window::Day];

    /// Length in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3_600,
            Window::Day => 86_400,
        }
    }

    /// Width of one counting bucket in seconds.
    pub const fn bucket_seconds(self) -> i64 {
        match self {
            Window::Minute => 1,
            Window::Hour => 60,
            Window::Day => 900,
        }
    }

    /// `minute`, `hour` or `day`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }

    /// The window named `name` (`minute`, `hour`, `day`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == name)
    }

    /// The bucket `at` falls into.
    pub const fn bucket_of(self, at: Timestamp) -> i64 {
        at.as_secs().div_euclid(self.bucket_seconds())
    }

    /// The oldest bucket that still overlaps the window ending at `at`.
    pub const fn oldest_bucket(self, at: Timestamp) -> i64 {
        (at.as_secs() - self.seconds()).div_euclid(self.bucket_seconds())
    }
}

/// The limits of one tool; `None` means that window is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls allowed per minute.
    pub per_minute: Option<u32>,
    /// Calls allowed per hour.
    pub per_hour: Option<u32>,
    /// Calls allowed per day.
    pub per_day: Option<u32>,
}

impl Limits {
    /// The limit of `window`.
    pub const fn of(&self, window: Window) -> Option<u32> {
        match window {
            Window::Minute => self.per_minute,
            Window::Hour => self.per_hour,
            Window::Day => self.per_day,
        }
    }
}

/// A quota check the store performs atomically with the action it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Which counter: the tool name.
    pub class: &'static str,
    /// The limits to enforce.
    pub limits: Limits,
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The full window that needs the longest wait.
    pub window: Window,
    /// Its limit.
    pub limit: u32,
    /// Whole seconds until a call would be accepted again (at least 1).
    pub retry_after_s: u64,
}

/// Decides whether one more call fits. `buckets(window)` returns the stored
/// `(bucket, count)` pairs of that window from [`Window::oldest_bucket`] on,
/// oldest first.
///
/// # Errors
/// The [`Refusal`] when some window is full.
pub fn decide(
    limits: &Limits,
    at: Timestamp,
    mut buckets: impl FnMut(Window) -> Vec<(i64, i64)>,
) -> Result<(), Refusal> {
    let mut worst: Option<Refusal> = None;
    for window in Window::ALL {
        let Some(limit) = limits.of(window) else {
            continue;
        };
        let counts = buckets(window);
        let total: i64 = counts.iter().map(|&(_, n)| n).sum();
        if total < i64::from(limit) {
            continue;
        }
        let refusal = Refusal {
            window,
            limit,
            retry_after_s: retry_after(window, limit, at, &counts, total),
        };
        if worst.is_none_or(|w| refusal.retry_after_s > w.retry_after_s) {
            worst = Some(refusal);
        }
    }
    worst.map_or(Ok(()), Err)
}

/// [`decide`] over every stored bucket of one quota, as `(window, bucket,
/// count)` rows in any order; buckets older than their window are left out.
/// With `own`, the call being decided is already counted in its current
/// bucket and is not held against itself.
///
/// # Errors
/// The [`Refusal`] when some window is full.
pub fn decide_stored(
    limits: &Limits,
    at: Timestamp,
    stored: &[(String, i64, i64)],
    own: bool,
) -> Result<(), Refusal> {
    decide(limits, at, |window| {
        let (current, oldest) = (window.bucket_of(at), window.oldest_bucket(at));
        let mut buckets: Vec<(i64, i64)> = stored
            .iter()
            .filter(|(w, bucket, _)| w == window.as_str() && *bucket >= oldest)
            .map(|&(_, bucket, n)| (bucket, if own && bucket == current { n - 1 } else { n }))
            .collect();
        buckets.sort_unstable();
        buckets
    })
}

/// Seconds until enough old buckets have left the window for one more call.
fn retry_after(
    window: Window,
    limit: u32,
    at: Timestamp,
    counts: &[(i64, i64)],
    total: i64,
) -> u64 {
    let mut remaining = total;
    for &(bucket, n) in counts {
        remaining -= n;
        if remaining < i64::from(limit) {
            // The bucket stops overlapping once the window start passes its end.
            let leaves_at_us =
                ((bucket + 1) * window.bucket_seconds() + window.seconds()) * 1_000_000;
            let wait_us = leaves_at_us - at.as_micros();
            return u64::try_from((wait_us + 999_999) / 1_000_000)
                .unwrap_or(0)
                .max(1);
        }
    }
    u64::try_from(window.seconds()).unwrap_or(1)
}

/// Bucket counters kept in memory, for a quota that belongs to one process.
#[derive(Debug, Clone, Default)]
pub struct LocalWindows {
    /// `(bucket, count)` per window, oldest first, in [`Window::ALL`] order.
    buckets: [Vec<(i64, i64)>; 3],
}

impl LocalWindows {
    /// Spends one call at `at` if every window of `limits` has room.
    ///
    /// # Errors
    /// The [`Refusal`] when a window is full; nothing is spent then.
    pub fn spend(&mut self, limits: &Limits, at: Timestamp) -> Result<(), Refusal> {
        for (i, window) in Window::ALL.into_iter().enumerate() {
            let oldest = window.oldest_bucket(at);
            self.buckets[i].retain(|&(bucket, _)| bucket >= oldest);
        }
        decide(limits, at, |window| {
            self.buckets[Self::index(window)].clone()
        })?;
        for window in Window::ALL {
            let buckets = &mut self.buckets[Self::index(window)];
            let bucket = window.bucket_of(at);
            match buckets.last_mut() {
                Some((b, n)) if *b == bucket => *n += 1,
                _ => buckets.push((bucket, 1)),
            }
        }
        Ok(())
    }

    fn index(window: Window) -> usize {
        match window {
            Window::Minute => 0,
            Window::Hour => 1,
            Window::Day => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEND: Limits = Limits {
        per_minute: Some(10),
        per_hour: Some(100),
        per_day: Some(500),
    };

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    #[test]
    fn under_the_limit_is_allowed() {
        assert!(decide(&SEND, at(1_000), |_| vec![(999, 9)]).is_ok());
        assert!(decide(&SEND, at(1_000), |_| vec![]).is_ok());
    }

    #[test]
    fn a_full_minute_says_when_to_retry() {
        let now = at(1_000);
        let r = decide(&SEND, now, |w| {
            if w == Window::Minute {
                vec![(970, 4), (990, 6)]
            } else {
                vec![]
            }
        })
        .unwrap_err();
        assert_eq!(r.window, Window::Minute);
        assert_eq!(r.limit, 10);
        // Bucket 970 stops overlapping at 971 + 60 = 1031.
        assert_eq!(r.retry_after_s, 31);
    }

    #[test]
    fn the_longest_wait_wins() {
        let now = at(100_000);
        let r = decide(&SEND, now, |w| match w {
            Window::Minute => vec![(99_990, 10)],
            Window::Hour => vec![(Window::Hour.bucket_of(now) - 30, 100)],
            Window::Day => vec![],
        })
        .unwrap_err();
        assert_eq!(r.window, Window::Hour);
        assert!(r.retry_after_s > 60);
    }

    #[test]
    fn unlimited_windows_are_skipped() {
        let none = Limits {
            per_minute: None,
            per_hour: None,
            per_day: None,
        };
        assert!(decide(&none, at(5), |_| vec![(5, 1_000_000)]).is_ok());
    }

    #[test]
    fn local_windows_refuse_when_full_and_recover_when_the_window_moves() {
        let limits = Limits {
            per_minute: Some(3),
            per_hour: Some(5),
            per_day: None,
        };
        let mut w = LocalWindows::default();
        for s in 0..3 {
            w.spend(&limits, at(1_000 + s)).unwrap();
        }
        let r = w.spend(&limits, at(1_003)).unwrap_err();
        assert_eq!((r.window, r.limit), (Window::Minute, 3));
        // A refusal spends nothing: the minute frees up, the hour fills at 5.
        w.spend(&limits, at(1_061)).unwrap();
        w.spend(&limits, at(1_062)).unwrap();
        let r = w.spend(&limits, at(1_130)).unwrap_err();
        assert_eq!(r.window, Window::Hour);
        assert!(r.retry_after_s > 3_000);
        // Old buckets are dropped, so memory stays bounded.
        w.spend(&limits, at(1_000 + 3_700)).unwrap();
        assert!(w.buckets.iter().all(|b| b.len() <= 2), "{:?}", w.buckets);
    }

    #[test]
    fn stored_buckets_count_only_their_window_and_inside_it() {
        let now = at(100_000);
        let minute = Window::Minute.bucket_of(now);
        let row = |w: Window, bucket: i64, n: i64| (w.as_str().to_owned(), bucket, n);
        // Nine calls this minute, and more in an expired bucket and in
        // another window's rows: room for one.
        let stored = [
            row(Window::Minute, minute, 9),
            row(Window::Minute, Window::Minute.oldest_bucket(now) - 1, 50),
            row(Window::Hour, Window::Hour.bucket_of(now), 9),
        ];
        assert!(decide_stored(&SEND, now, &stored, false).is_ok());
        // The tenth, counted already: still allowed, not held against itself.
        let counted = [row(Window::Minute, minute, 10)];
        assert!(decide_stored(&SEND, now, &counted, true).is_ok());
        let r = decide_stored(&SEND, now, &counted, false).unwrap_err();
        assert_eq!((r.window, r.limit), (Window::Minute, 10));
    }

    #[test]
    fn buckets_cover_the_window() {
        let now = at(3_600 * 30 + 17);
        for w in Window::ALL {
            let span = w.bucket_of(now) - w.oldest_bucket(now);
            assert_eq!(span, w.seconds() / w.bucket_seconds(), "{w:?}");
        }
    }
}
