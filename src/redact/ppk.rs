//! PuTTY private key files (`.ppk`, formats 2 and 3): the whole file, from
//! `PuTTY-User-Key-File-N:` to `Private-MAC:`, is replaced, as a PEM block
//! is, in every form it travels in (raw, indented in YAML, `\n`-escaped in
//! JSON, or cut off before its end).
//!
//! A `.ppk` is a list of `Name: value` headers and base64 lines; the lines
//! after `Private-Lines: N` hold the key. A file that stops before its
//! private part holds nothing secret and is left alone.

use super::block::{Lines, is_base64_line};
use super::kinds::Kind;
use super::scan::{Scan, priority};

/// Longest file we replace (an RSA-8192 `.ppk` is about 9 KB).
const MAX_PPK: usize = 32 * 1024;

/// Header names of the PuTTY formats 1 to 3.
const HEADERS: &[&[u8]] = &[
    b"Encryption",
    b"Comment",
    b"Public-Lines",
    b"Key-Derivation",
    b"Argon2-Memory",
    b"Argon2-Passes",
    b"Argon2-Parallelism",
    b"Argon2-Salt",
    b"Private-Lines",
    b"Private-MAC",
    b"Private-Hash",
];

/// The header name of `line` (`Name: value`), if it is a PuTTY header.
fn header(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    let first = name.starts_with(b"PuTTY-User-Key-File-")
        && name.len() == b"PuTTY-User-Key-File-".len() + 1
        && name[name.len() - 1].is_ascii_digit();
    (first || HEADERS.contains(&name)).then_some(name)
}

/// Handles `PuTTY-User-Key-File-` found at `start`.
pub(crate) fn on_header(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    if start < scan.ppk_done || !bytes[start..].starts_with(b"PuTTY-User-Key-File-") {
        return;
    }
    let limit = (start + MAX_PPK).min(bytes.len());
    let mut end = start;
    let mut private = false;
    for (s, e) in Lines::new(bytes, start, limit) {
        scan.ppk_done = e;
        let line = &bytes[s..e];
        match header(line) {
            Some(name) => {
                end = e;
                private |= name == b"Private-Lines";
                if name == b"Private-MAC" || name == b"Private-Hash" {
                    break;
                }
            }
            None if is_base64_line(line) => end = e,
            None => break,
        }
    }
    if private {
        scan.push(start, end, Kind::PrivateKeyPutty, priority::PEM);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            header(b"PuTTY-User-Key-File-3: ssh-ed25519"),
            Some(&b"PuTTY-User-Key-File-3"[..])
        );
        assert_eq!(header(b"Private-Lines: 14"), Some(&b"Private-Lines"[..]));
        assert_eq!(header(b"Subject: hello"), None);
        assert_eq!(header(b"AAAAB3Nza"), None);
    }
}
