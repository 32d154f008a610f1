//! What every route checks first, before any token: the request head's
//! size, its body framing, then `Host` and `Origin` (DNS rebinding and
//! cross-site requests learn nothing, not even whether a token is needed).
//!
//! Framing: hyper decodes `chunked` and nothing else, yet passes a body
//! sent with `Transfer-Encoding: gzip, chunked` on as if `gzip` were not
//! there (it refuses only a coding list that does not end in `chunked`).
//! A transfer coding other than one `chunked` is therefore refused here
//! with `501` (RFC 9112 §6.1), `chunked` twice with `400`, and a body with
//! a `Content-Encoding` other than `identity` with `415` (RFC 9110 §15.5.16):
//! no body is ever read as plain when it was not sent plain.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::access::{Access, header_str, refusal};
use super::body;
use crate::store::HttpTokenStore;

/// `Host` and `Origin` (after the head's size and framing), on every route.
pub(super) async fn check_site<S: HttpTokenStore>(
    State(access): State<Arc<Access<S>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = body::head_too_large(&request).or_else(|| framing(request.headers())) {
        return refused;
    }
    let headers = request.headers();
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        // RFC 9112: a request with more than one Host is answered 400.
        return refusal(
            StatusCode::BAD_REQUEST,
            "the request has more than one Host header",
        );
    }
    if headers.get_all(header::ORIGIN).iter().nth(1).is_some() {
        // Browsers send one; of two, which would be checked is a guess
        // another hop may make differently (only the first one was).
        return refusal(
            StatusCode::BAD_REQUEST,
            "the request has more than one Origin header",
        );
    }
    // A request in absolute form (`POST http://name/mcp`) names its host
    // twice; both must be ours, whichever one a proxy or router believes.
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if request
        .uri()
        .scheme_str()
        .is_some_and(|s| !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https"))
    {
        return refusal(
            StatusCode::BAD_REQUEST,
            "the request target names a scheme other than http or https",
        );
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400, in
    // absolute form too (it used to be served under the target's authority).
    let Some(host) = header_str(headers, header::HOST).map(str::to_owned) else {
        let why = if headers.contains_key(header::HOST) {
            "the request's Host header is not a host name (only visible ASCII is)"
        } else {
            "the request has no Host header"
        };
        return refusal(StatusCode::BAD_REQUEST, why);
    };
    if !access.host_allowed(&host) || authority.is_some_and(|a| !access.host_allowed(&a)) {
        return refusal(
            StatusCode::FORBIDDEN,
            "this Host is not served here; the operator can allow it with --allow-host (http.allowed_hosts)",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| access.origin_allowed(o, &host));
        if !allowed {
            return refusal(
                StatusCode::FORBIDDEN,
                "requests from this Origin are not allowed; the operator can allow it with --allow-origin (http.allowed_origins)",
            );
        }
    }
    next.run(request).await
}

/// The refusal of a head this server will not read: a body framed or coded
/// in a way it does not decode (see the module's doc), or two
/// `Authorization` headers (a proxy's and a client's: which one is meant?).
pub(crate) fn framing(headers: &HeaderMap) -> Option<Response> {
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Some(refusal(
            StatusCode::BAD_REQUEST,
            "the request has more than one Authorization header; nothing was done",
        ));
    }
    let codings = |name| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            // RFC 9110 §5.6.1: empty list elements are ignored.
            .filter(|c| !c.is_empty())
            .map(<[u8]>::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    let transfer = codings(header::TRANSFER_ENCODING);
    if transfer.iter().any(|c| c != b"chunked") {
        return Some(refusal(
            StatusCode::NOT_IMPLEMENTED,
            "this server decodes no transfer coding but chunked (send the body plain, or chunked alone); nothing was done",
        ));
    }
    if transfer.len() > 1 {
        // RFC 9112 §7.1: a sender must not apply chunked more than once.
        return Some(refusal(
            StatusCode::BAD_REQUEST,
            "the body is declared chunked more than once; nothing was done",
        ));
    }
    if codings(header::CONTENT_ENCODING)
        .iter()
        .any(|c| c != b"identity")
    {
        let mut refused = refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request bodies must not be compressed (no Content-Encoding); nothing was done",
        );
        // RFC 7694: the codings this server takes.
        refused.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        return Some(refused);
    }
    None
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

    use super::framing;

    fn status(pairs: &[(header::HeaderName, &'static str)]) -> Option<StatusCode> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, HeaderValue::from_static(value));
        }
        framing(&headers).map(|r| r.status())
    }

    #[test]
    fn only_plain_or_once_chunked_bodies_are_read() {
        let te = header::TRANSFER_ENCODING;
        let ce = header::CONTENT_ENCODING;
        assert_eq!(status(&[]), None);
        assert_eq!(status(&[(te.clone(), "chunked")]), None);
        assert_eq!(status(&[(te.clone(), " Chunked , ")]), None);
        assert_eq!(status(&[(ce.clone(), "identity")]), None);
        for coded in ["gzip, chunked", "identity, chunked", "x-custom,chunked"] {
            assert_eq!(
                status(&[(te.clone(), coded)]),
                Some(StatusCode::NOT_IMPLEMENTED),
                "{coded}"
            );
        }
        assert_eq!(
            status(&[(te.clone(), "gzip"), (te.clone(), "chunked")]),
            Some(StatusCode::NOT_IMPLEMENTED),
            "codings split over two lines"
        );
        assert_eq!(
            status(&[(te.clone(), "chunked, chunked")]),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status(&[(ce.clone(), "gzip")]),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }
}
