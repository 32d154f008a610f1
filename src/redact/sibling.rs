//! Names that hold a secret only in a known file format, told by the value's
//! shape or by a sibling field: Consul's `encrypt` (the gossip key, base64
//! of 16 or 32 bytes) and a bare `key` beside a user name (kaggle.json's
//! `{"username": …, "key": "<32 hex>"}`, `{"user": …, "key": …}` API
//! configs, Cloudflare's `email=…, key=…`), where a bare `key` alone names
//! map keys far more often.

use super::kinds::Kind;
use super::names::NameClass;
use super::scan::priority;
use super::text::find_ci;
use super::value::Strictness;

/// How far a sibling field is looked for on either side of the name.
const SIBLING_REACH: usize = 160;

/// Base64 of a 16- or 32-byte key, as `consul keygen` prints it.
fn gossip_shape(v: &[u8]) -> bool {
    let (body, pad) = match v.len() {
        24 => (&v[..22], &v[22..]),
        44 => (&v[..43], &v[43..]),
        _ => return false,
    };
    pad.iter().all(|&b| b == b'=')
        && body
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// `encrypt = "<gossip key>"` (HCL, JSON, `-encrypt=` flag, `CONSUL_ENCRYPT`)
/// and `gossip_key: …`: a name the generic classes do not know, whose
/// value has the exact shape of a gossip key.
pub(crate) fn gossip_key(words: &[String], v: &[u8]) -> Option<NameClass> {
    let last = words.last()?.as_str();
    let named = last == "encrypt" || (last == "key" && words.iter().any(|w| w == "gossip"));
    (named && gossip_shape(v)).then_some(NameClass {
        kind: Kind::SecretAssignment,
        strictness: Strictness::Random,
        priority: priority::ASSIGN,
    })
}

/// A bare `key` (judged strictly: hex is refused) whose object or block also
/// names a user: the pair is a credential, and hex is the key's usual form.
pub(crate) fn keyed_user(class: NameClass, bytes: &[u8], s: usize, e: usize) -> NameClass {
    if class.strictness != Strictness::Bare || !bytes[s..e].eq_ignore_ascii_case(b"key") {
        return class;
    }
    let lo = s.saturating_sub(SIBLING_REACH);
    let hi = (e + SIBLING_REACH).min(bytes.len());
    // The enclosing object: stop at the nearest brace on each side.
    let lo = bytes[lo..s]
        .iter()
        .rposition(|&b| matches!(b, b'{' | b'}'))
        .map_or(lo, |p| lo + p);
    let hi = bytes[e..hi]
        .iter()
        .position(|&b| matches!(b, b'{' | b'}'))
        .map_or(hi, |p| e + p);
    let named_user = [&bytes[lo..s], &bytes[e..hi]]
        .iter()
        .any(|region| user_field(region));
    if named_user {
        NameClass {
            strictness: Strictness::Random,
            ..class
        }
    } else {
        class
    }
}

/// A `username` / `user` / `login` / `email` field name (quoted or not)
/// followed by `:` or `=` (Cloudflare's legacy API key goes with an email).
fn user_field(region: &[u8]) -> bool {
    ["username", "user", "login", "email"].iter().any(|w| {
        let mut from = 0;
        while let Some(p) = find_ci(&region[from..], w.as_bytes()) {
            let at = from + p;
            let end = at + w.len();
            let word_start = at == 0 || !region[at - 1].is_ascii_alphanumeric();
            let rest = region[end..]
                .iter()
                .find(|&&b| !matches!(b, b'"' | b'\'' | b' '));
            if word_start && matches!(rest, Some(b':' | b'=')) {
                return true;
            }
            from = end;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossip_key_shapes() {
        assert!(gossip_shape(
            b"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
        ));
        assert!(gossip_shape(b"cg8StVXbQJ0gPvMd9o7yrg=="));
        assert!(!gossip_shape(b"true"));
        assert!(!gossip_shape(
            b"pUqJrVyVRj5jsiYEkM_tFQYfWyJIv4s3XkvDwy7Cu5s="
        ));
    }

    #[test]
    fn user_fields() {
        assert!(user_field(br#"{"username":"jdoe","#));
        assert!(user_field(b"user = jdoe\n"));
        assert!(user_field(b"CloudFlare(email='ops@acme.io', "));
        assert!(!user_field(br#"{"username_hint_shown_once": true"#));
        assert!(!user_field(b"the user's cache"));
    }
}
