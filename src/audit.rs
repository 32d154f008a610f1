//! The audit trail's records and their chain. Pure: no I/O.
//!
//! Every record holds the hash of the record before it and a MAC of its own
//! canonical form under the audit key (derived from `bridge.key`, see
//! [`key`]), so changing, inserting or removing any record breaks the chain
//! at that point, and someone holding only the database cannot recompute it.
//! Records written before the chain was keyed keep the plain SHA-256 rule
//! they were sealed with, up to the switch-over point the signed [`head`]
//! records. Records carry who did what to which conversation and how it ended,
//! plus sizes, counts and keyed digests — never message text, notes, commands
//! or tokens. The store appends records inside the same transaction as the
//! action they describe, which also serialises the chain across processes.
//! Repeated refusals are folded into summary records by [`refusals`].

pub mod head;
pub mod key;
pub mod refusals;

use sha2::{Digest, Sha256};

pub use head::{Anchor, ChainHead, Checkpoint, Tampering};
pub use key::AuditKey;

use crate::domain::Timestamp;

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// The caller was not allowed: bad token, expired, rate limited, disabled, refused by policy.
    Denied,
    /// The request was malformed or the server failed.
    Error,
}

impl Outcome {
    /// `ok`, `denied` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ok" => Some(Outcome::Ok),
            "denied" => Some(Outcome::Denied),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

/// What the caller knows about an action before the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    /// Who acted: `mcp` (a tool call), `cli` (a management command) or
    /// `console` (the web console, with the token's name in `detail`).
    pub actor: &'static str,
    /// The tool or command name.
    pub action: String,
    /// The conversation concerned, if any (only well-formed ids are recorded).
    pub conversation: Option<String>,
    /// The side concerned, if any.
    pub side: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The stable error code when it did not succeed.
    pub code: Option<String>,
    /// Bytes of client input (message size), when meaningful.
    pub bytes: Option<i64>,
    /// A count (messages delivered, redactions made, rows removed), when meaningful.
    pub count: Option<i64>,
    /// Short non-secret detail, e.g. `redactions=aws_access_key_id:1`.
    pub detail: Option<String>,
}

impl AuditDraft {
    /// A successful `action` by `actor`.
    pub fn new(actor: &'static str, action: impl Into<String>) -> Self {
        Self {
            actor,
            action: action.into(),
            conversation: None,
            side: None,
            outcome: Outcome::Ok,
            code: None,
            bytes: None,
            count: None,
            detail: None,
        }
    }

    /// Sets the conversation and side.
    pub fn on(mut self, conversation: Option<&str>, side: Option<&str>) -> Self {
        self.conversation = conversation.map(str::to_owned);
        self.side = side.map(str::to_owned);
        self
    }

    /// Marks the draft as failed with `outcome` and `code`.
    pub fn failed(mut self, outcome: Outcome, code: &str) -> Self {
        self.outcome = outcome;
        self.code = Some(code.to_owned());
        self
    }
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was recorded.
    pub at: Timestamp,
    /// The draft's content.
    pub draft: AuditDraft,
    /// The previous record's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// The seal over `prev_hash` and this record's canonical form.
    pub hash: String,
}

/// How records are sealed: keyed from `keyed_from` on, plain SHA-256 before.
#[derive(Debug, Clone)]
pub struct ChainRules {
    key: AuditKey,
    keyed_from: i64,
}

impl ChainRules {
    /// The rules of a chain keyed with `key` from record `keyed_from` on.
    pub fn new(key: AuditKey, keyed_from: i64) -> Self {
        Self { key, keyed_from }
    }

    /// Rules for records that are all keyed (every record appended now).
    pub fn keyed(key: AuditKey) -> Self {
        Self::new(key, 1)
    }

    /// The key.
    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    /// The seal a record `seq` with `canonical` form after `prev_hash` must carry.
    fn seal(&self, seq: i64, prev_hash: &str, canonical: &str) -> String {
        if seq >= self.keyed_from {
            self.key
                .mac(&[b"record", prev_hash.as_bytes(), canonical.as_bytes()])
        } else {
            legacy_hash(prev_hash, canonical)
        }
    }
}

impl AuditRecord {
    /// Seals `draft` as record `seq` after a record whose hash is `prev_hash`.
    pub fn seal(
        seq: i64,
        at: Timestamp,
        draft: AuditDraft,
        prev_hash: String,
        rules: &ChainRules,
    ) -> Self {
        let hash = rules.seal(seq, &prev_hash, &canonical(seq, at, &draft));
        Self {
            seq,
            at,
            draft,
            prev_hash,
            hash,
        }
    }

    /// The seal this record should carry given its fields.
    pub fn expected_hash(&self, rules: &ChainRules) -> String {
        rules.seal(
            self.seq,
            &self.prev_hash,
            &canonical(self.seq, self.at, &self.draft),
        )
    }

    /// Whether its seal matches its fields (compared in constant time when keyed).
    pub fn is_sealed(&self, rules: &ChainRules) -> bool {
        let canonical = canonical(self.seq, self.at, &self.draft);
        if self.seq >= rules.keyed_from {
            rules.key.check(
                &[b"record", self.prev_hash.as_bytes(), canonical.as_bytes()],
                &self.hash,
            )
        } else {
            legacy_hash(&self.prev_hash, &canonical) == self.hash
        }
    }
}

/// The canonical form sealed into the chain: a JSON array of every field in a
/// fixed order, so no two different records share one.
fn canonical(seq: i64, at: Timestamp, d: &AuditDraft) -> String {
    let fields = (
        seq,
        at.as_micros(),
        d.actor,
        &d.action,
        &d.conversation,
        &d.side,
        d.outcome.as_str(),
        &d.code,
        d.bytes,
        d.count,
        &d.detail,
    );
    // A tuple of plain values always serialises; the fallback is unreachable.
    serde_json::to_string(&fields).unwrap_or_default()
}

/// The unkeyed rule of records written before schema version 4.
fn legacy_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// The first place a chain stops being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's fields no longer match its seal: it was altered.
    #[error("record {seq} was altered (its seal does not match its contents)")]
    Altered {
        /// The altered record.
        seq: i64,
    },
    /// A record does not follow the one before it: one was inserted or removed.
    #[error("the chain breaks before record {seq}: a record was inserted or removed")]
    Broken {
        /// The first record that does not follow its predecessor.
        seq: i64,
    },
    /// Records are missing at the end, compared with the signed head.
    #[error(
        "the trail ends at record {last} but the head says {head}: records were removed from the end"
    )]
    Truncated {
        /// The last record present.
        last: i64,
        /// The last record the head remembers.
        head: i64,
    },
    /// The head's MAC does not match it: edited, or signed with another key.
    #[error("the chain head's signature does not match it")]
    Head,
}

/// Incremental verifier: feed records in `seq` order from the anchor's start,
/// then call [`ChainVerifier::finish`].
#[derive(Debug)]
pub struct ChainVerifier {
    rules: ChainRules,
    prev_hash: String,
    prev_seq: i64,
}

impl ChainVerifier {
    /// A verifier for a chain with `anchor`, sealed under `key`.
    pub fn new(key: AuditKey, anchor: &Anchor) -> Self {
        let (prev_seq, prev_hash) = anchor.start();
        Self {
            rules: ChainRules::new(key, anchor.keyed_from),
            prev_hash: prev_hash.to_owned(),
            prev_seq,
        }
    }

    /// Checks the next record.
    ///
    /// # Errors
    /// The first break found.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if !record.is_sealed(&self.rules) {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        if record.prev_hash != self.prev_hash || record.seq != self.prev_seq + 1 {
            return Err(ChainBreak::Broken { seq: record.seq });
        }
        self.prev_hash.clone_from(&record.hash);
        self.prev_seq = record.seq;
        Ok(())
    }

    /// The last record checked (or the anchor's start): `seq` and hash.
    pub fn last(&self) -> (i64, &str) {
        (self.prev_seq, &self.prev_hash)
    }

    /// Compares the end of the chain with the signed `head`.
    ///
    /// # Errors
    /// [`ChainBreak::Head`], [`ChainBreak::Truncated`] or [`ChainBreak::Broken`]
    /// when the head is forged or the tail differs from it.
    pub fn finish(self, head: &ChainHead) -> Result<i64, ChainBreak> {
        if !head.is_signed_by(&self.rules.key) {
            return Err(ChainBreak::Head);
        }
        if head.last_seq > self.prev_seq {
            return Err(ChainBreak::Truncated {
                last: self.prev_seq,
                head: head.last_seq,
            });
        }
        if head.last_seq < self.prev_seq || head.last_hash != self.prev_hash {
            return Err(ChainBreak::Broken { seq: self.prev_seq });
        }
        Ok(self.prev_seq)
    }
}

/// The key the test chains are sealed with.
#[cfg(test)]
pub(crate) fn test_key() -> AuditKey {
    AuditKey::from_bytes(&[9; 32])
}

/// A valid keyed chain of `n` records and its signed head, for tests here
/// and in the verifier's users.
#[cfg(test)]
pub(crate) fn test_chain(n: i64) -> (Vec<AuditRecord>, ChainHead) {
    let rules = ChainRules::keyed(test_key());
    let mut prev = GENESIS_HASH.to_owned();
    let records: Vec<AuditRecord> = (1..=n)
        .map(|seq| {
            let draft = AuditDraft::new("mcp", "send_to_partner")
                .on(Some("conv_0000000000000001"), Some("a"));
            let r = AuditRecord::seal(
                seq,
                Timestamp::from_micros(seq * 10),
                draft,
                prev.clone(),
                &rules,
            );
            prev.clone_from(&r.hash);
            r
        })
        .collect();
    let head = ChainHead::sign(&test_key(), n, prev, Anchor::new().to_text());
    (records, head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(records: &[AuditRecord], head: &ChainHead) -> Result<i64, ChainBreak> {
        let anchor = head.parsed_anchor().unwrap();
        let mut v = ChainVerifier::new(test_key(), &anchor);
        for r in records {
            v.push(r)?;
        }
        v.finish(head)
    }

    #[test]
    fn intact_chain_verifies() {
        let (c, head) = test_chain(5);
        assert_eq!(verify(&c, &head), Ok(5));
        let (empty, head) = test_chain(0);
        assert_eq!(verify(&empty, &head), Ok(0));
    }

    #[test]
    fn alteration_insertion_and_removal_are_caught() {
        let (c, head) = test_chain(5);

        let mut altered = c.clone();
        altered[2].draft.outcome = Outcome::Denied;
        assert_eq!(verify(&altered, &head), Err(ChainBreak::Altered { seq: 3 }));

        let mut removed = c.clone();
        removed.remove(2);
        assert_eq!(verify(&removed, &head), Err(ChainBreak::Broken { seq: 4 }));

        let mut inserted = c.clone();
        let fake = AuditRecord::seal(
            3,
            Timestamp::from_micros(1),
            AuditDraft::new("cli", "x"),
            c[1].hash.clone(),
            &ChainRules::keyed(test_key()),
        );
        inserted.insert(2, fake);
        assert!(matches!(
            verify(&inserted, &head),
            Err(ChainBreak::Broken { .. })
        ));

        assert_eq!(
            verify(&c[..4], &head),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );
        assert_eq!(
            verify(&[], &head),
            Err(ChainBreak::Truncated { last: 0, head: 5 })
        );
    }

    #[test]
    fn without_the_key_neither_records_nor_head_can_be_forged() {
        let (c, head) = test_chain(5);
        // Cut the newest record and copy its predecessor's hash into the head:
        // the old, unkeyed chain accepted exactly this.
        let copied = ChainHead {
            last_seq: 4,
            last_hash: c[3].hash.clone(),
            ..head.clone()
        };
        assert_eq!(verify(&c[..4], &copied), Err(ChainBreak::Head));
        // Re-sealed with the public SHA-256 rule instead of the key.
        let legacy = ChainRules::new(test_key(), i64::MAX);
        let mut forged = c.clone();
        forged[4].draft.outcome = Outcome::Denied;
        forged[4].hash = forged[4].expected_hash(&legacy);
        assert_eq!(verify(&forged, &head), Err(ChainBreak::Altered { seq: 5 }));
        // Signed with another key.
        let other = ChainHead::sign(
            &AuditKey::from_bytes(&[1; 32]),
            5,
            c[4].hash.clone(),
            head.anchor.clone(),
        );
        assert_eq!(verify(&c, &other), Err(ChainBreak::Head));
    }

    #[test]
    fn records_before_the_switch_over_keep_the_legacy_rule() {
        let rules = ChainRules::new(test_key(), 3);
        let mut prev = GENESIS_HASH.to_owned();
        let mut records = Vec::new();
        for seq in 1..=4 {
            let r = AuditRecord::seal(
                seq,
                Timestamp::from_micros(seq),
                AuditDraft::new("mcp", "x"),
                prev.clone(),
                &rules,
            );
            prev.clone_from(&r.hash);
            records.push(r);
        }
        assert_eq!(
            records[0].hash,
            legacy_hash(
                GENESIS_HASH,
                &canonical(1, records[0].at, &records[0].draft)
            )
        );
        let anchor = Anchor {
            keyed_from: 3,
            pruned: None,
        };
        let head = ChainHead::sign(&test_key(), 4, prev, anchor.to_text());
        let mut v = ChainVerifier::new(test_key(), &anchor);
        for r in &records {
            v.push(r).unwrap();
        }
        assert_eq!(v.finish(&head), Ok(4));
    }
}
