//! What a browser posts: sign-in (a console token; a double-submit cookie
//! stands in for the CSRF token a session does not have yet), sign-out, and
//! the YOLO decisions. Every post but sign-in needs the session's CSRF
//! token; a post without it is refused and audited before anything else.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::pages::{Nav, error_page, layout, outcome_page};
use super::session::{SESSION_TTL, cookie, same_secret};
use super::{Backend, Caller, Console, caller, message_of, status_of};
use crate::domain::ConversationId;
use crate::service::{ServiceError, random_secret};

/// How long the sign-in form stays valid.
const LOGIN_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

fn login_form<S: Backend>(
    console: &Console<S>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let nonce = match random_secret() {
        Ok(n) => n,
        Err(e) => return error_page(console, None, &e),
    };
    let body = html! {
        h1 { "Sign in" }
        @if let Some(e) = error { p.error { (e) } }
        form id="login" method="post" action=(console.href("/login")) {
            input type="hidden" name="csrf" value=(nonce);
            label { "Console token " input id="token" name="token" type="password" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
        p.hint { "Create a token with " code { "mcp-bridge console token create NAME --role admin|observer" } "." }
    };
    let set = console
        .cookies
        .set(console.cookies.login, &nonce, LOGIN_TTL);
    (
        status,
        [(header::SET_COOKIE, set)],
        layout(console, None, "Sign in", Nav::None, "login", None, body),
    )
        .into_response()
}

/// `GET /login`.
pub async fn login_page<S: Backend>(State(console): State<Arc<Console<S>>>) -> Response {
    login_form(&console, StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The console token.
    #[serde(default)]
    token: String,
    /// Must equal the sign-in cookie.
    #[serde(default)]
    csrf: String,
}

/// `POST /login`: a valid token opens a session.
pub async fn login<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, console.cookies.login).unwrap_or("");
    if !same_secret(&form.csrf, expected) {
        console
            .bridge
            .console_refused(None, "console sign_in", None, "csrf")
            .await;
        return login_form(
            &console,
            StatusCode::FORBIDDEN,
            Some("The form expired or was not sent by this page; sign in again."),
        );
    }
    match console
        .bridge
        .console_authenticate(form.token.trim(), "sign_in")
        .await
    {
        Ok(user) => {
            let (id, csrf) = match (random_secret(), random_secret()) {
                (Ok(id), Ok(csrf)) => (id, csrf),
                (Err(e), _) | (_, Err(e)) => return error_page(&console, None, &e),
            };
            console.sessions.open(&id, user, csrf);
            let c = &console.cookies;
            let response = Redirect::to(&console.href("/")).into_response();
            let (mut parts, body) = response.into_parts();
            for value in [
                c.set(c.session, &id, SESSION_TTL),
                c.set(c.login, "", LOGIN_TTL),
            ] {
                if let Ok(v) = value.parse() {
                    parts.headers.append(header::SET_COOKIE, v);
                }
            }
            Response::from_parts(parts, body)
        }
        Err(ServiceError::AuthFailed) => login_form(
            &console,
            StatusCode::UNAUTHORIZED,
            Some("That is not a valid console token."),
        ),
        Err(e) => error_page(&console, None, &e),
    }
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Ok(Some(Caller::Session { csrf, .. })) = caller(&console, &headers).await
        && same_secret(&form.csrf, &csrf)
        && let Some(id) = cookie(&headers, console.cookies.session)
    {
        console.sessions.close(id);
    }
    let c = &console.cookies;
    (
        [(header::SET_COOKIE, c.set(c.session, "", SESSION_TTL))],
        Redirect::to(&console.href("/login")),
    )
        .into_response()
}

/// The session caller of a post whose CSRF token is right; otherwise the
/// response refusing it (audited).
async fn checked<S: Backend>(
    console: &Console<S>,
    headers: &HeaderMap,
    csrf_given: &str,
    action: &str,
) -> Result<Caller, Response> {
    match caller(console, headers).await {
        Ok(Some(c @ Caller::Session { .. })) => {
            let Caller::Session { csrf, .. } = &c else {
                unreachable!("matched above")
            };
            if same_secret(csrf_given, csrf) {
                Ok(c)
            } else {
                console
                    .bridge
                    .console_refused(Some(c.user()), action, None, "csrf")
                    .await;
                Err(error_page(console, Some(&c), &ServiceError::Forbidden(
                    "this form did not carry the page's CSRF token; nothing was done. Reload the page and try again".into(),
                )))
            }
        }
        // Decisions are taken in a browser session, never with a bearer token.
        Ok(Some(c @ Caller::Bearer(_))) => Err(error_page(
            console,
            Some(&c),
            &ServiceError::Forbidden(
                "decisions are taken in a signed-in browser session, not with a bearer token"
                    .into(),
            ),
        )),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, super::to_login(console)).into_response()),
        Err(e) => Err(error_page(console, None, &e)),
    }
}

/// The activation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phrase: String,
    #[serde(default)]
    passphrase: String,
    #[serde(default)]
    requested_at: i64,
}

fn refused<S: Backend>(console: &Console<S>, who: &Caller, e: &ServiceError) -> Response {
    let body = html! {
        h1 { "Not done" }
        p.error { (message_of(e)) }
        p { a href=(console.href("/yolo")) { "Back to YOLO" } }
    };
    outcome_page(console, who, status_of(e), "Not done", body)
}

/// `POST /yolo/confirm/{conversation}`: an admin enables command execution.
pub async fn confirm<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let who = match checked(&console, &headers, &form.csrf, "yolo confirm").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(conversation) = ConversationId::parse(&conversation) else {
        return refused(
            &console,
            &who,
            &ServiceError::NotFound("no such conversation".into()),
        );
    };
    match console
        .bridge
        .console_confirm(
            who.user(),
            &console.passphrase,
            &conversation,
            form.requested_at,
            &form.phrase,
            form.passphrase,
        )
        .await
    {
        Ok(a) => {
            let body = html! {
                h1 { "Command execution is active" }
                p id="outcome" { "Command execution is ACTIVE for " code { (conversation.as_str()) } @if let Some(t) = a.expires_at { " until " (t) } "." }
                p { "Every command still needs an approval. Revoke at any time with " code { "mcp-bridge yolo revoke " (conversation.as_str()) } "." }
                p { a href=(console.href("/yolo")) { "Back to YOLO" } }
            };
            outcome_page(&console, &who, StatusCode::OK, "Activated", body)
        }
        Err(e) => refused(&console, &who, &e),
    }
}

/// The approval form.
#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passphrase: String,
}

/// `POST /yolo/approve/{proposal}`: an admin approves one command and sees
/// its single-use token once (the page is never cached).
pub async fn approve<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(proposal): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ApproveForm>,
) -> Response {
    let who = match checked(&console, &headers, &form.csrf, "yolo approve").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match console
        .bridge
        .console_approve(who.user(), &console.passphrase, &proposal, form.passphrase)
        .await
    {
        Ok((p, approval)) => {
            let body = html! {
                h1 { "Approved" }
                p { "Command " pre.command { (p.command) } " in " code { (p.conversation.as_str()) } }
                p { "Approval token (single use, this command only, valid until " (approval.expires_at) "; shown only now):" }
                p { code id="approval-token" { (approval.token) } }
                p { "Give it to the agent: it calls execute_command with the same command and approval_token." }
                p { a href=(console.href("/yolo")) { "Back to YOLO" } }
            };
            outcome_page(&console, &who, StatusCode::OK, "Approved", body)
        }
        Err(e) => refused(&console, &who, &e),
    }
}

/// `POST /yolo/deny/{proposal}`.
pub async fn deny<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(proposal): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = match checked(&console, &headers, &form.csrf, "yolo deny").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match console.bridge.console_deny(who.user(), &proposal).await {
        Ok(p) => {
            let body = html! {
                h1 { "Denied" }
                p id="outcome" { "Denied " code { (p.id) } ": " pre.command { (p.command) } }
                p { a href=(console.href("/yolo")) { "Back to YOLO" } }
            };
            outcome_page(&console, &who, StatusCode::OK, "Denied", body)
        }
        Err(e) => refused(&console, &who, &e),
    }
}
