//! Passwords of several words (`correct horse battery staple`,
//! `Blue Sky Over Denver!`) written without quotes: where such a value ends,
//! and whether the words are a passphrase or a sentence about one
//! (`see the vault entry`, `must be at least 12 characters`).
//!
//! The test is the words themselves: a passphrase is a few content words;
//! prose about a password needs function words (`the`, `for`, `is`, …) or
//! the vocabulary of password talk (`vault`, `rotated`, `required`, …).
//! Also where prose links a name to its value (`token for staging is: X`).

use super::operator::skip_blank;
use super::text::line_end;

/// Function words: common in sentences, rare in a passphrase.
#[rustfmt::skip]
const FUNCTION: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "if", "of", "in", "on", "at", "to", "for", "from", "by", "with",
    "without", "into", "onto", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do",
    "does", "did", "not", "no", "yes", "this", "that", "these", "those", "it", "its", "we", "you", "they", "he",
    "she", "our", "your", "their", "my", "his", "her", "me", "us", "them", "there", "here", "then", "than", "so",
    "as", "also", "only", "just", "still", "now", "when", "where", "which", "who", "what", "how", "why", "will",
    "would", "can", "could", "should", "must", "may", "might", "shall", "every", "each", "all", "any", "some",
    "same", "such", "please", "via", "per", "i", "am",
];

/// The vocabulary of talk about passwords: a value holding one of these
/// describes the password instead of being it.
#[rustfmt::skip]
const TALK: &[&str] = &[
    "see", "use", "using", "used", "ask", "set", "stored", "store", "kept", "saved", "changed", "updated",
    "rotated", "reset", "required", "needed", "missing", "wrong", "invalid", "expired", "sent", "given", "shown",
    "printed", "logged", "least", "characters", "chars", "length", "minimum", "maximum", "value", "entry", "vault",
    "file", "env", "environment", "variable", "secret", "password", "passwords", "token", "key", "staging",
    "production", "none", "null", "empty", "unknown", "blank", "hidden", "masked", "redacted", "default",
    "provided", "configured", "enabled", "disabled", "true", "false", "unset", "change", "rotate", "policy",
    "words", "word", "login", "sso", "manager", "keychain", "1password", "lastpass", "bitwarden", "later",
    "above", "below", "current", "case", "sensitive", "todo", "placeholder", "example", "here",
];

fn count_in(words: &[&[u8]], list: &[&str]) -> usize {
    words
        .iter()
        .filter(|w| {
            let w: Vec<u8> = w
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_lowercase)
                .collect();
            list.iter().any(|s| s.as_bytes() == w.as_slice())
        })
        .count()
}

/// Whether `v`, which holds spaces, reads as a passphrase. `quoted` values
/// were written as literals, so only clear prose is refused; unquoted ones
/// must be a few content words and nothing else.
pub(crate) fn phrase_ok(v: &[u8], quoted: bool) -> bool {
    let words: Vec<&[u8]> = v
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    // Words of letters and digits, with at most a mark or two.
    if words
        .iter()
        .any(|w| w.iter().filter(|b| b.is_ascii_alphanumeric()).count() * 2 <= w.len())
    {
        return false;
    }
    let function = count_in(&words, FUNCTION);
    let talk = count_in(&words, TALK);
    if quoted {
        // A literal is refused only when it talks about the password.
        return talk == 0 && !(function >= 3 && v.ends_with(b"."));
    }
    // `$API_KEY here`, `<token> x`: a reference or placeholder, not words.
    if words
        .iter()
        .any(|w| matches!(w[0], b'$' | b'%' | b'{' | b'<' | b'[' | b'(' | b'*' | b'&'))
    {
        return false;
    }
    // Distinct words of letters and digits (a `-` or `'` inside, a `!`, `?`
    // or `.` at the end): `commit commit sk-` is not a passphrase.
    let word_ok = |w: &&[u8]| {
        let core = {
            let mut c = *w;
            while let [rest @ .., b'!' | b'?' | b'.'] = c {
                c = rest;
            }
            c
        };
        !core.is_empty()
            && core[0].is_ascii_alphanumeric()
            && core[core.len() - 1].is_ascii_alphanumeric()
            && core
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'\'')
    };
    let mut lower: Vec<Vec<u8>> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    lower.sort();
    lower.dedup();
    if !words.iter().all(word_ok) || lower.len() != words.len() {
        return false;
    }
    let digit = v.iter().any(u8::is_ascii_digit);
    ((3..=8).contains(&words.len())
        || (words.len() == 2 && digit && words.iter().all(|w| w.len() >= 3)))
        && v.len() >= 10
        && function + talk == 0
        && words.iter().all(|w| w.len() <= 24)
        && !v.ends_with(b":")
}

/// Where an unquoted multi-word value that starts at `vs` ends: at the end
/// of the line, before a ` #` comment, at `;` (connection strings) or `<`
/// (XML), and before a sentence's final dot. `None` when a comma ends it:
/// a list or a clause, not a password.
pub(crate) fn phrase_end(bytes: &[u8], vs: usize) -> Option<usize> {
    let le = line_end(bytes, vs).min(vs + 160);
    let mut e = vs;
    while e < le {
        let b = bytes[e];
        if b == b',' {
            return None;
        }
        if matches!(b, b';' | b'<' | b'"' | b'`' | b'\r')
            || (b == b'#' && e > vs && bytes[e - 1] == b' ')
            || (b == b'.' && (e + 1 == le || bytes[e + 1] == b' '))
        {
            break;
        }
        e += 1;
    }
    while e > vs && matches!(bytes[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    Some(e)
}

/// Whether a name (its last word) is one that holds passphrases: a
/// `password` or `passphrase`, not `passwd` (the Unix database), `pass`
/// (a verb) or `pwd` (a directory).
pub(crate) fn phrase_name(last_word: &str) -> bool {
    ["password", "passphrase", "passwort", "passcode"]
        .iter()
        .any(|w| last_word.ends_with(w))
}

/// Whether the text between the start of the line and a name at `raw_s`
/// leaves the name a key: nothing, a YAML list dash, the opening `<` of an
/// XML element, the `;` of a connection string, or prose (`wifi password:`,
/// `I reset it, new password:`).
pub(crate) fn phrase_head_ok(bytes: &[u8], raw_s: usize) -> bool {
    if raw_s > 0 && matches!(bytes[raw_s - 1], b'<' | b';') {
        return true;
    }
    // A head longer than a few words is prose or code, whatever it holds.
    let Some(ls) = super::text::near_line_start(bytes, raw_s, 48) else {
        return false;
    };
    let head = super::operator::trim(&bytes[ls..raw_s]);
    // Prose before the name (`I reset it, new password: …`) is fine; code
    // (`(Widget::setPassphrase): …`, `* passwd.master:`) is not.
    head.is_empty()
        || head == b"-"
        || (bytes[raw_s - 1] == b' '
            && head.iter().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b' ' | b',' | b'.' | b'\'' | b'!' | b'?')
            }))
}

/// Whether the first non-blank line after the one holding `v` is a single
/// indented word.
pub(crate) fn one_word_below(bytes: &[u8], v: usize) -> bool {
    let mut ls = line_end(bytes, v) + 1;
    for _ in 0..3 {
        if ls >= bytes.len() {
            return false;
        }
        let le = line_end(bytes, ls);
        let line = bytes[ls..le].trim_ascii_end();
        if line.is_empty() {
            ls = le + 1;
            continue;
        }
        return matches!(line[0], b' ' | b'\t')
            && !line.trim_ascii_start().iter().any(u8::is_ascii_whitespace);
    }
    false
}

/// Nouns that, right after a secret's name, name something about the secret
/// (`API key name: ci-deploy`, `Token label: …`); verbs (`used`, `set`) do not.
#[rustfmt::skip]
const ABOUT_THE_SECRET: &[&str] = &[
    "name", "names", "label", "alias", "title", "description", "type", "hint", "length", "hash", "policy",
    "prefix", "suffix", "format", "path", "file", "url", "field", "ref", "arn", "version", "expiry", "owner",
    "scope", "scopes", "header", "env", "variable", "fingerprint", "rotation",
];

/// `password for the admin account is X`, `token for staging: X`: a few plain
/// words, then `is` / `was` / `:`, on the same line. Returns where X starts.
pub(crate) fn spoken_is(bytes: &[u8], from: usize) -> Option<usize> {
    // `is` after a few words, in the languages whose prose names a value
    // that way (`Der X für Staging lautet …`, `El X de producción es …`).
    const SPOKEN_IS: &[&str] = &[
        "is", "was", "ist", "lautet", "war", "es", "est", "era", "är",
        // Indonesian and Malay, Polish, Danish and Norwegian.
        "adalah", "ialah", "jest", "er",
    ];
    let hi = line_end(bytes, from).min(from + 48);
    let mut i = from;
    let mut words = 0;
    while i < hi && words <= 5 {
        let ws = i;
        // Italian's and Portuguese's `is` (`la password del database è X`).
        for accented in ["è ", "é "] {
            if words > 1 && bytes[ws..].starts_with(accented.as_bytes()) {
                return Some(skip_blank(bytes, ws + accented.len()));
            }
        }
        // Words of other languages hold non-ASCII letters (`de produção é`).
        while i < hi
            && (bytes[i].is_ascii_alphanumeric()
                || matches!(bytes[i], b'_' | b'-')
                || bytes[i] >= 0x80)
        {
            i += 1;
        }
        let w = &bytes[ws..i];
        if w.is_empty() {
            return None;
        }
        // `API key name: ci-deploy`, `Token label: …`: a word right after the
        // name that makes it name something else about the secret.
        if words == 0
            && ABOUT_THE_SECRET
                .iter()
                .any(|s| w.eq_ignore_ascii_case(s.as_bytes()))
        {
            return None;
        }
        words += 1;
        if i < hi && bytes[i] == b':' && bytes.get(i + 1) == Some(&b' ') {
            return Some(skip_blank(bytes, i + 1));
        }
        // `the API key for staging → X` (chat), `… -> X`.
        for arrow in [" → ", " -> "] {
            if bytes[i..].starts_with(arrow.as_bytes()) {
                return Some(skip_blank(bytes, i + arrow.len()));
            }
        }
        if SPOKEN_IS
            .iter()
            .any(|c| w.eq_ignore_ascii_case(c.as_bytes()))
        {
            let mut v = skip_blank(bytes, i);
            if v < bytes.len() && bytes[v] == b':' {
                v = skip_blank(bytes, v + 1);
            }
            return (words > 1).then_some(v);
        }
        if i >= hi || bytes[i] != b' ' {
            return None;
        }
        i += 1;
    }
    None
}

/// `rotated app secret, new value: X`, `API key — new value is X`: after a
/// secret's name, a clause that gives its new value. Returns where the
/// value starts.
pub(crate) fn new_value_after(bytes: &[u8], e: usize) -> Option<usize> {
    let mut i = e;
    let lead = i;
    while i < bytes.len() && i - lead < 8 && matches!(bytes[i], b',' | b';' | b' ' | b'-') {
        i += 1;
    }
    if bytes[i..].starts_with("— ".as_bytes()) {
        i = skip_blank(bytes, i + "—".len());
    }
    if i == lead || bytes.len() < i + 9 || !bytes[i..i + 9].eq_ignore_ascii_case(b"new value") {
        return None;
    }
    i += 9;
    for sep in [&b":"[..], b" is ", b" =", b" ->"] {
        if bytes[i..].starts_with(sep) {
            return Some(skip_blank(bytes, i + sep.len()));
        }
    }
    None
}

/// `orchid-granite-copper-49` under `JWT_SECRET`: words joined by dashes
/// that have nothing to do with the slot they fill, as password managers
/// make memorable passphrases. A slug that speaks of what it names or of
/// being an example (`m2m-access-token-12345`, `x-hello-world-64`,
/// `project-cache-v5`) stays a name or a fixture.
pub(crate) fn word_slug_passphrase(name: &[u8], v: &[u8]) -> bool {
    const ABOUT: &[&str] = &[
        "secret",
        "secrets",
        "key",
        "keys",
        "token",
        "tokens",
        "api",
        "access",
        "auth",
        "pass",
        "password",
        "test",
        "testing",
        "example",
        "sample",
        "demo",
        "hello",
        "world",
        "dev",
        "prod",
        "production",
        "staging",
        "local",
        "default",
        "cache",
        "project",
        "app",
        "your",
        "change",
        "replace",
        "dummy",
        "fake",
        "placeholder",
        "value",
        "here",
        "foo",
        "bar",
        "baz",
        "not",
        "super",
        "very",
        "real",
        "insecure",
        "unsafe",
        "some",
        "this",
        "that",
        "the",
        "with",
        "for",
        "from",
        "user",
        "admin",
        "service",
        "client",
        "session",
    ];
    let mut name_words = Vec::new();
    super::names::split_words(name, &mut name_words);
    let words: Vec<&[u8]> = v
        .split(|&b| b == b'-')
        .filter(|w| w.iter().all(u8::is_ascii_alphabetic) && !w.is_empty())
        .collect();
    words.len() >= 3
        && words.iter().all(|w| {
            w.len() >= 4
                && !ABOUT.iter().any(|a| w.eq_ignore_ascii_case(a.as_bytes()))
                && !name_words
                    .iter()
                    .any(|n| w.eq_ignore_ascii_case(n.as_bytes()))
        })
}

/// Other languages' `is` between a name and its value, where a word test
/// cannot find it (`的值是`, `の値は`, `é`) or it takes several words
/// (`, la valeur est`): the length of the one `rest` starts with.
pub(crate) fn copula(rest: &[u8]) -> Option<usize> {
    const COPULAS: &[&str] = &[
        ", la valeur est ",
        ", el valor es ",
        ", o valor é ",
        ", der Wert ist ",
        // Spring's `Failed to bind properties under 'app.api-key' with value 'X'`.
        "with value ",
        "的值是",
        "の値は",
        // Korean `값은` (value is) and Turkish `değeri:` (its value), also
        // without the colon (`AWS_SECRET_KEY değeri X, prod için ayrı`).
        "값은",
        "değeri:",
        "değeri ",
        "是",
        "は",
        "é ",
        "è ",
    ];
    COPULAS
        .iter()
        .find(|c| rest.starts_with(c.as_bytes()))
        .map(|c| c.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases() {
        for p in [
            "correct horse battery staple",
            "purple monkey dishwasher 42",
            "Blue Sky Over Denver!",
            "blue whale song 9",
        ] {
            assert!(phrase_ok(p.as_bytes(), false), "{p}");
        }
        for p in [
            "see the vault entry",
            "required for all admin accounts",
            "must be at least 12 characters",
            "ask Maria for it",
            "not set",
            "same as staging",
            "Use your SSO login",
        ] {
            assert!(!phrase_ok(p.as_bytes(), false), "{p}");
        }
        assert!(phrase_ok(b"correct horse battery staple", true));
        assert!(phrase_ok(b"my dog has fleas 2024", true));
        assert!(!phrase_ok(b"commit sk-", false));
        assert!(!phrase_ok(b"commit commit sk-", false));
        assert!(!phrase_ok(b"amber amber amber", false));
        assert!(!phrase_ok(b"Use the value from the vault.", true));
        let t = b"password: Violet Harbor Lamp 77. Next";
        assert_eq!(phrase_end(t, 10), Some(31));
        assert_eq!(phrase_end(b"Add _apt user, in order", 0), None);
        assert!(phrase_head_ok(b"wifi password", 5));
        assert!(!phrase_head_ok(b"  * passwd.master", 4));
    }
}
