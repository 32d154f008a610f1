//! `audit --verify`: checks the signed chain head, then walks the chain and
//! names the first record that was altered, inserted or removed. Pure: the
//! store feeds the head and the records.
//!
//! The checks are those of [`crate::audit::ChainVerifier`] (the head's MAC,
//! each record's seal under the audit key — or the legacy SHA-256 rule before
//! the switch-over — its link to the previous one, its position, and the end
//! the head records); this walk also tells the kinds of tampering apart, e.g.
//! a record whose seal fits its contents only under the next lower `seq` was
//! renumbered to make room for an inserted one, and it reports records in
//! which a server noted that it found the trail's end tampered with (the head
//! missing or forged, or records past it).

use crate::audit::{
    AuditKey, AuditRecord, ChainHead, ChainRules, Checkpoint, GENESIS_HASH, Tampering,
};
use crate::store::{AuditWalk, UnreadableRecord};

/// The actor and action of a record a server wrote on finding the chain head
/// missing or forged (see the store's `audit::append`).
const EVIDENCE: (&str, &str) = ("bridge", "audit_chain");

/// The first place the audit trail stops being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    /// A record's contents no longer match its seal.
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
    /// The signed head does not match the last record.
    #[error(
        "the chain head does not match the last record ({last}): records after it were replaced"
    )]
    Head {
        /// The last record present.
        last: i64,
    },
    /// There is no chain head at all.
    #[error("the chain head is missing: it was deleted, with the newest records or all of them")]
    HeadMissing,
    /// The head's MAC does not match it.
    #[error(
        "the chain head does not match its signature: it was edited (records cut off the end, a hash copied into it, the switch-over or pruning checkpoint changed), or bridge.key is not the key this trail was written with"
    )]
    HeadForged,
    /// A server found the head missing or forged before appending record `seq`.
    #[error(
        "record {seq}: a server found {what} before appending it, so the trail had been tampered with before then"
    )]
    Tampered {
        /// The record that says so.
        seq: i64,
        /// What it found, e.g. `the chain head forged`.
        what: &'static str,
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
    /// The first record concerned (0 for a missing or forged head).
    pub const fn seq(&self) -> i64 {
        match self {
            ChainFault::Altered { seq }
            | ChainFault::Inserted { seq, .. }
            | ChainFault::Broken { seq }
            | ChainFault::Tampered { seq, .. } => *seq,
            ChainFault::Removed { first, .. } => *first,
            ChainFault::Head { last } => *last,
            ChainFault::HeadMissing | ChainFault::HeadForged => 0,
        }
    }

    /// `altered`, `inserted`, `removed`, `broken`, `head`, `head_missing`,
    /// `head_forged` or `tampered`.
    pub const fn kind(&self) -> &'static str {
        match self {
            ChainFault::Altered { .. } => "altered",
            ChainFault::Inserted { .. } => "inserted",
            ChainFault::Removed { .. } => "removed",
            ChainFault::Broken { .. } => "broken",
            ChainFault::Head { .. } => "head",
            ChainFault::HeadMissing => "head_missing",
            ChainFault::HeadForged => "head_forged",
            ChainFault::Tampered { .. } => "tampered",
        }
    }
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked (up to and including the first bad one).
    pub records: i64,
    /// The signed head's last `seq`, if there is a head.
    pub head: Option<i64>,
    /// The first keyed record, from the signed head.
    pub keyed_from: Option<i64>,
    /// What retention pruning removed, from the signed head.
    pub pruned: Option<Checkpoint>,
    /// The first fault, or `None` when the trail is intact.
    pub fault: Option<ChainFault>,
}

/// The walk's state; the store clones a fresh one for each attempt.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    rules: ChainRules,
    head: Option<ChainHead>,
    keyed_from: Option<i64>,
    pruned: Option<Checkpoint>,
    records: i64,
    last_seq: i64,
    last_hash: String,
    /// The hash of the record before the last one.
    before_last_hash: String,
    fault: Option<ChainFault>,
}

impl ChainWalk {
    /// A walk checking seals and the head with `key`.
    pub fn new(key: AuditKey) -> Self {
        Self {
            rules: ChainRules::keyed(key),
            head: None,
            keyed_from: None,
            pruned: None,
            records: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            before_last_hash: GENESIS_HASH.to_owned(),
            fault: None,
        }
    }

    fn judge(&self, r: &AuditRecord) -> Option<ChainFault> {
        let expected_seq = self.last_seq + 1;
        if !r.is_sealed(&self.rules) {
            if r.seq == expected_seq && r.hash == self.last_hash {
                // The previous record again under the next `seq` (a copied
                // row), which would otherwise read as a renumbering below.
                return Some(ChainFault::Inserted {
                    seq: r.seq,
                    how: "it is a copy of the record before it",
                });
            }
            let as_seq = |seq: i64| AuditRecord { seq, ..r.clone() }.is_sealed(&self.rules);
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
        if (r.draft.actor, r.draft.action.as_str()) == EVIDENCE {
            let what = match r.draft.code.as_deref().and_then(Tampering::from_code) {
                Some(Tampering::HeadMissing) => "the chain head missing",
                Some(Tampering::RecordsAfterHead) => {
                    "records after the last one the chain head records"
                }
                Some(Tampering::HeadForged) | None => "the chain head forged",
            };
            return Some(ChainFault::Tampered { seq: r.seq, what });
        }
        None
    }
}

impl AuditWalk for ChainWalk {
    type Output = ChainReport;

    fn begin(&mut self, head: Option<ChainHead>) -> bool {
        let Some(head) = head else {
            self.fault = Some(ChainFault::HeadMissing);
            return false;
        };
        let anchor = match head.parsed_anchor() {
            Ok(a) if head.is_signed_by(self.rules.key()) => a,
            _ => {
                self.head = Some(head);
                self.fault = Some(ChainFault::HeadForged);
                return false;
            }
        };
        self.rules = ChainRules::new(self.rules.key().clone(), anchor.keyed_from);
        let (start_seq, start_hash) = anchor.start();
        self.last_seq = start_seq;
        self.last_hash = start_hash.to_owned();
        self.before_last_hash = start_hash.to_owned();
        self.keyed_from = Some(anchor.keyed_from);
        self.pruned = anchor.pruned;
        self.head = Some(head);
        true
    }

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

    fn finish(self) -> ChainReport {
        let head_seq = self.head.as_ref().map(|h| h.last_seq);
        let fault = self.fault.or_else(|| {
            // `begin` saw a signed head, or there would be a fault already.
            let head = self.head.as_ref()?;
            if head.last_seq > self.last_seq {
                Some(ChainFault::Removed {
                    first: self.last_seq + 1,
                    last: head.last_seq,
                    at_end: true,
                })
            } else if head.last_seq < self.last_seq {
                Some(ChainFault::Inserted {
                    seq: head.last_seq + 1,
                    how: "it lies after the end the chain head records",
                })
            } else if head.last_hash != self.last_hash {
                Some(ChainFault::Head {
                    last: self.last_seq,
                })
            } else {
                None
            }
        });
        ChainReport {
            records: self.records,
            head: head_seq,
            keyed_from: self.keyed_from,
            pruned: self.pruned,
            fault,
        }
    }
}

#[cfg(test)]
mod tests;
