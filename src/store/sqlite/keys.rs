//! The `data_keys` table (data-key epochs and their salts) and the SQL side
//! of `key rotate`: re-sealing every value in short batches, then retiring
//! the epochs no value uses. The cryptography is in `store::sealed`.

use rusqlite::{Connection, OptionalExtension, params};

use super::tx::{ReadTx, WriteTx};
use super::{SqliteStore, ops, sql_err};
use crate::audit::{AuditDraft, AuditKey};
use crate::domain::Timestamp;
use crate::store::data_keys::{
    DataKeyStore, KeyCensus, ResealCursor, Resealed, Retired, legacy_mark, legacy_marked,
};
use crate::store::sealed::{Column, EMPTY_LIST, Epoch, PREFIX, Sealer, Slot, note_row};
use crate::store::{AuditFor, StoreError};

/// Every epoch the database holds, oldest first.
pub fn stored_epochs(conn: &Connection) -> Result<Vec<Epoch>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT epoch, salt FROM data_keys ORDER BY epoch")
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Epoch {
                number: r.get(0)?,
                salt: r.get(1)?,
            })
        })
        .map_err(sql_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
}

/// The current (largest) epoch, learnt by `sealer` if it is new to it.
pub fn current_epoch(conn: &Connection, sealer: &Sealer) -> Result<i64, StoreError> {
    let (number, salt): (i64, String) = conn
        .prepare_cached("SELECT epoch, salt FROM data_keys ORDER BY epoch DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(|e| match sql_err(e) {
            StoreError::NotFound => StoreError::Corrupt("the database holds no data key".into()),
            other => other,
        })?;
    sealer.learn(&Epoch { number, salt });
    Ok(number)
}

/// A stored value of `slot`, opened (learning epochs from the database when
/// the value names one this process has not met).
pub fn open(
    conn: &Connection,
    sealer: &Sealer,
    slot: Slot<'_>,
    stored: String,
) -> Result<String, StoreError> {
    sealer.open(slot, stored, || stored_epochs(conn))
}

/// What row decoders open sealed values with: a connection (to learn
/// epochs from) and the sealer.
#[derive(Clone, Copy)]
pub struct Opener<'c> {
    conn: &'c Connection,
    sealer: &'c Sealer,
}

impl<'c> Opener<'c> {
    /// Opens values read through `conn`.
    pub fn new(conn: &'c Connection, sealer: &'c Sealer) -> Self {
        Self { conn, sealer }
    }

    /// A stored value of `slot`, opened.
    pub fn open(&self, slot: Slot<'_>, stored: String) -> Result<String, StoreError> {
        open(self.conn, self.sealer, slot, stored)
    }
}

/// Starts a rotation: adds an epoch after the current one, with a new salt.
/// From its commit on, every write in every process seals under it.
pub fn add_epoch(tx: &WriteTx<'_>, created_at: i64) -> Result<i64, StoreError> {
    let next: i64 = tx
        .prepare_cached("SELECT coalesce(max(epoch), 0) + 1 FROM data_keys")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_err)?;
    let salt = Sealer::new_salt()?;
    tx.prepare_cached("INSERT INTO data_keys (epoch, salt, created_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![next, salt, created_at]))
        .map_err(sql_err)?;
    // Not learnt here: the sealer learns an epoch only as read back from the
    // database (next transaction), so a rolled-back insert is never cached.
    Ok(next)
}

fn count_reseal(done: &mut Resealed, stored: &str) {
    done.resealed += 1;
    if !stored.starts_with(PREFIX) {
        done.were_plain += 1;
    }
}

/// Whether `stored` is sealed under `epoch` already.
fn on_epoch(stored: &str, epoch: i64) -> bool {
    Sealer::epoch_of(stored) == Some(epoch)
}

/// Re-seals up to `limit` rows past `cursor` under the current epoch, in
/// this (short) transaction, and moves the cursor on. A value that does not
/// open is an error: nothing of this batch is written, and the rotation stops
/// with the row named, rather than leave a value no key can read.
pub fn reseal_batch(
    tx: &WriteTx<'_>,
    cursor: &mut ResealCursor,
    limit: u32,
) -> Result<Resealed, StoreError> {
    let epoch = tx.epoch()?;
    let mut done = Resealed::default();
    let limit = i64::from(limit.max(1));
    // Opens a stored value and seals it again under the current epoch.
    let reseal = |done: &mut Resealed, slot: Slot<'_>, stored: &String| {
        if on_epoch(stored, epoch) {
            return Ok(None);
        }
        count_reseal(done, stored);
        let plain = tx.open_value(slot, stored.clone())?;
        tx.seal(slot, &plain).map(Some)
    };
    match cursor.clone() {
        ResealCursor::Messages(after) => {
            let rows: Vec<(i64, String, String)> = tx
                .prepare_cached(
                    "SELECT id, content, files FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![after, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(sql_err)?;
            for (id, content, files) in &rows {
                done.scanned += 2;
                let row = id.to_string();
                let new_content =
                    reseal(&mut done, Slot::new(Column::MessageContent, &row), content)?;
                let new_files = if files == EMPTY_LIST {
                    None
                } else {
                    reseal(&mut done, Slot::new(Column::MessageFiles, &row), files)?
                };
                if new_content.is_none() && new_files.is_none() {
                    continue;
                }
                tx.prepare_cached("UPDATE messages SET content = ?2, files = ?3 WHERE id = ?1")
                    .and_then(|mut s| {
                        s.execute(params![
                            id,
                            new_content.as_ref().unwrap_or(content),
                            new_files.as_ref().unwrap_or(files)
                        ])
                    })
                    .map_err(sql_err)?;
            }
            *cursor = match rows.last() {
                Some((id, ..)) if rows.len() as i64 == limit => ResealCursor::Messages(*id),
                _ => ResealCursor::Notes(String::new(), String::new()),
            };
        }
        ResealCursor::Notes(after_conv, after_side) => {
            let rows: Vec<(String, String, String)> = tx
                .prepare_cached(
                    "SELECT conversation_id, side, note FROM participants
                     WHERE (conversation_id, side) > (?1, ?2) AND note IS NOT NULL
                     ORDER BY conversation_id, side LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![after_conv, after_side, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(sql_err)?;
            for (conv, side, note) in &rows {
                done.scanned += 1;
                let row = note_row(conv, side);
                let Some(sealed) = reseal(&mut done, Slot::new(Column::StatusNote, &row), note)?
                else {
                    continue;
                };
                tx.prepare_cached(
                    "UPDATE participants SET note = ?3 WHERE conversation_id = ?1 AND side = ?2",
                )
                .and_then(|mut s| s.execute(params![conv, side, sealed]))
                .map_err(sql_err)?;
            }
            *cursor = match rows.last() {
                Some((conv, side, _)) if rows.len() as i64 == limit => {
                    ResealCursor::Notes(conv.clone(), side.clone())
                }
                _ => ResealCursor::Proposals(String::new()),
            };
        }
        ResealCursor::Proposals(after) => {
            let rows: Vec<(String, String)> = tx
                .prepare_cached(
                    "SELECT id, command FROM yolo_proposals WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(sql_err)?;
            for (id, command) in &rows {
                done.scanned += 1;
                let Some(sealed) =
                    reseal(&mut done, Slot::new(Column::ProposalCommand, id), command)?
                else {
                    continue;
                };
                tx.prepare_cached("UPDATE yolo_proposals SET command = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, sealed]))
                    .map_err(sql_err)?;
            }
            *cursor = match rows.last() {
                Some((id, _)) if rows.len() as i64 == limit => ResealCursor::Proposals(id.clone()),
                _ => ResealCursor::Done,
            };
        }
        ResealCursor::Done => {}
    }
    Ok(done)
}

/// Deletes the salts of epochs older than the current one that no stored
/// value uses any more (nor any plaintext value is left to seal); returns
/// the epochs deleted and those kept because values still use them.
pub fn retire_epochs(tx: &WriteTx<'_>) -> Result<Retired, StoreError> {
    let current = tx.epoch()?;
    let mut retired = Vec::new();
    let mut kept = Vec::new();
    for epoch in stored_epochs(tx)? {
        if epoch.number >= current {
            continue;
        }
        let pattern = format!("{PREFIX}{}.%", epoch.number);
        let used: Option<i64> = tx
            .prepare_cached(
                "SELECT 1 FROM messages WHERE content LIKE ?1 OR files LIKE ?1
                 UNION ALL SELECT 1 FROM participants WHERE note LIKE ?1
                 UNION ALL SELECT 1 FROM yolo_proposals WHERE command LIKE ?1
                 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([&pattern], |r| r.get(0)).optional())
            .map_err(sql_err)?;
        if used.is_some() {
            kept.push(epoch.number);
            continue;
        }
        tx.prepare_cached("DELETE FROM data_keys WHERE epoch = ?1")
            .and_then(|mut s| s.execute([epoch.number]))
            .map_err(sql_err)?;
        retired.push(epoch.number);
    }
    // Every value sealed now: from here on plaintext is refused. Counted
    // only where a mark is left to delete (a whole scan under the write lock).
    let marked: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM legacy_plaintext)", [], |r| {
            r.get(0)
        })
        .map_err(sql_err)?;
    if marked && count_values(tx)?.plaintext == 0 {
        tx.execute("DELETE FROM legacy_plaintext", [])
            .map_err(sql_err)?;
    }
    Ok(Retired {
        current,
        retired,
        kept,
    })
}

/// Leaves the keyed mark that lets plaintext open, if the database holds any
/// (from before encryption at rest); run by the migration that adds the mark.
pub fn mark_legacy_plaintext(conn: &Connection, key: &AuditKey) -> Result<(), StoreError> {
    if count_values(conn)?.plaintext > 0 {
        conn.execute(
            "INSERT INTO legacy_plaintext (mark) VALUES (?1)",
            [legacy_mark(key)],
        )
        .map_err(sql_err)?;
    }
    Ok(())
}

/// Whether the database holds the keyed mark that lets plaintext open.
pub fn legacy_plaintext_allowed(conn: &Connection, key: &AuditKey) -> Result<bool, StoreError> {
    let marks = conn
        .prepare_cached("SELECT mark FROM legacy_plaintext")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    Ok(legacy_marked(key, &marks))
}

/// How many values are sealed under each epoch, and how many are plaintext,
/// over every sealed column, from one snapshot.
pub fn census(conn: &Connection, key: &AuditKey) -> Result<KeyCensus, StoreError> {
    let tx = ReadTx::begin(conn)?;
    let epochs: Vec<i64> = stored_epochs(&tx)?.iter().map(|e| e.number).collect();
    Ok(KeyCensus {
        current: epochs.last().copied().unwrap_or_default(),
        epochs,
        legacy_allowed: legacy_plaintext_allowed(&tx, key)?,
        ..count_values(&tx)?
    })
}

/// The values of every sealed column, counted per epoch and as plaintext.
fn count_values(conn: &Connection) -> Result<KeyCensus, StoreError> {
    let mut census = KeyCensus::default();
    let mut stmt = conn
        .prepare_cached(
            "WITH v(x) AS (
                 SELECT content FROM messages
                 UNION ALL SELECT files FROM messages WHERE files <> '[]'
                 UNION ALL SELECT note FROM participants WHERE note IS NOT NULL
                 UNION ALL SELECT command FROM yolo_proposals)
             SELECT CASE WHEN substr(x, 1, 3) = 's1.'
                         THEN CAST(substr(x, 4, instr(substr(x, 4), '.') - 1) AS INTEGER) END AS e,
                    count(*)
             FROM v GROUP BY e ORDER BY e",
        )
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(sql_err)?;
    for row in rows {
        let (epoch, n) = row.map_err(sql_err)?;
        match epoch {
            Some(epoch) => census.sealed.push((epoch, n.unsigned_abs())),
            None => census.plaintext += n.unsigned_abs(),
        }
    }
    Ok(census)
}

impl DataKeyStore for SqliteStore {
    async fn add_data_key(&self, at: Timestamp, audit: AuditDraft) -> Result<i64, StoreError> {
        self.write(move |tx| {
            let epoch = add_epoch(tx, at.as_micros())?;
            let mut draft = audit.clone();
            draft.count = Some(epoch);
            ops::append_audit(tx, at, &draft)?;
            Ok(epoch)
        })
        .await
    }

    async fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> Result<(ResealCursor, Resealed), StoreError> {
        self.write(move |tx| {
            let mut cursor = cursor.clone();
            let done = reseal_batch(tx, &mut cursor, batch)?;
            Ok((cursor, done))
        })
        .await
    }

    async fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> Result<Retired, StoreError> {
        self.write(move |tx| {
            let retired = retire_epochs(tx)?;
            ops::append_audit(tx, at, &audit(&retired))?;
            Ok(retired)
        })
        .await
    }

    async fn data_key_census(&self) -> Result<KeyCensus, StoreError> {
        let key = self.inner.audit_key.clone();
        self.call_off_thread(move |conn| census(conn, &key)).await
    }
}
