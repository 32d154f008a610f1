//! Hex secrets the caller knows exactly (this bridge's session tokens: 64
//! hex digits, the shape of every SHA-256 digest, so no detector can
//! recognise one by its shape), found in the same matching view the
//! detectors read ([`super::view`]): a zero-width space or soft hyphen
//! inside, fullwidth digits and escapes are undone there, and a token
//! wrapped over lines (`…9f3a` / `c2e1…`, at any width, indented or not) is
//! read whole again.
//!
//! Joining pieces across line breaks cannot make a false positive here: a
//! run of pieces counts only when its digits are, exactly, one of the
//! caller's secrets.

use super::view::View;

/// The spans of `text` (original byte offsets, sorted, not overlapping)
/// that hold a run of exactly `len` hex digits for which `known` is true,
/// read in the matching view: pieces of it may be split by line breaks
/// (with the next line's indentation), and no letter, digit or `_` may touch
/// the run. `known` gets the digits as written (any case).
pub fn find_known_hex(text: &str, len: usize, known: &dyn Fn(&str) -> bool) -> Vec<(usize, usize)> {
    // Nearly every text has too few hex digits to hold one: no view built.
    if len == 0 || (text.is_ascii() && text.bytes().filter(u8::is_ascii_hexdigit).count() < len) {
        return Vec::new();
    }
    let view = View::build(text);
    let vt = view.text();
    let bytes = vt.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut spans = Vec::new();
    let mut digits = String::with_capacity(len);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_hexdigit() || (i > 0 && word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        // Follow the pieces from this run on until they hold `len` digits.
        digits.clear();
        let mut at = i;
        let mut found = None;
        loop {
            let s = at;
            while at < bytes.len() && bytes[at].is_ascii_hexdigit() && digits.len() < len {
                digits.push(char::from(bytes[at]));
                at += 1;
            }
            let touched = bytes.get(at).is_some_and(|&b| word(b));
            if digits.len() == len {
                if !touched && known(&digits) {
                    found = Some(at);
                }
                break;
            }
            if touched || at == s {
                break;
            }
            match line_break(bytes, at) {
                Some(next) if bytes.get(next).is_some_and(u8::is_ascii_hexdigit) => at = next,
                _ => break,
            }
        }
        match found {
            Some(end) => {
                spans.push(view.to_original(i, end));
                i = end;
            }
            // The next run may start a token: only skip this one.
            None => {
                while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    i += 1;
                }
            }
        }
    }
    spans
}

/// Where the next line's content starts when a line break (and that line's
/// indentation) is at `at`.
fn line_break(bytes: &[u8], at: usize) -> Option<usize> {
    let nl = match bytes.get(at..)? {
        [b'\r', b'\n', ..] => 2,
        [b'\n' | b'\r', ..] => 1,
        _ => return None,
    };
    let mut j = at + nl;
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::find_known_hex;

    const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn find(text: &str) -> Vec<String> {
        let known = |d: &str| d.eq_ignore_ascii_case(TOKEN);
        find_known_hex(text, 64, &known)
            .into_iter()
            .map(|(s, e)| text[s..e].to_string())
            .collect()
    }

    #[test]
    fn hidden_and_wrapped_forms_are_found() {
        let zw = format!("fyi {}\u{200B}{} thanks", &TOKEN[..30], &TOKEN[30..]);
        let shy = format!("fyi {}\u{00AD}{} thanks", &TOKEN[..30], &TOKEN[30..]);
        let wide: String = TOKEN
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
            .collect();
        let wrapped = format!("fyi {}\n{} thanks", &TOKEN[..32], &TOKEN[32..]);
        let indented = format!("token:\n  {}\r\n  {}", &TOKEN[..40], &TOKEN[40..]);
        let upper = format!("({})", TOKEN.to_uppercase());
        for text in [
            zw,
            shy,
            format!("fyi {wide} thanks"),
            wrapped,
            indented,
            upper,
        ] {
            let found = find(&text);
            assert_eq!(found.len(), 1, "{text:?}");
            let rest = text.replacen(&found[0], "", 1);
            assert!(
                !rest.contains(&TOKEN[..6]) && !rest.contains(&TOKEN[58..]),
                "{rest:?}"
            );
        }
    }

    #[test]
    fn other_runs_are_left() {
        let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for text in [
            digest.to_string(),
            format!("x{TOKEN}"),
            format!("{TOKEN}0"),
            format!("{}\n{}0", &TOKEN[..32], &TOKEN[32..]),
            format!("{}\n\n{}", &TOKEN[..32], &TOKEN[32..]),
            "short abc def".to_string(),
        ] {
            assert!(find(&text).is_empty(), "{text:?}");
        }
        // A digest line above the token does not hide it.
        assert_eq!(find(&format!("{digest}\n{TOKEN}")), vec![TOKEN.to_string()]);
    }
}
