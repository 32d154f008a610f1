//! Data-key persistence for encryption at rest: the epochs a backend holds,
//! and the steps `mcp-bridge key rotate` is made of. Each step is one short
//! transaction, so servers keep working while a rotation runs, and a rotation
//! killed between two steps leaves every value readable (old epochs are
//! deleted only once no value uses them). The order of the steps, the batch
//! size and what is audited belong to the service layer; the sealing itself
//! to [`super::sealed`].

use std::future::Future;

use super::admin::AuditFor;
use super::{Store, StoreError};
use crate::audit::{AuditDraft, AuditKey};
use crate::domain::Timestamp;

/// The keyed mark an upgrade leaves in a database it found holding plaintext
/// from before encryption at rest (table `legacy_plaintext`): while it is
/// there, unsealed values open as they are. Keyed, so that writing the
/// database without the key file cannot make planted plaintext readable;
/// `key rotate` deletes it once no plaintext is left.
pub fn legacy_mark(key: &AuditKey) -> String {
    key.mac(&[b"mcp-bridge legacy plaintext v1"])
}

/// Whether one of the stored `marks` is the keyed mark of [`legacy_mark`].
pub fn legacy_marked(key: &AuditKey, marks: &[String]) -> bool {
    marks
        .iter()
        .any(|m| key.check(&[b"mcp-bridge legacy plaintext v1"], m))
}

/// Where a rotation's walk over the sealed columns has got to: the table,
/// and the last key done in it. Start with [`ResealCursor::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResealCursor {
    /// Messages after this id.
    Messages(i64),
    /// Status notes after this `(conversation, side)`.
    Notes(String, String),
    /// Proposed commands after this proposal id.
    Proposals(String),
    /// Every table has been walked.
    Done,
}

impl Default for ResealCursor {
    fn default() -> Self {
        Self::Messages(0)
    }
}

/// What re-sealing did, for one batch or summed over a rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values read.
    pub scanned: u64,
    /// Values sealed again under the current epoch (from an older epoch or from plaintext).
    pub resealed: u64,
    /// Of those, values that were plaintext (written before encryption at rest).
    pub were_plain: u64,
}

impl std::ops::AddAssign for Resealed {
    fn add_assign(&mut self, other: Self) {
        self.scanned += other.scanned;
        self.resealed += other.resealed;
        self.were_plain += other.were_plain;
    }
}

/// What retiring old epochs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retired {
    /// The current epoch.
    pub current: i64,
    /// Epochs whose salts were deleted.
    pub retired: Vec<i64>,
    /// Older epochs kept because values still use them.
    pub kept: Vec<i64>,
}

/// How the stored values are sealed: count per epoch, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCensus {
    /// The current epoch.
    pub current: i64,
    /// Every epoch the backend holds a salt for.
    pub epochs: Vec<i64>,
    /// Values sealed under each epoch named by a value (a value may name an
    /// epoch whose salt is gone: such a value cannot be read).
    pub sealed: Vec<(i64, u64)>,
    /// Values stored as plaintext (from before encryption at rest).
    pub plaintext: u64,
    /// Whether plaintext values open: the upgrade found some from before
    /// encryption at rest, and `key rotate` has not sealed them all yet.
    /// Without it a plaintext value was planted, and does not open.
    pub legacy_allowed: bool,
}

/// The data-key operations a backend provides.
pub trait DataKeyStore: Store {
    /// Adds an epoch after the current one, with a fresh random salt, and
    /// appends `audit`. From its commit on, every write in every process
    /// seals under it (writers read the current epoch in each transaction).
    fn add_data_key(
        &self,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Re-seals the values of up to `batch` rows after `cursor` under the
    /// current epoch in one transaction, and says where to go on from.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the row when a value does not open
    /// (nothing of the batch is written).
    fn reseal(
        &self,
        cursor: ResealCursor,
        batch: u32,
    ) -> impl Future<Output = Result<(ResealCursor, Resealed), StoreError>> + Send;

    /// Deletes the salts of older epochs no stored value uses, in one
    /// transaction that also appends `audit(&retired)`.
    fn retire_data_keys(
        &self,
        at: Timestamp,
        audit: AuditFor<Retired>,
    ) -> impl Future<Output = Result<Retired, StoreError>> + Send;

    /// Counts the stored values by epoch, from one snapshot.
    fn data_key_census(&self) -> impl Future<Output = Result<KeyCensus, StoreError>> + Send;
}
