//! A secret on the line under a label that stands alone on its own line:
//! `Password:` (or `DB password`, `**Token:**`) and, at column 0 of the
//! next line, the value by itself, as password managers' "copy all",
//! onboarding e-mails and chat messages lay credentials out. YAML nests a
//! value under its key by indenting it ([`super::nextline`]); here nothing
//! but the layout ties the two, so the value must be a single word that
//! looks generated, never prose, a placeholder or an identifier.

use super::text::{Profile, line_end, line_start};

/// Longest text before the name on the label's line (`New admin `).
const MAX_HEAD: usize = 32;
/// Words allowed before the name (`Admin`, `New DB`).
const MAX_HEAD_WORDS: usize = 3;
/// Most bytes after the name on its line (`:**`, blanks, `\r`).
const MAX_TAIL: usize = 8;
/// Shortest and longest value taken.
const MIN_VALUE: usize = 8;
const MAX_VALUE: usize = 256;

/// The value under the label whose name is `raw_s..e`, when the label's
/// line holds nothing else and the next line (after at most one blank
/// line) is one word at column 0.
pub(crate) fn value(bytes: &[u8], raw_s: usize, e: usize) -> Option<(usize, usize)> {
    // The line must end within a few bytes of the name: checked first, as
    // it rules out nearly every name at once.
    let near = &bytes[e..(e + MAX_TAIL + 1).min(bytes.len())];
    let le = match near.iter().position(|&b| b == b'\n') {
        Some(p) => e + p,
        None if e + near.len() == bytes.len() => bytes.len(),
        None => return None,
    };
    let tail = bytes[e..le].trim_ascii_end();
    if !matches!(tail, b"" | b":" | b":**" | b"**:" | b"**" | b":*" | b"*:") {
        return None;
    }
    let ls = line_start(bytes, raw_s);
    let mut head = &bytes[ls..raw_s];
    // The first line of a JSON string (`{"content": "Your API token:\n…`).
    if let Some(q) = head.iter().rposition(|&b| b == b'"')
        && head[..q].trim_ascii_end().ends_with(b":")
    {
        head = &head[q + 1..];
    }
    let head_words = head.split(|&b| b == b' ').filter(|w| !w.is_empty()).count();
    if head.len() > MAX_HEAD
        || head_words > MAX_HEAD_WORDS
        || !head
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || matches!(b, b' ' | b'*' | b'_'))
    {
        return None;
    }
    // Words before the name with no colon (`Reset password`) are a heading
    // or prose; a colon, bold type, or the name alone make a label.
    let bold = head.starts_with(b"**") && tail.ends_with(b"**");
    if !tail.contains(&b':') && head_words > 0 && !bold {
        return None;
    }
    let mut vs = le + 1;
    for _ in 0..2 {
        if vs >= bytes.len() {
            return None;
        }
        let vle = line_end(bytes, vs);
        if !bytes[vs..vle].trim_ascii().is_empty() {
            break;
        }
        vs = vle + 1;
    }
    let vle = line_end(bytes, vs.min(bytes.len()));
    let v = bytes.get(vs..vle)?.trim_ascii_end();
    // The line may close the JSON string it is in (`…PLD"}`): a quote of
    // the value itself would still be escaped in the view.
    let v = &v[..v.iter().position(|&b| b == b'"').unwrap_or(v.len())];
    let ve = vs + v.len();
    (looks_generated(v)).then_some((vs, ve))
}

/// One word, long enough, with the mix of a generated value and not made
/// of English or code words (`PasswordResetController9#create`).
fn looks_generated(v: &[u8]) -> bool {
    if !(MIN_VALUE..=MAX_VALUE).contains(&v.len())
        || v.first().is_some_and(|b| b.is_ascii_whitespace())
        || v.iter()
            .any(|&b| b.is_ascii_whitespace() || !b.is_ascii() || b == b'\\')
    {
        return false;
    }
    let p = Profile::of(v);
    let letters = p.lower + p.upper;
    letters > 0 && p.digit > 0 && !wordy(v)
}

/// Whether most of `v` is words of five letters or more (`Reset`,
/// `Controller`, split at case humps): an identifier, not a draw.
fn wordy(v: &[u8]) -> bool {
    let mut in_words = 0;
    let mut run = 0;
    for (i, &b) in v.iter().enumerate() {
        let hump = i > 0 && b.is_ascii_uppercase() && v[i - 1].is_ascii_lowercase();
        if !b.is_ascii_alphabetic() || hump {
            if run >= 5 {
                in_words += run;
            }
            run = 0;
        }
        if b.is_ascii_alphabetic() {
            run += 1;
        }
    }
    if run >= 5 {
        in_words += run;
    }
    in_words * 2 > v.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str) -> Option<&str> {
        let s = t.find("assword").map(|i| i - 1)?;
        let e = s + "password".len();
        value(t.as_bytes(), s, e).map(|(a, b)| &t[a..b])
    }

    #[test]
    fn a_lone_label_then_a_generated_word() {
        assert_eq!(
            v("Password:\nXk29fjQmv8Lp3Rt7WzNq5YhG"),
            Some("Xk29fjQmv8Lp3Rt7WzNq5YhG")
        );
        assert_eq!(v("password\r\nXk9#pQ2!mZ7\r\n"), Some("Xk9#pQ2!mZ7"));
        assert_eq!(
            v("Admin password:\n\nXk9#pQ2!mZ7\nthanks"),
            Some("Xk9#pQ2!mZ7")
        );
        assert_eq!(v("Reset password\nPasswordResetController9#create"), None);
        assert_eq!(v("password:\nPasswordResetController9#create"), None);
        assert_eq!(v("Password:\nchange me later"), None);
        assert_eq!(v("Password:\n  Xk29fjQmv8Lp3Rt7WzNq5YhG"), None);
        assert_eq!(v("the password:\nhunter2"), None);
        assert_eq!(v("## password\nXk29fjQmv8Lp3Rt7WzNq5YhG"), None);
    }
}
