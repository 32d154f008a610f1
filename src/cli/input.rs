//! Reading the files `import` and `restore` take: only regular files, and
//! never more than [`MAX_INPUT_BYTES`], from a file or stdin. A FIFO with no
//! writer would block `open` forever, and `/dev/zero` or an endless pipe
//! would be read until memory runs out.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context;

/// The most bytes `import` or `restore` reads from one export file or from
/// stdin: far above any real export (a message is at most 64 KiB), low enough
/// that a runaway stream ends with an error instead of exhausting memory.
pub(super) const MAX_INPUT_BYTES: u64 = 1 << 30;

/// `limit` as people read it.
fn shown_limit(limit: u64) -> String {
    if limit >= 1 << 30 && limit.is_multiple_of(1 << 30) {
        format!("{} GiB", limit >> 30)
    } else {
        format!("{limit} bytes")
    }
}

fn too_large(what: &str, limit: u64) -> anyhow::Error {
    anyhow::anyhow!(
        "{what}: it is larger than {}, the most mcp-bridge reads from one file",
        shown_limit(limit)
    )
}

/// Opens `path` for reading if it is a regular file (see
/// [`crate::regular_file::open`]).
///
/// # Errors
/// `what` (e.g. "cannot import FILE") with why: missing, unreadable, or not
/// a regular file.
pub(super) fn open_regular(path: &Path, what: &str) -> anyhow::Result<File> {
    crate::regular_file::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => anyhow::anyhow!("{what}: it is not a regular file"),
        _ => anyhow::Error::new(e).context(what.to_owned()),
    })
}

/// Reads `from` to its end, failing once it holds more than `limit` bytes.
///
/// # Errors
/// `what` with the read error, or with the limit when `from` is longer.
pub(super) fn read_bounded(from: impl Read, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut from = from.take(limit.saturating_add(1));
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(what.to_owned())),
        };
        let len = bytes.len() + n;
        if len > cap {
            return Err(too_large(what, limit));
        }
        // Doubling, but never past the limit: `read_to_end` would reserve
        // twice the limit just before refusing.
        if bytes.capacity() < len {
            let want = bytes.capacity().saturating_mul(2).clamp(len, cap);
            bytes.reserve_exact(want - bytes.len());
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// The whole regular file at `path`, at most [`MAX_INPUT_BYTES`].
///
/// # Errors
/// As [`open_regular`] and [`read_bounded`].
pub(super) fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let file = open_regular(path, what)?;
    if file.metadata().with_context(|| what.to_owned())?.len() > MAX_INPUT_BYTES {
        return Err(too_large(what, MAX_INPUT_BYTES));
    }
    read_bounded(file, MAX_INPUT_BYTES, what)
}

/// Stdin to its end, at most [`MAX_INPUT_BYTES`]. A pipe is fine here: its
/// writer is the operator's own command.
///
/// # Errors
/// As [`read_bounded`].
pub(super) fn read_stdin(what: &str) -> anyhow::Result<Vec<u8>> {
    read_bounded(std::io::stdin().lock(), MAX_INPUT_BYTES, what)
}

/// The most bytes read from a client's configuration file (`setup`,
/// `doctor`): Claude Code's `~/.claude.json`, which keeps project history,
/// reaches a few MiB; a longer file is refused, not read into memory.
pub(crate) const MAX_CLIENT_CONFIG_BYTES: u64 = 64 << 20;

/// The text of a client's configuration file at `path`: a regular file of
/// at most [`MAX_CLIENT_CONFIG_BYTES`] (see [`crate::regular_file`]).
///
/// # Errors
/// Missing (`NotFound`), unreadable, not a regular file, too long or not UTF-8.
pub(crate) fn read_client_config(path: &Path) -> std::io::Result<String> {
    crate::regular_file::read_text(path, MAX_CLIENT_CONFIG_BYTES)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_more() {
        let bytes = read_bounded(&b"abcd"[..], 4, "cannot import x").unwrap();
        assert_eq!(bytes, b"abcd");
        let err = read_bounded(&b"abcde"[..], 4, "cannot import x").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot import x: it is larger than 4 bytes, the most mcp-bridge reads from one file"
        );
    }

    #[test]
    fn an_endless_stream_stops_at_the_limit() {
        let err = read_bounded(std::io::repeat(b'{'), 1 << 20, "cannot import -").unwrap_err();
        assert!(
            format!("{err:#}").contains("larger than 1048576 bytes"),
            "{err:#}"
        );
        assert_eq!(shown_limit(MAX_INPUT_BYTES), "1 GiB");
    }

    #[test]
    fn only_regular_files_open() {
        let dir = std::env::temp_dir().join(format!("mcp-bridge-input-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for path in [fifo.as_path(), dir.as_path(), Path::new("/dev/zero")] {
            let err = open_regular(path, "cannot import it").unwrap_err();
            assert_eq!(
                format!("{err:#}"),
                "cannot import it: it is not a regular file"
            );
        }
        let file = dir.join("file");
        fs::write(&file, "{}").unwrap();
        assert_eq!(read_file(&file, "x").unwrap(), b"{}");
        let err = read_file(&dir.join("missing"), "cannot import missing").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot import missing: No such file or directory (os error 2)"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
