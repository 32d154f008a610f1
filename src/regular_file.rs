//! Reading a text file that someone else may have put in place: only a
//! regular file (symlinks followed), opened so that a FIFO swapped in cannot
//! block the open, and never more than a limit — a FIFO with no writer would
//! hang the reader, `/dev/zero` would be read until memory runs out.

use std::fs;
use std::io::{Error, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading if it is a regular file (symlinks followed).
/// Anything else (a FIFO, a device, a directory, a socket) is refused before
/// it is opened; `O_NONBLOCK` keeps a FIFO swapped in afterwards from
/// blocking the open, and the opened file is checked again.
///
/// # Errors
/// Missing (`NotFound`), unreadable, or not a regular file (`InvalidData`).
pub fn open(path: &Path) -> std::io::Result<fs::File> {
    let not_regular = || Error::new(ErrorKind::InvalidData, "not a regular file");
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Opens (creating it, mode 0600) a lock file beside the bridge's own
/// files, read-write: never through a symlink planted there (`ELOOP`), and
/// never blocking on a FIFO. The caller checks that it got a regular file.
///
/// # Errors
/// As `open(2)`.
pub fn open_lock(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// The text of the regular file at `path`, at most `limit` bytes of UTF-8.
/// A missing file is `NotFound`, as for `fs::read_to_string`.
///
/// # Errors
/// Missing, unreadable, not a regular file, longer than `limit` or not UTF-8.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    let refuse = |why: String| Error::new(ErrorKind::InvalidData, why);
    let file = open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(refuse(format!("larger than {limit} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| refuse("not UTF-8 text".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::read_text;

    #[test]
    fn only_a_bounded_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_text(&file, 5).unwrap(), "hello");
        assert!(
            read_text(&file, 4)
                .unwrap_err()
                .to_string()
                .contains("larger than 4 bytes")
        );
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(
            read_text(&zero, 1 << 30)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        let missing = read_text(&dir.path().join("none"), 5).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        assert!(read_text(dir.path(), 5).is_err());
    }
}
