//! The paths kept from approved commands on this host: this server's own
//! (its configuration file, TLS key, database and key directories) and the
//! ones every other server of the host recorded in the store. A stdio server
//! on the database of an HTTP server did not know that server's TLS key, so
//! a command it ran could read it.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::super::{Bridge, ServiceError};
use crate::store::YoloStore;

impl<S: YoloStore> Bridge<S> {
    /// Records this server's own hidden paths for its host, for every other
    /// server there; each server does it as it starts.
    ///
    /// # Errors
    /// The store's.
    pub async fn record_hidden_paths(&self) -> Result<(), ServiceError> {
        let paths = self
            .settings
            .yolo
            .hide
            .iter()
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .collect();
        self.store
            .keep_hidden(host_name().to_owned(), paths, self.clock.now())
            .await?;
        Ok(())
    }

    /// Every path kept from commands on this host, this server's first.
    ///
    /// # Errors
    /// The store's: a command is refused rather than run with fewer masks.
    pub(in crate::service) async fn hidden_paths(&self) -> Result<Vec<PathBuf>, ServiceError> {
        let mut all = self.settings.yolo.hide.clone();
        for raw in self.store.hidden_paths(host_name().to_owned()).await? {
            let path = PathBuf::from(OsString::from_vec(raw));
            // Only servers write these, and always absolute; a relative one
            // (a hand-made backup) would be read against our own directory.
            // One gone from the disk (a server's old TLS key) has nothing to
            // mask, and kept would refuse every workspace around it for good;
            // if it comes back, the next run reads it again.
            if path.is_absolute() && path.symlink_metadata().is_ok() && !all.contains(&path) {
                all.push(path);
            }
        }
        Ok(all)
    }
}

/// This machine's host name, which keys the recorded paths: servers on other
/// hosts have other files (and a missing path is not masked anyway).
pub(crate) fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}
