//! A name's type, not its value: `token: &ProgressToken`, `password:
//! ClientExtensions,`, `secret: Option<String>` in Rust, TypeScript, Go or
//! Kotlin signatures and struct fields. Pasted code is full of them, and a
//! `name: value` reading took each for a secret (and then every other copy
//! of the word in the message). Only unquoted values after a single `:`.

/// Whether the unquoted value `bytes[vs..ve]`, after a single `:`, is a type
/// annotation or a borrow rather than a literal: `&Type`, `&'a Type`, `&mut
/// x`, `Type<…>`, or an UpperCamel identifier path (letters only, two humps
/// or more) that code punctuation follows (`,` `)` `;` `>` `=`). A
/// letters-only passphrase at the end of a YAML or `.env` line is not one.
pub(crate) fn annotates(bytes: &[u8], vs: usize, ve: usize) -> bool {
    if !after_single_colon(bytes, vs) {
        return false;
    }
    let v = &bytes[vs..ve];
    if let Some(rest) = v.strip_prefix(b"&") {
        let rest = strip_lifetime(rest);
        let rest = rest.strip_prefix(b"mut ").unwrap_or(rest);
        return rest
            .first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
            && rest.iter().all(|&b| {
                path_byte(b) || matches!(b, b'.' | b'<' | b'>' | b',' | b' ' | b'&' | b'\'')
            });
    }
    if let Some(open) = v.iter().position(|&b| b == b'<') {
        // `Option<String>`, `Arc<Mutex<State>>`, `Vec<u8>`.
        let head = &v[..open];
        return head.first().is_some_and(u8::is_ascii_alphabetic)
            && head.iter().all(|&b| path_byte(b))
            && v.ends_with(b">");
    }
    if let Some(bang) = v.iter().position(|&b| b == b'!') {
        // A macro: `Token![struct]`, `vec![…]`.
        return bang > 0
            && v[..bang].iter().all(|&b| path_byte(b))
            && v[..bang][0].is_ascii_alphabetic()
            && matches!(v.get(bang + 1), Some(b'[' | b'(' | b'{'));
    }
    upper_camel_path(v) && code_follows(bytes, ve)
}

/// `credential: Credential,`, `token = Token`: a value that spells its own
/// name (a type named for its field, an enum variant) is never the secret.
pub(crate) fn names_itself(name: &[u8], v: &[u8]) -> bool {
    let letters = |s: &[u8]| {
        s.iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect::<Vec<u8>>()
    };
    let v = letters(v);
    !v.is_empty() && v == letters(name)
}

/// `type CFStreamPropertyKey = CFStringRef;`, `pub(crate) type Iter = …`: a
/// type alias (Rust, TypeScript) names a type, never a secret.
pub(crate) fn type_alias(bytes: &[u8], raw_s: usize) -> bool {
    raw_s >= 5
        && &bytes[raw_s - 5..raw_s] == b"type "
        && (raw_s == 5 || !(bytes[raw_s - 6].is_ascii_alphanumeric() || bytes[raw_s - 6] == b'_'))
}

/// `TcpStream`, `CFStringRef`, `OAuthTokenResponse`, Apple's
/// `kCMSAttrSmimeEncryptionKeyPrefs`: a camel-case name of two words or
/// more, each after the first a capital and two lower-case letters or more
/// (after an acronym of up to four capitals). That is how types and
/// constants are named, not how a generated key or token looks
/// (`XmQvLzPwRtYk`, `kXmQvLzP`).
pub(crate) fn is_camel_name(v: &[u8]) -> bool {
    // Letter pairs no name is made of (`awSAKymyjluljkdemwkkribw`): humps
    // of random letters, not words.
    if !v.iter().all(u8::is_ascii_alphabetic)
        || case_noise(v)
        || super::gibberish::random_letters(v)
    {
        return false;
    }
    let head = v.iter().take_while(|b| b.is_ascii_lowercase()).count();
    let (mut i, mut words) = (head, usize::from(head > 0));
    while i < v.len() {
        let caps = v[i..].iter().take_while(|b| b.is_ascii_uppercase()).count();
        let lower = v[i + caps..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        // Capitals alone (an acronym ending the name) or an acronym before a word.
        let fits = if lower == 0 {
            caps <= 4
        } else {
            caps <= 5 && lower >= 2
        };
        if !fits {
            return false;
        }
        i += caps + lower;
        words += 1;
    }
    words >= 2
}

/// `::alloc::string::String`, `std::ops::RangeFrom`: a Rust path of two
/// identifiers or more, never a literal.
pub(crate) fn is_rust_path(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"::").unwrap_or(v);
    let mut segments = 0;
    for seg in v.split(|&b| b == b':') {
        if seg.is_empty() {
            continue;
        }
        if !(seg[0].is_ascii_alphabetic() || seg[0] == b'_')
            || !seg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return false;
        }
        segments += 1;
    }
    // Only `::` separators: a single `:` (`user:pass`) is not a path.
    segments >= 2 && v.windows(2).filter(|w| w == b"::").count() == segments - 1
}

fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// `'a ` / `'static ` after a `&`.
fn strip_lifetime(v: &[u8]) -> &[u8] {
    match v.strip_prefix(b"'") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) if rest[..sp].iter().all(u8::is_ascii_alphanumeric) => &rest[sp + 1..],
            _ => v,
        },
        None => v,
    }
}

/// The operator before `vs` is one `:` (not `::`, `:=` or `=`).
fn after_single_colon(bytes: &[u8], vs: usize) -> bool {
    let mut i = vs;
    while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i > 0 && bytes[i - 1] == b':' && (i < 2 || bytes[i - 2] != b':')
}

/// `ClientExtensions`, `hyper::HeaderMap`: letters (and `::`) only, the
/// last segment UpperCamel with two humps or more.
fn upper_camel_path(v: &[u8]) -> bool {
    if v.is_empty() || !v.iter().all(|&b| b.is_ascii_alphabetic() || b == b':') {
        return false;
    }
    let last = v.rsplit(|&b| b == b':').next().unwrap_or(v);
    let humps = last.iter().filter(|b| b.is_ascii_uppercase()).count();
    last.first().is_some_and(u8::is_ascii_uppercase)
        && humps >= 2
        && last.iter().any(u8::is_ascii_lowercase)
        && !case_noise(last)
}

/// `XqcEdmPGvmWEvZEw`, `XqOseoWkIvCZypHS`: a generated key leaves lone
/// lower-case letters between capitals (`WkIv`) and capitals in pairs before
/// one or two lower-case letters (`PGvm`, `WEv`). Type names are words and
/// acronyms (`SecKeyRef`, `HTTPClientConfig`, `kCFStringTokenizer`): an
/// acronym runs into a word, a lower-case run is a word's tail. A plural
/// acronym (`IDs`) is one such slip; a name has fewer than three.
pub(crate) fn case_noise(v: &[u8]) -> bool {
    let mut runs: Vec<(bool, usize)> = Vec::new();
    for &b in v.iter().filter(|b| b.is_ascii_alphabetic()) {
        let up = b.is_ascii_uppercase();
        match runs.last_mut() {
            Some((u, n)) if *u == up => *n += 1,
            _ => runs.push((up, 1)),
        }
    }
    let mut slips = 0;
    for (i, &(up, n)) in runs.iter().enumerate() {
        let next = runs.get(i + 1).map_or(0, |r| r.1);
        let pair_before_tail = up && n >= 2 && next > 0 && next <= 2;
        let lone = !up && n == 1 && i > 0 && i + 1 < runs.len() && runs[i - 1].1 == 1;
        slips += usize::from(pair_before_tail || lone);
    }
    slips >= 3
}

/// Code punctuation right after the value (spaces skipped): a field list,
/// an argument list, a statement or a generic goes on.
fn code_follows(bytes: &[u8], ve: usize) -> bool {
    let mut i = ve;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    // `+` and `{` end a trait's bounds: `trait Secret: ZeroizeOnDrop + Zeroize {}`.
    i < bytes.len()
        && matches!(
            bytes[i],
            b',' | b')' | b';' | b'<' | b'>' | b'=' | b'+' | b'{'
        )
}

/// `buf.read_i32::<BigEndian>()`, `Curve25519SeedBin<'_>`: a value cut where
/// a Rust path or a lifetime parameter goes on is code.
pub(crate) fn path_goes_on(bytes: &[u8], ve: usize) -> bool {
    bytes[ve..].starts_with(b"::") || bytes[ve..].starts_with(b"<'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotated(line: &str, value: &str) -> bool {
        let vs = line.find(value).expect("value in line");
        annotates(line.as_bytes(), vs, vs + value.len())
    }

    #[test]
    fn types_and_borrows_are_not_values() {
        assert!(annotated(
            "fn f(token: &ProgressToken, x: u32)",
            "&ProgressToken"
        ));
        assert!(annotated("fn f(token: &'a str)", "&'a str"));
        assert!(annotated("secret: &mut self.secret,", "&mut self.secret"));
        assert!(annotated(
            "  password: ClientExtensions,",
            "ClientExtensions"
        ));
        assert!(annotated(
            "fn g(key: hyper::HeaderMap) {}",
            "hyper::HeaderMap"
        ));
        assert!(annotated(
            "let token: Option<String> = None;",
            "Option<String>"
        ));
    }

    #[test]
    fn literals_stay_values() {
        // A letters-only passphrase ending a YAML or .env line is a value.
        assert!(!annotated(
            "password: CorrectHorseBatteryStaple",
            "CorrectHorseBatteryStaple"
        ));
        assert!(!annotated(
            "password: CorrectHorseBatteryStaple\n",
            "CorrectHorseBatteryStaple"
        ));
        // Digits: not a type name.
        assert!(!annotated("password: Summer2024Pass,", "Summer2024Pass"));
        // One hump: a word, judged as before.
        assert!(!annotated("password: Hunter,", "Hunter"));
        // Not after a single colon.
        assert!(!annotated("token = &Token", "&Token"));
        assert!(!annotated("token := &Token", "&Token"));
        // A password that merely starts with & and goes on with symbols.
        assert!(!annotated("password: &x8K!d9$", "&x8K!d9$"));
    }
}
