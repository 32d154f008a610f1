//! A `#` inside a query-string value (`?password=W3#eN9xQvL2z`). In a URL a
//! raw `#` starts the fragment, but agents paste passwords from configs,
//! shells and chat, where `#` is one of a password's characters, into URLs
//! and `name=value&…` lists. Cutting the value there left the rest of the
//! secret in clear text, and a head too short to judge (`W3`) all of it.
//!
//! So the `#` and what follows it, up to where a bare value ends, stay in the
//! value unless that tail reads as a fragment: nothing, a route or directive
//! (`#/login`, `#!/`, `#:~:text=`), parameters (`#access_token=…`, a secret
//! of its own), a GitHub line anchor (`#L20-L35`), or plain words and numbers
//! (`#section-2`, `#faq`, `#impl-Clone-for-Foo`, `#step3`). Plain words are
//! kept too when what stands before the `#` already reads as the start of a
//! password (`Kq8zW2#frag`: short, with letters and digits). Outside a query
//! a bare value already runs through a glued `#`, and one after a blank
//! starts a comment (`password=x # rotated`), so nothing changes there.

/// Longest tail after a `#` read into a value; a longer one is a fragment.
const MAX_TAIL: usize = 64;
/// Longest head that can be the start of a password cut at a `#`.
const MAX_HEAD: usize = 12;

/// Whether the `#` at `hash` belongs to the value that starts at `vs`;
/// `stop` says which bytes end a bare value.
pub(crate) fn in_value(bytes: &[u8], vs: usize, hash: usize, stop: impl Fn(u8) -> bool) -> bool {
    let from = hash + 1;
    let hi = (from + MAX_TAIL + 1).min(bytes.len());
    let te = bytes[from..hi]
        .iter()
        .position(|&b| stop(b))
        .map_or(hi, |p| from + p);
    let tail = &bytes[from..te];
    if te - from > MAX_TAIL || structural(tail) {
        return false;
    }
    let plain_words = tail.split(|&b| matches!(b, b'-' | b'_' | b'.')).all(plain);
    !plain_words || password_head(&bytes[vs..hash])
}

/// Empty, a route, a directive, parameters or a line anchor.
fn structural(tail: &[u8]) -> bool {
    tail.first()
        .is_none_or(|b| matches!(b, b'/' | b'!' | b':' | b'?'))
        || tail.iter().any(|b| matches!(b, b'=' | b'/' | b'?'))
        || line_anchor(tail)
}

/// `L20`, `L20-L35`, `L20C4`: GitHub's and GitLab's line anchors.
fn line_anchor(tail: &[u8]) -> bool {
    let mut parts = tail.split(|&b| b == b'-');
    let line = |p: &[u8]| {
        p.len() > 1
            && p[0] == b'L'
            && p[1..]
                .split(|&b| b == b'C')
                .all(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
    };
    parts.next().is_some_and(line) && parts.all(line)
}

/// A word or a number as people write them: at most one switch from a
/// lower-case letter to a capital or between letters and digits (`section`,
/// `Usage`, `step3`, `MyHeading`, `v2`), unlike drawn characters
/// (`eN9xQvL2z`, `a1b2`). A capital followed by lower case starts a word and
/// is no switch.
fn plain(piece: &[u8]) -> bool {
    let switches = piece
        .windows(2)
        .filter(|w| {
            (w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
                || (w[0].is_ascii_alphabetic() && w[1].is_ascii_digit())
                || (w[0].is_ascii_digit() && w[1].is_ascii_alphabetic())
        })
        .count();
    piece.iter().all(u8::is_ascii_alphanumeric) && switches < 2
}

/// A short head that mixes letters with digits or symbols, or switches case
/// like drawn characters: how a password starts, not how a word or a page
/// name does (`reset`, `ResetPage`).
fn password_head(head: &[u8]) -> bool {
    let letters = head.iter().any(u8::is_ascii_alphabetic);
    let others = head.iter().any(|b| !b.is_ascii_alphabetic());
    head.len() <= MAX_HEAD && letters && (others || !plain(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value `in_value` reads from `text` (`name=` and the rest).
    fn value(text: &str) -> &str {
        let b = text.as_bytes();
        let vs = text.find('=').map_or(0, |p| p + 1);
        let stop = |c: u8| matches!(c, b' ' | b'"' | b'\'' | b'&' | b'#' | b',' | b';' | b'<');
        let mut e = vs;
        while e < b.len() && (!stop(b[e]) || (b[e] == b'#' && in_value(b, vs, e, stop))) {
            e += 1;
        }
        &text[vs..e]
    }

    #[test]
    fn a_hash_in_a_password_is_kept() {
        for (text, v) in [
            ("password=W3#eN9xQvL2z", "W3#eN9xQvL2z"),
            ("password=W3#eN9xQ!z&user=app", "W3#eN9xQ!z"),
            ("pwd=#W3eN9xQ", "#W3eN9xQ"),
            ("password=Kq8zW2#frag", "Kq8zW2#frag"),
            ("password=Zq4#8m#W2vL", "Zq4#8m#W2vL"),
            ("password=eNxQ#frag", "eNxQ#frag"),
            ("password=hunter#2Xq9 next", "hunter#2Xq9"),
        ] {
            assert_eq!(value(text), v, "{text}");
        }
    }

    #[test]
    fn a_fragment_is_not_part_of_the_value() {
        for (text, v) in [
            ("password=reset#section-2", "reset"),
            ("pass=1#L20", "1"),
            ("pass=1#L20-L35", "1"),
            ("token=abc#/login", "abc"),
            ("token=abc#!/home", "abc"),
            ("state=xyz#access_token=eyJhbGciOi", "xyz"),
            ("password=reset#:~:text=forgot", "reset"),
            ("password=reset#Usage", "reset"),
            ("password=reset#impl-Clone-for-Foo", "reset"),
            ("password=reset#step3", "reset"),
            ("password=reset#", "reset"),
            ("password=ResetPage#intro", "ResetPage"),
        ] {
            assert_eq!(value(text), v, "{text}");
        }
    }
}
