//! Query parameters that carry an API key under a short name: Google's and
//! Trello's `key=`, OpenWeather's `appid=`. On its own `key` names anything
//! (a cache key, an object key), so in a query it counts only for a value
//! that reads as generated: 32+ hex digits, a UUID, or 16+ letters and
//! digits of both cases. `appid` is read the same way: a numeric app id
//! (Steam's `appid=570`) stays.

use super::kinds::Kind;
use super::names::NameClass;
use super::scan::priority;
use super::value::{Strictness, is_hex_or_uuid};

/// The class of the query parameter named `name` (its `?` or `&` at
/// `raw_s - 1`) when its value `v` is generated.
pub(crate) fn param_class(bytes: &[u8], raw_s: usize, name: &[u8], v: &[u8]) -> Option<NameClass> {
    let in_query = raw_s > 0 && matches!(bytes[raw_s - 1], b'?' | b'&');
    let named = [&b"key"[..], b"appid", b"app_key", b"apikey"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
    if !in_query || !named || bytes.get(raw_s + name.len()) != Some(&b'=') || !generated(v) {
        return None;
    }
    Some(NameClass {
        kind: Kind::ApiKeyAssignment,
        strictness: Strictness::Random,
        priority: priority::ASSIGN,
    })
}

fn generated(v: &[u8]) -> bool {
    let p = super::text::Profile::of(v);
    let charset = v
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    // A hex key may carry a suffix (Mailchimp's `…-us4`).
    let head = &v[..v.len().min(32)];
    let hex = v.len() >= 32
        && (is_hex_or_uuid(v) || head.iter().all(u8::is_ascii_hexdigit))
        && p.digit > 0
        && p.lower + p.upper > 0;
    let mixed = v.len() >= 16 && p.lower > 0 && p.upper > 0 && p.digit > 0;
    charset && (hex || mixed)
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn a_generated_key_in_a_query_is_redacted() {
        for (text, secret) in [
            (
                "GET https://api.openweathermap.org/data/2.5/weather?q=Berlin&appid=c6246cd6d83ba054be992da4848f4235",
                "c6246cd6d83ba054be992da4848f4235",
            ),
            (
                "https://maps.example.com/geocode/json?address=Paris&key=6fd2fc62f5802811a4beecb32d252949",
                "6fd2fc62f5802811a4beecb32d252949",
            ),
            (
                "GET /v1/search?key=0f2e549a-a6a6-035e-74ab-da980c3987f0&q=test",
                "0f2e549a-a6a6-035e",
            ),
            (
                "<iframe src=\"https://widgets.acme.io/embed?appid=NMuWIyGY3HM2oz9WXZynRxU7&theme=dark\">",
                "NMuWIyGY3HM2oz9WXZynRxU7",
            ),
        ] {
            let out = redact(text);
            assert!(!out.contains(secret), "{text} -> {out}");
        }
    }

    #[test]
    fn other_keys_in_a_query_stay() {
        for text in [
            "https://store.steampowered.com/api/appdetails?appid=570",
            "GET /cache?key=user-profile-v2&ttl=60",
            "https://bucket.s3.amazonaws.com/?key=uploads/photo.jpg",
            "GET /items?key=12345678901234567890123456789012",
            "https://example.com/page?key=value",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
