//! The rules of `mcp-bridge key rotate` and `key status` (and the sealing of
//! exports with the key file): a rotation adds a
//! data-key epoch, re-seals every stored value under it in short batches
//! (servers keep running between them), then retires the epochs no value
//! uses. Every step is its own transaction, so a rotation killed anywhere
//! leaves every value readable, and running it again finishes the job.
//! Audited with counts only.

use std::sync::Arc;

use super::{Bridge, ServiceError};
use crate::audit::{AuditDraft, Outcome};
use crate::store::data_keys::{DataKeyStore, KeyCensus, ResealCursor, Resealed, Retired};
use crate::store::{AdminStore, StoreError};

/// Rows re-sealed per transaction by default: small enough that a server's call never
/// waits long behind one batch, large enough that a rotation of a big
/// database does not spend its time in commits.
pub const RESEAL_BATCH: u32 = 200;

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    /// The epoch every value is now sealed under.
    pub epoch: i64,
    /// Values read, re-sealed, and (of those) that were plaintext.
    pub resealed: Resealed,
    /// Epochs retired and kept.
    pub retired: Retired,
}

/// Called after each batch of a rotation with the totals so far.
pub type RotationProgress = Arc<dyn Fn(&Resealed) + Send + Sync>;

impl<S: AdminStore + DataKeyStore> Bridge<S> {
    /// Rotates the data key: see the module documentation.
    ///
    /// # Errors
    /// Storage failures, or a stored value that does not open (named in the
    /// error); the values re-sealed before it stay re-sealed and readable.
    pub async fn rotate_data_key(
        &self,
        batch: u32,
        progress: RotationProgress,
    ) -> Result<Rotation, ServiceError> {
        let started = self.clock.now();
        let mut draft = AuditDraft::new("cli", "key_rotate");
        draft.detail = Some("started".into());
        let epoch = self.store.add_data_key(started, draft).await?;
        let mut cursor = ResealCursor::default();
        let mut total = Resealed::default();
        while cursor != ResealCursor::Done {
            match self.store.reseal(cursor, batch.max(1)).await {
                Ok((next, done)) => {
                    cursor = next;
                    total += done;
                    progress(&total);
                }
                Err(e) => return Err(self.rotation_failed(epoch, total, e).await),
            }
        }
        let audit = Arc::new(move |retired: &Retired| {
            let mut draft = AuditDraft::new("cli", "key_rotate");
            draft.count = Some(i64::try_from(total.resealed).unwrap_or(i64::MAX));
            draft.detail = Some(format!(
                "epoch={epoch} scanned={} resealed={} were_plaintext={} retired={} kept={}",
                total.scanned,
                total.resealed,
                total.were_plain,
                retired.retired.len(),
                retired.kept.len()
            ));
            draft
        });
        let retired = self.store.retire_data_keys(self.clock.now(), audit).await?;
        Ok(Rotation {
            epoch: retired.current,
            resealed: total,
            retired,
        })
    }

    /// Records a rotation stopped by `err` and hands back the error.
    async fn rotation_failed(&self, epoch: i64, total: Resealed, err: StoreError) -> ServiceError {
        let mut draft = AuditDraft::new("cli", "key_rotate");
        draft.count = Some(i64::try_from(total.resealed).unwrap_or(i64::MAX));
        draft.detail = Some(format!(
            "epoch={epoch} stopped after resealed={}",
            total.resealed
        ));
        let err = ServiceError::from(err);
        let draft = draft.failed(Outcome::Error, err.code());
        if let Err(e) = self.store.record_management(self.clock.now(), draft).await {
            tracing::error!(error = %crate::store::error_chain(&e), "cannot append to the audit trail");
        }
        err
    }

    /// Seals a whole export file (`plain`, either layout) with this bridge's
    /// key file, for writing out: see [`super::SEALED_FORMAT`].
    ///
    /// # Errors
    /// When the system has no randomness.
    pub fn seal_export(&self, plain: &[u8]) -> Result<String, ServiceError> {
        Ok(super::admin::seal_export(&self.key, plain)?)
    }

    /// How the stored values are sealed.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn data_key_census(&self) -> Result<KeyCensus, ServiceError> {
        Ok(self.store.data_key_census().await?)
    }
}
