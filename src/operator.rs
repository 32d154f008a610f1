//! The operator passphrase: what `mcp-bridge yolo confirm` and `yolo approve`
//! ask for, so that an agent with a shell — which can fake a terminal with
//! `script` or any pty — still cannot confirm or approve on its own.
//!
//! Only an Argon2id hash is kept, in a 0600 file beside the database
//! (`operator.passphrase`), with the count of consecutive wrong answers: after
//! [`FREE_ATTEMPTS`] of them every further attempt waits, twice as long each
//! time, up to an hour. Owns that file and nothing else; no logging (the
//! passphrase never leaves this module except as a caller's argument).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};

/// The file's name, in the database's directory.
pub const FILE_NAME: &str = "operator.passphrase";
/// Shortest passphrase accepted, in characters.
pub const MIN_CHARS: usize = 12;
/// Longest passphrase accepted, in bytes (hashing cost is per byte too).
pub const MAX_BYTES: usize = 1024;
/// Consecutive wrong answers allowed before attempts have to wait.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first wait after [`FREE_ATTEMPTS`] wrong answers, in seconds; it doubles.
const FIRST_LOCK_S: i64 = 60;
/// The longest wait, in seconds.
const MAX_LOCK_S: i64 = 3600;
/// Argon2id cost: 64 MiB of memory, 3 passes, one lane (about a quarter of a
/// second here), far above the OWASP minimum, so that a stolen hash of a
/// strong passphrase is not worth brute-forcing.
const M_COST_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;
/// How long a check or a change waits for another one on the same file
/// before giving up.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// Hashes with a larger cost are refused rather than computed: the file may
/// have been edited to make every check hang.
const MAX_M_COST_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;

/// What can go wrong with the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// None was set.
    #[error(
        "no operator passphrase is set; run `mcp-bridge yolo passphrase` in a terminal first (it is kept as an Argon2id hash in {path})"
    )]
    NotSet {
        /// Where it would be.
        path: PathBuf,
    },
    /// The answer was wrong.
    #[error(
        "wrong operator passphrase; nothing was changed ({left} more attempt{} before attempts have to wait)",
        if *.left == 1 { "" } else { "s" }
    )]
    Wrong {
        /// Attempts left before the waiting starts.
        left: u32,
    },
    /// Too many wrong answers in a row; attempts wait.
    #[error(
        "too many wrong operator passphrases in a row; try again in {wait_s} s (each further wrong one doubles the wait)"
    )]
    Locked {
        /// Seconds until the next attempt is allowed.
        wait_s: i64,
    },
    /// A new passphrase is too weak or too long.
    #[error(
        "the passphrase must be {MIN_CHARS} to {MAX_BYTES} bytes long, and a long one is better: several random words"
    )]
    Weak,
    /// The two entries of a new passphrase differ.
    #[error("the two entries differ; nothing was changed")]
    Mismatch,
    /// Group or other users may read the file.
    #[error(
        "{path} has mode {mode:03o}; other users could read the hash and guess the passphrase offline. Run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold what this module writes.
    #[error(
        "{path} is damaged ({why}); remove it and set the passphrase again with `mcp-bridge yolo passphrase`"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Another check or change of the passphrase held the file too long.
    #[error("another operator passphrase check is still running; nothing was changed, try again")]
    Busy,
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// The Argon2id hash in PHC form (`$argon2id$v=19$m=…`).
    hash: String,
    /// Consecutive wrong answers.
    failures: u32,
    /// Unix time (s) of the last wrong answer.
    last_failure: Option<i64>,
}

/// The passphrase file of one database.
#[derive(Debug, Clone)]
pub struct Passphrase {
    path: PathBuf,
}

/// The current Unix time in seconds.
fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How long after the last wrong answer the next attempt must wait.
fn lock_s(failures: u32) -> i64 {
    if failures < FREE_ATTEMPTS {
        return 0;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(6);
    (FIRST_LOCK_S << doublings).min(MAX_LOCK_S)
}

fn hasher() -> Argon2<'static> {
    // The constants are within Argon2's limits, checked by a test.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passphrase {
    /// The passphrase file beside the database at `db` (a resolved path).
    pub fn beside(db: &Path) -> Self {
        Self {
            path: db.with_file_name(FILE_NAME),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: io::Error) -> PassphraseError {
        PassphraseError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, why: impl Into<String>) -> PassphraseError {
        PassphraseError::Corrupt {
            path: self.path.clone(),
            why: why.into(),
        }
    }

    /// Whether a passphrase is set.
    ///
    /// # Errors
    /// When the file is unreadable, too open or damaged.
    pub fn is_set(&self) -> Result<bool, PassphraseError> {
        Ok(self.load()?.is_some())
    }

    fn load(&self) -> Result<Option<Stored>, PassphraseError> {
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        if !meta.is_file() {
            return Err(self.corrupt("not a regular file"));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PassphraseError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        let text = fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        let stored: Stored =
            serde_json::from_str(&text).map_err(|e| self.corrupt(e.to_string()))?;
        let hash = PasswordHash::new(&stored.hash).map_err(|e| self.corrupt(e.to_string()))?;
        if hash.algorithm.as_str() != "argon2id" {
            return Err(self.corrupt("not an Argon2id hash"));
        }
        let params = Params::try_from(&hash).map_err(|e| self.corrupt(e.to_string()))?;
        if params.m_cost() > MAX_M_COST_KIB || params.t_cost() > MAX_T_COST {
            return Err(self.corrupt("its cost parameters are out of range"));
        }
        Ok(Some(stored))
    }

    /// Holds the passphrase's lock file (`.operator.passphrase.lock` beside
    /// it) exclusively until the guard is dropped.
    ///
    /// A check reads the count of wrong answers, spends a quarter of a
    /// second and 64 MiB on Argon2id, and writes the count back: without
    /// this, concurrent checks (a burst of console posts, parallel
    /// `yolo approve` processes on fake terminals) each counted from the
    /// same stale value, so a burst of any size cost one step of the
    /// count, and they all hashed at once. An `flock` serialises threads
    /// and processes alike (each opens the file anew, so each has its own
    /// open file description), and it dies with its holder.
    fn exclusive(&self) -> Result<fs::File, PassphraseError> {
        let path = self.path.with_file_name(format!(".{FILE_NAME}.lock"));
        let file = crate::regular_file::open_lock(&path).map_err(|source| PassphraseError::Io {
            path: path.clone(),
            source,
        })?;
        let meta = file.metadata().map_err(|source| PassphraseError::Io {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(PassphraseError::Corrupt {
                path,
                why: "not a regular file".into(),
            });
        }
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(fs::TryLockError::WouldBlock) => return Err(PassphraseError::Busy),
                Err(fs::TryLockError::Error(source)) => {
                    return Err(PassphraseError::Io { path, source });
                }
            }
        }
    }

    /// Writes `stored` through a private temporary file renamed into place
    /// (the caller holds [`Passphrase::exclusive`], so the name is free).
    fn save(&self, stored: &Stored) -> Result<(), PassphraseError> {
        let tmp = self
            .path
            .with_file_name(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
        let text = serde_json::to_string(stored).map_err(|e| self.corrupt(e.to_string()))?;
        let written = (|| {
            let _ = fs::remove_file(&tmp);
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(|e| self.io(e))
    }

    /// Checks `answer`, counting wrong answers and refusing while attempts
    /// must wait. A right answer resets the count.
    ///
    /// # Errors
    /// [`PassphraseError::NotSet`], [`PassphraseError::Wrong`],
    /// [`PassphraseError::Locked`], or a file problem.
    pub fn check(&self, answer: &str) -> Result<(), PassphraseError> {
        if !self.is_set()? {
            return Err(PassphraseError::NotSet {
                path: self.path.clone(),
            });
        }
        let _held = self.exclusive()?;
        let Some(mut stored) = self.load()? else {
            return Err(PassphraseError::NotSet {
                path: self.path.clone(),
            });
        };
        let now = now_s();
        if let Some(last) = stored.last_failure {
            let until = last.saturating_add(lock_s(stored.failures));
            if now < until {
                return Err(PassphraseError::Locked {
                    wait_s: until - now,
                });
            }
        }
        let right = answer.len() <= MAX_BYTES
            && hasher()
                .verify_password(answer.as_bytes(), stored.hash.as_str())
                .is_ok();
        if right {
            if stored.failures > 0 {
                stored.failures = 0;
                stored.last_failure = None;
                self.save(&stored)?;
            }
            return Ok(());
        }
        stored.failures = stored.failures.saturating_add(1);
        stored.last_failure = Some(now);
        self.save(&stored)?;
        Err(PassphraseError::Wrong {
            left: FREE_ATTEMPTS.saturating_sub(stored.failures),
        })
    }

    /// Sets the passphrase to `new` (entered twice as `new` and `again`).
    ///
    /// # Errors
    /// [`PassphraseError::Mismatch`], [`PassphraseError::Weak`], or a file problem.
    pub fn set(&self, new: &str, again: &str) -> Result<(), PassphraseError> {
        if new != again {
            return Err(PassphraseError::Mismatch);
        }
        if new.chars().count() < MIN_CHARS || new.len() > MAX_BYTES || new.trim() != new {
            return Err(PassphraseError::Weak);
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| self.io(io::Error::other(e.to_string())))?;
        let hash = hasher()
            .hash_password_with_salt(new.as_bytes(), &salt)
            .map_err(|e| self.corrupt(e.to_string()))?;
        let _held = self.exclusive()?;
        self.save(&Stored {
            hash: hash.to_string(),
            failures: 0,
            last_failure: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_parameters_are_valid() {
        assert!(Params::new(M_COST_KIB, T_COST, P_COST, None).is_ok());
        assert_eq!(lock_s(FREE_ATTEMPTS - 1), 0);
        assert_eq!(lock_s(FREE_ATTEMPTS), 60);
        assert_eq!(lock_s(FREE_ATTEMPTS + 1), 120);
        assert_eq!(lock_s(FREE_ATTEMPTS + 40), MAX_LOCK_S);
    }

    #[test]
    fn set_check_count_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = Passphrase::beside(&dir.path().join("bridge.db"));
        assert!(matches!(p.check("x"), Err(PassphraseError::NotSet { .. })));
        assert!(matches!(
            p.set("short", "short"),
            Err(PassphraseError::Weak)
        ));
        assert!(matches!(
            p.set("correct horse battery", "correct horse batterx"),
            Err(PassphraseError::Mismatch)
        ));
        p.set("correct horse battery", "correct horse battery")
            .unwrap();
        let text = fs::read_to_string(p.path()).unwrap();
        assert!(text.contains("$argon2id$v=19$m=65536,t=3,p=1$"), "{text}");
        assert!(!text.contains("horse"));
        let mode = fs::metadata(p.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        p.check("correct horse battery").unwrap();
        for left in (1..FREE_ATTEMPTS).rev() {
            assert!(
                matches!(p.check("wrong guess!!"), Err(PassphraseError::Wrong { left: l }) if l == left)
            );
        }
        assert!(matches!(
            p.check("wrong guess!!"),
            Err(PassphraseError::Wrong { left: 0 })
        ));
        // Now even the right answer waits.
        assert!(matches!(
            p.check("correct horse battery"),
            Err(PassphraseError::Locked { wait_s }) if wait_s > 0 && wait_s <= 60
        ));
        fs::set_permissions(p.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(p.is_set(), Err(PassphraseError::TooOpen { .. })));
    }

    /// Concurrent wrong answers are each counted: they used to read the
    /// same count and write it back one higher, so a burst of any size cost
    /// one step (and hashed all at once).
    #[test]
    fn concurrent_wrong_answers_are_each_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = Passphrase::beside(&dir.path().join("bridge.db"));
        p.set("correct horse battery", "correct horse battery")
            .unwrap();
        let results: Vec<PassphraseError> = std::thread::scope(|s| {
            let tries: Vec<_> = (0..8)
                .map(|_| s.spawn(|| p.check("wrong guess!!").unwrap_err()))
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut left: Vec<u32> = results
            .iter()
            .filter_map(|e| match e {
                PassphraseError::Wrong { left } => Some(*left),
                _ => None,
            })
            .collect();
        left.sort_unstable();
        assert_eq!(left, vec![0, 1, 2, 3, 4], "{results:?}");
        assert!(
            results
                .iter()
                .filter(|e| !matches!(e, PassphraseError::Wrong { .. }))
                .all(|e| matches!(e, PassphraseError::Locked { .. })),
            "{results:?}"
        );
        let stored: Stored = serde_json::from_str(&fs::read_to_string(p.path()).unwrap()).unwrap();
        assert_eq!(stored.failures, FREE_ATTEMPTS);
    }

    #[test]
    fn an_edited_file_is_refused_not_computed() {
        let dir = tempfile::tempdir().unwrap();
        let p = Passphrase::beside(&dir.path().join("bridge.db"));
        let write = |hash: &str| {
            let text = serde_json::json!({"hash": hash, "failures": 0, "last_failure": null});
            fs::write(p.path(), text.to_string()).unwrap();
            fs::set_permissions(p.path(), fs::Permissions::from_mode(0o600)).unwrap();
        };
        write(
            "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        );
        assert!(matches!(
            p.check("anything at all"),
            Err(PassphraseError::Corrupt { .. })
        ));
        write(
            "$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        );
        assert!(matches!(
            p.check("anything at all"),
            Err(PassphraseError::Corrupt { .. })
        ));
        write("plain text");
        assert!(matches!(
            p.check("anything at all"),
            Err(PassphraseError::Corrupt { .. })
        ));
    }
}
