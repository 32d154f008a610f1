//! The JSON API for scripts (`Authorization: Bearer <console token>`, or a
//! browser session): conversations, one conversation with its messages, the
//! audit trail, and the live event stream. Same service calls, same audit
//! records as the pages.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::pages::AuditFilter;
use super::session::cookie;
use super::{Backend, Caller, Console, caller, guard, json as view, live, message_of, status_of};
use crate::domain::ConversationId;
use crate::service::ServiceError;

fn failure(e: &ServiceError) -> Response {
    (
        status_of(e),
        Json(json!({ "error": e.code(), "message": message_of(e) })),
    )
        .into_response()
}

async fn authorized<S: Backend>(
    console: &Console<S>,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    match caller(console, headers).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err((
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "error": "auth_failed", "message": "a valid console token is needed: Authorization: Bearer <token>" })),
        )
            .into_response()),
        Err(e) => Err(failure(&e)),
    }
}

/// `GET /api/conversations`.
pub async fn conversations<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
) -> Response {
    let who = match authorized(&console, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match console.bridge.console_list(who.user()).await {
        Ok(l) => Json(json!({
            "at": l.at.to_rfc3339(),
            "heartbeat_timeout_s": l.heartbeat_timeout_s,
            "conversations": l.conversations.iter().map(|s| view::summary(s, l.at, l.heartbeat_timeout_s)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => failure(&e),
    }
}

/// `GET /api/conversations/{id}`: with every message and its read state.
pub async fn conversation<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let who = match authorized(&console, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(id) = ConversationId::parse(&id) else {
        return failure(&ServiceError::NotFound("no such conversation".into()));
    };
    match console.bridge.console_show(who.user(), &id).await {
        Ok(s) => Json(view::conversation(
            &s.record.conversation,
            &s.record.messages,
            s.at,
            s.heartbeat_timeout_s,
        ))
        .into_response(),
        Err(e) => failure(&e),
    }
}

/// `GET /api/audit?conversation=&action=&since=&limit=&verify=1`.
pub async fn audit<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    filter: Result<Query<AuditFilter>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let who = match authorized(&console, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let run = async {
        let filter = super::query_of(filter)?;
        let query = filter.query()?;
        let verify = match filter.verify.as_deref() {
            Some("1") => Some(console.bridge.console_verify(who.user()).await?),
            _ => None,
        };
        let records = console.bridge.console_audit(who.user(), query).await?;
        Ok::<_, ServiceError>(json!({
            "records": records.iter().map(view::audit).collect::<Vec<_>>(),
            "verify": verify.as_ref().map(view::verify),
        }))
    };
    match run.await {
        Ok(v) => Json(v).into_response(),
        Err(e) => failure(&e),
    }
}

/// Whether `who`, as it authenticated this request, may still read.
fn still_allowed<S: Backend>(
    console: &Arc<Console<S>>,
    who: &Caller,
    headers: &HeaderMap,
) -> live::StillAllowed {
    let console = Arc::clone(console);
    match who {
        Caller::Bearer(user) => {
            let user = user.clone();
            Arc::new(move || {
                let (console, user) = (Arc::clone(&console), user.clone());
                Box::pin(async move {
                    matches!(console.bridge.console_token_live(&user).await, Ok(true))
                })
            })
        }
        Caller::Session { .. } => {
            let id = cookie(headers, console.cookies.session)
                .unwrap_or_default()
                .to_owned();
            Arc::new(move || {
                let (console, id) = (Arc::clone(&console), id.clone());
                Box::pin(
                    async move { matches!(console.bridge.console_session(&id).await, Ok(Some(_))) },
                )
            })
        }
    }
}

/// Which events a stream wants.
#[derive(Debug, Deserialize)]
pub struct EventFilter {
    /// Only this conversation's.
    conversation: Option<String>,
}

/// `GET /api/events` (and `/events` for pages): Server-Sent Events, one per
/// committed message, status or read change, proposal, activation and audit
/// record; at most [`guard::MAX_STREAMS_PER_TOKEN`] open per console token,
/// each ended once its session or token is (see [`live::stream`]).
pub async fn events<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    filter: Result<Query<EventFilter>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let who = match authorized(&console, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let filter = match super::query_of(filter) {
        Ok(f) => f,
        Err(e) => return failure(&e),
    };
    let conversation = match filter
        .conversation
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(ConversationId::parse)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => return failure(&e.into()),
    };
    let Some(slot) = console.streams.open(&who.user().name) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, "30")],
            Json(json!({ "error": "too_many_streams", "message": format!("this console token holds {} event streams open already; close some (tabs, scripts) first", guard::MAX_STREAMS_PER_TOKEN) })),
        )
            .into_response();
    };
    // Subscribe before recording, so nothing committed after this point is missed.
    let Some(subscription) = console.live.subscribe().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            Json(json!({ "error": "unavailable", "message": "live updates are not available yet (the database did not answer in time); retry in a moment" })),
        )
            .into_response();
    };
    let stream = live::stream(
        subscription,
        conversation.clone(),
        still_allowed(&console, &who, &headers),
        slot,
    );
    if let Err(e) = console
        .bridge
        .console_watch(who.user(), conversation.as_ref())
        .await
    {
        return failure(&e);
    }
    stream.into_response()
}
