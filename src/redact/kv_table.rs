//! The `Key  Value` table HashiCorp Vault prints for `vault kv get` and
//! `vault read`: a header, a rule of dashes, then one row per field, the
//! name in the first column and the value in the second. A row whose name
//! is a secret's (`db_password`, `mapbox_secret_key`) holds its value in the
//! clear, whatever the value's shape, as an `.env` line would.

use super::names::{classify, split_words};
use super::scan::Scan;
use super::text::line_end;
use super::value::is_secret_value;

/// Most rows read under one header (a secret has a handful of fields).
const MAX_ROWS: usize = 64;
/// Longest row read.
const MAX_ROW: usize = 1024;

/// Handles the anchor `value\n---` (the header's end and the rule's start)
/// found at `start..end`.
pub(crate) fn on_header(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let ls = super::text::line_start(bytes, start);
    let header = &bytes[ls..start + 5];
    // `Key` + spaces + `Value`, nothing else.
    let Some(rest) = header
        .get(3..)
        .filter(|_| header[..3].eq_ignore_ascii_case(b"key"))
    else {
        return;
    };
    if rest.len() < 6 || !rest[..rest.len() - 5].iter().all(|&b| b == b' ') {
        return;
    }
    let rule_le = line_end(bytes, end);
    let rule = &bytes[end - 3..rule_le];
    if !rule.iter().all(|&b| matches!(b, b'-' | b' ')) {
        return;
    }
    let mut i = rule_le + 1;
    for _ in 0..MAX_ROWS {
        if i >= bytes.len() {
            return;
        }
        let le = line_end(bytes, i).min(i + MAX_ROW);
        let row = &bytes[i..le];
        let Some(n) = row.iter().position(|&b| b == b' ') else {
            return;
        };
        let gap = row[n..].iter().take_while(|&&b| b == b' ').count();
        let vs = i + n + gap;
        let ve = vs + bytes[vs..le].trim_ascii_end().len();
        if n == 0 || vs >= ve {
            return;
        }
        let mut words = Vec::new();
        split_words(&row[..n], &mut words);
        let own = words.len();
        if let Some(class) = classify(&words, own)
            && !bytes[vs..ve].contains(&b' ')
            && is_secret_value(&bytes[vs..ve], class.strictness, true)
        {
            scan.push(vs, ve, class.kind, class.priority);
        }
        i = le + 1;
    }
}
