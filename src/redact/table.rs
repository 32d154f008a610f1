//! Secrets in delimited tables whose header alone names the column: CSV,
//! TSV and `;`-separated exports (password managers, `psql -A`, spreadsheets)
//! and Markdown tables (`| Env | Client secret |` over `|---|---|`).
//!
//! A secret word in a line that reads as a header — every cell a short name,
//! one delimiter throughout — makes the cells below it in the same column
//! candidates, each judged as the value of that name. Rows are read while
//! they have the header's number of cells; the work per header is bounded,
//! and a line inside a table already read is a row, never a new header.

use super::names::{classify, split_words};
use super::scan::Scan;
use super::text::line_end;
use super::value::is_secret_value;

/// Rows read under one header.
const MAX_ROWS: usize = 64;
/// Longest header cell that can be a column name (`Client secret`).
const MAX_NAME: usize = 40;
/// Most cells in a header or row.
const MAX_CELLS: usize = 64;
/// Delimiters tried, the rarer in ordinary text first.
const DELIMITERS: [u8; 4] = [b'\t', b'|', b';', b','];

/// A delimited header line, as far as it was read.
#[derive(Clone, Copy, Default)]
pub(crate) struct Delimited {
    /// The delimiter, if the line reads as a header.
    pub delimiter: Option<u8>,
    /// Cells of the header.
    pub cells: usize,
}

/// Reads the line `ls..le` as a delimited header.
pub(crate) fn header(bytes: &[u8], ls: usize, le: usize) -> Delimited {
    let line = bytes[ls..le].strip_suffix(b"\r").unwrap_or(&bytes[ls..le]);
    let Some(delimiter) = DELIMITERS.into_iter().find(|d| line.contains(d)) else {
        return Delimited::default();
    };
    // Code continuing a list (`use auth::{Guard, CredentialStore,` over
    // `  OAuthHttpClient, OAuthHttpRequest,`): a CSV header names its last
    // column rather than ending with the delimiter.
    if delimiter == b',' && line.trim_ascii_end().ends_with(b",") {
        return Delimited::default();
    }
    let cells = split(line, delimiter);
    let named = cells
        .iter()
        .all(|&(s, e)| e - s <= MAX_NAME && is_name(unquote(&line[s..e])));
    let real = cells
        .iter()
        .filter(|&&(s, e)| !unquote(&line[s..e]).is_empty())
        .count();
    match named && real >= 2 && cells.len() <= MAX_CELLS {
        true => Delimited {
            delimiter: Some(delimiter),
            cells: cells.len(),
        },
        false => Delimited::default(),
    }
}

/// The cells of the column whose header name is at `s..e` in the header
/// line `ls..le` (read as `head`): those that hold a secret by that name.
/// Returns where the rows read end.
pub(crate) fn on_column(
    scan: &mut Scan<'_>,
    ls: usize,
    le: usize,
    head: Delimited,
    s: usize,
    e: usize,
) -> usize {
    let bytes = scan.bytes;
    let Some(delimiter) = head.delimiter else {
        return le;
    };
    let line = &bytes[ls..le];
    let cells = split(line, delimiter);
    let Some(column) = cells
        .iter()
        .position(|&(cs, ce)| cs <= s - ls && e - ls <= ce)
    else {
        return le;
    };
    let (cs, ce) = cells[column];
    let mut words = Vec::new();
    split_words(unquote(&line[cs..ce]), &mut words);
    let Some(class) = classify(&words, words.len()) else {
        return le;
    };
    // A Markdown row of a name and its value (`| DB_PASSWORD | `x` |`) reads
    // as a header too: every cell is short. The cell after the name is
    // judged as its value.
    if delimiter == b'|'
        && let Some(&(vs, ve)) = cells.get(column + 1)
    {
        let (vs, ve) = trim(line, vs, ve);
        let v = &line[vs..ve];
        if !v.is_empty() && !v.contains(&b' ') && is_secret_value(v, class.strictness, true) {
            scan.push(ls + vs, ls + ve, class.kind, class.priority);
        }
    }
    let mut next = le + 1;
    let mut end = le;
    for row in 0..MAX_ROWS {
        if next >= bytes.len() {
            break;
        }
        let row_end = line_end(bytes, next);
        let text = &bytes[next..row_end];
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let text = if delimiter == b'|' {
            string_close(text)
        } else {
            text
        };
        // Markdown's rule under the header. A bar-framed line without one
        // is a row of a table (`| password | string |` over `| token_ttl |
        // int |`), whose first cells below are other rows' names.
        if row == 0 && delimiter == b'|' {
            if is_rule(text) {
                end = row_end;
                next = row_end + 1;
                continue;
            }
            if line.trim_ascii_start().starts_with(b"|") {
                break;
            }
        }
        let cells = split(text, delimiter);
        if cells.len() != head.cells {
            break;
        }
        let (vs, ve) = cells[column];
        let (vs, ve) = trim(text, vs, ve);
        let v = &text[vs..ve];
        if !v.is_empty() && !v.contains(&b' ') && is_secret_value(v, class.strictness, true) {
            scan.push(next + vs, next + ve, class.kind, class.priority);
        }
        end = row_end;
        next = row_end + 1;
    }
    end
}

/// Cells of `line` split at `delimiter`, outside double quotes; a Markdown
/// line's outer bars open and close the row rather than separate cells.
fn split(line: &[u8], delimiter: u8) -> Vec<(usize, usize)> {
    let (mut lo, mut hi) = (0, line.len());
    if delimiter == b'|' {
        let t = line.trim_ascii();
        let lead = line.len() - line.trim_ascii_start().len();
        if t.first() == Some(&b'|') {
            lo = lead + 1;
        }
        if t.len() > 1 && t.last() == Some(&b'|') {
            hi = lead + t.len() - 1;
        }
    }
    let mut cells = Vec::new();
    let (mut start, mut quoted) = (lo, false);
    for (i, &b) in line.iter().enumerate().take(hi).skip(lo) {
        match b {
            b'"' if delimiter != b'|' => quoted = !quoted,
            b if b == delimiter && !quoted => {
                cells.push((start, i));
                if cells.len() > MAX_CELLS {
                    return cells;
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    cells.push((start, hi));
    cells
}

/// A cell's text without the blanks, quotes or code span around it.
fn trim(line: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && line[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && line[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    if e - s >= 2 && matches!(line[s], b'"' | b'\'' | b'`') && line[e - 1] == line[s] {
        (s + 1, e - 1)
    } else {
        (s, e)
    }
}

fn unquote(cell: &[u8]) -> &[u8] {
    let (s, e) = trim(cell, 0, cell.len());
    &cell[s..e]
}

/// A column name: at most three words of letters and digits, nothing a
/// value or a sentence holds.
fn is_name(cell: &[u8]) -> bool {
    cell.first().is_none_or(u8::is_ascii_alphabetic)
        && cell.last().is_none_or(|&b| b != b'.')
        && cell.iter().filter(|&&b| b == b' ').count() <= 2
        && cell.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-' | b'.' | b'(' | b')' | b'/')
        })
}

/// A Markdown row without what closes the string around the table when it
/// travels inside JSON (`| jenkins | admin | x |"}`): the row ends at its
/// last bar when only quotes, brackets and commas follow it.
fn string_close(row: &[u8]) -> &[u8] {
    match row.iter().rposition(|&b| b == b'|') {
        Some(p)
            if p + 1 < row.len()
                && row[p + 1..]
                    .iter()
                    .all(|b| matches!(b, b'"' | b'\'' | b'}' | b']' | b',' | b' ' | b'\\')) =>
        {
            &row[..=p]
        }
        _ => row,
    }
}

/// Markdown's rule: bars, dashes, colons.
fn is_rule(line: &[u8]) -> bool {
    line.contains(&b'-')
        && line
            .iter()
            .all(|b| matches!(b, b'|' | b'-' | b':' | b' ' | b'\t'))
}
