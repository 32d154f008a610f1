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
