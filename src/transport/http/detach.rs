//! Request heads that do not pin hyper's read buffer.
//!
//! hyper parses a request's head in place: its URI and every header value
//! are slices of the connection's 8 KiB read buffer, so as long as any of
//! them lives, that buffer does too, and hyper reads the next bytes into a
//! second one. rmcp keeps the request's head (as `http::request::Parts` in
//! the call's extensions) for as long as the call runs, so a waiting
//! long-poll held both buffers. Copying the head's few hundred bytes out
//! lets the first buffer go once the body has been read.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};

/// Replaces `parts`' URI and header values with copies of their bytes.
pub(super) fn detach(parts: &mut Parts) {
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        // From the bytes of a valid value: cannot fail; keep the value if it did.
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        headers.append(name.clone(), copy);
    }
    parts.headers = headers;
    // A URI built from a `&str` owns its bytes.
    if let Ok(uri) = Uri::try_from(parts.uri.to_string().as_str()) {
        parts.uri = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    /// Whether `inner` points into `outer`'s bytes.
    fn within(outer: &Bytes, inner: &[u8]) -> bool {
        let range = outer.as_ptr_range();
        range.contains(&inner.as_ptr())
    }

    #[test]
    fn the_head_no_longer_points_into_the_buffer_it_was_parsed_from() {
        // As hyper does: one buffer, the head's parts sliced out of it.
        let buffer = Bytes::copy_from_slice(b"/mcp?x=1 Bearer secret 2026-07-28");
        let uri = Uri::from_maybe_shared(buffer.slice(0..8)).unwrap();
        let token = HeaderValue::from_maybe_shared(buffer.slice(9..22)).unwrap();
        let version = HeaderValue::from_maybe_shared(buffer.slice(23..)).unwrap();
        let (mut parts, ()) = axum::http::Request::builder()
            .uri(uri)
            .header("authorization", token)
            .header("mcp-protocol-version", version)
            .body(())
            .unwrap()
            .into_parts();
        parts
            .headers
            .get_mut("authorization")
            .unwrap()
            .set_sensitive(true);
        assert!(within(&buffer, parts.headers["authorization"].as_bytes()));
        assert!(within(&buffer, parts.uri.path().as_bytes()));

        detach(&mut parts);

        for value in parts.headers.values() {
            assert!(!within(&buffer, value.as_bytes()), "{value:?}");
        }
        assert!(!within(&buffer, parts.uri.path().as_bytes()));
        assert_eq!(parts.uri, "/mcp?x=1");
        assert_eq!(parts.headers["authorization"], "Bearer secret");
        assert!(parts.headers["authorization"].is_sensitive());
        assert_eq!(parts.headers["mcp-protocol-version"], "2026-07-28");
    }
}
