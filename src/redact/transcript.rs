//! Credentials in protocol and terminal transcripts, where the position says
//! what a word is: SMTP's `AUTH PLAIN <base64 of \0user\0password>`, IMAP's
//! `a001 LOGIN user password`, an interactive prompt echoing what was typed
//! (`? Enter a secret value: » …`, vercel's `? What's the value of NAME?
//! …`), and OpenVPN's `auth-user-pass` file
//! (user, then password) shown by `cat`; Redis 6's `AUTH <user> <password>`
//! at a `redis-cli` prompt.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{b64_decode, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// Longest word read as an argument.
const MAX_WORD: usize = 256;

/// The word (or `"quoted string"`) at `i`: its span and whether it was quoted.
fn word_at(bytes: &[u8], i: usize, le: usize) -> Option<(usize, usize, bool)> {
    if i >= le {
        return None;
    }
    if bytes[i] == b'"' {
        let close = bytes[i + 1..le].iter().position(|&b| b == b'"')?;
        return Some((i + 1, i + 1 + close, true));
    }
    let n = bytes[i..le]
        .iter()
        .take(MAX_WORD)
        .take_while(|b| !b.is_ascii_whitespace())
        .count();
    (n > 0).then_some((i, i + n, false))
}

fn skip_spaces(bytes: &[u8], mut i: usize, le: usize) -> usize {
    while i < le && bytes[i] == b' ' {
        i += 1;
    }
    i
}

/// `AUTH PLAIN dXNlcgB1c2VyAHBhc3M=`: the argument is the credentials,
/// base64 of `authzid \0 user \0 password`; the NUL proves it.
pub(crate) fn on_auth_plain(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let le = line_end(bytes, end);
    let Some((s, e, _)) = word_at(bytes, skip_spaces(bytes, end, le), le) else {
        return;
    };
    let decoded = b64_decode(&bytes[s..e]).unwrap_or_default();
    if decoded.iter().filter(|&&b| b == 0).count() >= 1 && decoded.len() >= 4 {
        scan.push(s, e, Kind::PasswordAssignment, priority::HTTP);
    }
}

/// `a001 LOGIN user password` (IMAP): a tag with a digit starts the line
/// (after an optional `C: `), and the command's last argument is the
/// password.
pub(crate) fn on_login(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if !bytes[start..end]
        .trim_ascii()
        .eq_ignore_ascii_case(b"login")
    {
        return;
    }
    let ls = line_start(bytes, start);
    let head = bytes[ls..start].trim_ascii();
    let head = head.strip_prefix(b"C: ").unwrap_or(head);
    let tag = head.len() <= 10
        && !head.is_empty()
        && head.iter().all(u8::is_ascii_alphanumeric)
        && head.iter().any(u8::is_ascii_digit);
    if !tag {
        return;
    }
    user_then_password(scan, end);
}

/// After a login command ending at `end`: a user word, then a password word
/// that ends the line.
fn user_then_password(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let le = line_end(bytes, end);
    let Some((_, ue, uq)) = word_at(bytes, skip_spaces(bytes, end, le), le) else {
        return;
    };
    let Some((ps, pe, quoted)) = word_at(bytes, skip_spaces(bytes, ue + usize::from(uq), le), le)
    else {
        return;
    };
    if bytes[pe + usize::from(quoted)..le].trim_ascii().is_empty()
        && is_secret_value(&bytes[ps..pe], Strictness::Password, quoted)
    {
        scan.push(ps, pe, Kind::PasswordAssignment, priority::HTTP);
    }
}

/// `127.0.0.1:6379> AUTH default <password>` (the anchor is `> auth `):
/// Redis 6 ACL login, user then password. (The one-argument `AUTH pw` is an
/// `auth` keyword with its value, read by [`super::assign`].)
pub(crate) fn on_redis_auth(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start);
    // The prompt is `host:port>`: a port's digit right before the `>`.
    if start <= ls || !bytes[start - 1].is_ascii_digit() {
        return;
    }
    user_then_password(scan, end);
}

/// `? Enter a secret value: » …` (inquirer-style prompts, as wrangler's and
/// many CLIs'): what follows the marker was typed at a question about a
/// secret.
pub(crate) fn on_prompt_answer(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start);
    let question = bytes[ls..start].trim_ascii_start();
    if !matches!(question.first(), Some(b'?' | b'>')) && !question.starts_with("✔".as_bytes()) {
        return;
    }
    let lower = question.to_ascii_lowercase();
    let has = |w: &str| lower.windows(w.len()).any(|x| x == w.as_bytes());
    let strictness = if has("password") || has("passphrase") {
        Strictness::Password
    } else if has("secret") || has("token") || has("key") {
        Strictness::Random
    } else {
        return;
    };
    let le = line_end(bytes, end);
    let Some((s, e, _)) = word_at(bytes, skip_spaces(bytes, end, le), le) else {
        return;
    };
    if bytes[e..le].trim_ascii().is_empty() && is_secret_value(&bytes[s..e], strictness, true) {
        scan.push(s, e, Kind::SecretAssignment, priority::ASSIGN);
    }
}

/// `? What's the value of STRIPE_SECRET_KEY? sk_…` (`vercel env add`): the
/// answer typed at a question naming the variable, a secret when the name
/// is one.
pub(crate) fn on_value_of(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start);
    if bytes[ls..start].trim_ascii_start().first() != Some(&b'?') {
        return;
    }
    let le = line_end(bytes, end);
    let Some(q) = bytes[end..le.min(end + MAX_WORD)]
        .iter()
        .position(|&b| b == b'?')
    else {
        return;
    };
    let name = &bytes[end..end + q];
    let mut words = Vec::new();
    super::names::split_words(name, &mut words);
    let own = words.len();
    let Some(class) = super::names::classify(&words, own) else {
        return;
    };
    let Some((s, e, quoted)) = word_at(bytes, skip_spaces(bytes, end + q + 1, le), le) else {
        return;
    };
    if bytes[e + usize::from(quoted)..le].trim_ascii().is_empty()
        && is_secret_value(&bytes[s..e], class.strictness, true)
    {
        scan.push(s, e, class.kind, class.priority);
    }
}

/// `$ cat creds.txt  # auth-user-pass`: OpenVPN's file holds the user on
/// its first line and the password on its second.
pub(crate) fn on_auth_user_pass(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start);
    let line = &bytes[ls..start];
    let Some(cat) = line.windows(4).position(|w| w == b"cat ") else {
        return;
    };
    let typed = line[..cat].trim_ascii();
    if !(typed.is_empty() || matches!(typed.last(), Some(b'$' | b'#' | b'>'))) {
        return;
    }
    let one_word = |s: usize| {
        let e = line_end(bytes, s);
        let w = bytes[s..e].trim_ascii_end();
        (!w.is_empty() && !w.iter().any(u8::is_ascii_whitespace)).then_some((s, s + w.len(), e))
    };
    let next = |e: usize| e + usize::from(bytes.get(e) == Some(&b'\r')) + 1;
    let le = line_end(bytes, start);
    if le >= bytes.len() {
        return;
    }
    let Some((_, _, ue)) = one_word(next(le)) else {
        return;
    };
    if ue >= bytes.len() {
        return;
    }
    let Some((ps, pe, _)) = one_word(next(ue)) else {
        return;
    };
    let pw = &bytes[ps..pe];
    if !pw.contains(&b':') && is_secret_value(pw, Strictness::Password, true) {
        scan.push(ps, pe, Kind::PasswordAssignment, priority::ASSIGN);
    }
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn transcript_credentials_are_redacted() {
        for (text, secret) in [
            (
                "C: AUTH PLAIN AG9wc0BhY21lLmlvAFN1bW1lcjIwMjQh\nS: 235 2.7.0 Authentication successful",
                "AG9wc0BhY21l",
            ),
            (
                "a001 LOGIN ops@acme.io 9f3kQ2xLm8Zr4TnW7pYc\na001 OK LOGIN completed",
                "9f3kQ2xLm8Zr4TnW7pYc",
            ),
            (
                "C: A1 LOGIN \"ops\" \"lantern_quartz_orbit_meadow61\"",
                "lantern_quartz",
            ),
            (
                "$ wrangler secret put SIGNING_SECRET\n? Enter a secret value: » -WmgFVzE7ZuYGUs7KUObPJjnLLBBxJ4EYum-Ph6V\n✨ Success!",
                "WmgFVzE7ZuYGUs7KUObPJjnLLBBxJ4EYum",
            ),
            (
                "$ cat vpn-creds.txt   # auth-user-pass for openvpn\njdoe\n8MjRjzHI97YDAkbha\nThat's all.",
                "8MjRjzHI97YDAkbha",
            ),
        ] {
            let out = redact(text);
            assert!(!out.contains(secret), "{text} -> {out}");
        }
    }

    #[test]
    fn other_transcript_lines_stay() {
        for text in [
            // Not base64 of credentials; RFC 3501's own example atoms.
            "C: AUTH PLAIN\nS: 334",
            "A001 LOGIN SMITH SESAME",
            "Please login with your account first.",
            "? Enter the project name: » my-worker-2024",
            "auth-user-pass /etc/openvpn/creds.txt",
            "$ cat /etc/passwd  # auth-user-pass\nroot:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
