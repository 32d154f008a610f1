//! PEM / OpenSSH / PGP private key blocks in every form they travel in: raw,
//! indented (YAML block scalars, heredocs), `\n`-escaped inside JSON or `.env`
//! strings (also doubly escaped `\\n`), and truncated (no END line).
//!
//! The whole armoured block is replaced, BEGIN line to END line. Public keys
//! and certificates (`PUBLIC KEY`, `CERTIFICATE`) are never touched.
//! BEGIN and END positions are collected during the single pass and paired
//! here, so finding the end of a block costs a binary search, not a rescan.

use super::block::{Lines, is_base64_line, junction};
use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{b64_decode, is_b64};

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
        let (end, end_label) = match matching_end(scan.bytes, &ends, &begins, b, label) {
            Some(e) => (e, Some(label)),
            None => (truncated_end(scan.bytes, body_start), None),
        };
        if (end > body_start || end > b + 11)
            && !elided_body(scan.bytes, body_start, end, end_label)
        {
            scan.push(deep_indent(scan.bytes, b), end, kind, priority::PEM);
            done = end;
        }
    }
}

/// Where the replacement of a block whose BEGIN is at `begin` starts: at
/// BEGIN, or, under an indentation deeper than [`KEPT_INDENT`] (a key
/// nested in YAML), that many spaces into it. The block's own lines all
/// carry that indentation, so a deep one kept before the placeholder would
/// repeat a run of the key's text (its line breaks and indentation) that
/// nothing else in the input has.
fn deep_indent(bytes: &[u8], begin: usize) -> usize {
    let ls = super::text::line_start(bytes, begin);
    let indent = &bytes[ls..begin];
    if indent.len() > KEPT_INDENT && indent.iter().all(|&b| b == b' ') {
        ls + KEPT_INDENT
    } else {
        begin
    }
}

/// The indentation kept before a replaced block.
const KEPT_INDENT: usize = 4;

/// A body with almost nothing in it (`...`, `<your key>`): documentation
/// of the format, not a key; even a key cut short keeps a line of base64.
fn elided_body(bytes: &[u8], body_start: usize, end: usize, end_label: Option<&[u8]>) -> bool {
    let alnum = |s: &[u8]| s.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    let body = bytes.get(body_start..end).map_or(0, alnum);
    let end_line = end_label.map_or(0, |label| alnum(b"END") + alnum(label));
    if body.saturating_sub(end_line) < 16 {
        return true;
    }
    // `<paste your key here>`, `your key goes here`: words, where even a key
    // cut short has a run of base64 longer than any word.
    let text = bytes.get(body_start..end).unwrap_or_default();
    let text = match text.windows(8).rposition(|w| w == b"-----END") {
        Some(p) if end_label.is_some() => &text[..p],
        _ => text,
    };
    let longest_b64 = text
        .split(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')))
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    longest_b64 < MIN_B64_RUN
        && text
            .windows(3)
            .any(|w| w[0].is_ascii_alphabetic() && w[1] == b' ' && w[2].is_ascii_alphabetic())
}

/// Shortest run of base64 that makes a block's body key material.
const MIN_B64_RUN: usize = 24;

/// Returns the armour label after `-----BEGIN ` and where the body starts.
fn label_at(bytes: &[u8], begin: usize) -> Option<(&[u8], usize)> {
    let start = begin + "-----BEGIN ".len();
    let rest = bytes.get(start..(start + MAX_LABEL).min(bytes.len()))?;
    let close = rest.windows(5).position(|w| w == b"-----")?;
    let label = &rest[..close];
    if !label
        .iter()
        // Letters in either case: `OpenVPN Static key V1` (see `kind_of`).
        .all(|&b| b.is_ascii_alphabetic() || b == b' ' || b.is_ascii_digit())
    {
        return None;
    }
    Some((label, start + close + 5))
}

fn kind_of(label: &[u8]) -> Option<Kind> {
    let l = std::str::from_utf8(label).ok()?;
    // OpenVPN's `tls-auth`/`tls-crypt` key (`ta.key`): a shared secret in
    // armour of its own, 16 lines of hex.
    if l.starts_with("OpenVPN Static key") {
        return Some(Kind::PrivateKeyPkcs8);
    }
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

/// Most armour header lines read before a truncated body: an encrypted
/// PEM key has two (`Proc-Type`, `DEK-Info`), a PGP export a few
/// (`Version`, `Comment`, `Hash`, `Charset`).
const MAX_HEADERS: usize = 6;

/// A block pasted without its END line: the body runs while its lines
/// (however they are broken, see [`Lines`]) are base64, PEM headers or one
/// blank line.
fn truncated_end(bytes: &[u8], body_start: usize) -> usize {
    let limit = (body_start + MAX_BLOCK).min(bytes.len());
    let mut end = body_start;
    let mut blank_seen = false;
    // Headers come only before the base64 body; counting them bounds a run
    // of `Name: value` prose after a BEGIN line quoted in documentation.
    let mut headers = 0usize;
    let mut in_body = false;
    let mut first_header = None;
    for (k, (s, e)) in Lines::new(bytes, body_start, limit).enumerate() {
        let seg = &bytes[s..e];
        if seg.is_empty() {
            // The rest of the BEGIN line is normally empty; a blank line
            // inside the body (PGP) is allowed once.
            if k == 0 {
                continue;
            }
            if blank_seen {
                break;
            }
            blank_seen = true;
            continue;
        }
        let crc = seg[0] == b'=' && seg.len() <= 5;
        let header = !in_body
            && !blank_seen
            && headers < MAX_HEADERS
            && seg.contains(&b':')
            && seg.len() < 80;
        if is_base64_line(seg) && (seg.len() >= 16 || crc) {
            in_body = true;
            end = e;
        } else if header {
            headers += 1;
            end = e;
            first_header.get_or_insert(e);
        } else {
            break;
        }
    }
    // Headers with no body after them are a format described, not a key:
    // judged as before, by the first one alone.
    if in_body {
        end
    } else {
        first_header.unwrap_or(end)
    }
}

/// Base64 of `-----BEGIN ` and of `PuTTY-User-Key-File`: a key file encoded
/// once more (kubeconfig `client-key-data`, a key in an environment variable).
const B64_ARMOUR: [&[u8]; 2] = [b"LS0tLS1CRUdJTi", b"UHVUVFktVXNlci1LZXktRmlsZS"];

/// Handles a base64-encoded key file starting at `start`: the whole encoded
/// run is replaced when it decodes to a private key's armour.
pub(crate) fn on_b64_armour(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    if !B64_ARMOUR.iter().any(|a| bytes[start..].starts_with(a))
        || (start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'+' | b'/')))
    {
        return;
    }
    let head_end = (start + 64).min(bytes.len());
    let head_len = bytes[start..head_end]
        .iter()
        .take_while(|&&b| is_b64(b))
        .count()
        / 4
        * 4;
    let Some(head) = b64_decode(&bytes[start..start + head_len]) else {
        return;
    };
    let kind = if head.starts_with(b"PuTTY-User-Key-File") {
        Kind::PrivateKeyPutty
    } else {
        let Some(label) = head
            .strip_prefix(b"-----BEGIN ")
            .and_then(|rest| rest.split(|&b| b == b'-').next())
        else {
            return;
        };
        match kind_of(label) {
            Some(k) => k,
            None => return,
        }
    };
    scan.push(start, encoded_end(bytes, start), kind, priority::PEM);
}

/// End of a base64 run, followed across line breaks while the lines are
/// full-width base64 (`base64` wraps at 76 columns, OpenSSL at 64).
fn encoded_end(bytes: &[u8], start: usize) -> usize {
    let limit = (start + 4 * MAX_BLOCK).min(bytes.len());
    let run = |i: usize| i + bytes[i..limit].iter().take_while(|&&b| is_b64(b)).count();
    let mut end = run(start);
    let mut width = end - start;
    loop {
        let j = junction(&bytes[end..limit]);
        if j == 0 || width < 60 {
            return end;
        }
        let next = run(end + j);
        let len = next - (end + j);
        if len == 0
            || len > width
            || (next < limit && !matches!(bytes[next], b'\n' | b'\r' | b'\\' | b'"' | b'\'' | b' '))
        {
            return end;
        }
        width = len;
        end = next;
    }
}

/// `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` (SSH.com / Tectia, and
/// PuTTYgen's export): replaced from BEGIN to END, or to the end of the
/// body when the END line is missing.
pub(crate) fn on_ssh2_begin(scan: &mut Scan<'_>, start: usize) {
    const BEGIN: &[u8] = b"---- BEGIN SSH2 ";
    const END: &[u8] = b"---- END SSH2 ";
    let bytes = scan.bytes;
    if !bytes[start..].starts_with(BEGIN) {
        return;
    }
    let label_start = start + BEGIN.len();
    let rest = &bytes[label_start..(label_start + MAX_LABEL).min(bytes.len())];
    let Some(close) = rest.windows(5).position(|w| w == b" ----") else {
        return;
    };
    if !rest[..close].ends_with(b"PRIVATE KEY") {
        return;
    }
    let body = label_start + close + 5;
    let hi = (body + MAX_BLOCK).min(bytes.len());
    let end = match memchr::memmem::find(&bytes[body..hi], END) {
        Some(at) => {
            let e = body + at + END.len();
            e + bytes[e..hi]
                .windows(4)
                .position(|w| w == b"----")
                .map_or(0, |p| p + 4)
        }
        None => truncated_end(bytes, body),
    };
    scan.push(start, end, Kind::PrivateKeyPkcs8, priority::PEM);
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

    #[test]
    fn truncated_blocks_read_every_armour_header() {
        for t in [
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,975B64FB6C67CDC5E89A3DDC2C5C16EB\n\nMIIEpAIBAAKCAQEAlgVeE/Q4BQ8MtC5DIOPrGBmVmswRZHRwXCaQVBiM9tdnlKtM\nJHUrr+vFcGXrFqtO4HDMNlz5ILlM3Oj0waCbE2VicBPcTRAn4zTVHfU+qgBSH6Um\n... (truncated)",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: exported by ops\n\nlQVYBGMxNs82LCF8xkkMsOqWENNw5E/++5nWXT2g3dWSR8zE+tKvXXWdhZcm+uFD\nJHUrr+vFcGXrFqtO4HDMNlz5ILlM3Oj0waCbE2VicBPcTRAn4zTVHfU+qgBSH6Um\n```",
        ] {
            let (_, body) = label_at(t.as_bytes(), 0).unwrap();
            let end = truncated_end(t.as_bytes(), body);
            assert!(
                t[end..].starts_with("\n..") || t[end..].starts_with("\n```"),
                "{:?}",
                &t[end..]
            );
        }
        // Headers with no body: only the first counts, as a described format.
        let d = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: your exported key goes here\n\nThen run gpg --import.";
        let (_, body) = label_at(d.as_bytes(), 0).unwrap();
        assert!(d[truncated_end(d.as_bytes(), body)..].starts_with("\nComment"));
    }
}
