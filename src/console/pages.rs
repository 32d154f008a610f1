//! The console's HTML pages, rendered on the server with maud, which
//! escapes every interpolated value: agent text (roles, messages, paths,
//! commands, notes) can never become markup. Agent text goes through
//! [`super::text`], which also shows hidden characters as visible codes and
//! marks redaction placeholders.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::text::{block, line};
use super::{Backend, Caller, Console, caller, message_of, status_of};
use crate::domain::{ConversationId, Timestamp};
use crate::service::ServiceError;
use crate::store::{AuditQuery, Conversation, ConversationSummary, Participant};

/// Which nav entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The overview.
    Conversations,
    /// The audit trail.
    Audit,
    /// YOLO decisions.
    Yolo,
    /// Sign-in and messages.
    None,
}

/// The frame of every page. `data` attributes tell the script what to follow.
pub fn layout<S: Backend>(
    console: &Console<S>,
    caller: Option<&Caller>,
    title: &str,
    nav: Nav,
    page: &str,
    conversation: Option<&str>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · mcp-bridge console" }
                link rel="stylesheet" href=(console.href("/assets/console.css"));
                script src=(console.href("/assets/console.js")) defer {}
            }
            body data-base=(console.options.base) data-page=(page) data-conversation=[conversation] {
                header {
                    span.brand { "mcp-bridge console" }
                    @if let Some(c) = caller {
                        nav {
                            a.current[nav == Nav::Conversations] href=(console.href("/")) { "Conversations" }
                            a.current[nav == Nav::Audit] href=(console.href("/audit")) { "Audit" }
                            a.current[nav == Nav::Yolo] href=(console.href("/yolo")) { "YOLO" }
                        }
                        span.who { (c.user().name) " (" (c.user().role.as_str()) ")" }
                        @if let Caller::Session { csrf, .. } = c {
                            form.inline method="post" action=(console.href("/logout")) {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn age(now: Timestamp, then: Timestamp) -> String {
    let s = now.micros_since(then).max(0) / 1_000_000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn participant_cell(p: &Participant, now: Timestamp, timeout_s: u64) -> Markup {
    let view = crate::service::ParticipantView::of(p, now, timeout_s);
    html! {
        div.participant data-side=(p.side.as_str()) {
            span.role { (p.role) }
            " (" (p.side.as_str()) ", " (p.kind.as_str()) ") "
            @if p.removed_at.is_some() { span.status.removed { "removed" } }
            @else {
                span.status.(view.status.map_or("unknown", |s| s.as_str())) {
                    (view.status.map_or("unknown", |s| s.as_str()))
                }
                @if let Some(t) = view.last_heartbeat {
                    " "
                    span.age.alive[view.alive] data-since=(t.to_rfc3339()) data-timeout=(timeout_s) {
                        (age(now, t)) " ago"
                    }
                }
                @if let Some(note) = &view.note { " — " span.note { (line(note)) } }
            }
        }
    }
}

fn summary_row(
    s: &ConversationSummary,
    console_href: &str,
    now: Timestamp,
    timeout_s: u64,
) -> Markup {
    let c = &s.conversation;
    html! {
        tr data-conversation=(c.id.as_str()) {
            td { a href=(console_href) { code { (c.id.as_str()) } } }
            td { @for p in &c.participants { (participant_cell(p, now, timeout_s)) } }
            td.num { (s.messages) }
            td {
                @for (side, n) in &s.unread {
                    span.unread.zero[*n == 0] { (side.as_str()) ": " (n) } " "
                }
            }
            td { @if let Some(t) = s.last_message_at { span.age data-since=(t.to_rfc3339()) { (age(now, t)) " ago" } } }
            td { @if now >= c.expires_at { "expired" } @else { (c.expires_at) } }
        }
    }
}

/// A page for a failed request.
pub fn error_page<S: Backend>(
    console: &Console<S>,
    who: Option<&Caller>,
    e: &ServiceError,
) -> Response {
    let status = status_of(e);
    let body = html! {
        h1 { "Refused" }
        p.error { (message_of(e)) }
        p { a href=(console.href("/")) { "Back to the conversations" } }
    };
    (
        status,
        layout(console, who, "Refused", Nav::None, "error", None, body),
    )
        .into_response()
}

/// Runs `f` for a signed-in caller, or sends the browser to sign in.
pub(super) async fn signed_in<S: Backend, F, Fut>(
    console: &Arc<Console<S>>,
    headers: &HeaderMap,
    f: F,
) -> Response
where
    F: FnOnce(Caller) -> Fut,
    Fut: Future<Output = Result<Response, ServiceError>>,
{
    match caller(console, headers).await {
        Ok(Some(c)) => {
            let who = c.clone();
            match f(c).await {
                Ok(r) => r,
                Err(e) => error_page(console, Some(&who), &e),
            }
        }
        Ok(None) => super::to_login(console),
        Err(e) => error_page(console, None, &e),
    }
}

/// `GET /`: every conversation, live.
pub async fn conversations<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
) -> Response {
    let c2 = Arc::clone(&console);
    signed_in(&console, &headers, |who| async move {
        let listing = c2.bridge.console_list(who.user()).await?;
        let now = listing.at;
        let t = listing.heartbeat_timeout_s;
        let body = html! {
            h1 { "Conversations" span id="live".live { "connecting…" } }
            p.hint { "Updates as agents send messages and heartbeats. Heartbeats older than " (t) " s count as not alive." }
            table id="conversations" {
                thead { tr { th { "Conversation" } th { "Participants (status, heartbeat age)" } th { "Messages" } th { "Unread" } th { "Last message" } th { "Expires" } } }
                tbody {
                    @for s in listing.conversations.iter().rev() {
                        (summary_row(s, &c2.href(&format!("/conversations/{}", s.conversation.id.as_str())), now, t))
                    }
                }
            }
            @if listing.conversations.is_empty() { p.empty { "No conversations yet." } }
        };
        Ok(layout(&c2, Some(&who), "Conversations", Nav::Conversations, "conversations", None, body).into_response())
    })
    .await
}

fn header_block(c: &Conversation, now: Timestamp, timeout_s: u64) -> Markup {
    html! {
        section.participants {
            h2 { "Participants" }
            @for p in &c.participants { (participant_cell(p, now, timeout_s)) }
            p.meta { "Created " (c.created_at) "; " @if now >= c.expires_at { "expired " } @else { "expires " } (c.expires_at) }
        }
    }
}

/// One message; the same structure the script builds for live ones.
fn message_item(m: &crate::store::MessageRecord) -> Markup {
    let msg = &m.message;
    html! {
        li.message.system[msg.from.as_str() == "system"] id=(format!("m{}", msg.id)) data-id=(msg.id) {
            div.meta {
                span.from { (msg.from_role) " (" (msg.from.as_str()) ")" }
                " "
                span.kind { (msg.action_type.as_str()) }
                @if let Some(to) = &msg.to {
                    " → " span.to { (to.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                }
                " "
                time datetime=(msg.created_at.to_rfc3339()) { (msg.created_at) }
            }
            pre.content { (block(&msg.content)) }
            @if !msg.files_involved.is_empty() {
                ul.files { @for f in &msg.files_involved { li { code { (line(f)) } } } }
            }
            div.readstate {
                @if m.unread_by.is_empty() { "read by every recipient" }
                @else { "not yet read by: " (m.unread_by.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
            }
        }
    }
}

/// `GET /conversations/{id}`: one conversation; new messages arrive over SSE.
pub async fn conversation<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let c2 = Arc::clone(&console);
    signed_in(&console, &headers, |who| async move {
        let id = ConversationId::parse(&id).map_err(|_| ServiceError::NotFound("no such conversation".into()))?;
        let shown = c2.bridge.console_show(who.user(), &id).await?;
        let r = &shown.record;
        let body = html! {
            h1 { "Conversation " code { (id.as_str()) } }
            (header_block(&r.conversation, shown.at, shown.heartbeat_timeout_s))
            (super::end::form(&c2, &who, &r.conversation, shown.at))
            section {
                h2 { "Messages" span id="live".live { "connecting…" } }
                ol id="messages" { @for m in &r.messages { (message_item(m)) } }
                @if r.messages.is_empty() { p id="no-messages".empty { "No messages yet." } }
            }
            p { a href=(c2.href(&format!("/audit?conversation={}", id.as_str()))) { "Audit records of this conversation" } }
        };
        Ok(layout(&c2, Some(&who), id.as_str(), Nav::Conversations, "conversation", Some(id.as_str()), body).into_response())
    })
    .await
}

/// Filters of the audit page (the CLI's `audit` options). Read strictly: a
/// script filtering with a key the console does not know (`until=`), a limit
/// out of range or a `verify` other than `1`/`0` is refused, not served
/// something else (red team: they were ignored, clamped or read as "no").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// A conversation id.
    pub conversation: Option<String>,
    /// A tool or command name.
    pub action: Option<String>,
    /// RFC 3339 time.
    pub since: Option<String>,
    /// Most records.
    pub limit: Option<u32>,
    /// `1` to walk the chain too.
    pub verify: Option<String>,
}

impl AuditFilter {
    /// The store query, or what is wrong with the filter.
    pub fn query(&self) -> Result<AuditQuery, ServiceError> {
        let nonempty = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let conversation = nonempty(&self.conversation)
            .map(|c| ConversationId::parse(&c))
            .transpose()?;
        let since = nonempty(&self.since)
            .map(|s| {
                crate::domain::parse_since(&s, Timestamp::now())
                    .map_err(|reason| crate::domain::InvalidValue::new("since", reason))
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(100);
        if !(1..=5000).contains(&limit) {
            return Err(crate::domain::InvalidValue::new("limit", "must be from 1 to 5000").into());
        }
        if self.verify.as_deref().is_some_and(|v| v != "1" && v != "0") {
            return Err(crate::domain::InvalidValue::new("verify", "must be 1 or 0").into());
        }
        Ok(AuditQuery {
            conversation,
            since,
            action: nonempty(&self.action),
            limit,
        })
    }
}

/// `GET /audit`: the audit trail with filters and, on request, the chain check.
pub async fn audit<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    filter: Result<Query<AuditFilter>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let c2 = Arc::clone(&console);
    signed_in(&console, &headers, |who| async move {
        let filter = super::query_of(filter)?;
        let query = filter.query()?;
        let verify = match filter.verify.as_deref() {
            Some("1") => Some(c2.bridge.console_verify(who.user()).await?),
            _ => None,
        };
        let records = c2.bridge.console_audit(who.user(), query.clone()).await?;
        let body = html! {
            h1 { "Audit trail" }
            form.filters method="get" action=(c2.href("/audit")) {
                label { "Conversation " input name="conversation" value=[query.conversation.as_ref().map(|c| c.as_str())] placeholder="conv_…"; }
                label { "Action " input name="action" value=[query.action.as_deref()] placeholder="send_to_partner"; }
                label { "Since " input name="since" value=[filter.since.as_deref()] placeholder="2h, 2026-01-31 or RFC 3339"; }
                label { "Limit " input name="limit" type="number" min="1" max="5000" value=(query.limit); }
                label { input type="checkbox" name="verify" value="1" checked[verify.is_some()]; " verify the chain" }
                button type="submit" { "Show" }
            }
            @if let Some(report) = &verify {
                @match &report.fault {
                    None => p id="verify".ok { "Chain intact: " (report.records) " records verified." },
                    Some(f) => p id="verify".bad { "Chain BROKEN: " (f.to_string()) },
                }
            }
            table id="audit" {
                thead { tr { th { "#" } th { "Time" } th { "Actor" } th { "Action" } th { "Conversation" } th { "Side" } th { "Outcome" } th { "Count" } th { "Detail" } } }
                tbody {
                    @for r in &records {
                        tr.(r.draft.outcome.as_str()) {
                            td.num { (r.seq) }
                            td { (r.at) }
                            td { (line(r.draft.actor)) }
                            td { (line(&r.draft.action)) }
                            td { @if let Some(c) = &r.draft.conversation { code { (line(c)) } } }
                            td { (line(r.draft.side.as_deref().unwrap_or(""))) }
                            td { (r.draft.outcome.as_str()) @if let Some(code) = &r.draft.code { " (" (line(code)) ")" } }
                            td.num { (r.draft.count.map(|n| n.to_string()).unwrap_or_default()) }
                            td { (line(r.draft.detail.as_deref().unwrap_or(""))) }
                        }
                    }
                }
            }
        };
        Ok(layout(&c2, Some(&who), "Audit", Nav::Audit, "audit", None, body).into_response())
    })
    .await
}
