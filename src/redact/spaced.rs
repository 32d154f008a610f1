//! A password that follows its name after nothing but a space, where tools
//! and configs write it that way: a closed string literal that ends the
//! statement (`mysqladmin -u root password 'X'`, Gradle's `storePassword
//! 'X'`, Redis' `CONFIG SET requirepass "X"`, SQL's `WITH PASSWORD 'X';`).
//! In prose a space is weak evidence, so only a password name and a literal
//! closed before the end of its line (or a `;`, `,`, `)`) count: a quoted
//! word inside a sentence (`the password "field" is`) runs on.
//!
//! Also the other spaced forms tools print or take: a row of a table
//! aligned with spaces (`vercel env ls`, `gh variable list`: `NAME   value
//! …`), npm's `npm config set //host/:_authToken value`, and a value that
//! starts with a symbol (`-storepass ^6kd…`, `.netrc`'s `password !Xk9…`).

/// Whether the name at `s..e` is a password's and the value at `i` is a
/// string literal that is all that is left of its statement.
pub(crate) fn quoted_password(bytes: &[u8], s: usize, e: usize, i: usize) -> bool {
    let name = &bytes[s..e];
    let lower = |suffix: &[u8]| {
        name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    let password = lower(b"password")
        || lower(b"passwd")
        || lower(b"passphrase")
        || name.eq_ignore_ascii_case(b"requirepass")
        || name.eq_ignore_ascii_case(b"masterauth");
    let Some(&q) = bytes.get(i) else { return false };
    if !password || !matches!(q, b'"' | b'\'') {
        return false;
    }
    // MySQL's `IDENTIFIED BY PASSWORD '*94BD…'` gives the stored hash.
    let ls = super::text::line_start(bytes, s);
    let head = bytes[ls..s].trim_ascii_end();
    if head.len() >= 3 && head[head.len() - 3..].eq_ignore_ascii_case(b" by") {
        return false;
    }
    let le = super::text::line_end(bytes, i);
    let Some(close) = bytes[i + 1..le].iter().position(|&b| b == q) else {
        return false;
    };
    let after = &bytes[i + 1 + close + 1..le];
    close > 0
        && after
            .iter()
            .all(|&b| matches!(b, b';' | b',' | b')' | b' ' | b'\t' | b'\r'))
}

/// A row of a table aligned with spaces: an environment-style name
/// (`MG_KEY`, `SERPAPI_KEY`) starts the line, two or more spaces part it
/// from one word, and that word ends the line or another column does.
pub(crate) fn aligned_row(bytes: &[u8], s: usize, e: usize, i: usize) -> bool {
    let name = &bytes[s..e];
    let env = name.contains(&b'_')
        && name.first().is_some_and(u8::is_ascii_uppercase)
        && name
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let ls = super::text::line_start(bytes, s);
    if !env || !bytes[ls..s].iter().all(|&b| b == b' ') || i < e + 2 {
        return false;
    }
    if !bytes[e..i].iter().all(|&b| b == b' ' || b == b'\t') {
        return false;
    }
    let le = super::text::line_end(bytes, i);
    let w = bytes[i..le]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(le, |p| i + p);
    let rest = &bytes[w..le];
    rest.trim_ascii_end().is_empty() || rest.starts_with(b"  ") || rest.starts_with(b"\t")
}

/// `npm config set //registry.acme.io/:_authToken value` (also `yarn`,
/// `pnpm`): the name after a registry scope, in a command that sets it.
pub(crate) fn scoped_config_set(bytes: &[u8], raw_s: usize) -> bool {
    let ls = super::text::line_start(bytes, raw_s);
    let head = &bytes[ls..raw_s];
    let Some(scope) = head.iter().rposition(|&b| b == b' ') else {
        return false;
    };
    let word = &head[scope + 1..];
    word.starts_with(b"//")
        && word.ends_with(b":")
        && head[..scope].trim_ascii_end().ends_with(b"config set")
}

/// A value after a space that starts with a symbol people put first in a
/// password (`^6kd…`, `!Xk9…`, `%h-f3e…`; `#` only where no shell reads it
/// as a comment): what follows must be a run of 8 or more value bytes.
pub(crate) fn symbol_start(bytes: &[u8], i: usize, shell: bool) -> bool {
    let symbols: &[u8] = if shell { b"^!%*" } else { b"^!%*#" };
    let Some(&first) = bytes.get(i) else {
        return false;
    };
    let run = bytes[i + 1..]
        .iter()
        .take(9)
        .take_while(|&&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'`'))
        .count();
    symbols.contains(&first) && run >= 8
}

/// Whether the line up to `raw_s` is an instruction to set something:
/// `Set the …`, `set your …` (a sentence's own verb, first on its line).
pub(crate) fn set_sentence(bytes: &[u8], raw_s: usize) -> bool {
    let ls = super::text::line_start(bytes, raw_s);
    let head = bytes[ls..raw_s].trim_ascii_start();
    head.len() <= 48 && head.len() >= 4 && head[..4].eq_ignore_ascii_case(b"set ")
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn a_quoted_password_after_a_space_is_redacted() {
        for pw in [
            "Summer2024!",
            "Velvet-4199",
            "tundra.fennel.glacier.cobalt67",
        ] {
            for line in [
                format!("$ mysqladmin -u root password '{pw}'"),
                format!("      storePassword '{pw}'"),
                format!("127.0.0.1:6379> CONFIG SET requirepass \"{pw}\""),
                format!("postgres=# ALTER USER app WITH PASSWORD '{pw}';"),
            ] {
                let out = redact(&line);
                assert!(!out.contains(pw), "{line} -> {out}");
            }
        }
    }

    #[test]
    fn other_spaced_forms_are_redacted() {
        for (text, secret) in [
            (
                "$ vercel env ls\n name     value        environments\n MG_KEY   eb1d9498680b783856ee3f6c87de751e-0a2fcacf-baa48a24   Production",
                "eb1d9498680b7838",
            ),
            (
                "$ gh variable list\nNAME   VALUE   UPDATED\nSERPAPI_KEY  56ef6f1a-6939-d5a9-e0e1-7b6fdeef029b  about 2 days ago",
                "56ef6f1a-6939",
            ),
            (
                "$ npm config set //npm.acme.io/:_authToken d236b1b86da4e3e58bddfd581e9c95d3fb41feb88e38442654daa838205d7a2a",
                "d236b1b86da4e3e5",
            ),
            (
                "$ keytool -list -keystore a.jks -storepass ^6kdSm*5XTnozVUSPWU",
                "6kdSm*5XTno",
            ),
            (
                "machine api.acme.io login dev password !Xk9fPq2LmZ7wRt4v",
                "Xk9fPq2LmZ7",
            ),
            (
                "machine api.acme.io login dev password #fB2f+xQzwOyLtYXhUGUlJHlT7y",
                "fB2f+xQzwOy",
            ),
            ("  password %h-f3eRpbcRPPUu2e_", "h-f3eRpbcRPP"),
        ] {
            let out = redact(text);
            assert!(!out.contains(secret), "{text} -> {out}");
        }
    }

    #[test]
    fn aligned_words_and_comments_stay() {
        for text in [
            "API_KEY      required   The key your account page shows",
            "SECRET_KEY   string     Django's signing key",
            " DB_PASSWORD  (not set)",
            "$ mysql -u root -p # prompts",
            "$ keytool -list -storepass %STOREPASS%",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn a_quoted_word_in_a_sentence_is_not() {
        for text in [
            "Click the password 'Reset' button to continue.",
            "Type your password \"twice\" if asked, then press enter.",
            "The option storePassword 'is deprecated' in newer Gradle",
            "Set the keyPassword 'x' too;",
            "mysqladmin -u root password \"$MYSQL_ROOT_PASSWORD\"",
            "CREATE USER 'u'@'%' IDENTIFIED BY PASSWORD '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29';",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
