//! Passwords in SQL statements, where no `name = value` names them:
//! MySQL's `IDENTIFIED BY 'x'` (also `IDENTIFIED WITH plugin BY 'x'`) and
//! `SET PASSWORD [FOR user] = 'x'`. PostgreSQL's `PASSWORD 'x'` already
//! reads as a name and its value.
//!
//! Also the plain output of a decoded Kubernetes secret: `kubectl get
//! secret … | base64 -d` (or `--decode`) followed by one line holding a
//! single word, as an agent's transcript shows it.

use super::kinds::Kind;
use super::operator::skip_blank;
use super::scan::{Scan, priority};
use super::text::line_end;
use super::value::{Strictness, is_secret_value};

/// How far after `IDENTIFIED` the `BY` may come (`WITH caching_sha2_password`).
const MAX_PLUGIN: usize = 64;

/// Handles `identified` found at `start..end`.
pub(crate) fn on_identified(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
        return;
    }
    let hi = line_end(bytes, end).min(end + MAX_PLUGIN);
    let Some(by) = word_at(bytes, end, hi, b"by") else {
        return;
    };
    let v = skip_blank(bytes, by);
    // `IDENTIFIED BY PASSWORD '*94BD…'` gives a hash, not the password.
    if bytes.len() >= v + 8 && bytes[v..v + 8].eq_ignore_ascii_case(b"password") {
        return;
    }
    push_literal(scan, v);
}

/// Handles `set password` found at `start..end`: the literal after `=`.
pub(crate) fn on_set_password(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
        return;
    }
    let hi = line_end(bytes, end).min(end + 160);
    let Some(eq) = bytes[end..hi].iter().position(|&b| b == b'=') else {
        return;
    };
    push_literal(scan, skip_blank(bytes, end + eq + 1));
}

/// Where the whole word `word` ends, if it is the first word between
/// `from` and `hi` or comes after `WITH <plugin>`.
fn word_at(bytes: &[u8], from: usize, hi: usize, word: &[u8]) -> Option<usize> {
    let mut i = from;
    let mut words = 0;
    while i < hi && words < 4 {
        i = skip_blank(bytes, i);
        let ws = i;
        while i < hi && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == ws {
            return None;
        }
        if bytes[ws..i].eq_ignore_ascii_case(word) {
            return Some(i);
        }
        words += 1;
    }
    None
}

/// A single- or double-quoted literal at `v` that is a password.
fn push_literal(scan: &mut Scan<'_>, v: usize) {
    let bytes = scan.bytes;
    let Some(&q) = bytes.get(v).filter(|&&b| b == b'\'' || b == b'"') else {
        return;
    };
    let le = line_end(bytes, v + 1);
    let Some(close) = bytes[v + 1..le].iter().position(|&b| b == q) else {
        return;
    };
    let (vs, ve) = (v + 1, v + 1 + close);
    if is_secret_value(&bytes[vs..ve], Strictness::Password, true) {
        scan.push(vs, ve, Kind::PasswordAssignment, priority::HTTP);
    }
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn sql_statements() {
        let pw = "Cedar_Orbit5740!";
        for t in [
            format!("CREATE USER 'relay'@'%' IDENTIFIED BY '{pw}';"),
            format!(
                "ALTER USER 'root'@'localhost' IDENTIFIED WITH mysql_native_password BY '{pw}';"
            ),
            format!("GRANT ALL ON *.* TO 'u'@'%' identified by \"{pw}\";"),
            format!("SET PASSWORD FOR 'bob'@'%' = '{pw}';"),
        ] {
            let out = redact(&t);
            assert!(!out.contains(pw), "{t} -> {out}");
        }
        for t in [
            "CREATE USER 'u'@'%' IDENTIFIED BY PASSWORD '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29';",
            "The user is identified by their email.",
            "SET PASSWORD FOR 'bob'@'%' = PASSWORD('x');",
        ] {
            assert_eq!(redact(t), t);
        }
    }
}
