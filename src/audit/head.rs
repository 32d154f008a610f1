//! The chain head: the signed statement of where the audit trail ends and
//! where it begins. Pure: no I/O.
//!
//! The head records the last record's `seq` (so the count of records ever
//! appended) and hash, and an *anchor*: from which `seq` on records are keyed
//! (older ones were sealed before the chain was keyed and keep the old rule),
//! and, once old records have been pruned for retention, a checkpoint saying
//! how many were pruned, up to when, and the hash the first remaining record
//! must follow. All of it is MACed with the audit key, so cutting records off
//! the end (or all of them), copying a hash into the head, moving the
//! switch-over point or faking a pruning each shows as a head whose MAC fails
//! — unless one holds `bridge.key`.

use serde::{Deserialize, Serialize};

use super::AuditKey;
use super::GENESIS_HASH;

/// Where the trail begins: the keyed switch-over and the pruning checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The first `seq` sealed with the audit key; earlier records keep the
    /// unkeyed SHA-256 rule they were written with.
    pub keyed_from: i64,
    /// Present once records have been pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Checkpoint>,
}

/// What retention pruning removed, and how the remainder attaches to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The `seq` of the oldest record kept.
    pub first_seq: i64,
    /// The hash that record's `prev_hash` must equal (the last pruned record's).
    pub prev_hash: String,
    /// Records pruned in all, over every pruning.
    pub records: i64,
    /// Time (µs since the epoch) of the newest pruned record.
    pub through_us: i64,
}

impl Anchor {
    /// The anchor of a new chain, keyed from its first record.
    pub const fn new() -> Self {
        Self {
            keyed_from: 1,
            pruned: None,
        }
    }

    /// The stored form.
    pub fn to_text(&self) -> String {
        // Plain integers and strings always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the stored form.
    ///
    /// # Errors
    /// When the text is not an anchor.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable chain anchor: {e}"))
    }

    /// The `seq` and hash the first remaining record follows.
    pub fn start(&self) -> (i64, &str) {
        match &self.pruned {
            Some(c) => (c.first_seq - 1, c.prev_hash.as_str()),
            None => (0, GENESIS_HASH),
        }
    }
}

impl Default for Anchor {
    fn default() -> Self {
        Self::new()
    }
}

/// The head as stored: the last record, the anchor text and their MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last record's `seq` (0 before the first).
    pub last_seq: i64,
    /// The last record's hash ([`GENESIS_HASH`] before the first).
    pub last_hash: String,
    /// The anchor, exactly as stored (the MAC covers these bytes).
    pub anchor: String,
    /// HMAC over the three fields above.
    pub mac: String,
}

impl ChainHead {
    /// A head for `last_seq`/`last_hash` and `anchor`, signed with `key`.
    pub fn sign(key: &AuditKey, last_seq: i64, last_hash: String, anchor: String) -> Self {
        let mac = head_mac(key, last_seq, &last_hash, &anchor);
        Self {
            last_seq,
            last_hash,
            anchor,
            mac,
        }
    }

    /// The head after appending record `seq` with `hash`, signed again.
    pub fn advance(&self, key: &AuditKey, seq: i64, hash: String) -> Self {
        Self::sign(key, seq, hash, self.anchor.clone())
    }

    /// Whether `key` signed exactly these fields.
    pub fn is_signed_by(&self, key: &AuditKey) -> bool {
        key.check(
            &[
                b"head",
                self.last_seq.to_string().as_bytes(),
                self.last_hash.as_bytes(),
                self.anchor.as_bytes(),
            ],
            &self.mac,
        )
    }

    /// The parsed anchor.
    ///
    /// # Errors
    /// When the stored anchor is unreadable.
    pub fn parsed_anchor(&self) -> Result<Anchor, String> {
        Anchor::parse(&self.anchor)
    }
}

/// Why an appender cannot simply go on after the stored head: the trail was
/// tampered with. Appending after it as if nothing happened would sign the
/// tampering into the trail, and refusing every write would let anyone with
/// write access to the database stop the bridge; so the appender records
/// which of these it found ([`Tampering::code`]) and goes on after the last
/// record present, which `audit --verify` then keeps reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tampering {
    /// There is no head.
    HeadMissing,
    /// The head's MAC does not match it.
    HeadForged,
    /// The head is signed, but records lie after the last one it records: one
    /// was inserted there, and its `seq` is the next append's.
    RecordsAfterHead,
}

impl Tampering {
    /// What the appender found at the end of the trail: the stored `head`,
    /// whether its MAC holds (asked only of a head that exists), and the
    /// `seq` of the last record present. `None` when appending may go on
    /// after the head.
    pub fn judge(
        head: Option<&ChainHead>,
        signed: impl FnOnce(&ChainHead) -> bool,
        last_present: Option<i64>,
    ) -> Option<Self> {
        let Some(head) = head else {
            return Some(Tampering::HeadMissing);
        };
        if !signed(head) {
            return Some(Tampering::HeadForged);
        }
        // Records missing before the head's end are left to `audit --verify`:
        // the next append's `seq` is free either way.
        (last_present.unwrap_or(0) > head.last_seq).then_some(Tampering::RecordsAfterHead)
    }

    /// The code of the bridge's own record of it (`audit_chain`).
    pub const fn code(self) -> &'static str {
        match self {
            Tampering::HeadMissing => "head_missing",
            Tampering::HeadForged => "head_forged",
            Tampering::RecordsAfterHead => "records_after_head",
        }
    }

    /// Reads a [`Tampering::code`] back.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Tampering::HeadMissing,
            Tampering::HeadForged,
            Tampering::RecordsAfterHead,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }
}

fn head_mac(key: &AuditKey, last_seq: i64, last_hash: &str, anchor: &str) -> String {
    key.mac(&[
        b"head",
        last_seq.to_string().as_bytes(),
        last_hash.as_bytes(),
        anchor.as_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_detects_any_change_and_the_wrong_key() {
        let key = AuditKey::from_bytes(&[3; 32]);
        let head = ChainHead::sign(&key, 5, "ab".repeat(32), Anchor::new().to_text());
        assert!(head.is_signed_by(&key));
        assert!(!head.is_signed_by(&AuditKey::from_bytes(&[4; 32])));
        let mut shorter = head.clone();
        shorter.last_seq = 4;
        assert!(!shorter.is_signed_by(&key), "count edited");
        let mut copied = head.clone();
        copied.last_hash = "cd".repeat(32);
        assert!(!copied.is_signed_by(&key), "hash copied in");
        let mut moved = head.clone();
        moved.anchor = Anchor {
            keyed_from: 9,
            pruned: None,
        }
        .to_text();
        assert!(!moved.is_signed_by(&key), "switch-over moved");
        let next = head.advance(&key, 6, "ef".repeat(32));
        assert!(next.is_signed_by(&key));
        assert_eq!(next.anchor, head.anchor);
    }

    #[test]
    fn appenders_go_on_after_a_signed_head_only_when_nothing_lies_past_it() {
        let key = AuditKey::from_bytes(&[3; 32]);
        let head = ChainHead::sign(&key, 5, "ab".repeat(32), Anchor::new().to_text());
        let signed = |h: &ChainHead| h.is_signed_by(&key);
        let cases = [
            (Some(&head), Some(5), None),
            // Records removed from the end: the next seq is free; verify reports it.
            (Some(&head), Some(3), None),
            (Some(&head), None, None),
            (Some(&head), Some(6), Some(Tampering::RecordsAfterHead)),
            (None, Some(5), Some(Tampering::HeadMissing)),
        ];
        for (found, last, expected) in cases {
            assert_eq!(Tampering::judge(found, signed, last), expected, "{last:?}");
        }
        let mut forged = head.clone();
        forged.last_seq = 6;
        assert_eq!(
            Tampering::judge(Some(&forged), signed, Some(6)),
            Some(Tampering::HeadForged)
        );
        for t in [
            Tampering::HeadMissing,
            Tampering::HeadForged,
            Tampering::RecordsAfterHead,
        ] {
            assert_eq!(Tampering::from_code(t.code()), Some(t));
        }
    }

    #[test]
    fn anchors_round_trip_and_name_their_start() {
        let plain = Anchor::new();
        assert_eq!(plain.to_text(), r#"{"keyed_from":1}"#);
        assert_eq!(Anchor::parse(&plain.to_text()), Ok(plain.clone()));
        assert_eq!(plain.start(), (0, GENESIS_HASH));
        // The migration writes this form with SQLite's json_object.
        assert_eq!(
            Anchor::parse(r#"{"keyed_from":42}"#).map(|a| a.keyed_from),
            Ok(42)
        );
        let pruned = Anchor {
            keyed_from: 1,
            pruned: Some(Checkpoint {
                first_seq: 11,
                prev_hash: "aa".into(),
                records: 10,
                through_us: 99,
            }),
        };
        assert_eq!(Anchor::parse(&pruned.to_text()), Ok(pruned.clone()));
        assert_eq!(pruned.start(), (10, "aa"));
        assert!(Anchor::parse("{}").is_err());
        assert!(Anchor::parse(r#"{"keyed_from":1,"extra":2}"#).is_err());
    }
}
