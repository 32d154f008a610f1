use super::*;
use crate::audit::{Anchor, AuditDraft, ChainVerifier, Outcome, test_chain, test_key};
use crate::domain::Timestamp;

fn walk(records: &[AuditRecord], head: Option<&ChainHead>) -> ChainReport {
    let mut w = ChainWalk::new(test_key());
    if w.begin(head.cloned()) {
        for r in records {
            if !w.visit(Ok(r.clone())) {
                break;
            }
        }
    }
    w.finish()
}

/// The crate's verifier must agree on whether a chain is broken.
fn verifier_agrees(records: &[AuditRecord], head: &ChainHead) -> bool {
    let mut v = ChainVerifier::new(test_key(), &head.parsed_anchor().unwrap());
    let pushed = records.iter().try_for_each(|r| v.push(r));
    let verdict = pushed.and_then(|()| v.finish(head));
    verdict.is_ok() == walk(records, Some(head)).fault.is_none()
}

fn keyed() -> ChainRules {
    ChainRules::keyed(test_key())
}

#[test]
fn intact_chains_pass() {
    let (c, head) = test_chain(5);
    let report = walk(&c, Some(&head));
    assert_eq!(report.fault, None);
    assert_eq!(
        (report.records, report.head, report.keyed_from),
        (5, Some(5), Some(1))
    );
    let (empty, head) = test_chain(0);
    assert_eq!(walk(&empty, Some(&head)).fault, None);
    assert!(verifier_agrees(&c, &test_chain(5).1));
}

#[test]
fn each_tampering_is_named() {
    let (c, head) = test_chain(6);
    let h = Some(&head);

    let mut altered = c.clone();
    altered[2].draft.outcome = Outcome::Denied;
    assert_eq!(
        walk(&altered, h).fault,
        Some(ChainFault::Altered { seq: 3 })
    );
    assert!(verifier_agrees(&altered, &head));

    let mut removed = c.clone();
    removed.remove(2);
    let fault = walk(&removed, h).fault;
    assert_eq!(
        fault,
        Some(ChainFault::Removed {
            first: 3,
            last: 3,
            at_end: false
        })
    );
    assert!(verifier_agrees(&removed, &head));

    // Removed and the rest renumbered to close the gap.
    let mut closed: Vec<AuditRecord> = removed.clone();
    for r in closed.iter_mut().skip(2) {
        r.seq -= 1;
    }
    assert_eq!(
        walk(&closed, h).fault,
        Some(ChainFault::Removed {
            first: 3,
            last: 3,
            at_end: false
        })
    );

    // A well-sealed forgery (made with the key) put in as record 3, the rest renumbered.
    let mut inserted = c.clone();
    let fake = AuditRecord::seal(
        3,
        Timestamp::from_micros(25),
        AuditDraft::new("cli", "x"),
        c[1].hash.clone(),
        &keyed(),
    );
    inserted.insert(2, fake);
    for r in inserted.iter_mut().skip(3) {
        r.seq += 1;
    }
    let fault = walk(&inserted, h).fault.unwrap();
    assert_eq!((fault.kind(), fault.seq()), ("inserted", 3));
    assert!(verifier_agrees(&inserted, &head));

    // Records appended past the head.
    let (longer, _) = test_chain(7);
    let fault = walk(&longer, h).fault.unwrap();
    assert_eq!((fault.kind(), fault.seq()), ("inserted", 7));

    // The newest records cut off, and all of them.
    assert_eq!(
        walk(&c[..4], h).fault,
        Some(ChainFault::Removed {
            first: 5,
            last: 6,
            at_end: true
        })
    );
    assert!(verifier_agrees(&c[..4], &head));
    assert_eq!(
        walk(&[], h).fault,
        Some(ChainFault::Removed {
            first: 1,
            last: 6,
            at_end: true
        })
    );

    let unreadable = {
        let mut w = ChainWalk::new(test_key());
        w.begin(Some(head.clone()));
        w.visit(Ok(c[0].clone()));
        w.visit(Err(UnreadableRecord {
            seq: 2,
            reason: "bad outcome".into(),
        }));
        w.finish()
    };
    assert_eq!(unreadable.fault, Some(ChainFault::Altered { seq: 2 }));
}

#[test]
fn a_missing_copied_or_foreign_head_is_reported() {
    let (c, head) = test_chain(6);
    assert_eq!(walk(&c, None).fault, Some(ChainFault::HeadMissing));
    // The newest records cut off and the head pointed at the new last one.
    let copied = ChainHead {
        last_seq: 4,
        last_hash: c[3].hash.clone(),
        ..head.clone()
    };
    assert_eq!(
        walk(&c[..4], Some(&copied)).fault,
        Some(ChainFault::HeadForged)
    );
    assert!(verifier_agrees(&c[..4], &copied));
    let foreign = ChainHead::sign(
        &crate::audit::AuditKey::from_bytes(&[5; 32]),
        6,
        c[5].hash.clone(),
        head.anchor.clone(),
    );
    let report = walk(&c, Some(&foreign));
    assert_eq!(report.fault, Some(ChainFault::HeadForged));
    assert_eq!(report.head, Some(6));
}

#[test]
fn a_pruned_chain_verifies_from_its_checkpoint() {
    let (c, head) = test_chain(6);
    let anchor = Anchor {
        keyed_from: 1,
        pruned: Some(Checkpoint {
            first_seq: 4,
            prev_hash: c[2].hash.clone(),
            records: 3,
            through_us: 30,
        }),
    };
    let pruned_head = ChainHead::sign(&test_key(), 6, head.last_hash.clone(), anchor.to_text());
    let report = walk(&c[3..], Some(&pruned_head));
    assert_eq!(report.fault, None);
    assert_eq!(report.pruned.as_ref().map(|p| p.records), Some(3));
    assert!(verifier_agrees(&c[3..], &pruned_head));
    // One more record deleted below the checkpoint's first kept record.
    assert_eq!(
        walk(&c[4..], Some(&pruned_head)).fault,
        Some(ChainFault::Removed {
            first: 4,
            last: 4,
            at_end: false
        })
    );
    // Everything kept deleted too.
    assert_eq!(
        walk(&[], Some(&pruned_head)).fault.map(|f| f.kind()),
        Some("removed")
    );
}

#[test]
fn a_servers_note_of_a_forged_head_is_reported() {
    let (c, head) = test_chain(3);
    let mut note = AuditDraft::new("bridge", "audit_chain").failed(Outcome::Error, "head_forged");
    note.count = Some(9);
    let evidence = AuditRecord::seal(
        4,
        Timestamp::from_micros(40),
        note,
        c[2].hash.clone(),
        &keyed(),
    );
    let mut records = c.clone();
    records.push(evidence.clone());
    let head = head.advance(&test_key(), 4, evidence.hash.clone());
    assert_eq!(
        walk(&records, Some(&head)).fault,
        Some(ChainFault::Tampered {
            seq: 4,
            what: "the chain head forged"
        })
    );
}

#[test]
fn a_copied_record_past_the_head_is_the_one_named_inserted() {
    // The last record copied, with the next `seq`, after the head's end; then
    // a server went on after it, noting what it found.
    let (c, head) = test_chain(4);
    let mut records = c.clone();
    records.push(AuditRecord {
        seq: 5,
        ..c[3].clone()
    });
    let fault = walk(&records, Some(&head)).fault.unwrap();
    assert_eq!(
        fault,
        ChainFault::Inserted {
            seq: 5,
            how: "it is a copy of the record before it"
        }
    );
    let note =
        AuditDraft::new("bridge", "audit_chain").failed(Outcome::Error, "records_after_head");
    let evidence = AuditRecord::seal(
        6,
        Timestamp::from_micros(60),
        note,
        c[3].hash.clone(),
        &keyed(),
    );
    records.push(evidence.clone());
    let head = head.advance(&test_key(), 6, evidence.hash);
    assert_eq!(walk(&records, Some(&head)).fault, Some(fault));
    assert!(verifier_agrees(&records, &head));
    // Once the copy is deleted, the gap it leaves is reported instead.
    records.remove(4);
    let fault = walk(&records, Some(&head)).fault.unwrap();
    assert_eq!((fault.kind(), fault.seq()), ("removed", 5));
}
