//! The web console: a page for the humans who oversee the agents, and the
//! same data as JSON for scripts. Server-side rendered HTML (maud), a little
//! plain JavaScript for live updates, every asset embedded.
//!
//! Calls the service layer only ([`Bridge`]'s `console_*` methods, the same
//! rules as the CLI); never the store. Nothing an agent wrote is rendered as
//! HTML: maud escapes every interpolation and the script only sets
//! `textContent`; neither shows an agent's control, bidi or invisible
//! characters raw ([`text`]). One function, [`router`], builds the whole thing, so it can
//! be served on its own (`mcp-bridge console`) or nested under `/console`.
//!
//! - [`session`]: sessions, cookies, CSRF, bearer tokens.
//! - [`pages`]: the reading pages; [`yolo`]: the YOLO page and decisions; [`signin`]: sign-in/out.
//! - [`api`]: `/api/*` JSON; [`live`]: the change watcher and SSE streams.
//! - [`json`]: JSON shapes; [`assets`]: CSS and JS; [`server`]: listening, TLS.
//! - [`text`]: agent text on a page (hidden characters shown as codes).
//! - [`guard`]: cross-site posts, sign-in throttling, stream caps, loopback hosts.

pub mod api;
pub mod assets;
pub mod end;
pub mod guard;
pub mod json;
pub mod live;
pub mod pages;
pub mod server;
pub mod session;
pub mod signin;
pub mod text;
pub mod yolo;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::App;
use crate::operator::Passphrase;
use crate::service::{Bridge, ConsoleUser, ServiceError};
use crate::store::{AdminStore, ConsoleStore, YoloStore};
use session::CookieNames;

/// What a store must offer to back a console.
pub trait Backend: ConsoleStore + AdminStore + YoloStore {}
impl<T: ConsoleStore + AdminStore + YoloStore> Backend for T {}

/// The Content-Security-Policy of every response: only this origin's own
/// script and style files, no inline code, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How the console is reached.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// The path it is mounted under, without a trailing slash (`""` at the
    /// root, `"/console"` when nested).
    pub base: String,
    /// Whether it is served over TLS (cookies get `Secure`).
    pub tls: bool,
}

/// One console: the service, the passphrase file, cookies and live updates.
pub struct Console<S: Backend> {
    bridge: Arc<Bridge<S>>,
    passphrase: Passphrase,
    options: ConsoleOptions,
    cookies: CookieNames,
    live: live::Live,
    throttle: guard::SignInThrottle,
    streams: guard::StreamCounts,
}

impl<S: Backend> Console<S> {
    /// `path` under the console's base.
    pub fn href(&self, path: &str) -> String {
        // Nested with axum's `Router::nest`, the router's `/` answers the
        // bare prefix (`/console`), not `/console/`.
        if path == "/" && !self.options.base.is_empty() {
            return self.options.base.clone();
        }
        format!("{}{path}", self.options.base)
    }
}

/// The console's router over `bridge`, for the operator passphrase file
/// `passphrase`. Starts the live-update watcher, so call it inside a Tokio
/// runtime.
pub fn router<S: Backend>(
    bridge: Arc<Bridge<S>>,
    passphrase: Passphrase,
    options: ConsoleOptions,
) -> Router {
    let live = live::Live::start(Arc::clone(&bridge));
    let console = Arc::new(Console {
        bridge,
        passphrase,
        cookies: CookieNames::new(options.tls),
        options,
        live,
        throttle: guard::SignInThrottle::default(),
        streams: guard::StreamCounts::default(),
    });
    let router = Router::new()
        .route("/", get(pages::conversations::<S>))
        .route(
            "/login",
            get(signin::login_page::<S>).post(signin::login::<S>),
        )
        .route("/logout", post(signin::logout::<S>))
        .route("/conversations/{id}", get(pages::conversation::<S>))
        .route("/conversations/{id}/end", post(end::end::<S>))
        .route("/audit", get(pages::audit::<S>))
        .route("/yolo", get(yolo::page::<S>))
        .route("/yolo/confirm/{conversation}", post(yolo::confirm::<S>))
        .route("/yolo/approve/{proposal}", post(yolo::approve::<S>))
        .route("/yolo/deny/{proposal}", post(yolo::deny::<S>))
        .route("/yolo/revoke/{conversation}", post(yolo::revoke::<S>))
        .route("/events", get(api::events::<S>))
        .route("/api/conversations", get(api::conversations::<S>))
        .route("/api/conversations/{id}", get(api::conversation::<S>))
        .route("/api/audit", get(api::audit::<S>))
        .route("/api/events", get(api::events::<S>))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&console),
            guard::own_pages_only::<S>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&console),
            guard::bearer_guesses::<S>,
        ))
        .with_state(console);
    secured(router)
}

/// `router` with the console's security headers ([`CSP`] and the rest) on
/// every response, redirects and refusals included. [`router`] has them
/// already; a server that puts its own layers in front of the console (Host
/// and Origin checks, body limits, the `/console/` redirect) wraps those in
/// this too, so what they answer carries the same headers: a refusal or a
/// redirect is a console response as much as a page is.
pub fn secured(router: Router) -> Router {
    router.layer(axum::middleware::map_response(security_headers))
}

/// [`router`] over an opened [`App`] (its passphrase file sits beside the database).
pub fn app_router(app: &App, options: ConsoleOptions) -> Router {
    router(
        Arc::clone(&app.bridge),
        Passphrase::beside(&app.db_path),
        options,
    )
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it browsers send `Origin: null` with the
        // console's own form posts, which the Origin allow-list of
        // `serve --http --console` refuses. `same-origin` sends the real
        // origin to the console itself and nothing to any other site.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// How a request is authenticated. No `Debug`: it holds the CSRF token.
#[derive(Clone)]
pub enum Caller {
    /// A browser session (forms need its CSRF token).
    Session {
        /// The holder.
        user: ConsoleUser,
        /// The session's CSRF token.
        csrf: String,
    },
    /// A script with `Authorization: Bearer`.
    Bearer(ConsoleUser),
}

impl Caller {
    /// The token's holder.
    pub fn user(&self) -> &ConsoleUser {
        match self {
            Caller::Session { user, .. } | Caller::Bearer(user) => user,
        }
    }
}

/// The caller, from a bearer token or a session cookie; `None` when neither
/// is valid (an invalid bearer token is audited).
///
/// # Errors
/// Storage failures.
pub async fn caller<S: Backend>(
    console: &Console<S>,
    headers: &HeaderMap,
) -> Result<Option<Caller>, ServiceError> {
    if let Some(token) = session::bearer(headers) {
        return match console.bridge.console_authenticate(token, "api").await {
            Ok(user) => {
                // Only here, where the token was checked: a route that
                // answers anyone (an asset, the sign-in page) must not make
                // a guess "known" and so exempt from the throttle.
                console.throttle.accepted(token);
                Ok(Some(Caller::Bearer(user)))
            }
            Err(ServiceError::AuthFailed) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(id) = session::cookie(headers, console.cookies.session) else {
        return Ok(None);
    };
    Ok(console
        .bridge
        .console_session(id)
        .await?
        .map(|s| Caller::Session {
            user: s.user,
            csrf: s.csrf,
        }))
}

/// The HTTP status for a service error.
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::AuthFailed => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::UnknownConversation(_) | ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::InvalidArgument(_) | ServiceError::NoRecipient => StatusCode::BAD_REQUEST,
        ServiceError::Busy | ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a client may read of a service error: internal failures are logged
/// with their cause and answered generically, except a stored value that
/// does not open, which is named (column and row, never content) as the
/// CLI names it: after a `restore --no-key` the human needs to know why.
pub fn message_of(e: &ServiceError) -> String {
    if let ServiceError::Unavailable(_) = e {
        tracing::warn!(error = %e.logged(), "console request failed: database unreachable");
    }
    if status_of(e) != StatusCode::INTERNAL_SERVER_ERROR {
        return e.to_string();
    }
    tracing::error!(error = %e.logged(), code = e.code(), "console request failed");
    match e {
        ServiceError::Internal(corrupt @ crate::store::StoreError::Corrupt(_)) => {
            corrupt.to_string()
        }
        _ => "internal error; see the console's log".to_owned(),
    }
}

/// A query string the handler could not read, as the console's own refusal
/// once the caller is known: axum's rejection answered plain text, and
/// before authentication, where every other request gets `401` or the
/// sign-in page.
pub fn query_of<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ServiceError> {
    query
        .map(|axum::extract::Query(t)| t)
        .map_err(|e| crate::domain::InvalidValue::new("query string", e.body_text()).into())
}

/// A redirect to the sign-in page.
pub fn to_login<S: Backend>(console: &Console<S>) -> Response {
    Redirect::to(&console.href("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::OpenMode;

    /// What `serve --http` will do: nest the console under `/console`.
    #[tokio::test]
    async fn the_console_nests_under_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            crate::config::Config::load(None, std::iter::empty::<(String, String)>()).unwrap();
        let app = App::open(&dir.path().join("bridge.db"), config, OpenMode::Create).unwrap();
        let options = ConsoleOptions {
            base: "/console".into(),
            tls: false,
        };
        let router = Router::new().nest("/console", app_router(&app, options));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/console", tcp.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(tcp, router).await });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let home = client.get(&base).send().await.unwrap();
        assert_eq!(home.status(), StatusCode::SEE_OTHER);
        assert_eq!(home.headers()["location"], "/console/login");
        let login = client.get(format!("{base}/login")).send().await.unwrap();
        assert_eq!(login.headers()["content-security-policy"], CSP);
        let html = login.text().await.unwrap();
        assert!(html.contains("action=\"/console/login\""), "{html}");
        assert!(
            html.contains("src=\"/console/assets/console.js\""),
            "{html}"
        );
        assert!(html.contains("data-base=\"/console\""), "{html}");
        let js = client
            .get(format!("{base}/assets/console.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), StatusCode::OK);
        assert!(!js.text().await.unwrap().contains("innerHTML ="));
        let api = client
            .get(format!("{base}/api/audit"))
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    }
}
