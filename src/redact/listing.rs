//! Secrets printed by tools that list them under generic names, where the
//! name of the field (`value`, `Value`) says nothing and the listing around
//! it says everything: `az storage account keys list` (JSON and `-o table`)
//! and `terraform output -json` (`"sensitive": true` beside `"value"`).

use super::kinds::Kind;
use super::literal::read_value;
use super::names::{classify, split_words};
use super::operator::skip_blank;
use super::scan::{HeaderLine, Scan, priority};
use super::table;
use super::text::{find_ci, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// How far after an anchor the `value` of the same object is looked for.
const OBJECT_REACH: usize = 300;
/// Rows of a table read under one header.
const MAX_ROWS: usize = 8;
/// Columns of one table header read.
const MAX_COLUMNS: u8 = 16;

/// A storage account key: 64 random bytes in base64 (shorter keys of other
/// clouds in the same listing still pass the length).
fn storage_key_ok(v: &[u8]) -> bool {
    v.len() >= 40
        && v.iter().all(|&b| super::text::is_b64(b))
        && is_secret_value(v, Strictness::Random, true)
}

/// `keyName` of `az storage account keys list`: the JSON form
/// (`{"keyName": "key1", …, "value": "<base64>"}`) or the table form, a
/// `KeyName … Value` header whose rows hold the key under `Value`.
pub(crate) fn on_azure_key_list(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if table_header(scan, start, end) {
        return;
    }
    let hi = (end + 200).min(bytes.len());
    // Also inside a JSON-escaped text: `\"value\": \"…\"`.
    let Some((at, len)) = find_ci(&bytes[end..hi], b"\"value\"")
        .map(|p| (p, 7))
        .or_else(|| find_ci(&bytes[end..hi], b"\\\"value\\\"").map(|p| (p, 9)))
    else {
        return;
    };
    let mut i = skip_blank(bytes, end + at + len);
    if i >= bytes.len() || bytes[i] != b':' {
        return;
    }
    i = skip_blank(bytes, i + 1);
    let Some((vs, ve, true)) = read_value(bytes, i, false) else {
        return;
    };
    if storage_key_ok(&bytes[vs..ve]) {
        scan.push(vs, ve, Kind::AzureStorageKey, priority::NAMED);
    }
}

/// Reads the rows under a `KeyName … Value` table header at `start..end`;
/// false when the line is not such a header.
fn table_header(scan: &mut Scan<'_>, start: usize, end: usize) -> bool {
    let bytes = scan.bytes;
    // Table headers are capitalised words apart (`CreationTime  KeyName …`).
    if &bytes[start..end] != b"KeyName" || (start > 0 && !matches!(bytes[start - 1], b' ' | b'\n'))
    {
        return false;
    }
    // One header is read once, however often its line says `KeyName`.
    if start < scan.param_done {
        return true;
    }
    let (ls, le) = (line_start(bytes, start), line_end(bytes, end));
    scan.param_done = le;
    let Some(col) = column_of(&bytes[ls..le], b"Value") else {
        return false;
    };
    let mut next = le + 1;
    let mut rows = 0;
    while next < bytes.len() && rows < MAX_ROWS {
        let row_end = line_end(bytes, next);
        let row = &bytes[next..row_end];
        if row.trim_ascii().is_empty() {
            break;
        }
        let separator = row.iter().all(|&b| matches!(b, b'-' | b' ' | b'\r'));
        // Cells are left-aligned under their header.
        if !separator && col < row.len() && row[col - 1] == b' ' {
            rows += 1;
            let cell_s = next + col;
            let cell_e = bytes[cell_s..row_end]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(row_end, |p| cell_s + p);
            if storage_key_ok(&bytes[cell_s..cell_e]) {
                scan.push(cell_s, cell_e, Kind::AzureStorageKey, priority::NAMED);
            }
        }
        next = row_end + 1;
    }
    true
}

/// Offset of the header word `word` in `line` (a whole word, not the first).
fn column_of(line: &[u8], word: &[u8]) -> Option<usize> {
    let n = word.len();
    (1..line.len().saturating_sub(n - 1)).find(|&i| {
        &line[i..i + n] == word
            && line[i - 1] == b' '
            && line.get(i + n).is_none_or(|b| b.is_ascii_whitespace())
    })
}

/// `"sensitive": true` in `terraform output -json`: the `"value"` of the
/// same object is a secret by its producer's word, whatever its name. Its
/// kind comes from the output's name (`"db_password": {`) when that names
/// one.
pub(crate) fn on_sensitive(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let Some((vs, ve)) = value_in_object(bytes, end) else {
        return;
    };
    let v = &bytes[vs..ve];
    if !is_secret_value(v, Strictness::Password, true) {
        return;
    }
    let kind = output_name(bytes, start)
        .and_then(|name| {
            let mut words = Vec::new();
            split_words(name, &mut words);
            classify(&words, words.len())
        })
        .map_or(Kind::SecretAssignment, |class| class.kind);
    scan.push(vs, ve, kind, priority::NAMED);
}

/// The string `"value"` of the object the anchor ending at `from` is in,
/// looked for before the object closes and within [`OBJECT_REACH`].
fn value_in_object(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let hi = (from + OBJECT_REACH).min(bytes.len());
    let mut depth = 0usize;
    let mut i = from;
    while i < hi {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return None,
            b'}' | b']' => depth -= 1,
            b'"' if depth == 0 && bytes[i..].starts_with(b"\"value\"") => {
                let colon = skip_blank(bytes, i + 7);
                if bytes.get(colon) != Some(&b':') {
                    return None;
                }
                let (vs, ve, quoted) = read_value(bytes, skip_blank(bytes, colon + 1), false)?;
                return quoted.then_some((vs, ve));
            }
            b'"' => {
                // Skip a string so braces inside it do not count.
                i += 1;
                while i < hi && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The key of the object holding the anchor at `at`: `"db_password": {`.
fn output_name(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let lo = at.saturating_sub(OBJECT_REACH);
    let open = lo + bytes[lo..at].iter().rposition(|&b| b == b'{')?;
    let head = bytes[lo..open].trim_ascii_end();
    let head = head
        .strip_suffix(b":")?
        .trim_ascii_end()
        .strip_suffix(b"\"")?;
    let q = head.iter().rposition(|&b| b == b'"')?;
    Some(&head[q + 1..])
}

/// A column of a `psql` or `mysql` result whose header at `s..e` names a
/// secret (` id | provider | api_key `, then `----+----------+---------`):
/// the cells below it. False when the name is not such a header.
pub(crate) fn on_column_header(scan: &mut Scan<'_>, s: usize, e: usize) -> bool {
    let bytes = scan.bytes;
    // What is known of a line is kept for the other names on it, so that a
    // long line of names is read once, not once per name.
    let known = scan.header_line;
    let line = if known.le > 0 && known.ls <= s && e <= known.le {
        known
    } else if s < known.rows_end {
        // A row of a table already read: not a header of its own.
        return false;
    } else {
        let (ls, le) = (line_start(bytes, s), line_end(bytes, e));
        let rule_end = rule_below(bytes, ls, le);
        HeaderLine {
            ls,
            le,
            rule_end,
            columns: 0,
            delimited: match rule_end {
                Some(_) => Default::default(),
                None => table::header(bytes, ls, le),
            },
            rows_end: 0,
        }
    };
    scan.header_line = line;
    let HeaderLine { ls, le, .. } = line;
    let Some(rule_end) = line.rule_end else {
        if line.delimited.delimiter.is_none() {
            return false;
        }
        if line.columns < MAX_COLUMNS {
            scan.header_line.columns += 1;
            let end = table::on_column(scan, ls, le, line.delimited, s, e);
            scan.header_line.rows_end = scan.header_line.rows_end.max(end);
        }
        return true;
    };
    if rule_end - (le + 1) < e - ls {
        return false;
    }
    // Bounded work per header, however many names it holds.
    if line.columns >= MAX_COLUMNS {
        return true;
    }
    scan.header_line.columns += 1;
    let header = &bytes[ls..le];
    let ruled = |b: &u8| matches!(b, b'-' | b'+' | b'|' | b' ' | b'\r');
    // The column runs between the bars around the name.
    let col_s = header[..s - ls]
        .iter()
        .rposition(|&b| b == b'|')
        .map_or(0, |p| p + 1);
    let col_e = header[e - ls..]
        .iter()
        .position(|&b| b == b'|')
        .map_or(usize::MAX, |p| e - ls + p);
    let mut words = Vec::new();
    split_words(&bytes[s..e], &mut words);
    let Some(class) = classify(&words, words.len()) else {
        return true;
    };
    let mut next = rule_end + 1;
    for _ in 0..MAX_ROWS {
        if next >= bytes.len() {
            break;
        }
        // A row is as wide as its header; a longer line ends the table.
        let hi = (next + header.len() + 64).min(bytes.len());
        let Some(row_end) = bytes[next..hi]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| next + p)
            .or((hi == bytes.len()).then_some(hi))
        else {
            break;
        };
        let row = &bytes[next..row_end];
        if row.iter().all(ruled) {
            // mysql closes its table with a rule; psql says `(1 row)`.
            break;
        }
        if row.len() > col_s {
            let cell = &row[col_s..col_e.min(row.len())];
            let lead = cell.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let v = cell.trim_ascii();
            if !v.is_empty() && !v.contains(&b' ') && is_secret_value(v, class.strictness, true) {
                let vs = next + col_s + lead;
                scan.push(vs, vs + v.len(), class.kind, class.priority);
            }
        }
        next = row_end + 1;
    }
    true
}

/// Where the rule under a result table's header line `ls..le` ends (`----+----`
/// under psql's header, `+----+` under mysql's), if there is one.
fn rule_below(bytes: &[u8], ls: usize, le: usize) -> Option<usize> {
    let sep_s = le + 1;
    if bytes.get(le) != Some(&b'\n') || !matches!(bytes.get(sep_s), Some(b'-' | b'+')) {
        return None;
    }
    let sep_e = line_end(bytes, sep_s);
    let ruled = bytes[sep_s..sep_e]
        .iter()
        .all(|b| matches!(b, b'-' | b'+' | b'|' | b' ' | b'\r'));
    (ruled && bytes[ls..le].contains(&b'|')).then_some(sep_e)
}
