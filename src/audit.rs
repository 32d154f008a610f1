//! The audit trail's records and their hash chain. Pure: no I/O.
//!
//! Every record holds the SHA-256 of the record before it and of its own
//! canonical form, so changing, inserting or removing any record breaks the
//! chain at that point. Records carry who did what to which conversation and
//! how it ended, plus sizes and counts — never message text, notes or tokens.
//! The store appends records inside the same transaction as the action they
//! describe, which also serialises the chain across processes.

use sha2::{Digest, Sha256};

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
    /// Who acted: `mcp` (a tool call) or `cli` (a management command).
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
    /// SHA-256 over `prev_hash` and this record's canonical form.
    pub hash: String,
}

impl AuditRecord {
    /// Seals `draft` as record `seq` after a record whose hash is `prev_hash`.
    pub fn seal(seq: i64, at: Timestamp, draft: AuditDraft, prev_hash: String) -> Self {
        let hash = chain_hash(&prev_hash, &canonical(seq, at, &draft));
        Self {
            seq,
            at,
            draft,
            prev_hash,
            hash,
        }
    }

    /// The hash this record should have given its fields.
    pub fn expected_hash(&self) -> String {
        chain_hash(&self.prev_hash, &canonical(self.seq, self.at, &self.draft))
    }
}

/// The canonical form hashed into the chain: a JSON array of every field in a
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

fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// The first place a chain stops being intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's fields no longer match its hash: it was altered.
    #[error("record {seq} was altered (its hash does not match its contents)")]
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
    /// Records are missing at the end, compared with the stored head.
    #[error(
        "the trail ends at record {last} but the head says {head}: records were removed from the end"
    )]
    Truncated {
        /// The last record present.
        last: i64,
        /// The last record the head remembers.
        head: i64,
    },
}

/// Incremental verifier: feed records in `seq` order, then call [`ChainVerifier::finish`].
#[derive(Debug)]
pub struct ChainVerifier {
    prev_hash: String,
    prev_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev_hash: GENESIS_HASH.to_owned(),
            prev_seq: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next record.
    ///
    /// # Errors
    /// The first break found.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if record.expected_hash() != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        if record.prev_hash != self.prev_hash || record.seq != self.prev_seq + 1 {
            return Err(ChainBreak::Broken { seq: record.seq });
        }
        self.prev_hash.clone_from(&record.hash);
        self.prev_seq = record.seq;
        Ok(())
    }

    /// Compares the end of the chain with the stored head (`seq`, `hash`).
    ///
    /// # Errors
    /// [`ChainBreak::Truncated`] or [`ChainBreak::Broken`] when the tail differs.
    pub fn finish(self, head: Option<(i64, &str)>) -> Result<i64, ChainBreak> {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH));
        if head_seq > self.prev_seq {
            return Err(ChainBreak::Truncated {
                last: self.prev_seq,
                head: head_seq,
            });
        }
        if head_seq < self.prev_seq || head_hash != self.prev_hash {
            return Err(ChainBreak::Broken { seq: self.prev_seq });
        }
        Ok(self.prev_seq)
    }
}

/// A valid chain of `n` records, for tests here and in the verifier's users.
#[cfg(test)]
pub(crate) fn test_chain(n: i64) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let draft = AuditDraft::new("mcp", "send_to_partner")
                .on(Some("conv_0000000000000001"), Some("a"));
            let r = AuditRecord::seal(seq, Timestamp::from_micros(seq * 10), draft, prev.clone());
            prev.clone_from(&r.hash);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use test_chain as chain;

    fn verify(records: &[AuditRecord], head: Option<(i64, &str)>) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in records {
            v.push(r)?;
        }
        v.finish(head)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, Some((5, &c[4].hash))), Ok(5));
        assert_eq!(verify(&[], None), Ok(0));
    }

    #[test]
    fn alteration_insertion_and_removal_are_caught() {
        let c = chain(5);
        let head = Some((5, c[4].hash.as_str()));

        let mut altered = c.clone();
        altered[2].draft.outcome = Outcome::Denied;
        assert_eq!(verify(&altered, head), Err(ChainBreak::Altered { seq: 3 }));

        let mut removed = c.clone();
        removed.remove(2);
        assert_eq!(verify(&removed, head), Err(ChainBreak::Broken { seq: 4 }));

        let mut inserted = c.clone();
        let fake = AuditRecord::seal(
            3,
            Timestamp::from_micros(1),
            AuditDraft::new("cli", "x"),
            c[1].hash.clone(),
        );
        inserted.insert(2, fake);
        assert!(matches!(
            verify(&inserted, head),
            Err(ChainBreak::Broken { .. })
        ));

        assert_eq!(
            verify(&c[..4], head),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );
    }
}
