//! Escapes the matching view decodes (see [`super::view`]): the ways a
//! secret's characters get written in a message without changing what a
//! reader, or the program receiving it, gets back.
//!
//! - `\/` and `\u00XX` JSON escapes of URL punctuation (`\u0026`, `\u003d`,
//!   `\u0040`, …), also doubly escaped, so URL structure is visible;
//! - `\u00XX` escapes of letters, digits and `_ - . ~` (`\u0067hp_…` is
//!   `ghp_…` to any JSON parser), and `\xXX` escapes of the same in the
//!   string literals of Python, JavaScript and C;
//! - `%XX` escapes of the same unreserved characters (`ghp%5F…`): RFC 3986
//!   §6.2.2.2 makes them equivalent to the character itself, so decoding
//!   them never changes what a URL means;
//! - `&#95;` / `&#x5F;` HTML character references of the same characters;
//! - a shell line continuation inside a word (`ghp_abc\` + newline +
//!   `def…`): the shell joins the two halves into one word.
//!
//! Quotes, backslashes and controls stay escaped, so string parsing still
//! works on the view. Every escape is decided from a few bytes.

/// At a byte that may start an escape (`\` or `%`): the escape's length
/// and what the view holds for it (`None`: nothing, for a line continuation).
pub(crate) fn at(bytes: &[u8], i: usize) -> Option<(usize, Option<u8>)> {
    match bytes.get(i)? {
        b'\\' => backslash(bytes, i),
        b'%' => percent(bytes, i).map(|b| (3, Some(b))),
        b'&' => entity(bytes, i).map(|(len, b)| (len, Some(b))),
        _ => None,
    }
}

/// Whether `bytes` holds any escape [`at`] decodes.
pub(crate) fn has_escape(bytes: &[u8]) -> bool {
    memchr::memchr3_iter(b'\\', b'%', b'&', bytes).any(|i| at(bytes, i).is_some())
}

/// `&#95;` / `&#x5F;` (HTML-escaped output) of an unreserved character.
fn entity(bytes: &[u8], i: usize) -> Option<(usize, u8)> {
    let rest = bytes.get(i + 2..(i + 8).min(bytes.len()))?;
    if bytes.get(i + 1) != Some(&b'#') {
        return None;
    }
    let semi = rest.iter().position(|&b| b == b';')?;
    let digits = std::str::from_utf8(&rest[..semi]).ok()?;
    let v = match digits.strip_prefix(['x', 'X']) {
        Some(hex) if hex.len() == 2 => u8::from_str_radix(hex, 16).ok()?,
        None if (2..=3).contains(&digits.len()) => digits.parse::<u8>().ok()?,
        _ => return None,
    };
    unreserved(v).then_some((semi + 3, v))
}

/// Letters, digits and the unreserved punctuation of RFC 3986.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~')
}

/// Punctuation that carries URL and query structure.
fn url_structure(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'&' | b'=' | b'@' | b':' | b'+' | b'<' | b'>' | b'?' | b'#'
    )
}

fn hex_byte(h: &[u8]) -> Option<u8> {
    let hex = std::str::from_utf8(h.get(..2)?).ok()?;
    u8::from_str_radix(hex, 16).ok()
}

/// `%XX` of an unreserved character.
fn percent(bytes: &[u8], i: usize) -> Option<u8> {
    let v = hex_byte(bytes.get(i + 1..i + 3)?)?;
    unreserved(v).then_some(v)
}

/// At a backslash: a JSON escape (with any extra backslashes of a doubly
/// escaped string) or a line continuation inside a word.
fn backslash(bytes: &[u8], i: usize) -> Option<(usize, Option<u8>)> {
    let mut j = i;
    while j < bytes.len() && bytes[j] == b'\\' && j - i < 4 {
        j += 1;
    }
    match bytes.get(j) {
        Some(b'/') => Some((j + 1 - i, Some(b'/'))),
        Some(b'u') if bytes.len() >= j + 5 && &bytes[j + 1..j + 3] == b"00" => {
            let v = hex_byte(&bytes[j + 3..j + 5])?;
            (url_structure(v) || unreserved(v)).then_some((j + 5 - i, Some(v)))
        }
        // `\x67` (Python, JavaScript, C strings): only for the characters a
        // token is made of.
        Some(b'x') => {
            let v = hex_byte(bytes.get(j + 1..j + 3)?)?;
            unreserved(v).then_some((j + 3 - i, Some(v)))
        }
        Some(b'\n' | b'\r') if j == i + 1 => continuation(bytes, i).map(|len| (len, None)),
        _ => None,
    }
}

/// Longest indentation skipped after a continued line.
const MAX_INDENT: usize = 16;

/// `word\` + newline (+ indentation) + `word`: the length of what joins the
/// two halves. Only inside a word (a word byte on both sides), so a command
/// continued between its arguments keeps its line break.
fn continuation(bytes: &[u8], i: usize) -> Option<usize> {
    let word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    if !i
        .checked_sub(1)
        .and_then(|p| bytes.get(p))
        .is_some_and(word)
    {
        return None;
    }
    let mut j = i + 1;
    if bytes.get(j) == Some(&b'\r') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'\n') {
        return None;
    }
    j += 1;
    let indent_start = j;
    while matches!(bytes.get(j), Some(b' ' | b'\t')) && j - indent_start < MAX_INDENT {
        j += 1;
    }
    bytes
        .get(j)
        .is_some_and(|b| b.is_ascii_alphanumeric())
        .then_some(j - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_hides_a_token() {
        assert_eq!(at(b"\\u0067hp_", 0), Some((6, Some(b'g'))));
        assert_eq!(at(b"\\\\u005Fx", 0), Some((7, Some(b'_'))));
        assert_eq!(at(b"ghp%5Fab", 3), Some((3, Some(b'_'))));
        assert_eq!(at(b"\\x67hp_", 0), Some((4, Some(b'g'))));
        assert_eq!(at(b"ghp&#95;ab", 3), Some((5, Some(b'_'))));
        assert_eq!(at(b"&#x67;hp", 0), Some((6, Some(b'g'))));
        assert_eq!(at(b"ab\\\ncd", 2), Some((2, None)));
        assert_eq!(at(b"ab\\\r\n  cd", 2), Some((5, None)));
    }

    #[test]
    fn leaves_what_structures_text() {
        assert_eq!(at(b"\\u0022", 0), None, "a quote stays escaped");
        assert_eq!(at(b"\\u005c", 0), None, "a backslash stays escaped");
        assert_eq!(at(b"%20", 0), None, "a space is reserved");
        assert_eq!(at(b"%2F", 0), None, "a slash is structure");
        assert_eq!(at(b"\\x0a", 0), None, "a control stays escaped");
        assert_eq!(at(b"&#39;", 0), None, "a quote stays escaped");
        assert_eq!(at(b"&amp;", 0), None);
        assert_eq!(at(b"100%", 3), None);
        assert_eq!(at(b"run \\\n  --flag", 4), None, "between arguments");
        assert_eq!(at(b"abc\\\n\n", 3), None);
        assert!(!has_escape(b"plain 50% text \\n"));
    }
}
