//! Encryption at rest on PostgreSQL: the `data_keys` table, opening sealed
//! values as rows are decoded, and the SQL side of `key rotate`. The
//! cryptography is in `store::sealed`; the rules match the SQLite backend's
//! (`store::sqlite::keys`).
//!
//! Several servers write at once here, so two races SQLite's single writer
//! rules out are closed with locks: a writer holds `data_keys` in ROW SHARE
//! mode from the moment it reads the current epoch until it commits, and
//! retiring first takes the table in EXCLUSIVE mode (a barrier: every writer
//! that could still seal under an old epoch has committed when it is
//! granted); re-sealing locks the rows it rewrites, so a note updated
//! meanwhile is not overwritten with its older text.

use std::sync::atomic::{AtomicBool, Ordering};

use super::db::{Db, Write, get, pg_err};
use super::{PgStore, in_tx};
use crate::audit::{AuditDraft, AuditKey};
use crate::domain::Timestamp;
use crate::store::data_keys::{
    DataKeyStore, KeyCensus, ResealCursor, Resealed, Retired, legacy_mark, legacy_marked,
};
use crate::store::sealed::{Column, EMPTY_LIST, Epoch, PREFIX, Sealer, Slot, note_row};
use crate::store::{AuditFor, StoreError};

/// Every epoch the database holds, oldest first.
pub async fn stored_epochs(db: Db<'_>) -> Result<Vec<Epoch>, StoreError> {
    db.query("SELECT epoch, salt FROM data_keys ORDER BY epoch", &[])
        .await?
        .iter()
        .map(|r| {
            Ok(Epoch {
                number: get(r, 0)?,
                salt: get(r, 1)?,
            })
        })
        .collect()
}

/// Holds `data_keys` in ROW SHARE mode until the transaction ends.
const LOCK_KEYS: &str = "LOCK TABLE data_keys IN ROW SHARE MODE";
/// The current (largest) epoch.
const CURRENT: &str = "SELECT epoch, salt FROM data_keys ORDER BY epoch DESC LIMIT 1";
/// [`CURRENT`] and the next message id (drawn once: the sub-select has one row).
const CURRENT_AND_NEXT_ID: &str = "SELECT k.epoch, k.salt, nextval('message_ids')
     FROM (SELECT epoch, salt FROM data_keys ORDER BY epoch DESC LIMIT 1) k";

/// The current (largest) epoch, learnt by `sealer`; holds `data_keys` in
/// ROW SHARE mode until the transaction ends (see the module's notes). One
/// round trip.
pub async fn current_epoch(db: Db<'_>, sealer: &Sealer) -> Result<i64, StoreError> {
    Ok(epoch_query(db, sealer, CURRENT).await?.0)
}

/// [`current_epoch`] and the next message id, in the same round trip (a
/// send needs both before it can seal its texts).
pub async fn current_epoch_and_next_id(
    db: Db<'_>,
    sealer: &Sealer,
) -> Result<(i64, i64), StoreError> {
    let (epoch, id) = epoch_query(db, sealer, CURRENT_AND_NEXT_ID).await?;
    let id = id.ok_or_else(|| StoreError::Corrupt("no message id was drawn".into()))?;
    Ok((epoch, id))
}

/// Prepares what [`current_epoch_and_next_id`] sends, so that it sends its
/// statements when first polled (a send's first flight fixes the order of
/// its statements on the wire).
pub async fn prepare_epoch_and_next_id(db: Db<'_>) -> Result<(), StoreError> {
    db.prepare(LOCK_KEYS).await?;
    db.prepare(CURRENT_AND_NEXT_ID).await.map(drop)
}

/// The lock and `read` ([`CURRENT`] or [`CURRENT_AND_NEXT_ID`]): statements
/// prepared once per connection (not parsed on every call, as a simple
/// query's are), sent in one flight.
async fn epoch_query(
    db: Db<'_>,
    sealer: &Sealer,
    read: &str,
) -> Result<(i64, Option<i64>), StoreError> {
    let (lock, read) = (db.prepare(LOCK_KEYS).await?, db.prepare(read).await?);
    let (locked, rows) = tokio::join!(
        biased;
        db.exec_prepared(&lock, &[]),
        db.query_prepared(&read, &[]),
    );
    locked?;
    let row = rows?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("the database holds no data key".into()))?;
    let number: i64 = get(&row, 0)?;
    sealer.learn(&Epoch {
        number,
        salt: get(&row, 1)?,
    });
    let next = if row.len() > 2 {
        Some(get(&row, 2)?)
    } else {
        None
    };
    Ok((number, next))
}

/// What row decoders open sealed values with. Decoding is synchronous, so
/// a value under an epoch this process has not learnt (another server
/// rotated) is only noted here; [`decoded`] then learns and decodes again.
pub struct Opener<'s> {
    sealer: &'s Sealer,
    missed: AtomicBool,
}

impl<'s> Opener<'s> {
    fn new(sealer: &'s Sealer) -> Self {
        Self {
            sealer,
            missed: AtomicBool::new(false),
        }
    }

    /// A stored value of `slot`, opened.
    pub fn open(&self, slot: Slot<'_>, stored: String) -> Result<String, StoreError> {
        self.sealer.open(slot, stored, || {
            self.missed.store(true, Ordering::Relaxed);
            Ok(Vec::new())
        })
    }

    /// A stored BYTEA value of `slot` (texts are BYTEA, see the schema), opened.
    pub fn open_bytes(&self, slot: Slot<'_>, stored: Vec<u8>) -> Result<String, StoreError> {
        let stored = String::from_utf8(stored).map_err(|_| {
            StoreError::Corrupt(format!(
                "the {} value of row {} is not UTF-8",
                slot.column.as_str(),
                slot.row
            ))
        })?;
        self.open(slot, stored)
    }
}

/// Runs `decode`; when it met a value sealed under an epoch not yet learnt,
/// learns the stored epochs through `db` and runs it once more.
pub async fn decoded<T>(
    db: Db<'_>,
    sealer: &Sealer,
    decode: impl Fn(&Opener<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let opener = Opener::new(sealer);
    let done = decode(&opener);
    // Also after a decode that went on past a value it could not open (a
    // listing, the lookup of a proposal, which mark such a value instead
    // of failing): the key may only be new to this process.
    if opener.missed.load(Ordering::Relaxed) {
        for epoch in stored_epochs(db).await? {
            sealer.learn(&epoch);
        }
        return decode(&Opener::new(sealer));
    }
    done
}

/// Opens `stored` (learning epochs when needed) and seals it again under
/// the transaction's epoch; `None` when it is sealed under that epoch already.
async fn resealed(
    w: &Write,
    done: &mut Resealed,
    slot: Slot<'_>,
    stored: &str,
) -> Result<Option<String>, StoreError> {
    let epoch = w.epoch().await?;
    if Sealer::epoch_of(stored) == Some(epoch) {
        return Ok(None);
    }
    done.resealed += 1;
    if !stored.starts_with(PREFIX) {
        done.were_plain += 1;
    }
    let plain = decoded(w.db(), w.sealer(), |o| o.open(slot, stored.to_owned())).await?;
    w.seal(slot, &plain).await.map(Some)
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| StoreError::Corrupt(format!("{what} is not UTF-8")))
}

/// Re-seals up to `limit` rows past `cursor` under the current epoch in
/// `w`, and moves the cursor on; same walk as SQLite's.
async fn reseal_batch(
    w: &Write,
    cursor: &mut ResealCursor,
    limit: u32,
) -> Result<Resealed, StoreError> {
    let db = w.db();
    let mut done = Resealed::default();
    let limit = i64::from(limit.max(1));
    match cursor.clone() {
        ResealCursor::Messages(after) => {
            let rows = db
                .query(
                    "SELECT id, content, files FROM messages WHERE id > $1 ORDER BY id LIMIT $2
                     FOR NO KEY UPDATE",
                    &[&after, &limit],
                )
                .await?;
            for r in &rows {
                done.scanned += 2;
                let id: i64 = get(r, 0)?;
                let row = id.to_string();
                let content = utf8(get(r, 1)?, "a message's content")?;
                let files: String = get(r, 2)?;
                let new_content = resealed(
                    w,
                    &mut done,
                    Slot::new(Column::MessageContent, &row),
                    &content,
                )
                .await?;
                let new_files = if files == EMPTY_LIST {
                    None
                } else {
                    resealed(w, &mut done, Slot::new(Column::MessageFiles, &row), &files).await?
                };
                if new_content.is_none() && new_files.is_none() {
                    continue;
                }
                db.exec(
                    "UPDATE messages SET content = $2, files = $3 WHERE id = $1",
                    &[
                        &id,
                        &new_content.as_ref().unwrap_or(&content).as_bytes(),
                        new_files.as_ref().unwrap_or(&files),
                    ],
                )
                .await?;
            }
            *cursor = match rows.last() {
                Some(r) if rows.len() as i64 == limit => ResealCursor::Messages(get(r, 0)?),
                _ => ResealCursor::Notes(String::new(), String::new()),
            };
        }
        ResealCursor::Notes(after_conv, after_side) => {
            let rows = db
                .query(
                    "SELECT conversation_id, side, note FROM participants
                     WHERE (conversation_id, side) > ($1, $2) AND note IS NOT NULL
                     ORDER BY conversation_id, side LIMIT $3 FOR NO KEY UPDATE",
                    &[&after_conv, &after_side, &limit],
                )
                .await?;
            let mut last = None;
            for r in &rows {
                done.scanned += 1;
                let (conv, side): (String, String) = (get(r, 0)?, get(r, 1)?);
                let note = utf8(get(r, 2)?, "a status note")?;
                let row = note_row(&conv, &side);
                if let Some(sealed) =
                    resealed(w, &mut done, Slot::new(Column::StatusNote, &row), &note).await?
                {
                    db.exec(
                        "UPDATE participants SET note = $3 WHERE conversation_id = $1 AND side = $2",
                        &[&conv, &side, &sealed.as_bytes()],
                    )
                    .await?;
                }
                last = Some((conv, side));
            }
            *cursor = match last {
                Some((conv, side)) if rows.len() as i64 == limit => ResealCursor::Notes(conv, side),
                _ => ResealCursor::Proposals(String::new()),
            };
        }
        ResealCursor::Proposals(after) => {
            let rows = db
                .query(
                    "SELECT id, command FROM yolo_proposals WHERE id > $1 ORDER BY id LIMIT $2
                     FOR NO KEY UPDATE",
                    &[&after, &limit],
                )
                .await?;
            let mut last = None;
            for r in &rows {
                done.scanned += 1;
                let id: String = get(r, 0)?;
                let command = utf8(get(r, 1)?, "a proposed command")?;
                if let Some(sealed) = resealed(
                    w,
                    &mut done,
                    Slot::new(Column::ProposalCommand, &id),
                    &command,
                )
                .await?
                {
                    db.exec(
                        "UPDATE yolo_proposals SET command = $2 WHERE id = $1",
                        &[&id, &sealed.as_bytes()],
                    )
                    .await?;
                }
                last = Some(id);
            }
            *cursor = match last {
                Some(id) if rows.len() as i64 == limit => ResealCursor::Proposals(id),
                _ => ResealCursor::Done,
            };
        }
        ResealCursor::Done => {}
    }
    Ok(done)
}

/// Deletes the salts of older epochs no stored value uses.
async fn retire_epochs(w: &Write) -> Result<Retired, StoreError> {
    let current = w.epoch().await?;
    let db = w.db();
    let mut retired = Vec::new();
    let mut kept = Vec::new();
    for epoch in stored_epochs(db).await? {
        if epoch.number >= current {
            continue;
        }
        let pattern = format!("{PREFIX}{}.%", epoch.number);
        let used = db
            .opt(
                "SELECT 1 FROM messages WHERE content LIKE convert_to($1, 'UTF8') OR files LIKE $1
                 UNION ALL SELECT 1 FROM participants WHERE note LIKE convert_to($1, 'UTF8')
                 UNION ALL SELECT 1 FROM yolo_proposals WHERE command LIKE convert_to($1, 'UTF8')
                 LIMIT 1",
                &[&pattern],
            )
            .await?;
        if used.is_some() {
            kept.push(epoch.number);
            continue;
        }
        db.exec("DELETE FROM data_keys WHERE epoch = $1", &[&epoch.number])
            .await?;
        retired.push(epoch.number);
    }
    // Every value sealed now: from here on plaintext is refused. Counted
    // only where a mark is left to delete (a whole scan).
    let marked = db
        .opt("SELECT 1 FROM legacy_plaintext LIMIT 1", &[])
        .await?;
    if marked.is_some() && count_values(db).await?.plaintext == 0 {
        db.exec("DELETE FROM legacy_plaintext", &[]).await?;
    }
    Ok(Retired {
        current,
        retired,
        kept,
    })
}

impl DataKeyStore for PgStore {
    async fn add_data_key(&self, at: Timestamp, audit: AuditDraft) -> Result<i64, StoreError> {
        in_tx!(self, |w| {
            let db = w.db();
            let next: i64 = get(
                &db.one("SELECT coalesce(max(epoch), 0) + 1 FROM data_keys", &[])
                    .await?,
                0,
            )?;
            let salt = Sealer::new_salt()?;
            // Two rotations at once: the second's insert is a unique
            // violation, reported as a conflict.
            db.exec(
                "INSERT INTO data_keys (epoch, salt, created_at) VALUES ($1, $2, $3)",
                &[&next, &salt, &at.as_micros()],
            )
            .await?;
            let mut draft = audit.clone();
            draft.count = Some(next);
            w.audit(at, draft);
            Ok(next)
        })
    }

    async fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> Result<(ResealCursor, Resealed), StoreError> {
        in_tx!(self, |w| {
            let mut cursor = cursor.clone();
            let done = reseal_batch(&w, &mut cursor, batch).await?;
            Ok((cursor, done))
        })
    }

    async fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> Result<Retired, StoreError> {
        // The barrier: granted once every writer that read an older epoch
        // as current has committed; writers after it read the newest.
        {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.batch_execute("LOCK TABLE data_keys IN EXCLUSIVE MODE")
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
        }
        in_tx!(self, |w| {
            let retired = retire_epochs(&w).await?;
            w.audit(at, audit(&retired));
            Ok(retired)
        })
    }

    async fn data_key_census(&self) -> Result<KeyCensus, StoreError> {
        let mut client = self.client().await?;
        let tx = super::db::snapshot(&mut client).await?;
        let db = Db::Tx(&tx);
        let epochs: Vec<i64> = stored_epochs(db).await?.iter().map(|e| e.number).collect();
        Ok(KeyCensus {
            current: epochs.last().copied().unwrap_or_default(),
            epochs,
            legacy_allowed: legacy_plaintext_allowed(db, &self.inner.audit_key).await?,
            ..count_values(db).await?
        })
    }
}

/// Leaves the keyed mark that lets plaintext open, if the database holds any
/// (from before encryption at rest); run by the migration that adds the mark.
pub async fn mark_legacy_plaintext(db: Db<'_>, key: &AuditKey) -> Result<(), StoreError> {
    if count_values(db).await?.plaintext > 0 {
        db.exec(
            "INSERT INTO legacy_plaintext (mark) VALUES ($1)",
            &[&legacy_mark(key)],
        )
        .await?;
    }
    Ok(())
}

/// Whether the database holds the keyed mark that lets plaintext open.
pub async fn legacy_plaintext_allowed(db: Db<'_>, key: &AuditKey) -> Result<bool, StoreError> {
    let rows = db.query("SELECT mark FROM legacy_plaintext", &[]).await?;
    let marks = rows
        .iter()
        .map(|r| get::<String>(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(legacy_marked(key, &marks))
}

/// The values of every sealed column, counted per epoch and as plaintext.
async fn count_values(db: Db<'_>) -> Result<KeyCensus, StoreError> {
    let mut census = KeyCensus::default();
    let rows = db
        .query(
            // Bytes, not text: a legacy plaintext may hold a NUL, which
            // no PostgreSQL text can; a sealed value's head is ASCII.
            r"WITH v(x) AS (
                     SELECT content FROM messages
                     UNION ALL SELECT convert_to(files, 'UTF8') FROM messages WHERE files <> '[]'
                     UNION ALL SELECT note FROM participants WHERE note IS NOT NULL
                     UNION ALL SELECT command FROM yolo_proposals),
                 h(y) AS (SELECT encode(substring(x FOR 24), 'escape') FROM v)
                 SELECT CASE WHEN y ~ '^s1\.[0-9]{1,18}\.'
                             THEN split_part(y, '.', 2)::bigint END AS e,
                        count(*)
                 FROM h GROUP BY e ORDER BY e NULLS FIRST",
            &[],
        )
        .await?;
    for r in &rows {
        let (epoch, n): (Option<i64>, i64) = (get(r, 0)?, get(r, 1)?);
        match epoch {
            Some(epoch) => census.sealed.push((epoch, n.unsigned_abs())),
            None => census.plaintext += n.unsigned_abs(),
        }
    }
    Ok(census)
}
