//! Who is asking, as HTTP carries it: the session cookie (`HttpOnly`,
//! `SameSite=Strict`, `Secure` under TLS; the session itself lives in the
//! store, see `service::console`), the sign-in form's double-submit cookie,
//! and bearer tokens for the JSON API.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use subtle::ConstantTimeEq;

/// The cookie names: `__Host-` prefixed under TLS, which browsers accept
/// only with `Secure`, `Path=/` and no `Domain`.
#[derive(Debug, Clone, Copy)]
pub struct CookieNames {
    /// The session cookie.
    pub session: &'static str,
    /// The sign-in form's double-submit cookie.
    pub login: &'static str,
    /// Whether cookies carry `Secure`.
    pub secure: bool,
}

impl CookieNames {
    /// The names for a console served with (`secure`) or without TLS.
    pub const fn new(secure: bool) -> Self {
        if secure {
            Self {
                session: "__Host-mcpb_console",
                login: "__Host-mcpb_console_login",
                secure: true,
            }
        } else {
            Self {
                session: "mcpb_console",
                login: "mcpb_console_login",
                secure: false,
            }
        }
    }

    /// A `Set-Cookie` value for `name=value`, removed when `value` is empty.
    pub fn set(&self, name: &str, value: &str, max_age: Duration) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let age = if value.is_empty() {
            0
        } else {
            max_age.as_secs()
        };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
    }
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The bearer token of the request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `given` is `expected`, in constant time.
pub fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_and_bearer_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; mcpb_console=xyz; b=2"),
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  tok "));
        assert_eq!(cookie(&h, "mcpb_console"), Some("xyz"));
        assert_eq!(cookie(&h, "mcpb"), None);
        assert_eq!(bearer(&h), Some("tok"));
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", ""));
    }

    #[test]
    fn cookies_are_strict_and_secure_under_tls() {
        let c = CookieNames::new(true).set("__Host-x", "v", crate::service::SESSION_TTL);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        let plain = CookieNames::new(false).set("x", "", crate::service::SESSION_TTL);
        assert!(plain.contains("Max-Age=0") && !plain.contains("Secure"));
    }
}
