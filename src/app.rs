//! Wiring: resolves the database path, opens the chosen store and builds the
//! service on it. The only file that picks a storage backend: a
//! `postgres://` or `postgresql://` URL selects PostgreSQL, anything else is
//! an SQLite file path.
//!
//! The database path is resolved once, following symlinks, before anything
//! is derived from it: the key (unless `key_file` puts it elsewhere), wake-up
//! and passphrase files sit beside the real database, so every server
//! reaching it by any path agrees on tokens. A PostgreSQL database has no
//! "beside": its key file is `key_file` (or `$MCP_BRIDGE_KEY_FILE`), else
//! `bridge.key` in the data directory, and every host serving one database
//! must hold a copy of the same key file.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::audit::AuditKey;
use crate::auth::ServerKey;
use crate::config::Config;
use crate::mcp::BridgeServer;
use crate::service::{Bridge, SharedRedactor, SystemClock};
use crate::store::AnyStore;
use crate::store::postgres::{PgStore, PgUrl};
use crate::store::sealed::Sealer;
use crate::store::sqlite::{OpenMode, Refused, SqliteStore};

/// The store the application runs on (SQLite or PostgreSQL, chosen at start-up).
pub type AppStore = AnyStore;

/// An opened bridge and the settings it was built from.
pub struct App {
    /// The service layer.
    pub bridge: Arc<Bridge<AppStore>>,
    /// The database file; for PostgreSQL, a name in the key file's directory
    /// (files that sit beside an SQLite database, such as the operator
    /// passphrase, sit there).
    pub db_path: PathBuf,
    /// The key file.
    pub key_file: PathBuf,
    /// The database as shown to people (a PostgreSQL URL without its password).
    pub db_name: String,
    /// The validated configuration.
    pub config: Config,
}

/// `path` made absolute with every symlink followed: the existing part is
/// canonicalised, a part that does not exist yet (to be created) is
/// appended with `.` and `..` applied. Idempotent.
///
/// # Errors
/// A symlink to nowhere, or a component that cannot be read.
pub fn resolve_db_path(path: &Path) -> anyhow::Result<PathBuf> {
    if pg_url(path).is_some() {
        return Ok(path.to_owned());
    }
    if let Some(why) = path.to_str().and_then(not_a_path) {
        // Not echoed: such a value can carry a password.
        anyhow::bail!("the database (--db or MCP_BRIDGE_DB) {why}");
    }
    // `--db=~/team/bridge.db` reaches us unexpanded (no shell expands `~`
    // after `=`, nor inside quotes): it means the home directory, as it does
    // for `key_file`, not a directory named `~` in the current one.
    let home_relative = path.to_str().and_then(|t| t.strip_prefix("~/"));
    let expanded;
    let path = match home_relative {
        Some(rest) => {
            let home = dirs::home_dir()
                .context("the database path uses ~ but the home directory is unknown")?;
            expanded = home.join(rest);
            expanded.as_path()
        }
        None => path,
    };
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(path)
    };
    let mut resolved = PathBuf::from("/");
    let mut exists = true;
    for component in absolute.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                let next = resolved.join(name);
                if exists && std::fs::symlink_metadata(&next).is_ok() {
                    resolved = std::fs::canonicalize(&next).with_context(|| {
                        format!(
                            "cannot resolve {}: a symbolic link to something that does not exist?",
                            next.display()
                        )
                    })?;
                } else {
                    exists = false;
                    resolved = next;
                }
            }
        }
    }
    Ok(resolved)
}

/// Why `db`, which is no PostgreSQL URL, is no file path either: a URL of
/// another kind, or a libpq keyword/value string. Taken as paths, both made
/// a file whose name held their password, and printed it on stderr.
fn not_a_path(db: &str) -> Option<&'static str> {
    /// libpq's connection keywords; a keyword/value string starts with one.
    const KEYWORDS: &[&str] = &[
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
    ];
    if db.contains("://") {
        return Some(
            "is a URL of a kind the bridge does not serve: give a postgres:// (or postgresql://) URL, or a file path",
        );
    }
    let first = db.split_whitespace().next()?;
    let (keyword, _) = first.split_once('=')?;
    KEYWORDS.contains(&keyword.trim()).then_some(
        "looks like a PostgreSQL keyword/value connection string (host=… dbname=…), which the bridge does not read: give it as a URL, postgres://USER:PASSWORD@HOST:PORT/DBNAME",
    )
}

/// The key file beside a database: `bridge.key` in the same directory.
pub fn key_path(db: &Path) -> PathBuf {
    db.with_file_name("bridge.key")
}

/// The key file of the database at `db`: `key_file` from the configuration,
/// else `bridge.key` beside the database.
pub fn key_file(db: &Path, config: &Config) -> PathBuf {
    config.key_file.clone().unwrap_or_else(|| key_path(db))
}

/// Creates the key file's directory (mode 0700) when `key_file` puts it
/// apart from the database and it does not exist yet.
fn prepare_key_dir(key_file: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match key_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the key file's directory {}", dir.display())),
        _ => Ok(()),
    }
}

/// The PostgreSQL URL `db` names, if it names one.
pub fn pg_url(db: &Path) -> Option<PgUrl> {
    db.to_str().and_then(PgUrl::parse)
}

/// The key file of a PostgreSQL database: `key_file` from the configuration
/// (or `$MCP_BRIDGE_KEY_FILE`), else `bridge.key` in the data directory.
pub fn pg_key_path(config: &Config) -> PathBuf {
    config
        .key_file
        .clone()
        .unwrap_or_else(|| key_path(&crate::config::default_db_path()))
}

impl App {
    /// What every server does once its database is open: records the paths
    /// it keeps from approved commands for the other servers of its host
    /// (see `service::yolo::hidden`).
    ///
    /// # Errors
    /// The store's.
    pub async fn start_serving(&self) -> anyhow::Result<()> {
        self.bridge
            .record_hidden_paths()
            .await
            .context("cannot record this server's hidden paths")
    }

    /// Opens the database at `db` (creating it and its key in `OpenMode::Create`).
    ///
    /// # Errors
    /// When the key file or database cannot be opened, with the path in the message.
    pub fn open(db: &Path, config: Config, mode: OpenMode) -> anyhow::Result<App> {
        if let Some(url) = pg_url(db) {
            return Self::open_postgres(&url, &pg_key_path(&config), config, mode);
        }
        let db = &resolve_db_path(db)?;
        // The key comes first: the store seals its audit chain with it from
        // the moment it opens (a migration signs the chain head).
        let key_file = key_file(db, &config);
        // The file is checked before the key is read, so a path that is not
        // a private SQLite database gets that refusal, untouched.
        let checked = match mode {
            OpenMode::Create => SqliteStore::prepare(db),
            OpenMode::Existing if !db.is_file() => {
                anyhow::bail!("no database at {}", db.display())
            }
            OpenMode::Existing => SqliteStore::check_private_database(db),
        };
        match checked {
            // The refusal names the path and the fix already.
            Err(crate::store::StoreError::Backend(e)) if e.is::<Refused>() => {
                anyhow::bail!("{e}")
            }
            other => other.with_context(|| format!("cannot open database {}", db.display()))?,
        }
        let key = match mode {
            OpenMode::Create => {
                prepare_key_dir(&key_file)?;
                ServerKey::load_or_create(&key_file)?
            }
            OpenMode::Existing => ServerKey::load(&key_file).with_context(|| {
                format!(
                    "the database's key file is needed (it unseals the stored messages, signs the audit trail and derives the session tokens) but {} is unusable",
                    key_file.display()
                )
            })?,
        };
        let audit_key = AuditKey::derive(&key);
        let sealer = Sealer::new(&key);
        let store = match SqliteStore::open(db, mode, config.durability, audit_key, sealer) {
            Ok(store) => AnyStore::Sqlite(store),
            Err(crate::store::StoreError::NotFound) => {
                anyhow::bail!("no database at {}", db.display())
            }
            // The refusal names the path and the fix already.
            Err(crate::store::StoreError::Backend(e)) if e.is::<Refused>() => {
                anyhow::bail!("{e}")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open database {}", db.display()));
            }
        };
        Ok(Self::build(
            store,
            key,
            db.to_owned(),
            key_file,
            db.display().to_string(),
            config,
        ))
    }

    /// Opens (and migrates) the PostgreSQL database at `url`, whose key is
    /// `key_file` (created in `OpenMode::Create` if missing).
    ///
    /// # Errors
    /// When the key file or database cannot be opened.
    pub fn open_postgres(
        url: &PgUrl,
        key_file: &Path,
        config: Config,
        mode: OpenMode,
    ) -> anyhow::Result<App> {
        let key_file = key_file.to_owned();
        let key = match mode {
            OpenMode::Create => {
                if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    use std::os::unix::fs::DirBuilderExt;
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                ServerKey::load_or_create(&key_file)?
            }
            OpenMode::Existing => ServerKey::load(&key_file).with_context(|| {
                format!(
                    "the database's key file is needed (it signs the audit trail and derives the session tokens) but {} is unusable; set MCP_BRIDGE_KEY_FILE to the key file every server of this database shares",
                    key_file.display()
                )
            })?,
        };
        let store = PgStore::open(
            url,
            config.durability,
            AuditKey::derive(&key),
            Sealer::new(&key),
        )
        .with_context(|| format!("cannot open database {url}"))?;
        let db_path = key_file.with_file_name("postgres.db");
        Ok(Self::build(
            AnyStore::Postgres(store),
            key,
            db_path,
            key_file,
            url.to_string(),
            config,
        ))
    }

    fn build(
        store: AnyStore,
        key: ServerKey,
        db: PathBuf,
        key_file: PathBuf,
        db_name: String,
        mut config: Config,
    ) -> App {
        // Commands must never see the database or the key: hide their directories.
        for file in [&db, &key_file] {
            if let Some(dir) = file.parent() {
                config.keep_from_commands(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                });
            }
        }
        let redactor = SharedRedactor::new(config.redaction.clone());
        redactor.warm_up();
        let bridge = Bridge::new(
            store,
            key,
            redactor,
            config.bridge.clone(),
            Arc::new(SystemClock),
        );
        App {
            bridge: Arc::new(bridge),
            db_path: db,
            key_file,
            db_name,
            config,
        }
    }

    /// The MCP server over this bridge.
    pub fn mcp_server(&self) -> BridgeServer<AppStore> {
        BridgeServer::new(Arc::clone(&self.bridge))
    }
}

#[cfg(test)]
mod tests {
    use super::not_a_path;

    #[test]
    fn urls_of_other_kinds_and_keyword_strings_are_no_paths() {
        for db in [
            "host=127.0.0.1 port=1 password=KwSecret9 user=u",
            "  dbname=bridge",
            "password=x",
            "mysql://u:p@h/db",
            "sqlite:///srv/bridge.db",
        ] {
            assert!(not_a_path(db).is_some(), "{db}");
        }
        for db in [
            "/srv/bridge/bridge.db",
            "bridge.db",
            "~/team/bridge.db",
            "/srv/a=b/bridge.db",
            "notes=1.db",
            "",
        ] {
            assert!(not_a_path(db).is_none(), "{db}");
        }
    }
}
