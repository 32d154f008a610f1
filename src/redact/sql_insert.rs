//! SQL `INSERT` statements that name a secret only in their column list:
//! `INSERT INTO integrations (provider, api_key, enabled) VALUES ('acme',
//! 'X', true);`. The column list is read, each column name is classified
//! like any other name, and the string literal at the same position of
//! every row of `VALUES` is judged as that name's value. A column that names
//! a hash, an id or a length (`password_hash`, `api_key_id`) names no
//! secret, so its values stay.

use super::names::{classify, split_words};
use super::scan::Scan;
use super::value::is_secret_value;

/// Bytes of a statement read after `INSERT INTO`.
const MAX_STMT: usize = 8192;
/// Columns read.
const MAX_COLS: usize = 64;
/// Bytes of a table's name, and of a column list.
const MAX_NAME: usize = 128;
const MAX_COLS_LEN: usize = 2048;
/// Rows of `VALUES` read.
const MAX_ROWS: usize = 64;

/// At `insert into ` (`start..end`).
pub(crate) fn on_insert(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return;
    }
    let hi = (end + MAX_STMT).min(bytes.len());
    // The table's name, then the column list.
    let open = end
        + bytes[end..hi.min(end + MAX_NAME)]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"_.\"`[]\\ \t".contains(&b))
            .count();
    if bytes.get(open) != Some(&b'(') {
        return;
    }
    let Some(close) = bytes[open..hi.min(open + MAX_COLS_LEN)]
        .iter()
        .position(|&b| b == b')')
        .map(|p| open + p)
    else {
        return;
    };
    let mut classes = Vec::new();
    let mut any = false;
    for col in bytes[open + 1..close].split(|&b| b == b',').take(MAX_COLS) {
        let name = col.trim_ascii();
        let name: Vec<u8> = name
            .iter()
            .copied()
            .filter(|b| !b"\"`[]\\".contains(b))
            .collect();
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            return;
        }
        let mut words = Vec::new();
        split_words(&name, &mut words);
        let class = classify(&words, words.len());
        any |= class.is_some();
        classes.push(class);
    }
    if !any {
        return;
    }
    let mut i = skip_ws(bytes, close + 1, hi);
    if hi < i + 6 || !bytes[i..i + 6].eq_ignore_ascii_case(b"values") {
        return;
    }
    i += 6;
    for _ in 0..MAX_ROWS {
        i = skip_ws(bytes, i, hi);
        if bytes.get(i) != Some(&b'(') || i >= hi {
            return;
        }
        let Some((fields, after)) = row(bytes, i + 1, hi) else {
            return;
        };
        if fields.len() == classes.len() {
            for (class, (vs, ve, quoted)) in classes.iter().zip(fields) {
                if let Some(c) = class
                    && quoted
                    && is_secret_value(&bytes[vs..ve], c.strictness, true)
                {
                    scan.push(vs, ve, c.kind, c.priority);
                }
            }
        }
        i = skip_ws(bytes, after, hi);
        if bytes.get(i) != Some(&b',') || i >= hi {
            return;
        }
        i += 1;
    }
}

/// The fields of one row from `i` (just after its `(`) to its `)`: each
/// span and whether it was a string literal; and where the row ends.
#[allow(clippy::type_complexity)]
fn row(bytes: &[u8], mut i: usize, hi: usize) -> Option<(Vec<(usize, usize, bool)>, usize)> {
    let mut fields = Vec::new();
    while fields.len() <= MAX_COLS {
        i = skip_ws(bytes, i, hi);
        let q = *bytes.get(i).filter(|_| i < hi)?;
        if q == b'\'' || q == b'"' {
            let vs = i + 1;
            let mut k = vs;
            loop {
                if k >= hi {
                    return None;
                }
                if bytes[k] == b'\\' {
                    k += 2;
                    continue;
                }
                if bytes[k] == q {
                    // SQL's doubled quote inside a literal.
                    if bytes.get(k + 1) == Some(&q) {
                        k += 2;
                        continue;
                    }
                    break;
                }
                k += 1;
            }
            fields.push((vs, k, true));
            i = k + 1;
        } else {
            let vs = i;
            let mut depth = 0usize;
            while i < hi && !(depth == 0 && matches!(bytes[i], b',' | b')')) {
                match bytes[i] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b'\n' | b';' => return None,
                    _ => {}
                }
                i += 1;
            }
            fields.push((vs, i, false));
        }
        i = skip_ws(bytes, i, hi);
        match bytes.get(i) {
            Some(b',') if i < hi => i += 1,
            Some(b')') if i < hi => return Some((fields, i + 1)),
            _ => return None,
        }
    }
    None
}

/// Past blanks and line breaks (also JSON-escaped ones, `\n`).
fn skip_ws(bytes: &[u8], mut i: usize, hi: usize) -> usize {
    while i < hi {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else if bytes[i] == b'\\' && matches!(bytes.get(i + 1), Some(b'n' | b'r' | b't')) {
            i += 2;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all_kept, all_redacted};

    #[test]
    fn insert_naming_a_secret_in_its_column_list() {
        all_redacted(&[
            (
                "INSERT INTO integrations (provider, cloudflare_api_token, enabled) VALUES ('acme', 'g_7m_fcFVSY9XENhdvle0oTXpd_-plCFhKXfWKMP', true);",
                "g_7m_fcFVSY9XENhdvle0oTXpd_-plCFhKXfWKMP",
            ),
            (
                "insert into users (id, email, password) values\n  (1, 'a@x.io', 'u9q69HcJCvLd7kX-K9.'),\n  (2, 'b@x.io', 'Zq8#mN2vLp4wRt6y');",
                "Zq8#mN2vLp4wRt6y",
            ),
            (
                "insert into users (id, email, password) values (1, 'a@x.io', 'u9q69HcJCvLd7kX-K9.'), (2, 'b@x.io', 'Zq8#mN2vLp4wRt6y');",
                "u9q69HcJCvLd7kX-K9.",
            ),
            (
                "INSERT INTO `vendor_keys` (`name`, `api_key`) VALUES ('dd', '2ef04ce3cacb41da1cb2ba693a6766c4');",
                "2ef04ce3cacb41da1cb2ba693a6766c4",
            ),
            (
                "INSERT INTO s (webhooksecret, n) VALUES (\"SvJBFMDeW4NCDecG0L60IS6w6zUXgDpyJpvDcEkkZHsBpd7Z\", 2);",
                "SvJBFMDeW4NCDecG0L60IS6w6zUXgDpyJpvDcEkkZHsBpd7Z",
            ),
        ]);
        all_kept(&[
            "INSERT INTO users (id, password_hash, api_key_id) VALUES (1, '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 'e42a6fd531e8ee46c89f318d36e2c26b');",
            "INSERT INTO users (id, password) VALUES ($1, $2);",
            "INSERT INTO t (name, token) VALUES ('x', :token);",
            "INSERT INTO audit (event, detail) VALUES ('login', 'u9q69HcJCvLd7kX-K9.');",
            "INSERT INTO t (a, password) VALUES ('x')",
        ]);
    }
}
