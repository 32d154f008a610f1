//! Ending a conversation from the console: the form on a conversation's
//! page (admins only, a ticked box against misclicks) and
//! `POST /conversations/{id}/end`, which does what `mcp-bridge end` does —
//! and, like the page, only with the box ticked: the service refuses a post
//! without it (a script, a forged form), so the box is not just the browser's.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::Nav;
use super::yolo::{not_done, outcome_under};
use super::{Backend, Caller, Console};
use crate::domain::{ConversationId, Timestamp};
use crate::service::{Ended, ServiceError};
use crate::store::{ConsoleRole, Conversation};

/// What the ticked box sends; any other value (or none) is no confirmation.
const SURE: &str = "on";

/// The end form: the session's CSRF token and the ticked box.
#[derive(Deserialize)]
pub struct EndForm {
    /// The session's CSRF token.
    #[serde(default)]
    csrf: String,
    /// [`SURE`] when "End it for every participant" is ticked.
    #[serde(default)]
    sure: Option<String>,
}

/// The form on a live conversation's page, for an admin in a browser session.
pub fn form<S: Backend>(
    console: &Console<S>,
    who: &Caller,
    c: &Conversation,
    now: Timestamp,
) -> Markup {
    let csrf = match who {
        Caller::Session { csrf, .. } if who.user().role == ConsoleRole::Admin => csrf,
        _ => return html! {},
    };
    if now >= c.expires_at {
        return html! {};
    }
    html! {
        form.end method="post" action=(console.href(&format!("/conversations/{}/end", c.id.as_str()))) {
            input type="hidden" name="csrf" value=(csrf);
            label { input type="checkbox" name="sure" value=(SURE) required; " End it for every participant" }
            button.deny type="submit" { "End this conversation now" }
            span.hint { "its tokens and invite codes stop working at once; `mcp-bridge cleanup` then removes it" }
        }
    }
}

/// `POST /conversations/{id}/end`: an admin ends the conversation now.
pub async fn end<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EndForm>,
) -> Response {
    let who = match super::yolo::checked(&console, &headers, &form.csrf, "end").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(id) = ConversationId::parse(&id) else {
        return page(
            &console,
            &who,
            Err(ServiceError::NotFound("no such conversation".into())),
            &id,
        );
    };
    let sure = form.sure.as_deref() == Some(SURE);
    let ended = console.bridge.console_end(who.user(), &id, sure).await;
    page(&console, &who, ended, id.as_str())
}

fn page<S: Backend>(
    console: &Console<S>,
    who: &Caller,
    ended: Result<Ended, ServiceError>,
    id: &str,
) -> Response {
    let back = html! { p { a href=(console.href(&format!("/conversations/{id}"))) { "Back to the conversation" } } };
    let body = match ended {
        Ok(Ended::Now { conversation, .. }) => html! {
            h1 { "Ended" }
            p id="outcome" { "Ended " code { (conversation.id.as_str()) } " for every participant: its tokens and invite codes no longer work. " code { "mcp-bridge cleanup" } " removes it with its messages." }
            (back)
        },
        Ok(Ended::Already(conversation)) => html! {
            h1 { "Ended" }
            p id="outcome" { code { (conversation.id.as_str()) } " had already expired; nothing changed." }
            (back)
        },
        Err(e) => return not_done(console, who, Nav::Conversations, &e, back),
    };
    outcome_under(
        console,
        who,
        Nav::Conversations,
        StatusCode::OK,
        "Ended",
        body,
    )
}
