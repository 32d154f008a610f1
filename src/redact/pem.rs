//! PEM / OpenSSH / PGP private key blocks in every form they travel in: raw,
//! indented (YAML block scalars, heredocs), `\n`-escaped inside JSON or `.env`
//! strings (also doubly escaped `\\n`), and truncated (no END line).
//!
//! The whole armoured block is replaced, BEGIN line to END line. Public keys
//! and certificates (`PUBLIC KEY`, `CERTIFICATE`) are never touched.
//! BEGIN and END positions are collected during the single pass and paired
//! here, so finding the end of a block costs a binary search, not a rescan.

use super::kinds::Kind;
use super::scan::{Scan, priority};

/// Longest armour label we accept (`-----BEGIN ` … `-----`).
const MAX_LABEL: usize = 48;
/// Longest block we replace (an 8192-bit RSA key is about 6.5 KB).
const MAX_BLOCK: usize = 16 * 1024;
/// How far a `service_account` marker may be from the key to call it a GCP key file.
const GCP_REACH: usize = 4096;

/// Pairs the BEGIN/END positions collected during the pass and emits blocks.
pub(crate) fn finish(scan: &mut Scan<'_>) {
    let begins = std::mem::take(&mut scan.pem_begins);
    let ends = std::mem::take(&mut scan.pem_ends);
    let mut done = 0usize;
    for &b in &begins {
        if b < done {
            continue;
        }
        let Some((label, body_start)) = label_at(scan.bytes, b) else {
            continue;
        };
        let Some(kind) = kind_of(label) else { continue };
        let kind =
            if kind == Kind::PrivateKeyPkcs8 && near_service_account(&scan.service_accounts, b) {
                Kind::GcpServiceAccountKey
            } else {
                kind
            };
        let end = match matching_end(scan.bytes, &ends, &begins, b, label) {
            Some(e) => e,
            None => truncated_end(scan.bytes, body_start),
        };
        if end > body_start || end > b + 11 {
            scan.push(b, end, kind, priority::PEM);
            done = end;
        }
    }
}

/// Returns the armour label after `-----BEGIN ` and where the body starts.
fn label_at(bytes: &[u8], begin: usize) -> Option<(&[u8], usize)> {
    let start = begin + "-----BEGIN ".len();
    let rest = bytes.get(start..(start + MAX_LABEL).min(bytes.len()))?;
    let close = rest.windows(5).position(|w| w == b"-----")?;
    let label = &rest[..close];
    if !label
        .iter()
        .all(|&b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
    {
        return None;
    }
    Some((label, start + close + 5))
}

fn kind_of(label: &[u8]) -> Option<Kind> {
    let l = std::str::from_utf8(label).ok()?;
    if !l.contains("PRIVATE KEY") {
        return None;
    }
    Some(match l {
        "RSA PRIVATE KEY" => Kind::PrivateKeyRsa,
        "EC PRIVATE KEY" => Kind::PrivateKeyEc,
        "OPENSSH PRIVATE KEY" => Kind::PrivateKeyOpenssh,
        _ if l.starts_with("PGP PRIVATE KEY") => Kind::PrivateKeyPgp,
        _ => Kind::PrivateKeyPkcs8,
    })
}

fn near_service_account(marks: &[usize], at: usize) -> bool {
    marks.iter().any(|&m| m.abs_diff(at) <= GCP_REACH)
}

/// The END line with the same label, before the next BEGIN and within
/// [`MAX_BLOCK`]; returns the offset just past its closing dashes.
fn matching_end(
    bytes: &[u8],
    ends: &[usize],
    begins: &[usize],
    begin: usize,
    label: &[u8],
) -> Option<usize> {
    let next_begin = begins
        .get(begins.partition_point(|&x| x <= begin))
        .copied()
        .unwrap_or(usize::MAX);
    let first = ends.partition_point(|&e| e <= begin);
    let &e = ends.get(first)?;
    if e > next_begin || e - begin > MAX_BLOCK {
        return None;
    }
    let after = e + "-----END ".len();
    let tail = bytes.get(after..)?;
    if tail.len() >= label.len() + 5
        && &tail[..label.len()] == label
        && &tail[label.len()..label.len() + 5] == b"-----"
    {
        Some(after + label.len() + 5)
    } else {
        // An END with another label still closes the block (a mangled paste).
        let close = tail
            .iter()
            .take(MAX_LABEL)
            .position(|&b| b == b'\n')
            .unwrap_or(tail.len().min(MAX_LABEL));
        let dashes = tail[..close].windows(5).position(|w| w == b"-----")?;
        Some(after + dashes + 5)
    }
}

/// A block pasted without its END line: the body runs while its lines (or
/// `\n`-escaped segments) are base64, PEM headers or one blank line.
fn truncated_end(bytes: &[u8], body_start: usize) -> usize {
    let limit = (body_start + MAX_BLOCK).min(bytes.len());
    let mut end = body_start;
    let mut i = body_start;
    let mut blank_seen = false;
    let mut first = true;
    while i < limit {
        // Skip the line break: a real one or an escaped `\n` / `\\n` / `\r\n`.
        let brk = line_break_len(&bytes[i..limit]);
        if brk == 0 && !first {
            break;
        }
        i += brk;
        first = false;
        let seg_start = i;
        while i < limit && !matches!(bytes[i], b'\n' | b'\r' | b'\\' | b'"' | b'\'' | b'`') {
            i += 1;
        }
        let seg = trim_indent(&bytes[seg_start..i]);
        if seg.is_empty() {
            if blank_seen {
                break;
            }
            blank_seen = true;
            continue;
        }
        let b64 = seg
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        let crc = seg[0] == b'=' && seg.len() <= 5;
        let header = end == body_start && seg.contains(&b':') && seg.len() < 80;
        if (b64 && (seg.len() >= 16 || crc)) || header {
            end = i;
        } else {
            break;
        }
    }
    end
}

fn line_break_len(s: &[u8]) -> usize {
    for brk in [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n", b"\\\\n"] {
        if s.starts_with(brk) {
            return brk.len();
        }
    }
    0
}

fn trim_indent(s: &[u8]) -> &[u8] {
    let lead = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let s = &s[lead..];
    let trail = s
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &s[..s.len() - trail]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_blocks_stop_at_prose() {
        let t = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAJbO54c+YIUzwL/Yt8N\nabcdefghijklmnopqrstu\n...\nThanks";
        let (_, body) = label_at(t, 0).unwrap();
        let end = truncated_end(t, body);
        assert_eq!(&t[end..end + 4], b"\n...");
        let e =
            br"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAAAAAAAAAAAAAAAAAAAA"
                .to_vec();
        let e = [e, b"\", rest\n".to_vec()].concat();
        let (_, body) = label_at(&e, 0).unwrap();
        let end = truncated_end(&e, body);
        assert_eq!(e[end], b'"');
    }
}
