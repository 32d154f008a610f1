//! Folding repeated refusals into one record, so a client that hammers the
//! server with refused calls adds a bounded number of audit records instead of
//! one per call. Pure: the caller supplies the time and appends what comes out.
//!
//! A refusal's *source key* is who refused what and why: actor, action,
//! conversation, side, outcome and code. The first refusal of a key opens a
//! window of [`REFUSAL_WINDOW_US`]; the first [`RECORDED_PER_WINDOW`] refusals
//! of the key in the window are recorded as usual (with their own details),
//! further ones are only counted. When the window ends, one summary record
//! stands for those: same key, `count` = the number of refusals it stands for,
//! `bytes` = their total size, `detail` = `repeated=N first_at=… last_at=…`.
//! So every refusal is counted exactly once — the number of refused calls of a
//! key is the number of its plain records plus the `count` of its `repeated=`
//! records — while a flood of any length adds at most
//! [`RECORDED_PER_WINDOW`] + 1 records per key per window. Conversation ids are client-chosen
//! (bad-token calls may name any well-formed id), so at most [`MAX_OPEN_KEYS`]
//! keys are tracked at once; refusals of further keys fold into a key without
//! conversation and side.

use std::collections::HashMap;

use super::{AuditDraft, Outcome};
use crate::domain::Timestamp;

/// How long repeats of one refusal are folded together, in microseconds.
pub const REFUSAL_WINDOW_US: i64 = 10_000_000;

/// Refusals of one key recorded one by one per window before the rest are counted.
pub const RECORDED_PER_WINDOW: u32 = 10;

/// Source keys tracked at once before further ones share an overflow key.
pub const MAX_OPEN_KEYS: usize = 256;

/// The prefix of a summary record's `detail`.
pub const REPEATED_PREFIX: &str = "repeated=";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SourceKey {
    actor: &'static str,
    action: String,
    conversation: Option<String>,
    side: Option<String>,
    outcome: Outcome,
    code: Option<String>,
}

impl SourceKey {
    fn of(d: &AuditDraft) -> Self {
        Self {
            actor: d.actor,
            action: d.action.clone(),
            conversation: d.conversation.clone(),
            side: d.side.clone(),
            outcome: d.outcome,
            code: d.code.clone(),
        }
    }

    fn without_session(&self) -> Self {
        Self {
            conversation: None,
            side: None,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    opened_at: Timestamp,
    recorded: u32,
    folded: i64,
    bytes: Option<i64>,
    first_folded_at: Timestamp,
    last_folded_at: Timestamp,
}

impl Window {
    fn opened(at: Timestamp) -> Self {
        Self {
            opened_at: at,
            recorded: 1,
            folded: 0,
            bytes: None,
            first_folded_at: at,
            last_folded_at: at,
        }
    }

    fn ends_at(&self) -> Timestamp {
        self.opened_at.plus_micros(REFUSAL_WINDOW_US)
    }

    /// The summary record of this window, if it folded anything.
    fn summary(&self, key: &SourceKey) -> Option<(Timestamp, AuditDraft)> {
        (self.folded > 0).then(|| {
            let draft = AuditDraft {
                actor: key.actor,
                action: key.action.clone(),
                conversation: key.conversation.clone(),
                side: key.side.clone(),
                outcome: key.outcome,
                code: key.code.clone(),
                bytes: self.bytes,
                count: Some(self.folded),
                detail: Some(format!(
                    "{REPEATED_PREFIX}{} first_at={} last_at={}",
                    self.folded,
                    self.first_folded_at.to_rfc3339(),
                    self.last_folded_at.to_rfc3339()
                )),
            };
            (self.last_folded_at, draft)
        })
    }
}

/// Per-process state of the folding; see the module documentation.
#[derive(Debug, Default)]
pub struct RefusalFolder {
    open: HashMap<SourceKey, Window>,
}

impl RefusalFolder {
    /// Takes one audit record at `at`; returns what to append now, in order:
    /// nothing (a folded repeat), the record itself, or the summary of the
    /// key's previous window followed by the record. Successful calls always
    /// pass through unchanged.
    pub fn admit(&mut self, at: Timestamp, draft: AuditDraft) -> Vec<(Timestamp, AuditDraft)> {
        if draft.outcome == Outcome::Ok {
            return vec![(at, draft)];
        }
        let mut key = SourceKey::of(&draft);
        if !self.open.contains_key(&key) && self.open.len() >= MAX_OPEN_KEYS {
            key = key.without_session();
        }
        let mut out = Vec::with_capacity(2);
        if let Some(window) = self.open.get_mut(&key) {
            if at < window.ends_at() && window.recorded < RECORDED_PER_WINDOW {
                window.recorded += 1;
                out.push((at, session_of(&key, draft)));
                return out;
            }
            if at < window.ends_at() {
                if window.folded == 0 {
                    window.first_folded_at = at;
                }
                window.folded += 1;
                window.last_folded_at = window.last_folded_at.max(at);
                if let Some(b) = draft.bytes {
                    window.bytes = Some(window.bytes.unwrap_or(0).saturating_add(b));
                }
                return out;
            }
            out.extend(window.summary(&key));
            *window = Window::opened(at);
        } else {
            self.open.insert(key.clone(), Window::opened(at));
        }
        out.push((at, session_of(&key, draft)));
        out
    }

    /// Closes every window that ended by `now` and returns their summaries.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<(Timestamp, AuditDraft)> {
        let mut out = Vec::new();
        self.open.retain(|key, window| {
            if window.ends_at() > now {
                return true;
            }
            out.extend(window.summary(key));
            false
        });
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// Closes every window now (at exit) and returns their summaries.
    pub fn take_all(&mut self) -> Vec<(Timestamp, AuditDraft)> {
        let mut out: Vec<_> = self
            .open
            .drain()
            .filter_map(|(key, window)| window.summary(&key))
            .collect();
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// When the earliest open window with folded refusals ends.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.open
            .values()
            .filter(|w| w.folded > 0)
            .map(Window::ends_at)
            .min()
    }

    /// Whether any refusal is waiting for its summary.
    pub fn holds_refusals(&self) -> bool {
        self.open.values().any(|w| w.folded > 0)
    }
}

/// `draft` as recorded under `key`: an overflow key's records name no
/// conversation either.
fn session_of(key: &SourceKey, draft: AuditDraft) -> AuditDraft {
    if key.conversation.is_none() && draft.conversation.is_some() {
        AuditDraft {
            conversation: None,
            side: None,
            ..draft
        }
    } else {
        draft
    }
}

/// How many refused calls `draft` stands for: the `count` of a summary, 1 for any other refusal.
pub fn refusals_in(draft: &AuditDraft) -> i64 {
    match (&draft.outcome, &draft.detail) {
        (Outcome::Ok, _) => 0,
        (_, Some(d)) if d.starts_with(REPEATED_PREFIX) => draft.count.unwrap_or(0),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_micros(1_000_000_000_000 + ms * 1000)
    }

    fn refusal(conv: &str) -> AuditDraft {
        let mut d = AuditDraft::new("mcp", "send_to_partner")
            .on(Some(conv), Some("a"))
            .failed(Outcome::Denied, "auth_failed");
        d.bytes = Some(10);
        d
    }

    fn total(records: &[(Timestamp, AuditDraft)]) -> i64 {
        records.iter().map(|(_, d)| refusals_in(d)).sum()
    }

    #[test]
    fn a_flood_becomes_a_few_records_per_window_with_an_exact_count() {
        let mut f = RefusalFolder::default();
        let mut written = Vec::new();
        // 25 s of one refusal every millisecond: 25 000 calls.
        for ms in 0..25_000 {
            written.extend(f.admit(at(ms), refusal("conv_0000000000000001")));
            written.extend(f.take_due(at(ms)));
        }
        written.extend(f.take_all());
        assert_eq!(total(&written), 25_000);
        // Windows open at 0, 10 000 and 20 000 ms: ten records and a summary each.
        let per_window = RECORDED_PER_WINDOW as usize + 1;
        assert_eq!(written.len(), 3 * per_window, "{written:#?}");
        let summary = &written[per_window - 1].1;
        assert_eq!(summary.count, Some(9_990));
        assert_eq!(summary.bytes, Some(99_900));
        assert_eq!(summary.code.as_deref(), Some("auth_failed"));
        assert!(
            summary
                .detail
                .as_deref()
                .unwrap()
                .starts_with("repeated=9990 first_at="),
            "{summary:?}"
        );
        assert!(!f.holds_refusals());
    }

    #[test]
    fn successes_and_lone_refusals_pass_through() {
        let mut f = RefusalFolder::default();
        let ok = AuditDraft::new("mcp", "check_messages");
        assert_eq!(f.admit(at(0), ok.clone()), vec![(at(0), ok)]);
        let once = f.admit(at(1), refusal("conv_0000000000000001"));
        assert_eq!(once.len(), 1);
        assert_eq!(f.next_due(), None, "nothing folded, nothing to summarise");
        assert_eq!(f.take_all(), vec![]);
    }

    #[test]
    fn a_repeat_after_the_window_flushes_the_summary_first() {
        let mut f = RefusalFolder::default();
        for ms in 0..RECORDED_PER_WINDOW {
            let one = f.admit(at(i64::from(ms)), refusal("conv_0000000000000001"));
            assert_eq!(one.len(), 1);
        }
        assert!(f.admit(at(50), refusal("conv_0000000000000001")).is_empty());
        assert_eq!(f.next_due(), Some(at(10_000)));
        let later = f.admit(at(10_001), refusal("conv_0000000000000001"));
        assert_eq!(later.len(), 2);
        assert_eq!(later[0].1.count, Some(1));
        assert_eq!(later[1].1.count, None);
    }

    #[test]
    fn client_chosen_ids_cannot_grow_the_state_or_the_rows_without_bound() {
        let mut f = RefusalFolder::default();
        let mut written = Vec::new();
        for i in 0..10_000 {
            written.extend(f.admit(at(i / 10), refusal(&format!("conv_{i:016x}"))));
        }
        written.extend(f.take_all());
        assert_eq!(total(&written), 10_000);
        assert!(f.open.is_empty());
        // The tracked keys each wrote one record; everything else went to one
        // overflow key (its first records and a summary), naming no conversation.
        let recorded = RECORDED_PER_WINDOW as usize;
        assert_eq!(written.len(), MAX_OPEN_KEYS + recorded + 1);
        let overflow = &written[MAX_OPEN_KEYS..];
        assert!(overflow.iter().all(|(_, d)| d.conversation.is_none()));
        assert_eq!(
            overflow.last().unwrap().1.count,
            Some(10_000 - (MAX_OPEN_KEYS + recorded) as i64)
        );
    }
}
