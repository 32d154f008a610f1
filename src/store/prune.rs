//! The audit-retention decision both backends share: once a backend has
//! verified the records that would go and read the record after the cut,
//! whether pruning may proceed, and the signed anchor it leaves. The SQL
//! (reading, deleting, writing the head) stays in each backend.

use crate::audit::{Anchor, ChainHead, Checkpoint};
use crate::store::admin::AuditPrune;

/// What pruning through `keep_from` (exclusive) should do.
pub enum PrunePlan {
    /// Stop with this answer (a refusal, or the dry run's report).
    Answer(AuditPrune),
    /// Delete every record below `keep_from`, sign `anchor` into the head,
    /// and answer `answer`.
    Apply {
        /// The new anchor: the checkpoint covers everything pruned so far.
        anchor: Anchor,
        /// What to report once done.
        answer: AuditPrune,
    },
}

/// What was read and verified before the cut.
pub struct Verified<'a> {
    /// The signed chain head.
    pub head: &'a ChainHead,
    /// Its anchor.
    pub anchor: &'a Anchor,
    /// The anchor's start: the last seq already pruned (or 0).
    pub start_seq: i64,
    /// The first record to keep.
    pub keep_from: i64,
    /// The last record the verifier walked, and its hash.
    pub last_pruned: i64,
    /// The hash the first kept record must point back to.
    pub prev_hash: String,
    /// The `prev_hash` of the record at `keep_from`, if it exists.
    pub follows: Option<String>,
    /// The newest time among the records to go (µs).
    pub through_us: i64,
}

/// Decides whether the verified records may go, so pruning never destroys
/// evidence of tampering: the walk must have reached the cut, and the kept
/// tail (or the head, when nothing is kept) must link to the last pruned record.
pub fn plan(v: Verified<'_>, dry_run: bool) -> PrunePlan {
    if v.last_pruned != v.keep_from - 1 {
        return PrunePlan::Answer(refused_at(v.last_pruned + 1));
    }
    let tail_ok = match &v.follows {
        Some(p) => *p == v.prev_hash,
        None => v.keep_from == v.head.last_seq + 1 && v.head.last_hash == v.prev_hash,
    };
    if !tail_ok {
        return PrunePlan::Answer(refused_at(v.keep_from));
    }
    let records = v.keep_from - 1 - v.start_seq;
    let answer = AuditPrune::Pruned {
        records,
        first_kept: v.keep_from,
    };
    if dry_run {
        return PrunePlan::Answer(answer);
    }
    let pruned = v.anchor.pruned.as_ref();
    let anchor = Anchor {
        keyed_from: v.anchor.keyed_from,
        pruned: Some(Checkpoint {
            first_seq: v.keep_from,
            prev_hash: v.prev_hash,
            records: pruned.map_or(0, |c| c.records) + records,
            through_us: pruned.map_or(v.through_us, |c| c.through_us.max(v.through_us)),
        }),
    };
    PrunePlan::Apply { anchor, answer }
}

/// The refusal naming the first record that is not intact.
pub fn refused_at(seq: i64) -> AuditPrune {
    AuditPrune::Refused(format!(
        "the audit trail is not intact at record {seq}; pruning would destroy the evidence (run `mcp-bridge audit --verify`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(last_seq: i64, last_hash: &str) -> ChainHead {
        ChainHead {
            last_seq,
            last_hash: last_hash.to_owned(),
            anchor: String::new(),
            mac: String::new(),
        }
    }

    fn verified<'a>(
        head: &'a ChainHead,
        anchor: &'a Anchor,
        follows: Option<&str>,
    ) -> Verified<'a> {
        Verified {
            head,
            anchor,
            start_seq: 0,
            keep_from: 5,
            last_pruned: 4,
            prev_hash: "h4".to_owned(),
            follows: follows.map(str::to_owned),
            through_us: 40,
        }
    }

    #[test]
    fn a_walk_that_stopped_short_or_a_broken_link_refuses() {
        let (h, a) = (
            head(9, "h9"),
            Anchor {
                keyed_from: 1,
                pruned: None,
            },
        );
        let mut short = verified(&h, &a, Some("h4"));
        short.last_pruned = 3;
        assert!(
            matches!(plan(short, false), PrunePlan::Answer(AuditPrune::Refused(m)) if m.contains("record 4"))
        );
        let broken = verified(&h, &a, Some("other"));
        assert!(
            matches!(plan(broken, false), PrunePlan::Answer(AuditPrune::Refused(m)) if m.contains("record 5"))
        );
        // Nothing kept: the head itself must name the last pruned record.
        let short_head = head(4, "hX");
        let everything = verified(&short_head, &a, None);
        assert!(matches!(
            plan(everything, false),
            PrunePlan::Answer(AuditPrune::Refused(_))
        ));
    }

    #[test]
    fn a_dry_run_reports_and_a_real_run_accumulates_the_checkpoint() {
        let h = head(9, "h9");
        let a = Anchor {
            keyed_from: 1,
            pruned: Some(Checkpoint {
                first_seq: 1,
                prev_hash: "h0".into(),
                records: 7,
                through_us: 90,
            }),
        };
        let dry = plan(verified(&h, &a, Some("h4")), true);
        assert!(matches!(
            dry,
            PrunePlan::Answer(AuditPrune::Pruned {
                records: 4,
                first_kept: 5
            })
        ));
        let PrunePlan::Apply { anchor, answer } = plan(verified(&h, &a, Some("h4")), false) else {
            panic!("expected to apply");
        };
        assert!(matches!(
            answer,
            AuditPrune::Pruned {
                records: 4,
                first_kept: 5
            }
        ));
        let c = anchor.pruned.expect("checkpoint");
        assert_eq!(
            (c.first_seq, c.prev_hash.as_str(), c.records, c.through_us),
            (5, "h4", 11, 90)
        );
        assert_eq!(anchor.keyed_from, 1);
    }
}
