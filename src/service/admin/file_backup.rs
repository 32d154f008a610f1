//! `backup` and `restore` of a database file (SQLite): the online copy, the
//! checks a backup passes before it replaces a database, and their audit
//! records. Stores without a file (PostgreSQL) get export-based backups,
//! through [`Bridge::backup_export`] and [`Bridge::restore_export`].

use std::path::Path;

use super::cli;
use super::transfer::{ExportFileError, ImportClock, Layout, read_export_at, write_export};
use crate::service::{Bridge, ServiceError};
use crate::store::{CopyProgress, CopyReport, DatabaseFile, FileCheck, StoreError};

impl<S: DatabaseFile> Bridge<S> {
    /// Copies the live database to `dest` from one consistent snapshot.
    ///
    /// # Errors
    /// Storage or file-system failures.
    pub async fn backup(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, ServiceError> {
        let at = self.clock.now();
        let report = self.store.backup_to(dest, progress).await?;
        let mut draft = cli("backup");
        draft.bytes = Some(i64::try_from(report.bytes()).unwrap_or(i64::MAX));
        self.record(at, draft).await?;
        Ok(report)
    }

    /// Checks that `path` is a sound bridge database this build can use,
    /// before it is restored.
    ///
    /// # Errors
    /// [`ServiceError::BadBackup`] naming the problem, or storage failures.
    pub fn check_backup(path: &Path) -> Result<FileCheck, ServiceError> {
        let check = match S::check_file(path) {
            Ok(c) => c,
            Err(StoreError::NotFound) => {
                return Err(ServiceError::BadBackup(format!(
                    "no backup file at {}",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(ServiceError::BadBackup(format!(
                    "{} is not a readable database: {e}",
                    path.display()
                )));
            }
        };
        if let Some(problem) = check.problems.first() {
            // SQLite may report several findings in one row, one per line;
            // the message stays one line.
            let problem = problem.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(ServiceError::BadBackup(format!(
                "{} fails the integrity check ({} problems, first: {problem})",
                path.display(),
                check.problems.len()
            )));
        }
        if check.schema_version > check.supported_schema_version {
            return Err(ServiceError::BadBackup(format!(
                "{} has schema version {}, newer than the {} this mcp-bridge supports; upgrade mcp-bridge",
                path.display(),
                check.schema_version,
                check.supported_schema_version
            )));
        }
        if !check.is_bridge {
            return Err(ServiceError::BadBackup(format!(
                "{} is not an mcp-bridge database",
                path.display()
            )));
        }
        if !check.unexpected.is_empty() {
            return Err(ServiceError::BadBackup(format!(
                "{} holds what mcp-bridge never writes, so it is refused: {}",
                path.display(),
                check.unexpected.join("; ")
            )));
        }
        Ok(check)
    }

    /// [`Bridge::check_backup`], and a schema new enough to restore: a live
    /// database of an older schema is brought up to date by its own servers,
    /// but a backup file is what anyone may have written, and the migrations
    /// vouch with the key for what they find.
    ///
    /// # Errors
    /// As [`Bridge::check_backup`], and [`ServiceError::BadBackup`] for an
    /// older schema.
    pub fn check_backup_to_restore(path: &Path) -> Result<FileCheck, ServiceError> {
        let check = Self::check_backup(path)?;
        if check.schema_version < check.oldest_restorable_schema_version {
            return Err(ServiceError::BadBackup(format!(
                "{} has schema version {}, older than the {} this mcp-bridge restores: bringing it up to date would vouch with the key for credentials and values no one can check in a file; restore it with the mcp-bridge that made it and upgrade that database, or move its conversations with `export` and `import`",
                path.display(),
                check.schema_version,
                check.oldest_restorable_schema_version
            )));
        }
        Ok(check)
    }

    /// Checks a backup opened as a database of its own, with the key file
    /// that is to come with it, before it replaces anything: the signed audit
    /// chain verifies as `audit --verify` does (a key file of another
    /// database fails here, at the chain head's MAC), every sealed message
    /// and note opens, and the conversations pass the domain rules an import
    /// applies. Records nothing: the copy checked is the one restored.
    ///
    /// # Errors
    /// [`ServiceError::BadBackup`] naming the first problem, or storage failures.
    pub async fn check_restorable(&self) -> Result<(), ServiceError> {
        let bad = |why: String| ServiceError::BadBackup(why);
        let chain = self
            .store
            .walk_audit_chain(super::ChainWalk::new(self.audit_key.clone()))
            .await?;
        if let Some(fault) = chain.fault {
            return Err(bad(format!(
                "its audit trail does not verify with its key file ({fault}): the key file belongs to another database, or the backup was altered"
            )));
        }
        let records = match self.store.conversation_records(None).await {
            Ok(records) => records,
            Err(StoreError::Corrupt(why)) => {
                return Err(bad(format!(
                    "it holds data that does not open or decode with its key file ({why})"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.clock.now();
        let mut text = Vec::new();
        write_export(&mut text, &records, now, Layout::Json)
            .map_err(|e| ServiceError::from(StoreError::Backend(Box::new(e))))?;
        let text = String::from_utf8(text)
            .map_err(|e| ServiceError::from(StoreError::Backend(Box::new(e))))?;
        let clock = ImportClock {
            now,
            ttl_us: self.settings.conversation_ttl_us,
        };
        read_export_at(&text, clock).map_err(|e| match e {
            ExportFileError::Invalid(why) => bad(format!("it breaks the bridge's rules: {why}")),
            other => bad(other.to_string()),
        })?;
        Ok(())
    }

    /// The id of another process using the database at `path`, if any. Call
    /// before opening it in this process.
    ///
    /// # Errors
    /// When the lock state cannot be read.
    pub fn database_in_use(path: &Path) -> Result<Option<u32>, ServiceError> {
        Ok(S::in_use(path)?)
    }

    /// Replaces this database's content with the backup at `src` (checked with
    /// [`Bridge::check_backup`] first). Open the database again afterwards so
    /// the schema is brought up to date, then call [`Bridge::record_restore`].
    ///
    /// # Errors
    /// Storage failures.
    pub async fn restore_from(
        &self,
        src: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, ServiceError> {
        match self.store.restore_from(src, progress).await {
            Ok(report) => Ok(report),
            Err(StoreError::Conflict(why)) => Err(ServiceError::BadBackup(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// Appends the audit record of a finished restore to the restored trail.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record_restore(
        &self,
        report: &CopyReport,
        forced: bool,
    ) -> Result<(), ServiceError> {
        let mut draft = cli("restore");
        draft.bytes = Some(i64::try_from(report.bytes()).unwrap_or(i64::MAX));
        if forced {
            draft.detail = Some("forced over a database in use".to_owned());
        }
        self.record(self.clock.now(), draft).await
    }
}
