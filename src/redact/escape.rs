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
//! - `&#95;` / `&#x5F;` HTML character references of the same characters,
//!   and the entities HTML writes quotes, `<`, `>` and `&` with (`&quot;`,
//!   `&#39;`, `&lt;`, …), so `{&quot;password&quot;: …}` reads as JSON;
//! - percent-encoded JSON in a query or form body
//!   (`%7B%22password%22%3A%22…%22%7D`): its quotes and punctuation, only
//!   in runs of escapes that hold both (see `percent`);
//! - a shell line continuation inside a word (`ghp_abc\` + newline +
//!   `def…`): the shell joins the two halves into one word;
//! - the `\n`, `\r` and `\t` of a JSON-escaped text (a tool result, a file
//!   written by `write_file`): without them the lines of the escaped text run
//!   together, so `\ngho_…` has no word boundary before the token and
//!   `password\nnext` reads as `password` = `\` …; and their `\\n` in JSON
//!   carried inside a JSON string. A decoded escape is one unit of the
//!   view, so a replacement never splits it, and the output keeps the
//!   input's encoding.
//!
//! Backslash-escaped quotes and backslashes stay escaped, so string parsing
//! still works on the view (decoding `\"` would end the enclosing JSON
//! string early for every detector that reads quoted values). Every escape
//! is decided from a few bytes.

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

/// `&#95;` / `&#x5F;` (HTML-escaped output) of an unreserved character,
/// and the entities HTML escapes JSON, code and passwords with (`&quot;`,
/// `&#39;`, `&lt;`, `&gt;`, `&amp;`, …): a page or HAR export showing
/// `{&quot;password&quot;: &quot;…&quot;}` holds the same JSON.
fn entity(bytes: &[u8], i: usize) -> Option<(usize, u8)> {
    for (name, v) in [
        (&b"&quot;"[..], b'"'),
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&amp;", b'&'),
        (b"&#34;", b'"'),
        (b"&#x22;", b'"'),
        (b"&#39;", b'\''),
        (b"&#x27;", b'\''),
        (b"&apos;", b'\''),
    ] {
        if bytes.get(i..i + name.len()) == Some(name) {
            return Some((name.len(), v));
        }
    }
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

/// `%XX` of an unreserved character, or of JSON's structure inside
/// percent-encoded JSON (`%7B%22password%22%3A%22…%22%7D` in a query or a
/// form body): `:` `,` `{` `}` `[` `]` and a space count only in a run of
/// escapes that holds a quote, so an encoded URL (`https%3A%2F%2F…`) keeps
/// its own escapes, and a quote only beside them or where a parameter
/// ends, so a password with a quote in it (`p%22ss`) stays one value.
fn percent(bytes: &[u8], i: usize) -> Option<u8> {
    let v = hex_byte(bytes.get(i + 1..i + 3)?)?;
    if unreserved(v) {
        return Some(v);
    }
    let decoded = match v {
        // The closing quote of an encoded document that ends a parameter.
        b'"' => {
            json_in_run(bytes, i) || matches!(bytes.get(i + 3), None | Some(b'&' | b' ' | b'\n'))
        }
        b':' | b',' | b'{' | b'}' | b'[' | b']' | b' ' => quote_in_run(bytes, i),
        _ => false,
    };
    decoded.then_some(v)
}

/// JSON's structure, percent-encoded.
fn json_escape(h: &[u8]) -> bool {
    hex_byte(h).is_some_and(|b| matches!(b, b':' | b',' | b'{' | b'}' | b'[' | b']' | b' '))
}

/// Longest run of adjacent `%XX` escapes looked along, each way.
const MAX_RUN: usize = 6;

/// Whether the run of `%XX` escapes around the one at `i` holds a `%22`.
fn quote_in_run(bytes: &[u8], i: usize) -> bool {
    in_run(bytes, i, |h| h == b"22")
}

/// Whether the run of `%XX` escapes around the quote at `i` holds JSON's
/// structure (`%22%3A%22`, `%7B%22`): a quote of an encoded document, not
/// one character of an encoded password (`p%22ss`).
fn json_in_run(bytes: &[u8], i: usize) -> bool {
    in_run(bytes, i, json_escape)
}

/// Whether an escape of the run of `%XX` escapes around the one at `i`
/// (not counting it) has hex digits `want`.
fn in_run(bytes: &[u8], i: usize, want: impl Fn(&[u8]) -> bool) -> bool {
    let quote = |j: usize| bytes.get(j + 1..j + 3).is_some_and(&want);
    let escape = |j: usize| {
        bytes.get(j) == Some(&b'%') && bytes.get(j + 1..j + 3).and_then(hex_byte).is_some()
    };
    let mut j = i;
    for _ in 0..MAX_RUN {
        j += 3;
        if !escape(j) {
            break;
        }
        if quote(j) {
            return true;
        }
    }
    let mut j = i;
    for _ in 0..MAX_RUN {
        let Some(k) = j.checked_sub(3).filter(|&k| escape(k)) else {
            break;
        };
        if quote(k) {
            return true;
        }
        j = k;
    }
    false
}

/// At a backslash: a JSON escape (with any extra backslashes of a doubly
/// escaped string) or a line continuation inside a word.
fn backslash(bytes: &[u8], i: usize) -> Option<(usize, Option<u8>)> {
    if let Some(c) = line_escape(bytes, i) {
        return Some((2, Some(c)));
    }
    if let Some(c) = double_line_escape(bytes, i) {
        return Some((3, Some(c)));
    }
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

/// Widens the original span `start..end` so that it neither begins nor ends
/// inside a backslash escape (`\"`, `\\`, `\n`, …): replacing half of one
/// would leave a lone backslash that escapes the placeholder's first letter,
/// or the character after the placeholder, and the enclosing JSON or string
/// literal would no longer parse.
pub(crate) fn whole_escapes(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let escapes = |p: usize| {
        escaped_by_backslash(bytes, p)
            && matches!(
                bytes.get(p),
                Some(b'"' | b'\'' | b'\\' | b'/' | b'n' | b'r' | b't' | b'u' | b'b' | b'f')
            )
    };
    let start = if start > 0 && escapes(start) {
        start - 1
    } else {
        start
    };
    let end = if end < bytes.len() && escapes(end) && end > start {
        // The span ends on the backslash: take the escaped character too
        // (ASCII, so `end + 1` is a character boundary).
        end + 1
    } else {
        end
    };
    (start, end)
}

/// Whether the byte at `p` follows an odd run of backslashes (is escaped).
fn escaped_by_backslash(bytes: &[u8], p: usize) -> bool {
    let run = bytes[..p.min(bytes.len())]
        .iter()
        .rev()
        .take(MAX_BACKSLASHES)
        .take_while(|&&b| b == b'\\')
        .count();
    run % 2 == 1
}

/// Longest run of backslashes looked at before a `\n`: a longer run is
/// not a JSON escape anyone writes.
const MAX_BACKSLASHES: usize = 8;

/// `\n`, `\r`, `\t` written with a single backslash: the backslash must not
/// itself be escaped (`\\n` is a backslash and a letter, as in a Windows
/// path `C:\\new`), so the run of backslashes before it must be even.
fn line_escape(bytes: &[u8], i: usize) -> Option<u8> {
    let c = match bytes.get(i + 1)? {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    };
    // `"…\n"` ends a literal piece (a PEM split over concatenated strings):
    // the detectors that join such pieces read the escape as it is.
    if matches!(bytes.get(i + 2), Some(b'"' | b'\'')) {
        return None;
    }
    let before = bytes[..i]
        .iter()
        .rev()
        .take(MAX_BACKSLASHES)
        .take_while(|&&b| b == b'\\')
        .count();
    (before % 2 == 0 && before < MAX_BACKSLASHES).then_some(c)
}

/// `\\n` (also `\\r`, `\\t`) in doubly escaped text: a JSON document
/// carried in a JSON string (a tool result quoting another), whose strings
/// are delimited by `\"` and whose line breaks are `\\n`. Alone, `\\n` is
/// as often a backslash and a letter (`C:\\new`), so only exactly two
/// backslashes, with such a `\"` near, read as a line break.
fn double_line_escape(bytes: &[u8], i: usize) -> Option<u8> {
    if bytes.get(i + 1) != Some(&b'\\') || (i > 0 && bytes[i - 1] == b'\\') {
        return None;
    }
    let c = match bytes.get(i + 2)? {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    };
    let lo = i.saturating_sub(DOUBLE_REACH);
    let hi = (i + DOUBLE_REACH).min(bytes.len());
    memchr::memmem::find_iter(&bytes[lo..hi], b"\\\"")
        .any(|p| lo + p == 0 || bytes[lo + p - 1] != b'\\')
        .then_some(c)
}

/// How far a string delimiter of the inner document is looked for around
/// a `\\n`.
const DOUBLE_REACH: usize = 512;

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
        assert_eq!(at(b"%22%3A%22", 3), Some((3, Some(b':'))));
        assert_eq!(at(b"%7B%22", 0), Some((3, Some(b'{'))));
        assert_eq!(at(b"x%22", 1), Some((3, Some(b'"'))));
        assert_eq!(at(b"%22%3A", 0), Some((3, Some(b'"'))));
        assert_eq!(at(b"p%22ss", 1), None, "a quote inside a value");
        assert_eq!(at(b"&quot;pw", 0), Some((6, Some(b'"'))));
        assert_eq!(at(b"ab\\\ncd", 2), Some((2, None)));
        assert_eq!(at(b"ab\\\r\n  cd", 2), Some((5, None)));
        assert_eq!(at(b"a\\ngho_", 1), Some((2, Some(b'\n'))));
        assert_eq!(at(b"a\\\\\\tb", 3), Some((2, Some(b'\t'))));
    }

    #[test]
    fn leaves_what_structures_text() {
        assert_eq!(at(b"\\u0022", 0), None, "a quote stays escaped");
        assert_eq!(at(b"\\u005c", 0), None, "a backslash stays escaped");
        assert_eq!(at(b"%20", 0), None, "a space is reserved");
        assert_eq!(at(b"%2F", 0), None, "a slash is structure");
        assert_eq!(at(b"\\x0a", 0), None, "a control stays escaped");
        assert_eq!(
            at(b"&#39;", 0),
            Some((5, Some(b'\''))),
            "HTML's quote is a quote"
        );
        assert_eq!(at(b"%3A%2F%2F", 0), None, "an encoded URL keeps its colon");
        assert_eq!(at(b"%3Ax", 0), None, "a colon alone stays encoded");
        assert_eq!(at(b"100%", 3), None);
        assert_eq!(at(b"run \\\n  --flag", 4), None, "between arguments");
        assert_eq!(at(b"abc\\\n\n", 3), None);
        assert!(!has_escape(b"plain 50% text \\\\n"));
    }

    #[test]
    fn a_span_never_splits_an_escape() {
        // `x\"pw\"` with the span on `"pw\"`: the backslash before it joins.
        assert_eq!(whole_escapes(b"x\\\"pw\\\"", 2, 7), (1, 7));
        // A span ending on a backslash takes the quote it escapes.
        assert_eq!(whole_escapes(b"\\\"pw\\\"", 2, 5), (2, 6));
        // `\\` then a quote: the quote is not escaped.
        assert_eq!(whole_escapes(b"a\\\\\"pw", 3, 6), (3, 6));
        // A path separator before a token is no escape.
        assert_eq!(whole_escapes(b"C:\\ghp_x", 3, 8), (3, 8));
        assert_eq!(at(b"a\\\\n", 2), None, "an escaped backslash and a letter");
        assert_eq!(at(b"a\\\\n", 1), None, "no doubly escaped quote near");
        assert_eq!(at(br#"{\"k\": \"x\\ny"#, 11), Some((3, Some(b'\n'))));
        assert_eq!(
            at(br#"{\"k\": \"C:\\\\new"#, 14),
            None,
            "a path, escaped twice"
        );
    }
}
