//! The audit trail in PostgreSQL: the same keyed chain and signed head row as
//! SQLite's (`store::sqlite::audit` explains the fields), appended under a
//! row lock on the head so writers on every host extend one chain. Writes
//! do not append here themselves: they stage their records, and `linker`
//! appends them (the module doc there says why).

use tokio_postgres::{Row, Statement};

use super::db::{Db, get};
use crate::audit::{
    AuditDraft, AuditKey, AuditRecord, ChainHead, ChainRules, ChainVerifier, GENESIS_HASH, Outcome,
    Tampering,
};
use crate::domain::Timestamp;
use crate::store::StoreError;
use crate::store::admin::{AuditPrune, AuditQuery, AuditWalk, UnreadableRecord};
use crate::store::prune::{self, PrunePlan, Verified, refused_at};

/// The `seq` of the chain-head row (not a record).
pub const HEAD_SEQ: i64 = i64::MAX;
const BRIDGE_ACTOR: &str = "bridge";
const CHAIN_ACTION: &str = "audit_chain";

pub const AUDIT_COLUMNS: &str = "seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash";

/// Appenders queue for the chain head on this transaction-scoped advisory
/// lock before they lock its row: a row lock that many wait for costs
/// PostgreSQL far more (each waiter follows the row's update chain when it
/// gets its turn) than a plain lock queue. The row lock stays, so code that
/// takes only it remains correct. Since writes stage their records, the
/// appenders are linkers (one at a time), a process exiting with spooled
/// records, and servers of older builds during a rolling upgrade.
const HEAD_QUEUE: &str = "SELECT pg_advisory_xact_lock(hashtext('mcp_bridge.audit_head'))";

async fn read_head(db: Db<'_>, lock: bool) -> Result<Option<ChainHead>, StoreError> {
    Ok(read_end(db, lock).await?.map(|(head, _)| head))
}

/// The chain head, with the `seq` of the last record present (read in the
/// same statement, under the lock when `lock`): an appender must not take a
/// `seq` that a record inserted past the head already holds. A failed
/// insert would abort the whole transaction, the records it links with it.
async fn read_end(db: Db<'_>, lock: bool) -> Result<Option<(ChainHead, Option<i64>)>, StoreError> {
    let sql = if lock {
        "SELECT count, hash, prev_hash, coalesce(detail, ''),
                (SELECT seq FROM audit_log WHERE seq < 9223372036854775807 ORDER BY seq DESC LIMIT 1)
         FROM audit_log WHERE seq = 9223372036854775807 FOR UPDATE"
    } else {
        "SELECT count, hash, prev_hash, coalesce(detail, ''), NULL::bigint FROM audit_log WHERE seq = 9223372036854775807"
    };
    let rows = if lock {
        // Prepared first, so both go out in order in one flight.
        let (queue, read) = (db.prepare(HEAD_QUEUE).await?, db.prepare(sql).await?);
        let (queued, rows) = tokio::join!(
            db.query_prepared(&queue, &[]),
            db.query_prepared(&read, &[])
        );
        queued?;
        rows?
    } else {
        db.query(sql, &[]).await?
    };
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let head = ChainHead {
        last_seq: get::<Option<i64>>(r, 0)?.unwrap_or(0),
        last_hash: get(r, 1)?,
        mac: get(r, 2)?,
        anchor: get(r, 3)?,
    };
    Ok(Some((head, get(r, 4)?)))
}

async fn write_head(db: Db<'_>, head: &ChainHead) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO audit_log (seq, at, actor, action, outcome, count, hash, prev_hash, detail)
         VALUES (9223372036854775807, 0, 'head', 'head', 'ok', $1, $2, $3, $4)
         ON CONFLICT (seq) DO UPDATE SET count = $1, hash = $2, prev_hash = $3, detail = $4",
        &[&head.last_seq, &head.last_hash, &head.mac, &head.anchor],
    )
    .await?;
    Ok(())
}

async fn insert(db: Db<'_>, record: &AuditRecord) -> Result<(), StoreError> {
    let d = &record.draft;
    db.exec(
        "INSERT INTO audit_log (seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &record.seq,
            &record.at.as_micros(),
            &d.actor,
            &d.action,
            &d.conversation,
            &d.side,
            &d.outcome.as_str(),
            &d.code,
            &d.bytes,
            &d.count,
            &d.detail,
            &record.prev_hash,
            &record.hash,
        ],
    )
    .await?;
    Ok(())
}

/// Appends `records` to the chain in order and signs the new head once.
pub async fn append_all(
    db: Db<'_>,
    key: &AuditKey,
    records: &[(Timestamp, AuditDraft)],
) -> Result<(), StoreError> {
    match seal_all(db, key, records).await? {
        Some(sealed) => sealed.write(db).await,
        None => Ok(()),
    }
}

/// Records sealed under the locked chain head, and the statement that
/// writes them: what is left to send before the commit.
struct Sealed {
    records: Vec<AuditRecord>,
    head: ChainHead,
    statement: Statement,
}

/// Locks the chain head, seals `records` after it and prepares the
/// statement that stores them; `None` when there is nothing to append.
/// A missing or forged head, or records inserted after it, are handled as in
/// SQLite ([`Tampering`]): recorded in the trail, and the chain goes on from
/// the last record present.
async fn seal_all(
    db: Db<'_>,
    key: &AuditKey,
    records: &[(Timestamp, AuditDraft)],
) -> Result<Option<Sealed>, StoreError> {
    let Some((first_at, _)) = records.first() else {
        return Ok(None);
    };
    let (found, last_present) = read_end(db, true).await?.unzip();
    let signed = |h: &ChainHead| h.is_signed_by(key);
    let mut head = match (
        Tampering::judge(found.as_ref(), signed, last_present.flatten()),
        found,
    ) {
        (None, Some(head)) => head,
        // `judge` finds no tampering only in a head that exists.
        (tampering, found) => {
            let tampering = tampering.unwrap_or(Tampering::HeadMissing);
            resume_after_tampering(db, key, *first_at, found, tampering).await?
        }
    };
    let rules = ChainRules::keyed(key.clone());
    let mut sealed = Vec::with_capacity(records.len());
    for (at, draft) in records {
        let record = AuditRecord::seal(
            head.last_seq + 1,
            *at,
            draft.clone(),
            head.last_hash.clone(),
            &rules,
        );
        head = head.advance(key, record.seq, record.hash.clone());
        sealed.push(record);
    }
    // Every record and the new head in one statement, so that the head's
    // lock is released one round trip after it was taken, whatever the count.
    let statement = db
        .prepare(
            "WITH r AS (
                 INSERT INTO audit_log (seq, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail, prev_hash, hash)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
             )
             UPDATE audit_log SET count = $14, hash = $15, prev_hash = $16, detail = $17
             WHERE seq = 9223372036854775807",
        )
        .await?;
    Ok(Some(Sealed {
        records: sealed,
        head,
        statement,
    }))
}

impl Sealed {
    /// Stores the records and moves the head.
    async fn write(&self, db: Db<'_>) -> Result<(), StoreError> {
        let column = |f: fn(&AuditRecord) -> Option<String>| -> Vec<Option<String>> {
            self.records.iter().map(f).collect()
        };
        let number = |f: fn(&AuditRecord) -> Option<i64>| -> Vec<Option<i64>> {
            self.records.iter().map(f).collect()
        };
        let (seq, at) = (number(|r| Some(r.seq)), number(|r| Some(r.at.as_micros())));
        let actor = column(|r| Some(r.draft.actor.to_owned()));
        let action = column(|r| Some(r.draft.action.clone()));
        let conversation = column(|r| r.draft.conversation.clone());
        let side = column(|r| r.draft.side.clone());
        let outcome = column(|r| Some(r.draft.outcome.as_str().to_owned()));
        let code = column(|r| r.draft.code.clone());
        let (bytes, count) = (number(|r| r.draft.bytes), number(|r| r.draft.count));
        let detail = column(|r| r.draft.detail.clone());
        let prev_hash = column(|r| Some(r.prev_hash.clone()));
        let hash = column(|r| Some(r.hash.clone()));
        let head = &self.head;
        db.exec_prepared(
            &self.statement,
            &[
                &seq,
                &at,
                &actor,
                &action,
                &conversation,
                &side,
                &outcome,
                &code,
                &bytes,
                &count,
                &detail,
                &prev_hash,
                &hash,
                &head.last_seq,
                &head.last_hash,
                &head.mac,
                &head.anchor,
            ],
        )
        .await?;
        Ok(())
    }
}

async fn resume_after_tampering(
    db: Db<'_>,
    key: &AuditKey,
    at: Timestamp,
    found: Option<ChainHead>,
    tampering: Tampering,
) -> Result<ChainHead, StoreError> {
    let last = db
        .opt(
            "SELECT seq, hash FROM audit_log WHERE seq < 9223372036854775807 ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let (last_seq, last_hash) = match last {
        Some(r) => (get::<i64>(&r, 0)?, get::<String>(&r, 1)?),
        None => (0, GENESIS_HASH.to_owned()),
    };
    let code = tampering.code();
    tracing::error!(
        code,
        last_record = last_seq,
        "the audit trail's chain head was tampered with, or records were inserted after it; recording it in the trail (run `mcp-bridge audit --verify`)"
    );
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
    insert(db, &record).await?;
    let head = resumed.advance(key, record.seq, record.hash);
    write_head(db, &head).await?;
    Ok(head)
}

/// The actor names this build writes, as the `'static` names drafts hold.
fn static_actor(actor: &str) -> &'static str {
    match actor {
        "mcp" => "mcp",
        "cli" => "cli",
        "console" => "console",
        BRIDGE_ACTOR => BRIDGE_ACTOR,
        _ => "unknown",
    }
}

/// The draft in columns 2 to 10 of a row laid out as [`AUDIT_COLUMNS`]
/// (the staged records' table shares that layout), with `outcome` already
/// read from column 6 by the caller, who decides what an unknown one means.
pub fn decode_draft(row: &Row, outcome: Outcome) -> Result<AuditDraft, StoreError> {
    let actor: String = get(row, 2)?;
    Ok(AuditDraft {
        actor: static_actor(&actor),
        action: get(row, 3)?,
        conversation: get(row, 4)?,
        side: get(row, 5)?,
        outcome,
        code: get(row, 7)?,
        bytes: get(row, 8)?,
        count: get(row, 9)?,
        detail: get(row, 10)?,
    })
}

/// Decodes a row of [`AUDIT_COLUMNS`].
pub fn decode_audit(row: &Row) -> Result<Result<AuditRecord, UnreadableRecord>, StoreError> {
    let seq: i64 = get(row, 0)?;
    let outcome: String = get(row, 6)?;
    let Some(outcome) = Outcome::parse(&outcome) else {
        return Ok(Err(UnreadableRecord {
            seq,
            reason: format!("unknown outcome {outcome:?}"),
        }));
    };
    Ok(Ok(AuditRecord {
        seq,
        at: Timestamp::from_micros(get(row, 1)?),
        draft: decode_draft(row, outcome)?,
        prev_hash: get(row, 11)?,
        hash: get(row, 12)?,
    }))
}

fn collect(rows: &[Row]) -> Result<Vec<AuditRecord>, StoreError> {
    rows.iter()
        .map(|row| {
            decode_audit(row)?.map_err(|bad| {
                StoreError::Corrupt(format!(
                    "audit record {} is unreadable: {}",
                    bad.seq, bad.reason
                ))
            })
        })
        .collect()
}

/// Records matching `query`, oldest first (the newest `limit`).
pub async fn audit_query(db: Db<'_>, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log
         WHERE seq < $1 AND ($2::text IS NULL OR conversation_id = $2) AND ($3::bigint IS NULL OR at >= $3)
           AND ($4::text IS NULL OR action = $4)
         ORDER BY seq DESC LIMIT $5"
    );
    let rows = db
        .query(
            &sql,
            &[
                &HEAD_SEQ,
                &query.conversation.as_ref().map(|c| c.as_str()),
                &query.since.map(Timestamp::as_micros),
                &query.action,
                &i64::from(query.limit),
            ],
        )
        .await?;
    let mut out = collect(&rows)?;
    out.reverse();
    Ok(out)
}

/// Records after `after_seq`, oldest first, at most `limit`.
pub async fn records_after(
    db: Db<'_>,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3"
    );
    let rows = db
        .query(&sql, &[&after_seq, &HEAD_SEQ, &i64::from(limit)])
        .await?;
    collect(&rows)
}

/// Page size of the chain walk.
const WALK_PAGE: i64 = 2_000;

/// Hands the walker the head, then every record in order; `db` must be a
/// repeatable-read transaction, so the walk sees one snapshot.
pub async fn walk_chain<W: AuditWalk>(db: Db<'_>, mut walker: W) -> Result<W::Output, StoreError> {
    if !walker.begin(read_head(db, false).await?) {
        return Ok(walker.finish());
    }
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3"
    );
    let mut after = i64::MIN;
    loop {
        let rows = db.query(&sql, &[&after, &HEAD_SEQ, &WALK_PAGE]).await?;
        let full = rows.len() as i64 == WALK_PAGE;
        for row in &rows {
            after = get(row, 0)?;
            if !walker.visit(decode_audit(row)?) {
                return Ok(walker.finish());
            }
        }
        if !full {
            return Ok(walker.finish());
        }
    }
}

/// Removes the records older than `cutoff` after checking them, and signs a
/// checkpoint into the head (see SQLite's `prune`, which this mirrors).
pub async fn prune(
    db: Db<'_>,
    key: &AuditKey,
    cutoff: Timestamp,
    dry_run: bool,
) -> Result<AuditPrune, StoreError> {
    let Some(head) = read_head(db, true).await?.filter(|h| h.is_signed_by(key)) else {
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
    let keep_from: i64 = match db
        .opt(
            "SELECT seq FROM audit_log WHERE seq > $1 AND seq < 9223372036854775807 AND at >= $2 ORDER BY seq LIMIT 1",
            &[&start_seq, &cutoff.as_micros()],
        )
        .await?
    {
        Some(r) => get(&r, 0)?,
        None => head.last_seq + 1,
    };
    if keep_from <= start_seq + 1 {
        return Ok(AuditPrune::Nothing);
    }
    let mut verifier = ChainVerifier::new(key.clone(), &anchor);
    let mut through_us = 0;
    let sql =
        format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND seq < $2 ORDER BY seq");
    for row in db.query(&sql, &[&start_seq, &keep_from]).await? {
        let record = match decode_audit(&row)? {
            Ok(r) => r,
            Err(bad) => return Ok(refused_at(bad.seq)),
        };
        if verifier.push(&record).is_err() {
            return Ok(refused_at(record.seq));
        }
        through_us = through_us.max(record.at.as_micros());
    }
    let (last_pruned, prev_hash) = verifier.last();
    let prev_hash = prev_hash.to_owned();
    let follows: Option<String> = match db
        .opt(
            "SELECT prev_hash FROM audit_log WHERE seq = $1",
            &[&keep_from],
        )
        .await?
    {
        Some(r) => Some(get(&r, 0)?),
        None => None,
    };
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
    db.exec("DELETE FROM audit_log WHERE seq < $1", &[&keep_from])
        .await?;
    let head = ChainHead::sign(key, head.last_seq, head.last_hash, new_anchor.to_text());
    write_head(db, &head).await?;
    Ok(answer)
}
