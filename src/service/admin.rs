//! The management commands' rules: what `list`, `show`, `tokens`, `audit`,
//! `cleanup`, `export`, `import`, `backup` and `restore` may do, and the audit
//! record each of them leaves (actor `cli`; never message content or tokens).
//!
//! Calls the store through [`AdminStore`] only. Everything a command reveals
//! (message text, tokens) is audited before it is handed back, so a command
//! whose audit record cannot be written reveals nothing.

mod chain;
mod end;
mod file_backup;
mod import_redaction;
mod transfer;

use std::sync::Arc;

pub use chain::{ChainFault, ChainReport, ChainWalk};
pub use end::Ended;
pub use transfer::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportFileError, Layout, MergeLimits, SEALED_FORMAT, is_sealed,
    seal_export, validate_export, validate_sealed_export, write_export,
};

use super::{Bridge, ServiceError};
use crate::audit::{AuditDraft, AuditRecord, Outcome};
use crate::auth::{ServerKey, Token};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::{
    AdminStore, AuditPrune, AuditQuery, CleanupReport, Conversation, ConversationRecord,
    ConversationSummary, ImportMode, ImportReport,
};
use import_redaction::redact_records;

/// Every conversation at a moment, for `list`.
#[derive(Debug, Clone)]
pub struct Listing {
    /// When it was read.
    pub at: Timestamp,
    /// A side is alive if its heartbeat is at most this old.
    pub heartbeat_timeout_s: u64,
    /// The conversations, oldest first.
    pub conversations: Vec<ConversationSummary>,
}

/// One conversation in full, for `show`.
#[derive(Debug, Clone)]
pub struct Shown {
    /// When it was read.
    pub at: Timestamp,
    /// A side is alive if its heartbeat is at most this old.
    pub heartbeat_timeout_s: u64,
    /// The conversation and its messages.
    pub record: ConversationRecord,
}

/// Re-derived session tokens. The tokens' `Debug` never shows them.
#[derive(Debug, Clone)]
pub struct RevealedTokens {
    /// The conversation.
    pub conversation: Conversation,
    /// Whether it has expired (the tokens were revealed with `--force`).
    pub expired: bool,
    /// One token per active participant, side `a` first.
    pub tokens: Vec<(Side, Token)>,
}

/// An export ready to be written.
#[derive(Debug, Clone)]
pub struct Export {
    /// When it was made.
    pub at: Timestamp,
    /// The conversations with their messages.
    pub records: Vec<ConversationRecord>,
}

impl Export {
    /// Messages in all.
    pub fn messages(&self) -> usize {
        self.records.iter().map(|r| r.messages.len()).sum()
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Conversations in the file.
    pub conversations_in_file: usize,
    /// Messages in the file.
    pub messages_in_file: usize,
    /// Secrets redacted from the file's texts before storing them.
    pub redactions: usize,
    /// What changed in the database.
    pub report: ImportReport,
}

fn cli(action: &str) -> AuditDraft {
    AuditDraft::new("cli", action)
}

impl<S: AdminStore> Bridge<S> {
    /// Appends a management action's audit record; a failure is the command's failure.
    async fn record(&self, at: Timestamp, draft: AuditDraft) -> Result<(), ServiceError> {
        self.store
            .record_management(at, draft)
            .await
            .map_err(ServiceError::from)
    }

    /// Records a refused or failed management action and hands the error back.
    async fn refused(&self, at: Timestamp, draft: AuditDraft, err: ServiceError) -> ServiceError {
        let outcome = if err.is_refusal() {
            Outcome::Denied
        } else {
            Outcome::Error
        };
        if let Err(e) = self
            .store
            .record_management(at, draft.failed(outcome, err.code()))
            .await
        {
            tracing::error!(error = %crate::store::error_chain(&e), "cannot append to the audit trail");
        }
        err
    }

    /// Records a management command refused before it reached the store, such
    /// as a backup that would overwrite a file or a restore onto a database in
    /// use. `code` is a short stable word such as `exists` or `in_use`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record_refusal(&self, action: &str, code: &str) -> Result<(), ServiceError> {
        let draft = cli(action).failed(Outcome::Denied, code);
        self.record(self.clock.now(), draft).await
    }

    /// Every conversation with counts and heartbeats.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_conversations(&self) -> Result<Listing, ServiceError> {
        let at = self.clock.now();
        let conversations = self.store.conversation_summaries().await?;
        let mut draft = cli("list");
        draft.count = Some(i64::try_from(conversations.len()).unwrap_or(i64::MAX));
        self.record(at, draft).await?;
        Ok(Listing {
            at,
            heartbeat_timeout_s: self.settings.heartbeat_timeout_s,
            conversations,
        })
    }

    /// One conversation with all its messages and their read state.
    ///
    /// # Errors
    /// [`ServiceError::UnknownConversation`], or storage failures.
    pub async fn show_conversation(&self, id: &ConversationId) -> Result<Shown, ServiceError> {
        let at = self.clock.now();
        let draft = cli("show").on(Some(id.as_str()), None);
        let found = self
            .store
            .conversation_records(Some(vec![id.clone()]))
            .await?;
        let Some(record) = found.into_iter().next() else {
            let err = ServiceError::UnknownConversation(id.clone());
            return Err(self.refused(at, draft, err).await);
        };
        let mut draft = draft;
        draft.count = Some(i64::try_from(record.messages.len()).unwrap_or(i64::MAX));
        self.record(at, draft).await?;
        Ok(Shown {
            at,
            heartbeat_timeout_s: self.settings.heartbeat_timeout_s,
            record,
        })
    }

    /// Re-derives the session tokens of a conversation's active participants from the server key.
    /// Refuses an expired conversation unless `force`. Audited as "tokens
    /// revealed", without the tokens.
    ///
    /// # Errors
    /// [`ServiceError::UnknownConversation`], [`ServiceError::TokensExpired`], or storage failures.
    pub async fn reveal_tokens(
        &self,
        id: &ConversationId,
        force: bool,
    ) -> Result<RevealedTokens, ServiceError> {
        let at = self.clock.now();
        let mut draft = cli("tokens").on(Some(id.as_str()), None);
        draft.detail = Some(format!("tokens revealed for {id}"));
        let conversation = match self.store.conversation(id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                let err = ServiceError::UnknownConversation(id.clone());
                draft.detail = None;
                return Err(self.refused(at, draft, err).await);
            }
            Err(e) => return Err(e.into()),
        };
        let expired = at >= conversation.expires_at;
        if expired && !force {
            let err = ServiceError::TokensExpired {
                id: id.clone(),
                expired_at: conversation.expires_at,
            };
            draft.detail = None;
            return Err(self.refused(at, draft, err).await);
        }
        if expired {
            draft.detail = Some(format!("tokens revealed for {id} (expired, --force)"));
        }
        // A removed participant's token no longer works; it is not shown.
        let tokens: Vec<(Side, Token)> = conversation
            .active()
            .map(|p| (p.side, self.key.derive(id, p.side)))
            .collect();
        draft.count = Some(i64::try_from(tokens.len()).unwrap_or(i64::MAX));
        self.record(at, draft).await?;
        Ok(RevealedTokens {
            conversation,
            expired,
            tokens,
        })
    }

    /// The newest audit records matching `query`, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn audit_trail(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, ServiceError> {
        let at = self.clock.now();
        let mut draft = cli("audit").on(
            query.conversation.as_ref().map(ConversationId::as_str),
            None,
        );
        let records = self.store.audit_query(query).await?;
        draft.count = Some(i64::try_from(records.len()).unwrap_or(i64::MAX));
        self.record(at, draft).await?;
        Ok(records)
    }

    /// Walks the whole hash chain from one snapshot.
    ///
    /// # Errors
    /// Storage failures (a broken chain is a report, not an error).
    pub async fn verify_audit(&self) -> Result<ChainReport, ServiceError> {
        let at = self.clock.now();
        let report = self
            .store
            .walk_audit_chain(ChainWalk::new(self.audit_key.clone()))
            .await?;
        let mut draft = cli("audit_verify");
        draft.count = Some(report.records);
        match &report.fault {
            None => self.record(at, draft).await?,
            Some(fault) => {
                draft.detail = Some(format!("{} at record {}", fault.kind(), fault.seq()));
                let draft = draft.failed(Outcome::Error, "chain_broken");
                // A tampered trail may not take another record (e.g. a forged
                // one holds the next seq); the report matters more than its record.
                if let Err(e) = self.record(at, draft).await {
                    tracing::warn!(error = %crate::store::error_chain(&e), "cannot record the verification in the broken audit trail");
                }
            }
        }
        Ok(report)
    }

    /// Deletes expired conversations (or, with `dry_run`, says which would
    /// go) and, with an audit retention set, prunes the older audit records.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn cleanup(&self, dry_run: bool) -> Result<CleanupReport, ServiceError> {
        let at = self.clock.now();
        let audit_cutoff = self
            .settings
            .audit_retention_us
            .map(|retention| at.plus_micros(-retention));
        let audit = Arc::new(|report: &CleanupReport| {
            let mut draft = cli("cleanup");
            draft.count = Some(i64::try_from(report.removed.len()).unwrap_or(i64::MAX));
            let pruned = match &report.audit {
                AuditPrune::Pruned { records, .. } => format!(" audit_pruned={records}"),
                AuditPrune::Refused(_) => " audit_pruned=refused".to_owned(),
                AuditPrune::Off | AuditPrune::Nothing => String::new(),
            };
            draft.detail = Some(format!(
                "{}conversations={} messages={} rate_buckets={} mcp_sessions={}{pruned}",
                if report.dry_run { "dry-run " } else { "" },
                report.removed.len(),
                report.messages(),
                report.rate_buckets,
                report.mcp_sessions
            ));
            draft
        });
        let sessions_cutoff = at.plus_micros(-crate::store::UNBOUND_MCP_SESSION_TTL_US);
        Ok(self
            .store
            .cleanup(at, dry_run, audit_cutoff, sessions_cutoff, audit)
            .await?)
    }

    /// Reads conversations for export: the named ones, or every one.
    ///
    /// # Errors
    /// [`ServiceError::UnknownConversation`] for the first id not found, or storage failures.
    pub async fn export(
        &self,
        ids: Option<Vec<ConversationId>>,
        sealed: bool,
    ) -> Result<Export, ServiceError> {
        let at = self.clock.now();
        let records = self.store.conversation_records(ids.clone()).await?;
        if let Some(missing) = ids
            .iter()
            .flatten()
            .find(|id| !records.iter().any(|r| &r.conversation.id == *id))
        {
            let draft = cli("export").on(Some(missing.as_str()), None);
            let err = ServiceError::UnknownConversation(missing.clone());
            return Err(self.refused(at, draft, err).await);
        }
        let export = Export { at, records };
        let mut draft = cli("export");
        if let [only] = export.records.as_slice() {
            draft = draft.on(Some(only.conversation.id.as_str()), None);
        }
        draft.count = Some(i64::try_from(export.records.len()).unwrap_or(i64::MAX));
        draft.detail = Some(format!(
            "messages={} {}",
            export.messages(),
            if sealed { "sealed" } else { "plaintext" }
        ));
        self.record(at, draft).await?;
        Ok(export)
    }

    /// The bounds an import that adds to live conversations must keep.
    fn merge_limits(&self) -> MergeLimits {
        MergeLimits {
            max_pending: self.settings.limits.max_pending_messages,
            max_participants: self.settings.teams.max_participants,
        }
    }

    /// Validates an export file (sealed with this bridge's key file, or
    /// plaintext) completely, redacts its texts with this
    /// bridge's engine, and stores it in one transaction. Importing the same
    /// file again changes nothing.
    ///
    /// # Errors
    /// [`ServiceError::ExportFile`] for a newer or invalid file,
    /// [`ServiceError::Conflict`] when a conversation id exists with other
    /// content, or storage failures. Nothing is written on error.
    pub async fn import(&self, text: &str) -> Result<Imported, ServiceError> {
        self.store_export(text, &self.key, ImportMode::Merge).await
    }

    /// Restores an export-based backup (what `backup` writes for a PostgreSQL
    /// database): opens it with `key` (the backup's own key file, or this
    /// bridge's for `None`), checks and redacts it as [`Bridge::import`] does, and
    /// replaces every conversation of the database with the file's in one
    /// transaction. The audit trail stays and records the restore.
    ///
    /// # Errors
    /// As [`Bridge::import`], except that no conversation can conflict.
    pub async fn restore_export(
        &self,
        text: &str,
        key: Option<&ServerKey>,
    ) -> Result<Imported, ServiceError> {
        let key = key.unwrap_or(&self.key);
        self.store_export(text, key, ImportMode::Replace).await
    }

    /// Whether `other` is this bridge's key file (then the session tokens of
    /// conversations restored from a backup made with it stay the same).
    pub fn has_key(&self, other: &ServerKey) -> bool {
        const LABEL: &str = "mcp-bridge: same key file";
        self.key.derive_subkey(LABEL) == other.derive_subkey(LABEL)
    }

    async fn store_export(
        &self,
        text: &str,
        key: &ServerKey,
        mode: ImportMode,
    ) -> Result<Imported, ServiceError> {
        let action = match mode {
            ImportMode::Merge => "import",
            ImportMode::Replace => "restore",
        };
        let at = self.clock.now();
        let opened;
        let text = if transfer::is_sealed(text) {
            opened = match transfer::open_sealed(key, text) {
                Ok(t) => t,
                Err(e) => return Err(self.refused(at, cli(action), e.into()).await),
            };
            opened.as_str()
        } else {
            text
        };
        let clock = transfer::ImportClock {
            now: at,
            ttl_us: self.settings.conversation_ttl_us,
        };
        let checked = transfer::read_export_at(text, clock).and_then(|records| {
            // A backup is put back as it was; an import adds to live inboxes.
            if mode == ImportMode::Merge {
                transfer::check_merge(&records, self.merge_limits())?;
            }
            Ok(records)
        });
        let mut records = match checked {
            Ok(r) => r,
            Err(e) => return Err(self.refused(at, cli(action), e.into()).await),
        };
        let redactions = redact_records(self.redactor.get(), &self.key, &mut records);
        if let Err(e) = transfer::check_redacted(&records) {
            return Err(self.refused(at, cli(action), e.into()).await);
        }
        let conversations_in_file = records.len();
        let messages_in_file = records.iter().map(|r| r.messages.len()).sum();
        let audit = Arc::new(move |report: &ImportReport| {
            let mut draft = cli(action);
            draft.count = Some(i64::try_from(report.messages_added).unwrap_or(i64::MAX));
            let removed = match mode {
                ImportMode::Merge => String::new(),
                ImportMode::Replace => format!(
                    "export-based conversations_removed={} ",
                    report.conversations_removed
                ),
            };
            draft.detail = Some(format!(
                "{removed}conversations_added={} conversations_updated={} messages_added={} messages_skipped={} redactions={redactions}",
                report.conversations_added,
                report.conversations_updated,
                report.messages_added,
                report.messages_skipped
            ));
            draft
        });
        match self.store.import(records, mode, at, audit).await {
            Ok(report) => Ok(Imported {
                conversations_in_file,
                messages_in_file,
                redactions,
                report,
            }),
            Err(e) => Err(self.refused(at, cli(action), e.into()).await),
        }
    }

    /// Reads every conversation for an export-based backup (the kind a
    /// PostgreSQL database gets: its file cannot be copied), from one
    /// snapshot, and records the backup. The caller seals and writes it.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn backup_export(&self) -> Result<Export, ServiceError> {
        let at = self.clock.now();
        let records = self.store.conversation_records(None).await?;
        let export = Export { at, records };
        let mut draft = cli("backup");
        draft.count = Some(i64::try_from(export.records.len()).unwrap_or(i64::MAX));
        draft.detail = Some(format!("export-based messages={}", export.messages()));
        self.record(at, draft).await?;
        Ok(export)
    }
}
