//! Decides whether a candidate value is a real secret or something that only
//! stands where a secret could: a placeholder (`YOUR_API_KEY`, `<token>`,
//! `****`), a variable reference (`$API_KEY`, `${{ secrets.X }}`,
//! `os.environ["X"]`), an empty or trivial fixture value (`"test"`), a number,
//! a path, a name.
//!
//! Placeholders and masks are told apart in [`super::placeholder`].
//!
//! This is the main false-positive defence for the context kinds (assignments,
//! URL passwords, bearer tokens, Kubernetes values). Pure functions only.

pub(crate) use super::placeholder::{is_placeholder, is_token_body_fake};
use super::text::{Profile, contains_ci, distinct, entropy};
use super::words::{REFERENCE_PREFIXES, TRIVIAL, TRIVIAL_CORES};

/// How much evidence a value needs before it is treated as a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Passwords: people pick weak ones, so anything non-trivial counts.
    Password,
    /// Keys, tokens, secrets named as such: must look machine-generated.
    Random,
    /// A bare `key:` / `credential` name: must look strongly random and long.
    Bare,
}

/// True when `word` occurs in `hay` (ASCII case-insensitively) bounded by
/// non-alphanumerics or the ends.
pub(crate) fn contains_word_ci(hay: &[u8], word: &[u8]) -> bool {
    let n = word.len();
    if hay.len() < n {
        return false;
    }
    (0..=hay.len() - n).any(|i| {
        hay[i..i + n].eq_ignore_ascii_case(word)
            && (i == 0 || !hay[i - 1].is_ascii_alphanumeric())
            && (i + n == hay.len() || !hay[i + n].is_ascii_alphanumeric())
    })
}

/// `$NAME`, `%NAME%`, `%s`, `!Tag`, `&anchor`, `*alias`: a sigil followed by a
/// plain identifier (a password that merely starts with `!` or `&` is not one).
fn is_sigil_reference(v: &[u8]) -> bool {
    let Some((&first, rest)) = v.split_first() else {
        return false;
    };
    let ident = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    match first {
        b'$' => {
            // `$CI_JOB_TOKEN@gitlab.com/acme/repo.git`: an environment
            // variable (capitals) as the password of a URL, GitLab CI's own
            // idiom. Only capitals: `$ecretP@ss` is a password.
            let env_var = |s: &[u8]| {
                s.len() >= 3
                    && s.iter()
                        .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            };
            rest.first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                && (ident(rest)
                    || rest
                        .iter()
                        .position(|&b| b == b'@')
                        .is_some_and(|at| env_var(&rest[..at])))
        }
        b'%' => {
            // `%s`, `%(db_password)s`, `%DB_PASSWORD%`: the whole value is the template.
            rest == b"s"
                || rest == b"d"
                || (rest.starts_with(b"(")
                    && rest.ends_with(b")s")
                    && ident(&rest[1..rest.len() - 2]))
                || (rest.ends_with(b"%") && ident(&rest[..rest.len() - 1]))
        }
        b'!' | b'&' | b'*' => {
            // YAML tags, anchors and aliases are short words: `!Ref`, `!vault`, `&defaults`.
            let word_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            let word = &rest[..word_end];
            word.first().is_some_and(u8::is_ascii_alphabetic)
                && word.len() <= 12
                && word
                    .iter()
                    .all(|&b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
        }
        _ => false,
    }
}

/// True when `v` is a reference to a secret rather than the secret itself.
pub(crate) fn is_reference(v: &[u8]) -> bool {
    is_sigil_reference(v)
        || REFERENCE_PREFIXES
            .iter()
            .any(|p| v.len() >= p.len() && v[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        || (v.first() == Some(&b'<') && v.last() == Some(&b'>'))
        || (v.first() == Some(&b'[') && v.last() == Some(&b']'))
        || (v.first() == Some(&b'{') && v.last() == Some(&b'}'))
}

/// True when `v` is a well-known fixture or default value.
pub(crate) fn is_trivial(v: &[u8]) -> bool {
    if TRIVIAL.iter().any(|t| v.eq_ignore_ascii_case(t.as_bytes())) {
        return true;
    }
    let letters: Vec<u8> = v
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .map(u8::to_ascii_lowercase)
        .collect();
    let others = v.len() - letters.len();
    // Only short paddings: `test123` yes, `test8fK2x9qPz` no.
    others <= 5 && TRIVIAL_CORES.iter().any(|t| letters == t.as_bytes())
}

/// Public key material written as a value (SSH wire format, SPKI, certificates,
/// Mapbox public tokens).
fn is_public_key_blob(v: &[u8]) -> bool {
    const PREFIXES: &[&str] = &[
        "AAAAB3NzaC1",
        "AAAAC3NzaC1",
        "AAAAE2VjZHNh",
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2",
        "MIIBIjAN",
        "MIICIjAN",
        "MFkwEwYH",
        "MCowBQYDK2Vw",
        "age1",
        // Key fingerprints (`ssh-keygen -l`, `The key fingerprint is …`).
        "SHA256:",
        "MD5:",
        "pk.eyJ1Ijoi", // Mapbox public (browser) tokens; `sk.` ones are secret.
    ];
    PREFIXES.iter().any(|p| v.starts_with(p.as_bytes()))
        || (v.starts_with(b"MII") && contains_ci(v, b"gAwIBAgI"))
}

/// `form.data["password"`, `get_secret(`: an unquoted code expression.
fn is_code_expression(v: &[u8]) -> bool {
    // PHP's and Perl's variables: `$_POST['password']`, `$row["pw"]`.
    let v = v.strip_prefix(b"$").unwrap_or(v);
    let open = v.iter().position(|&b| matches!(b, b'[' | b'(' | b'{'));
    if open.is_some_and(|p| v[p] == b'(') {
        return looks_like_call(v);
    }
    let head = open.map(|p| &v[..p]);
    head.is_some_and(|h| {
        !h.is_empty()
            && (h[0].is_ascii_alphabetic() || h[0] == b'_')
            && h.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':')
    })
}

/// Few distinct characters (`aaaaaaaa`, `12121212`, `xxxxxxxxxxxx`).
pub(crate) fn is_low_diversity(v: &[u8]) -> bool {
    let d = distinct(v);
    d <= 2 || (v.len() >= 8 && d <= 3) || (v.len() >= 16 && d <= 5)
}

/// Numbers, versions, dates, IPs and times: digits and `.:-/_+` only.
fn is_numeric_like(v: &[u8]) -> bool {
    v.iter()
        .all(|&b| b.is_ascii_digit() || b".:-/_+, ".contains(&b))
        || (matches!(v.first(), Some(b'v' | b'V'))
            && v[1..].iter().all(|&b| b.is_ascii_digit() || b == b'.'))
}

/// Paths, URLs, e-mail addresses and file names.
fn is_path_like(v: &[u8]) -> bool {
    let starts = |p: &[u8]| v.starts_with(p);
    // A leading `/` alone is no proof: one base64 secret in 64 starts with it.
    let unix_path = starts(b"/")
        && (!v.iter().any(u8::is_ascii_uppercase)
            || [
                "/etc/",
                "/run/",
                "/var/",
                "/home/",
                "/usr/",
                "/opt/",
                "/tmp/",
                "/root/",
                "/mnt/",
                "/srv/",
                "/Users/",
                "/app/",
                "/data/",
                "/secrets/",
            ]
            .iter()
            .any(|r| starts(r.as_bytes())));
    if unix_path
        || starts(b"./")
        || starts(b"../")
        || starts(b"~/")
        || starts(b"C:\\")
        || contains_ci(v, b"://")
    {
        return true;
    }
    const EXT: &[&str] = &[
        ".pem", ".key", ".json", ".txt", ".env", ".yaml", ".yml", ".toml", ".crt", ".p12", ".pfx",
        ".gpg", ".asc", ".conf", ".ini", ".cfg", ".py", ".js", ".ts", ".rs", ".go", ".sh", ".jks",
        ".der", ".pub", ".com", ".org", ".io", ".net", ".dev",
    ];
    let lower_tail =
        |e: &str| v.len() > e.len() && v[v.len() - e.len()..].eq_ignore_ascii_case(e.as_bytes());
    if EXT.iter().any(|e| lower_tail(e)) && !v.iter().any(|b| b.is_ascii_digit()) {
        return true;
    }
    // user@host.tld
    if let Some(at) = v.iter().position(|&b| b == b'@') {
        let (local, host) = (&v[..at], &v[at + 1..]);
        if !local.is_empty()
            && host.contains(&b'.')
            && host
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && local
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b".-_+".contains(&b))
            && host
                .iter()
                .rev()
                .take_while(|&&b| b != b'.')
                .all(|b| b.is_ascii_lowercase())
            // A top-level domain has letters: `Word@Word1234.` is a password.
            && host.iter().rev().take_while(|&&b| b != b'.').count() >= 2
        {
            return true;
        }
    }
    false
}

/// `OPENAI_API_KEY`, `SECRET_KEY_BASE`: the name of a variable, not its value.
fn is_env_name(v: &[u8]) -> bool {
    v.contains(&b'_')
        && v.first().is_some_and(u8::is_ascii_uppercase)
        && v.iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        && v.iter().filter(|b| b.is_ascii_digit()).count() <= 1
}

/// `config.api_key`, `settings.SECRET`: an attribute path (no digits).
fn is_attribute_path(v: &[u8]) -> bool {
    // `crate::uid_t`, `std::env::var`: a path of identifiers.
    if v.windows(2).any(|w| w == b"::") {
        return v
            .split(|&b| b == b':')
            .all(|seg| seg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_'))
            && !v.starts_with(b":")
            && !v.ends_with(b":");
    }
    v.contains(&b'.')
        && !v.iter().any(u8::is_ascii_digit)
        && v.split(|&b| b == b'.').all(|seg| {
            !seg.is_empty()
                && (seg[0].is_ascii_alphabetic() || seg[0] == b'_')
                && seg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
                && identifier_like(seg)
        })
}

/// `api_key`, `API_KEY`, `apiKey`, `ApiKey`: how people spell names. Random
/// strings give themselves away with runs of capitals inside mixed case
/// (`bCdLUfga`).
pub(crate) fn identifier_like(seg: &[u8]) -> bool {
    let has_lower = seg.iter().any(u8::is_ascii_lowercase);
    let has_upper = seg.iter().any(u8::is_ascii_uppercase);
    if !(has_lower && has_upper) {
        return true;
    }
    !seg.windows(2)
        .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
}

/// `snake_case_name`, `camelCaseName`: an identifier made only of letters.
fn is_identifier_word(v: &[u8]) -> bool {
    v.iter()
        .all(|&b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
}

/// Accepts or rejects `v` as the literal value of a secret-bearing name.
/// `quoted` tells whether it was written as a literal (a string literal, or a
/// `.env` / YAML value, where a bare word cannot be a variable).
pub(crate) fn is_secret_value(v: &[u8], strictness: Strictness, quoted: bool) -> bool {
    if v.len() < 4 || v.len() > 1024 {
        return false;
    }
    let p = Profile::of(v);
    // Cheap shape checks first; the word searches below cost more.
    let shape_ok = match strictness {
        Strictness::Password => password_ok(v, &p, quoted),
        Strictness::Random => random_ok(v, &p, 8),
        // A bare `key` names map keys, i18n labels, object keys and config
        // entries (`<add key="ConnectionTimeoutSeconds" …>`) far more often
        // than API keys: only a value with digits and no path or dots counts.
        Strictness::Bare => {
            random_ok(v, &p, 16)
                && !is_hex_or_uuid(v)
                && p.digit > 0
                && !v.contains(&b'/')
                && !v.contains(&b'.')
        }
    };
    if !shape_ok {
        return false;
    }
    if is_low_diversity(v) || is_trivial(v) || is_reference(v) || is_placeholder(v) {
        return false;
    }
    if is_numeric_like(v)
        || is_path_like(v)
        || is_env_name(v)
        || is_attribute_path(v)
        || super::code_type::is_rust_path(v)
        || is_public_key_blob(v)
    {
        return false;
    }
    if !quoted && is_code_expression(v) {
        return false;
    }
    if p.non_ascii > 0 && strictness != Strictness::Password {
        return false;
    }
    quoted || !looks_like_call(v)
}

/// `getpass(`, `os.getenv(…)`, `make_password(raw)`: an unquoted value that
/// calls something is code. A `(` inside a generated string (`O9Yy(LPt6…`,
/// Django's `k2(9x!wq3^z=r8m)u#p7`) is not: what comes before it is not a
/// plain word or dotted name, and the value does not end at the `)`.
fn looks_like_call(v: &[u8]) -> bool {
    let Some(open) = v.iter().position(|&b| b == b'(') else {
        return false;
    };
    let callee = &v[..open];
    let word = !callee.is_empty()
        && (callee.iter().all(u8::is_ascii_alphabetic)
            || (callee
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
                && callee.iter().any(|&b| matches!(b, b'_' | b'.' | b':'))));
    callee.is_empty() || word || v.ends_with(b")")
}

fn password_ok(v: &[u8], p: &Profile, quoted: bool) -> bool {
    let alnum = p.lower + p.upper + p.digit;
    if alnum < 3 || alnum * 3 < v.len() {
        return false;
    }
    if v.len() < 6 || names_a_password(v) {
        return false;
    }
    if p.space > 0 {
        // A passphrase is only believable as a string literal.
        return quoted && v.len() >= 10 && p.space < v.len() / 3;
    }
    if quoted {
        // A literal (quoted, or a `.env` / YAML value): people do pick words.
        return true;
    }
    if is_identifier_word(v) && p.digit == 0 {
        // An unquoted bare word is a variable or an English word ("required"),
        // unless it is long enough to be a generated string.
        return (v.len() >= 12 && p.upper >= 2 && p.lower >= 2 && !v.contains(&b'_'))
            || super::gibberish::random_letters(v);
    }
    p.digit > 0 || p.symbol > 0 || p.upper > 0
}

/// `mypassword`, `password_hash_column`, `pass123`, `$PWD`: a value built on
/// the word password names one (or is a weak fixture). `S3cure!Pass` is a
/// password that merely contains the word.
fn names_a_password(v: &[u8]) -> bool {
    let Some((at, len)) = super::words::first_password_word(v) else {
        return false;
    };
    if is_identifier_word(v) {
        return true;
    }
    // The word inside a longer run of letters is part of an identifier
    // (`ResourceOwnerPasswordCredentialsGrant(…)`). Not so `pass` in an
    // English word: `Compass!Harbor2719*` is a password of words.
    let mut rs = at;
    while rs > 0 && v[rs - 1].is_ascii_alphanumeric() {
        rs -= 1;
    }
    let mut re = at + len;
    while re < v.len() && v[re].is_ascii_alphanumeric() {
        re += 1;
    }
    if len >= 6 && re - rs > len && v[rs..re].iter().all(u8::is_ascii_alphabetic) {
        return true;
    }
    // What is left besides the word: a few characters, one class, or a
    // fixture (`pass123`) means the value is built on the word.
    let rest = || {
        v[..at]
            .iter()
            .chain(&v[at + len..])
            .copied()
            .filter(u8::is_ascii_alphanumeric)
    };
    let n = rest().count();
    let classes = usize::from(rest().any(|b| b.is_ascii_lowercase()))
        + usize::from(rest().any(|b| b.is_ascii_uppercase()))
        + usize::from(rest().any(|b| b.is_ascii_digit()));
    n < 4 || classes < 2 || (n <= 16 && is_trivial(&rest().collect::<Vec<u8>>()))
}

fn random_ok(v: &[u8], p: &Profile, min_len: usize) -> bool {
    if v.len() < min_len || p.space > 0 {
        return false;
    }
    if bootstrap_token(v) {
        return true;
    }
    // One class of characters is a word or a number, unless the letters
    // pair up as no word does (`ocayocmmzajxkpixzt`).
    if (p.alnum_classes() < 2 && !super::gibberish::random_letters(v))
        || super::code_type::is_camel_name(v)
    {
        return false;
    }
    // `short-value`, `AIza-docs-sample`: words joined by separators, no digit.
    if p.digit == 0
        && v.iter().any(|b| matches!(b, b'-' | b'_' | b'.' | b'/'))
        && v.split(|b| matches!(b, b'-' | b'_' | b'.' | b'/'))
            .all(identifier_like)
    {
        return false;
    }
    let e = entropy(v);
    // Hex has 16 symbols, so a random key of 32 or more of them falls under
    // the bar meant for wider alphabets about one draw in a few hundred
    // (`4fff8f8685569a5366ef0ffeff69fa53`: 2.95 bits); it needs less.
    let hex = v.len() >= 32 && v.iter().all(u8::is_ascii_hexdigit);
    let need = if hex {
        2.7
    } else if v.len() >= 20 {
        3.0
    } else {
        2.5
    };
    e >= need
}

/// A Kubernetes bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}` with letters and
/// digits: a shape nothing else has, so a draw that happens to repeat symbols
/// (a hex-only one falls under the entropy bar about one time in 370) is
/// still the secret it names.
fn bootstrap_token(v: &[u8]) -> bool {
    let id_and_secret = v.len() == 23
        && v[6] == b'.'
        && v.iter()
            .enumerate()
            .all(|(i, &b)| i == 6 || b.is_ascii_lowercase() || b.is_ascii_digit());
    id_and_secret && v.iter().any(u8::is_ascii_digit) && v.iter().any(u8::is_ascii_lowercase)
}

/// Pure hex of a digest length, or a UUID.
pub(crate) fn is_hex_or_uuid(v: &[u8]) -> bool {
    let hex = v.iter().all(u8::is_ascii_hexdigit);
    let uuid = v.len() == 36
        && v.iter().enumerate().all(|(i, &b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    hex || uuid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let ok = |v: &str, s| is_secret_value(v.as_bytes(), s, false);
        assert!(ok("hunter2", Strictness::Password));
        assert!(is_secret_value(
            b"correct horse battery staple",
            Strictness::Password,
            true
        ));
        assert!(!ok("correct", Strictness::Password));
        assert!(!ok("required", Strictness::Password));
        assert!(!ok("$DB_PASSWORD", Strictness::Password));
        assert!(!ok("${{secrets.X}}", Strictness::Random));
        assert!(!ok("YOUR_API_KEY", Strictness::Random));
        assert!(!ok("OPENAI_API_KEY", Strictness::Random));
        assert!(!ok("config.api_key", Strictness::Random));
        assert!(!ok("4096", Strictness::Random));
        assert!(!ok("********", Strictness::Password));
        assert!(ok("Z4CRYu4udt1o1G9c3d8k2aC1mz", Strictness::Random));
        assert!(ok("4b1d4df4a9f51b473f506b1b181d2a7b", Strictness::Random));
        assert!(!ok("4b1d4df4a9f51b473f506b1b181d2a7b", Strictness::Bare));
        assert!(!ok("prod/relay/db-creds", Strictness::Random));
        assert!(!ok("alice@example.com", Strictness::Password));
        assert!(ok("VCK=j^9uC@=ERnpEc53@wrp", Strictness::Password));
        assert!(ok("changeme-aQFoGv3KjVxFYAom", Strictness::Random));
        assert!(is_secret_value(b"S3cure!Pass", Strictness::Password, true));
        assert!(!is_secret_value(b"password123", Strictness::Password, true));
        assert!(!is_secret_value(b"mypassword", Strictness::Password, true));
        assert!(!is_secret_value(
            b"password_hash_column",
            Strictness::Password,
            true
        ));
        assert!(!is_secret_value(b"Pass1234", Strictness::Password, true));
        assert!(ok("changeme-U1euB8uJ72ExlMaQx2y5", Strictness::Password));
        // Found by the end-to-end sampler: a random tail that is half digits.
        assert!(ok("changeme-H7eV990E6Qy1470v9owI", Strictness::Password));
        assert!(!ok("example_password_value_12", Strictness::Random));
        assert!(ok(
            "YOUR_API_KEY_dL53w8GYAjuAsNOYLG91CwkdW5pGkKPL",
            Strictness::Random
        ));
        assert!(!ok("your-api-key-here", Strictness::Random));
        assert!(!ok(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Strictness::Random
        ));
        assert!(!ok("sk-proj-...abcd", Strictness::Random));
    }
}
