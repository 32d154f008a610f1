//! Signing in and out: a console token opens a session (a double-submit
//! cookie stands in for the CSRF token a session does not have yet;
//! failed sign-ins are throttled per client address, without locking out a
//! valid token); signing out needs the session's CSRF token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::guard::SignInThrottle;
use super::pages::{Nav, error_page, layout};
use super::session::{cookie, same_secret};
use super::{Backend, Caller, Console, caller};
use crate::service::{SESSION_TTL, ServiceError, random_secret};

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
// No `Debug`: it holds a token.
#[derive(Deserialize)]
pub struct LoginForm {
    /// The console token.
    #[serde(default)]
    token: String,
    /// Must equal the sign-in cookie.
    #[serde(default)]
    csrf: String,
}

/// `POST /login`: a valid token opens a session. A client address that
/// failed [`super::guard::MAX_FAILED_SIGN_INS`] times within a minute is
/// answered 429 without its token being looked up in the store, unless the
/// token is a valid one ([`SignInThrottle::genuine`]): the operator signs in
/// even while another process on the same address keeps failing.
pub async fn login<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = SignInThrottle::client(connect.as_ref().map(|c| &c.0));
    if let Some(wait) = console.throttle.wait(client)
        && !console
            .throttle
            .genuine(&console.bridge, form.token.trim())
            .await
    {
        console
            .bridge
            .console_refused(None, "console sign_in", None, "throttled")
            .await;
        let mut page = login_form(
            &console,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed sign-ins from this address; try again in {} s.",
                wait.as_secs().max(1)
            )),
        );
        if let Ok(v) = (wait.as_secs().max(1)).to_string().parse() {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return page;
    }
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
    match console.bridge.console_sign_in(form.token.trim()).await {
        Ok(signed_in) => {
            let c = &console.cookies;
            let response = Redirect::to(&console.href("/")).into_response();
            let (mut parts, body) = response.into_parts();
            for value in [
                c.set(c.session, &signed_in.id, SESSION_TTL),
                c.set(c.login, "", LOGIN_TTL),
            ] {
                if let Ok(v) = value.parse() {
                    parts.headers.append(header::SET_COOKIE, v);
                }
            }
            Response::from_parts(parts, body)
        }
        Err(ServiceError::AuthFailed) => {
            console.throttle.failed(client);
            login_form(
                &console,
                StatusCode::UNAUTHORIZED,
                Some("That is not a valid console token."),
            )
        }
        Err(e) => error_page(&console, None, &e),
    }
}

/// A form that carries only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`: ends the session on every host and clears its cookie.
/// A live session's sign-out needs its CSRF token; without it nothing is
/// done and the cookie is kept, so a forged post cannot sign anyone out.
/// A request without the cookie changes nothing either (a cross-site post
/// arrives without it, as the cookie is `SameSite=Strict`).
pub async fn logout<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(id) = cookie(&headers, console.cookies.session) else {
        return Redirect::to(&console.href("/login")).into_response();
    };
    match caller(&console, &headers).await {
        Ok(Some(Caller::Session { user, csrf })) => {
            if !same_secret(&form.csrf, &csrf) {
                console
                    .bridge
                    .console_refused(Some(&user), "console sign_out", None, "csrf")
                    .await;
                let who = Caller::Session { user, csrf };
                return error_page(
                    &console,
                    Some(&who),
                    &ServiceError::Forbidden(
                        "this form did not carry the page's CSRF token; you are still signed in"
                            .into(),
                    ),
                );
            }
            if let Err(e) = console.bridge.console_sign_out(id, &user).await {
                // The cookie is cleared anyway; the session then expires on its own.
                tracing::warn!(error = %e, "cannot end a console session");
            }
        }
        // A bearer token has no session to end; an expired session's cookie goes.
        Ok(_) => {}
        Err(e) => return error_page(&console, None, &e),
    }
    let c = &console.cookies;
    (
        [(header::SET_COOKIE, c.set(c.session, "", SESSION_TTL))],
        Redirect::to(&console.href("/login")),
    )
        .into_response()
}
