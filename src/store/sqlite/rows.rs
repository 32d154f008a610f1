//! Decoding participant rows and the `recipients` column: shared by the
//! tools' reads (`ops`), the management reads (`admin`) and imports.

use rusqlite::Row;

use super::keys::Opener;
use super::sql_err;
use crate::domain::{ParticipantKind, Side, Status, Timestamp};
use crate::store::sealed::{Column, Slot, note_row};
use crate::store::{Participant, StatusRecord, StoreError};

/// The participant columns every reader selects, in [`decode_participant`]'s order.
pub const PARTICIPANT_COLUMNS: &str =
    "p.side, p.role, p.kind, p.status, p.note, p.status_at, p.joined_at, p.removed_at";

/// Decodes the [`PARTICIPANT_COLUMNS`] starting at column `at`, of a
/// participant of `conversation` (its note is sealed for that row).
pub fn decode_participant(
    row: &Row<'_>,
    at: usize,
    conversation: &str,
    opener: Opener<'_>,
) -> Result<Participant, StoreError> {
    let corrupt = |e: crate::domain::InvalidValue| StoreError::Corrupt(e.to_string());
    let side: String = row.get(at).map_err(sql_err)?;
    let note: Option<String> = row.get(at + 4).map_err(sql_err)?;
    let note = note
        .map(|n| {
            opener.open(
                Slot::new(Column::StatusNote, &note_row(conversation, &side)),
                n,
            )
        })
        .transpose()?;
    let kind: String = row.get(at + 2).map_err(sql_err)?;
    let status: Option<String> = row.get(at + 3).map_err(sql_err)?;
    let status = match status {
        None => None,
        Some(s) => Some(StatusRecord {
            status: Status::parse(&s).map_err(corrupt)?,
            note,
            updated_at: Timestamp::from_micros(
                row.get::<_, Option<i64>>(at + 5)
                    .map_err(sql_err)?
                    .unwrap_or_default(),
            ),
        }),
    };
    let time = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .get::<_, Option<i64>>(at + i)
            .map_err(sql_err)?
            .map(Timestamp::from_micros))
    };
    Ok(Participant {
        side: Side::parse(&side).map_err(corrupt)?,
        role: row.get(at + 1).map_err(sql_err)?,
        kind: ParticipantKind::parse(&kind).map_err(corrupt)?,
        status,
        joined_at: time(6)?,
        removed_at: time(7)?,
    })
}

/// Encodes sides for the `recipients` column: `b,c`.
pub fn encode_sides(sides: &[Side]) -> String {
    sides
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes the `recipients` column (`NULL` for messages from before teams).
pub fn decode_sides(text: Option<String>) -> Result<Option<Vec<Side>>, StoreError> {
    let Some(text) = text else { return Ok(None) };
    if text.is_empty() {
        return Ok(Some(Vec::new()));
    }
    text.split(',')
        .map(|s| Side::parse(s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
