//! The audit spool on SQLite: the store appends the records of calls that
//! wrote nothing when asked ([`spool::Spooling`]) and, at a clean exit,
//! whatever is still waiting.

use super::tx::WriteTx;
use super::{Inner, SqliteStore, audit, open};
use crate::domain::Timestamp;
use crate::store::StoreError;
use crate::store::spool::{self, AuditSpool};

impl Drop for Inner {
    /// Appends whatever audit records are still waiting, so a clean exit loses none.
    fn drop(&mut self) {
        if self.spool.is_empty() {
            return;
        }
        self.spool.close_windows(Timestamp::now(), true);
        let conn = self.conn.get_mut();
        let flushed = open::allow_waiting(|| {
            let tx = WriteTx::begin(conn, &self.audit_key, &self.signed_head, &self.sealer)?;
            let n = audit::append_spooled(&tx, &self.spool)?;
            tx.commit()?;
            self.spool.forget(n);
            Ok::<_, StoreError>(())
        });
        if let Err(e) = flushed {
            tracing::error!(error = %e, "cannot append the last audit records");
        }
    }
}

impl spool::Spooling for SqliteStore {
    fn spool(&self) -> &AuditSpool {
        &self.inner.spool
    }

    async fn flush_spooled(&self) -> Result<(), StoreError> {
        self.flush().await
    }
}
