//! Kubernetes `kind: Secret` manifests (YAML, and JSON as printed by
//! `kubectl get secret -o json`): every value under `data:` (base64) and
//! `stringData:` (plain) is replaced, keys stay.
//!
//! The document around the `kind: Secret` line is scanned once; later anchors
//! inside an already scanned document are skipped, which keeps the pass linear.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::line_end;
use super::value::{is_placeholder, is_reference};

/// How far around `kind: Secret` a document may extend.
const MAX_DOC: usize = 32 * 1024;

/// Handles `kind: Secret` (or its JSON spelling) found at `start..end`.
pub(crate) fn on_kind_secret(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start < scan.k8s_done {
        return;
    }
    // `kind: SecretProviderClass` and friends are not Secrets.
    if end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        return;
    }
    let (ds, de) = document(bytes, start);
    scan.k8s_done = de;
    if bytes[start] == b'"' {
        json_data(scan, ds, de);
    } else {
        yaml_data(scan, ds, de);
    }
}

/// Whether the value at `vs..ve` is a Bitnami SealedSecret ciphertext: a
/// long base64 value starting `Ag` (the format's version byte) under an
/// `encryptedData:` key. Such values are encrypted for the cluster's
/// controller and are made to be committed; they are not secrets.
pub(crate) fn is_sealed_ciphertext(bytes: &[u8], vs: usize, ve: usize) -> bool {
    let v = &bytes[vs..ve];
    v.len() >= 100
        && v.starts_with(b"Ag")
        && v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        && {
            // Bounded: every such value looks back, and many keys may share
            // one `encryptedData:`.
            let lo = vs.saturating_sub(MAX_DOC / 2);
            memchr::memmem::rfind(&bytes[lo..vs], b"encryptedData:")
                .is_some_and(|at| memchr::memmem::find(&bytes[lo + at..vs], b"\n---").is_none())
        }
}

/// The YAML document (between `---` lines) containing `at`, bounded.
fn document(bytes: &[u8], at: usize) -> (usize, usize) {
    let lo = at.saturating_sub(MAX_DOC);
    let hi = (at + MAX_DOC).min(bytes.len());
    let before = &bytes[lo..at];
    let ds = before
        .windows(4)
        .rposition(|w| w == b"\n---")
        .map_or(lo, |p| lo + p + 4);
    let after = &bytes[at..hi];
    let de = after
        .windows(4)
        .position(|w| w == b"\n---")
        .map_or(hi, |p| at + p);
    (ds, de)
}

fn indent_of(line: &[u8]) -> usize {
    line.iter().take_while(|&&b| b == b' ').count()
}

fn yaml_data(scan: &mut Scan<'_>, ds: usize, de: usize) {
    let bytes = scan.bytes;
    let mut i = ds;
    while i < de {
        let le = line_end(bytes, i).min(de);
        let line = &bytes[i..le];
        let ind = indent_of(line);
        let body = &line[ind..];
        let is_data = body.starts_with(b"data:") || body.starts_with(b"stringData:");
        if is_data
            && body
                .iter()
                .skip_while(|&&b| b != b':')
                .skip(1)
                .all(|&b| b == b' ' || b == b'\r')
        {
            let plain = body.starts_with(b"stringData:");
            i = yaml_children(scan, le + 1, de, ind, plain);
            continue;
        }
        i = le + 1;
    }
}

/// Redacts `key: value` children indented deeper than `parent`; returns where the block ends.
fn yaml_children(
    scan: &mut Scan<'_>,
    mut i: usize,
    de: usize,
    parent: usize,
    plain: bool,
) -> usize {
    let bytes = scan.bytes;
    while i < de {
        let le = line_end(bytes, i).min(de);
        let line = &bytes[i..le];
        let ind = indent_of(line);
        if line[ind..].iter().all(|&b| b == b' ' || b == b'\r') {
            i = le + 1;
            continue;
        }
        if ind <= parent {
            return i;
        }
        if let Some(c) = line.iter().position(|&b| b == b':') {
            let mut vs = i + c + 1;
            while vs < le && bytes[vs] == b' ' {
                vs += 1;
            }
            let mut ve = le;
            while ve > vs && matches!(bytes[ve - 1], b' ' | b'\r') {
                ve -= 1;
            }
            if matches!(bytes.get(vs), Some(b'|' | b'>')) {
                // Block scalar: the value is the following deeper lines.
                let (bs, be) = block_scalar(bytes, le + 1, de, ind);
                if be > bs {
                    scan.push(bs, be, Kind::KubernetesSecret, priority::K8S);
                }
                i = be.max(le) + 1;
                continue;
            }
            if ve > vs + 1 && matches!(bytes[vs], b'"' | b'\'') && bytes[ve - 1] == bytes[vs] {
                vs += 1;
                ve -= 1;
            }
            // A Helm chart's literal: `{{ "X" | b64enc | quote }}`.
            if let Some((s, e)) = super::literal::piped_literal(&bytes[vs..ve]) {
                (vs, ve) = (vs + s, vs + e);
                if !is_reference(&bytes[vs..ve]) && !is_placeholder(&bytes[vs..ve]) {
                    scan.push(vs, ve, Kind::KubernetesSecret, priority::K8S);
                }
                i = le + 1;
                continue;
            }
            let v = &bytes[vs..ve];
            if value_ok(v, plain) {
                scan.push(vs, ve, Kind::KubernetesSecret, priority::K8S);
            }
        }
        i = le + 1;
    }
    i
}

fn block_scalar(bytes: &[u8], from: usize, de: usize, key_indent: usize) -> (usize, usize) {
    let mut i = from;
    let mut first = None;
    let mut last = from;
    while i < de {
        let le = line_end(bytes, i).min(de);
        let line = &bytes[i..le];
        let ind = indent_of(line);
        if ind <= key_indent && !line.iter().all(|&b| b == b' ' || b == b'\r') {
            break;
        }
        if first.is_none() && ind < line.len() {
            first = Some(i + ind);
        }
        last = le;
        i = le + 1;
    }
    (first.unwrap_or(from), last)
}

fn value_ok(v: &[u8], plain: bool) -> bool {
    if v.is_empty() || is_reference(v) || is_placeholder(v) || v == b"\"\"" || v == b"''" {
        return false;
    }
    plain
        || v.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

/// `"data": { "k": "v", … }` inside the JSON document.
fn json_data(scan: &mut Scan<'_>, ds: usize, de: usize) {
    let bytes = scan.bytes;
    let region = &bytes[ds..de];
    for key in [&b"\"data\""[..], b"\"stringData\""] {
        let mut from = 0;
        while let Some(p) = region[from..].windows(key.len()).position(|w| w == key) {
            let k = ds + from + p + key.len();
            from += p + key.len();
            let mut i = k;
            while i < de && matches!(bytes[i], b' ' | b':' | b'\n' | b'\r' | b'\t') {
                i += 1;
            }
            if i >= de || bytes[i] != b'{' {
                continue;
            }
            let close = bytes[i..de]
                .iter()
                .position(|&b| b == b'}')
                .map_or(de, |c| i + c);
            json_pairs(scan, i + 1, close, key == b"\"stringData\"");
        }
    }
}

fn json_pairs(scan: &mut Scan<'_>, from: usize, to: usize, plain: bool) {
    let bytes = scan.bytes;
    let mut i = from;
    // Alternate key string, colon, value string.
    let mut strings = Vec::new();
    while i < to {
        if bytes[i] == b'"' {
            let s = i + 1;
            let mut e = s;
            while e < to && bytes[e] != b'"' {
                e += if bytes[e] == b'\\' { 2 } else { 1 };
            }
            let e = e.min(to);
            strings.push((s, e));
            i = e + 1;
        } else {
            i += 1;
        }
    }
    for pair in strings.chunks(2) {
        if let [_, (vs, ve)] = pair
            && value_ok(&bytes[*vs..*ve], plain)
        {
            scan.push(*vs, *ve, Kind::KubernetesSecret, priority::K8S);
        }
    }
}
