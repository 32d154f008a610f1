//! `audit --verify`: walks the hash chain and names the first record that was
//! altered, inserted or removed. Pure: the store feeds the records.
//!
//! The checks are those of [`crate::audit::ChainVerifier`] (each record's own
//! hash, its link to the previous one, its position, and the stored head);
//! this walk also tells the three kinds of tampering apart, e.g. a record
//! whose hash fits its contents only under the next lower `seq` was renumbered
//! to make room for an inserted one.

use crate::audit::{AuditRecord, GENESIS_HASH};
use crate::store::{AuditWalk, UnreadableRecord};

/// The first place the audit trail stops being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// A record's contents no longer match its hash.
    #[error("record {seq} was altered: its hash does not match its contents")]
    Altered {
        /// The record.
        seq: i64,
    },
    /// A record that does not belong to the chain.
    #[error("record {seq} was inserted: {how}")]
    Inserted {
        /// The inserted record's position.
        seq: i64,
        /// How it shows.
        how: &'static str,
    },
    /// Records are missing.
    #[error("{} removed{}", removed_text(*first, *last), if *at_end { " from the end of the trail" } else { "" })]
    Removed {
        /// First missing `seq`.
        first: i64,
        /// Last missing `seq`.
        last: i64,
        /// Whether they were the newest records.
        at_end: bool,
    },
    /// A record does not follow the one before it, for a reason the walk cannot narrow down.
    #[error("record {seq} does not follow record {}: a record before it was replaced, inserted or removed", seq - 1)]
    Broken {
        /// The first record that does not follow its predecessor.
        seq: i64,
    },
    /// The stored chain head is missing or does not match the last record.
    #[error(
        "the chain head does not match the last record ({last}): the head or the newest records were changed"
    )]
    Head {
        /// The last record present.
        last: i64,
    },
}

fn removed_text(first: i64, last: i64) -> String {
    if first == last {
        format!("record {first} was")
    } else {
        format!("records {first} to {last} were")
    }
}

impl ChainFault {
    /// The first record concerned.
    pub const fn seq(&self) -> i64 {
        match self {
            ChainFault::Altered { seq }
            | ChainFault::Inserted { seq, .. }
            | ChainFault::Broken { seq } => *seq,
            ChainFault::Removed { first, .. } => *first,
            ChainFault::Head { last } => *last,
        }
    }

    /// `altered`, `inserted`, `removed`, `broken` or `head`.
    pub const fn kind(&self) -> &'static str {
        match self {
            ChainFault::Altered { .. } => "altered",
            ChainFault::Inserted { .. } => "inserted",
            ChainFault::Removed { .. } => "removed",
            ChainFault::Broken { .. } => "broken",
            ChainFault::Head { .. } => "head",
        }
    }
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked (up to and including the first bad one).
    pub records: i64,
    /// The stored head's `seq`, if there is a head.
    pub head: Option<i64>,
    /// The first fault, or `None` when the trail is intact.
    pub fault: Option<ChainFault>,
}

/// The walk's state; the store clones a fresh one for each attempt.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    records: i64,
    last_seq: i64,
    last_hash: String,
    /// The hash of the record before the last one.
    before_last_hash: String,
    fault: Option<ChainFault>,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            records: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            before_last_hash: GENESIS_HASH.to_owned(),
            fault: None,
        }
    }
}

impl ChainWalk {
    fn judge(&self, r: &AuditRecord) -> Option<ChainFault> {
        let expected_seq = self.last_seq + 1;
        if r.expected_hash() != r.hash {
            let as_seq = |seq: i64| AuditRecord { seq, ..r.clone() }.expected_hash() == r.hash;
            if r.seq == expected_seq && as_seq(r.seq - 1) {
                // It was sealed one place lower: something was put before it.
                return Some(if r.prev_hash == self.before_last_hash {
                    ChainFault::Inserted {
                        seq: r.seq - 1,
                        how: "the records after it were renumbered",
                    }
                } else {
                    ChainFault::Inserted {
                        seq: r.seq,
                        how: "the records from here on were renumbered",
                    }
                });
            }
            if r.seq == expected_seq && as_seq(r.seq + 1) {
                // It was sealed one place higher: the record before it was taken out.
                return Some(ChainFault::Removed {
                    first: r.seq,
                    last: r.seq,
                    at_end: false,
                });
            }
            return Some(ChainFault::Altered { seq: r.seq });
        }
        if r.seq > expected_seq {
            return Some(ChainFault::Removed {
                first: expected_seq,
                last: r.seq - 1,
                at_end: false,
            });
        }
        if r.seq < expected_seq {
            return Some(ChainFault::Inserted {
                seq: r.seq,
                how: "its position was already taken",
            });
        }
        if r.prev_hash != self.last_hash {
            return Some(ChainFault::Broken { seq: r.seq });
        }
        None
    }
}

impl AuditWalk for ChainWalk {
    type Output = ChainReport;

    fn visit(&mut self, record: Result<AuditRecord, UnreadableRecord>) -> bool {
        self.records += 1;
        let record = match record {
            Ok(r) => r,
            Err(bad) => {
                self.fault = Some(ChainFault::Altered { seq: bad.seq });
                return false;
            }
        };
        if let Some(fault) = self.judge(&record) {
            self.fault = Some(fault);
            return false;
        }
        self.before_last_hash = std::mem::replace(&mut self.last_hash, record.hash);
        self.last_seq = record.seq;
        true
    }

    fn finish(self, head: Option<(i64, String)>) -> ChainReport {
        let head_seq = head.as_ref().map(|(s, _)| *s);
        let fault = self.fault.or_else(|| match head {
            None if self.last_seq == 0 => None,
            None => Some(ChainFault::Head {
                last: self.last_seq,
            }),
            Some((seq, _)) if seq > self.last_seq => Some(ChainFault::Removed {
                first: self.last_seq + 1,
                last: seq,
                at_end: true,
            }),
            Some((seq, _)) if seq < self.last_seq => Some(ChainFault::Inserted {
                seq: seq + 1,
                how: "it lies after the end the chain head records",
            }),
            Some((_, hash)) if hash != self.last_hash => Some(ChainFault::Head {
                last: self.last_seq,
            }),
            Some(_) => None,
        });
        ChainReport {
            records: self.records,
            head: head_seq,
            fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditDraft, ChainVerifier, Outcome};
    use crate::domain::Timestamp;

    fn chain(n: i64) -> Vec<AuditRecord> {
        crate::audit::test_chain(n)
    }

    fn head(records: &[AuditRecord]) -> Option<(i64, String)> {
        records.last().map(|r| (r.seq, r.hash.clone()))
    }

    fn walk(records: &[AuditRecord], head: Option<(i64, String)>) -> ChainReport {
        let mut w = ChainWalk::default();
        for r in records {
            if !w.visit(Ok(r.clone())) {
                break;
            }
        }
        w.finish(head)
    }

    /// The crate's verifier must agree on whether (and from where) a chain is broken.
    fn verifier_agrees(records: &[AuditRecord], head: Option<(i64, String)>) -> bool {
        let mut v = ChainVerifier::default();
        let pushed = records.iter().try_for_each(|r| v.push(r));
        let verdict = pushed.and_then(|()| v.finish(head.as_ref().map(|(s, h)| (*s, h.as_str()))));
        verdict.is_ok() == walk(records, head).fault.is_none()
    }

    #[test]
    fn intact_chains_pass() {
        let c = chain(5);
        let report = walk(&c, head(&c));
        assert_eq!(report.fault, None);
        assert_eq!((report.records, report.head), (5, Some(5)));
        assert_eq!(walk(&[], None).fault, None);
        assert!(verifier_agrees(&c, head(&c)));
    }

    #[test]
    fn each_tampering_is_named() {
        let c = chain(6);
        let h = head(&c);

        let mut altered = c.clone();
        altered[2].draft.outcome = Outcome::Denied;
        assert_eq!(
            walk(&altered, h.clone()).fault,
            Some(ChainFault::Altered { seq: 3 })
        );
        assert!(verifier_agrees(&altered, h.clone()));

        let mut removed = c.clone();
        removed.remove(2);
        let fault = walk(&removed, h.clone()).fault;
        assert_eq!(
            fault,
            Some(ChainFault::Removed {
                first: 3,
                last: 3,
                at_end: false
            })
        );
        assert!(verifier_agrees(&removed, h.clone()));

        // Removed and the rest renumbered to close the gap.
        let mut closed: Vec<AuditRecord> = removed.clone();
        for r in closed.iter_mut().skip(2) {
            r.seq -= 1;
        }
        assert_eq!(
            walk(&closed, h.clone()).fault,
            Some(ChainFault::Removed {
                first: 3,
                last: 3,
                at_end: false
            })
        );

        // A well-sealed forgery put in as record 3, the rest renumbered.
        let mut inserted = c.clone();
        let fake = AuditRecord::seal(
            3,
            Timestamp::from_micros(25),
            AuditDraft::new("cli", "x"),
            c[1].hash.clone(),
        );
        inserted.insert(2, fake);
        for r in inserted.iter_mut().skip(3) {
            r.seq += 1;
        }
        let fault = walk(&inserted, h.clone()).fault.unwrap();
        assert_eq!((fault.kind(), fault.seq()), ("inserted", 3));
        assert!(verifier_agrees(&inserted, h.clone()));

        // Records appended past the head.
        let longer = chain(7);
        let fault = walk(&longer, h.clone()).fault.unwrap();
        assert_eq!((fault.kind(), fault.seq()), ("inserted", 7));

        // The newest records cut off.
        assert_eq!(
            walk(&c[..4], h.clone()).fault,
            Some(ChainFault::Removed {
                first: 5,
                last: 6,
                at_end: true
            })
        );
        assert!(verifier_agrees(&c[..4], h));

        let unreadable = {
            let mut w = ChainWalk::default();
            w.visit(Ok(c[0].clone()));
            w.visit(Err(UnreadableRecord {
                seq: 2,
                reason: "bad outcome".into(),
            }));
            w.finish(head(&c))
        };
        assert_eq!(unreadable.fault, Some(ChainFault::Altered { seq: 2 }));
    }
}
