//! The console's only static files, embedded in the binary: one style
//! sheet and one script (no inline code, so the CSP can forbid it).

use axum::http::header;
use axum::response::IntoResponse;

/// The style sheet.
pub const CSS: &str = include_str!("assets/console.css");
/// The script: live updates through `EventSource`, DOM built with `textContent` only.
pub const JS: &str = include_str!("assets/console.js");

/// `GET /assets/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
}

/// `GET /assets/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
}
