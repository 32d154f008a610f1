//! The audit trail in SQL: appending to the keyed chain with its signed head,
//! signing the head when the chain becomes keyed, pruning for retention, and
//! reading records back (the one decoder of `audit_log` rows, used by the
//! management queries, the chain walk and the record export).
//!
//! The head is the row with `seq` = [`HEAD_SEQ`]: `count` holds the last
//! record's `seq`, `hash` its hash, `detail` the anchor and `prev_hash` the
//! head's MAC. It sorts last, so it shares the newest records' leaf page and
//! keeping it current costs no extra page write. What the fields mean and
//! how they are checked is `crate::audit`'s business; this file only stores
//! them and applies the chain's decisions.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql_err;
use super::tx::{ReadTx, WriteTx};
use crate::audit::{
    AuditDraft, AuditKey, AuditRecord, ChainHead, ChainRules, ChainVerifier, GENESIS_HASH, Outcome,
    Tampering,
};
use crate::domain::{ConversationId, Timestamp};
use crate::store::StoreError;
use crate::store::admin::{AuditPrune, AuditQuery, AuditWalk, UnreadableRecord};
use crate::store::prune::{self, PrunePlan, Verified, refused_at};
use crate::store::spool::AuditSpool;

/// The `seq` of the chain-head row of `audit_log` (not a record).
pub const HEAD_SEQ: i64 = i64::MAX;

/// The actor of records the bridge writes about its own trail.
pub const BRIDGE_ACTOR: &str = "bridge";

/// The action of a record saying the head was found missing or forged.
pub const CHAIN_ACTION: &str = "audit_chain";

/// Reads the chain head, if there is one.
pub fn read_head(conn: &Connection) -> Result<Option<ChainHead>, StoreError> {
    conn.prepare_cached(
        "SELECT count, hash, prev_hash, coalesce(detail, '') FROM audit_log WHERE seq = 9223372036854775807",
    )
    .and_then(|mut s| {
        s.query_row([], |r| {
            Ok(ChainHead {
                last_seq: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                last_hash: r.get(1)?,
                mac: r.get(2)?,
                anchor: r.get(3)?,
            })
        })
        .optional()
    })
    .map_err(sql_err)
}

/// Reads the chain head with the `seq` of the last record present, in one
/// statement: an appender must not take a `seq` a record inserted past the
/// head already holds. The second lookup lands on the head's own leaf page.
fn read_end(conn: &Connection) -> Result<(Option<ChainHead>, Option<i64>), StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT count, hash, prev_hash, coalesce(detail, ''),
                    (SELECT seq FROM audit_log WHERE seq < 9223372036854775807 ORDER BY seq DESC LIMIT 1)
             FROM audit_log WHERE seq = 9223372036854775807",
        )
        .and_then(|mut s| {
            s.query_row([], |r| {
                let head = ChainHead {
                    last_seq: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                    last_hash: r.get(1)?,
                    mac: r.get(2)?,
                    anchor: r.get(3)?,
                };
                Ok((head, r.get::<_, Option<i64>>(4)?))
            })
            .optional()
        })
        .map_err(sql_err)?;
    Ok(match found {
        Some((head, last)) => (Some(head), last),
        None => (None, None),
    })
}

fn write_head(tx: &Connection, head: &ChainHead) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, outcome, count, hash, prev_hash, detail)
         VALUES (9223372036854775807, 0, 'head', 'head', 'ok', ?1, ?2, ?3, ?4)
         ON CONFLICT (seq) DO UPDATE SET count = ?1, hash = ?2, prev_hash = ?3, detail = ?4",
    )
    .and_then(|mut s| {
        s.execute(params![
            head.last_seq,
            head.last_hash,
            head.mac,
            head.anchor
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// Signs the head a migration left unsigned (schema version 4 makes the
/// chain keyed): the trail as it stands at the upgrade is trusted, the way a
/// re-anchoring does, and every record from here on is keyed.
pub fn sign_migrated_head(tx: &Connection, key: &AuditKey) -> Result<(), StoreError> {
    let head = read_head(tx)?
        .ok_or_else(|| StoreError::Corrupt("the audit migration left no chain head".to_owned()))?;
    let signed = ChainHead::sign(key, head.last_seq, head.last_hash, head.anchor);
    write_head(tx, &signed)
}

/// The last record present (ignoring the head): `seq` and hash.
fn last_record(tx: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    tx.prepare_cached(
        "SELECT seq, hash FROM audit_log WHERE seq < 9223372036854775807 ORDER BY seq DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
    .map_err(sql_err)
}

fn insert(tx: &Connection, record: &AuditRecord) -> Result<(), StoreError> {
    let d = &record.draft;
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            record.seq,
            record.at.as_micros(),
            d.actor,
            d.action,
            d.conversation,
            d.side,
            d.outcome.as_str(),
            d.code,
            d.bytes,
            d.count,
            d.detail,
            record.prev_hash,
            record.hash
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// Appends one record to the chain and signs the new head.
pub fn append(tx: &WriteTx<'_>, at: Timestamp, draft: &AuditDraft) -> Result<(), StoreError> {
    append_all(tx, [(at, draft)])
}

/// Appends `records` to the chain in order and signs the new head once: no
/// one reads the heads in between, and each costs a MAC and an `UPSERT`.
///
/// A head that is missing, whose MAC fails (tampered with, or written under
/// another key), or after which records were inserted is [`Tampering`]: the
/// chain goes on from the last record present, after a record that says
/// what was found, so `audit --verify` reports it for as long as the trail
/// exists.
pub fn append_all<'a>(
    tx: &WriteTx<'_>,
    records: impl IntoIterator<Item = (Timestamp, &'a AuditDraft)>,
) -> Result<(), StoreError> {
    let mut records = records.into_iter().peekable();
    let Some(&(first_at, _)) = records.peek() else {
        return Ok(());
    };
    let key = tx.audit_key();
    let (found, last_present) = read_end(tx)?;
    let signed = |h: &ChainHead| tx.head_is_trusted(h) || h.is_signed_by(key);
    let head = match (
        Tampering::judge(found.as_ref(), signed, last_present),
        found,
    ) {
        (None, Some(head)) => head,
        // `judge` finds no tampering only in a head that exists.
        (tampering, found) => {
            let tampering = tampering.unwrap_or(Tampering::HeadMissing);
            resume_after_tampering(tx, key, first_at, found, tampering)?
        }
    };
    let rules = ChainRules::keyed(key.clone());
    let (mut seq, mut hash) = (head.last_seq, head.last_hash.clone());
    for (at, draft) in records {
        let record = AuditRecord::seal(seq + 1, at, draft.clone(), hash, &rules);
        insert(tx, &record)?;
        (seq, hash) = (record.seq, record.hash);
    }
    let next = head.advance(key, seq, hash);
    write_head(tx, &next)?;
    tx.signed(next);
    Ok(())
}

/// Appends the records waiting in `spool` (see [`AuditSpool::append_all`])
/// and returns how many.
pub fn append_spooled(tx: &WriteTx<'_>, spool: &AuditSpool) -> Result<usize, StoreError> {
    spool.append_all(|records| append_all(tx, records.iter().map(|(at, d)| (*at, d))))
}

/// Records the [`Tampering`] found at the end of the trail and returns the
/// head to go on from.
fn resume_after_tampering(
    tx: &Connection,
    key: &AuditKey,
    at: Timestamp,
    found: Option<ChainHead>,
    tampering: Tampering,
) -> Result<ChainHead, StoreError> {
    let (last_seq, last_hash) = last_record(tx)?.unwrap_or((0, GENESIS_HASH.to_owned()));
    let code = tampering.code();
    tracing::error!(
        code,
        last_record = last_seq,
        "the audit trail's chain head was tampered with, or records were inserted after it; recording it in the trail (run `mcp-bridge audit --verify`)"
    );
    // A forged head's anchor is not to be trusted, but the record below is
    // reported whatever the anchor says; keep its switch-over no later than here.
    let mut anchor = found
        .as_ref()
        .and_then(|h| h.parsed_anchor().ok())
        .unwrap_or_default();
    anchor.keyed_from = anchor.keyed_from.min(last_seq + 1);
    let resumed = ChainHead::sign(key, last_seq, last_hash, anchor.to_text());
    let mut draft = AuditDraft::new(BRIDGE_ACTOR, CHAIN_ACTION).failed(Outcome::Error, code);
    draft.count = found.map(|h| h.last_seq);
    let rules = ChainRules::keyed(key.clone());
    let record = AuditRecord::seal(last_seq + 1, at, draft, resumed.last_hash.clone(), &rules);
    insert(tx, &record)?;
    let head = resumed.advance(key, record.seq, record.hash);
    write_head(tx, &head)?;
    Ok(head)
}

/// Removes the records older than `cutoff` (all of them with `dry_run`
/// false), after checking that what goes was intact, and records a signed
/// checkpoint in the head so the remainder still verifies.
pub fn prune(tx: &WriteTx<'_>, cutoff: Timestamp, dry_run: bool) -> Result<AuditPrune, StoreError> {
    let key = tx.audit_key();
    let Some(head) = read_head(tx)?.filter(|h| h.is_signed_by(key)) else {
        return Ok(AuditPrune::Refused(
            "the audit chain head is missing or does not match its signature; run `mcp-bridge audit --verify`".to_owned(),
        ));
    };
    let Ok(anchor) = head.parsed_anchor() else {
        return Ok(AuditPrune::Refused(
            "the audit chain anchor is unreadable".to_owned(),
        ));
    };
    let (start_seq, _) = anchor.start();
    // The first record to keep: the oldest at or after the cutoff.
    let keep_from: i64 = tx
        .prepare_cached(
            "SELECT seq FROM audit_log WHERE seq > ?1 AND seq < 9223372036854775807 AND at >= ?2 ORDER BY seq LIMIT 1",
        )
        .and_then(|mut s| s.query_row(params![start_seq, cutoff.as_micros()], |r| r.get(0)).optional())
        .map_err(sql_err)?
        .unwrap_or(head.last_seq + 1);
    if keep_from <= start_seq + 1 {
        return Ok(AuditPrune::Nothing);
    }
    // Check what is about to go, so pruning never destroys evidence of tampering.
    let mut verifier = ChainVerifier::new(key.clone(), &anchor);
    let mut through_us = 0;
    let sql =
        format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 AND seq < ?2 ORDER BY seq");
    let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
    let mut rows = stmt.query(params![start_seq, keep_from]).map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let record = match decode_audit(row)? {
            Ok(r) => r,
            Err(bad) => return Ok(refused_at(bad.seq)),
        };
        if verifier.push(&record).is_err() {
            return Ok(refused_at(record.seq));
        }
        through_us = through_us.max(record.at.as_micros());
    }
    drop(rows);
    let (last_pruned, prev_hash) = verifier.last();
    let prev_hash = prev_hash.to_owned();
    let follows: Option<String> = tx
        .prepare_cached("SELECT prev_hash FROM audit_log WHERE seq = ?1")
        .and_then(|mut s| s.query_row([keep_from], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    let verified = Verified {
        head: &head,
        anchor: &anchor,
        start_seq,
        keep_from,
        last_pruned,
        prev_hash,
        follows,
        through_us,
    };
    let (new_anchor, answer) = match prune::plan(verified, dry_run) {
        PrunePlan::Answer(answer) => return Ok(answer),
        PrunePlan::Apply { anchor, answer } => (anchor, answer),
    };
    tx.prepare_cached("DELETE FROM audit_log WHERE seq < ?1")
        .and_then(|mut s| s.execute([keep_from]))
        .map_err(sql_err)?;
    let head = ChainHead::sign(key, head.last_seq, head.last_hash, new_anchor.to_text());
    write_head(tx, &head)?;
    Ok(answer)
}

/// Decodes an audit row (`seq, at, actor, action, conversation_id, side,
/// outcome, code, bytes, count, detail, prev_hash, hash`).
pub fn decode_audit(
    row: &rusqlite::Row<'_>,
) -> Result<Result<AuditRecord, UnreadableRecord>, StoreError> {
    let seq: i64 = row.get(0).map_err(sql_err)?;
    let outcome: String = row.get(6).map_err(sql_err)?;
    let Some(outcome) = Outcome::parse(&outcome) else {
        return Ok(Err(UnreadableRecord {
            seq,
            reason: format!("unknown outcome {outcome:?}"),
        }));
    };
    let actor: String = row.get(2).map_err(sql_err)?;
    let draft = AuditDraft {
        // The canonical form hashes the actor, so an unknown one (a hand-edited
        // row) fails the chain check as it should.
        actor: match actor.as_str() {
            "mcp" => "mcp",
            "cli" => "cli",
            "console" => "console",
            BRIDGE_ACTOR => BRIDGE_ACTOR,
            _ => "unknown",
        },
        action: row.get(3).map_err(sql_err)?,
        conversation: row.get(4).map_err(sql_err)?,
        side: row.get(5).map_err(sql_err)?,
        outcome,
        code: row.get(7).map_err(sql_err)?,
        bytes: row.get(8).map_err(sql_err)?,
        count: row.get(9).map_err(sql_err)?,
        detail: row.get(10).map_err(sql_err)?,
    };
    Ok(Ok(AuditRecord {
        seq,
        at: Timestamp::from_micros(row.get(1).map_err(sql_err)?),
        draft,
        prev_hash: row.get(11).map_err(sql_err)?,
        hash: row.get(12).map_err(sql_err)?,
    }))
}

pub const AUDIT_COLUMNS: &str = "seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash";

pub fn audit_query(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log
         WHERE seq < ?1 AND (?2 IS NULL OR conversation_id = ?2) AND (?3 IS NULL OR at >= ?3)
           AND (?4 IS NULL OR action = ?4)
         ORDER BY seq DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = stmt
        .query(params![
            HEAD_SEQ,
            query.conversation.as_ref().map(ConversationId::as_str),
            query.since.map(Timestamp::as_micros),
            query.action,
            query.limit
        ])
        .map_err(sql_err)?;
    let mut out = collect(&mut rows)?;
    out.reverse();
    Ok(out)
}

/// Decodes every row; an unreadable record is an error here (only the chain
/// walk reports it as a finding).
fn collect(rows: &mut rusqlite::Rows<'_>) -> Result<Vec<AuditRecord>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        match decode_audit(row)? {
            Ok(record) => out.push(record),
            Err(bad) => {
                return Err(StoreError::Corrupt(format!(
                    "audit record {} is unreadable: {}",
                    bad.seq, bad.reason
                )));
            }
        }
    }
    Ok(out)
}

/// Hands the walker the stored head, then every record in order, all inside
/// one read snapshot.
pub fn walk_chain<W: AuditWalk>(conn: &Connection, mut walker: W) -> Result<W::Output, StoreError> {
    let tx = ReadTx::begin(conn)?;
    if !walker.begin(read_head(&tx)?) {
        return Ok(walker.finish());
    }
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq < ?1 ORDER BY seq");
    let mut stmt = tx.prepare(&sql).map_err(sql_err)?;
    let mut rows = stmt.query([HEAD_SEQ]).map_err(sql_err)?;
    while let Some(row) = rows.next().map_err(sql_err)? {
        if !walker.visit(decode_audit(row)?) {
            break;
        }
    }
    Ok(walker.finish())
}

/// Records after `after_seq`, oldest first, at most `limit`.
pub fn records_after(
    conn: &Connection,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 AND seq < ?2 ORDER BY seq LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut rows = stmt
        .query(params![after_seq, HEAD_SEQ, limit])
        .map_err(sql_err)?;
    collect(&mut rows)
}
