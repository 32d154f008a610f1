//! The YOLO page and its decisions: pending activations and proposals with
//! the exact command, mode, workspace and sandbox; an admin confirms an
//! activation (the phrase and the operator passphrase), approves a proposal
//! (the passphrase; the single-use token is shown once) or denies it, and
//! withdraws an approval whose token has not been used yet. Every
//! post needs the session's CSRF token; a post without it is refused and
//! audited before anything else. Observers get no forms, and the service
//! refuses them anyway. The page never rearranges itself: a proposal that
//! arrives while it is open is announced in a bar whose place is kept, and
//! shown when the human asks, so "Approve" stays on the command they read.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::pages::{Nav, error_page, layout, signed_in};
use super::session::same_secret;
use super::signin::CsrfForm;
use super::text::{command, line};
use super::{Backend, Caller, Console, caller, json::activation_state, message_of, status_of};
use crate::domain::ConversationId;
use crate::service::{CONFIRM_PHRASE, ServiceError};
use crate::store::{ConsoleRole, ProposalState};

fn mode_text(mode: crate::domain::YoloMode) -> &'static str {
    use crate::domain::YoloMode;
    match mode {
        YoloMode::Safe => "safe — read-only programs inside the workspace, no shell",
        YoloMode::Restricted => {
            "restricted — read-only programs plus listed git/cargo/npm/pip/pytest subcommands and workspace scripts, no shell"
        }
        YoloMode::Yolo => {
            "yolo — ANY shell command except the always-blocked list, through sh -c, workspace writable"
        }
    }
}

/// `GET /yolo`: activations and proposals; admins decide here.
pub async fn page<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    headers: HeaderMap,
) -> Response {
    let c2 = Arc::clone(&console);
    signed_in(&console, &headers, |who| async move {
        let (activations, proposals) = c2.bridge.console_yolo().await?;
        let now = c2.bridge.console_now();
        let admin = who.user().role == ConsoleRole::Admin;
        let csrf = match &who { Caller::Session { csrf, .. } => csrf.clone(), Caller::Bearer(_) => String::new() };
        let body = html! {
            h1 { "YOLO: command execution" span id="live".live { "connecting…" } }
            // Its place is kept from the start: what arrives live is only
            // announced here, so nothing under the pointer moves (see console.js).
            div id="news".news role="status" {
                span id="news-text" { "Nothing new since this page was loaded." }
                " "
                button id="show-news" type="button" { "show them" }
            }
            @if !admin { p.notice { "You are signed in as an observer: you see every request, and decide none." } }
            h2 { "Activations" }
            @if activations.is_empty() { p.empty { "No agent has asked to run commands." } }
            @for a in &activations {
                @let r = &a.request;
                @let state = activation_state(a, now);
                section.activation.(state) data-conversation=(r.conversation.as_str()) data-state=(state) data-requested=(r.requested_at.as_micros()) {
                    h3 { code { (r.conversation.as_str()) } " — " (state) }
                    dl {
                        dt { "asked by" } dd { "side " (r.requested_by.as_str()) " at " (r.requested_at) }
                        dt { "mode" } dd.mode { (mode_text(r.mode)) }
                        dt { "workspace" } dd { code.workspace { (line(&r.workspace.to_string_lossy())) } }
                        dt { "sandbox" } dd.sandbox {
                            @if r.sandbox { "on (bubblewrap: no network, read-only system, private /tmp, clean environment)" }
                            @else { strong { "OFF — commands run directly on this machine with the server's user rights" } }
                        }
                        dt { "timeout" } dd { (r.timeout_s) " s per command" }
                        @if let Some(t) = a.expires_at { dt { "active until" } dd { (t) } }
                    }
                    @if admin && state == "active" {
                        form.decide method="post" action=(c2.href(&format!("/yolo/revoke/{}", r.conversation.as_str()))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.deny type="submit" { "Revoke now" }
                            span.hint { "ends command execution at once; pending approvals die with it" }
                        }
                    }
                    @if admin && state == "pending" {
                        form.decide method="post" action=(c2.href(&format!("/yolo/confirm/{}", r.conversation.as_str()))) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="requested_at" value=(r.requested_at.as_micros());
                            label { "Type " code { (CONFIRM_PHRASE) } " " input name="phrase" autocomplete="off" required; }
                            label { "Operator passphrase " input name="passphrase" type="password" autocomplete="off" required; }
                            button type="submit" { "Confirm activation" }
                        }
                    }
                }
            }
            h2 { "Proposed commands" }
            @if proposals.is_empty() { p.empty { "No commands proposed." } }
            @for p in &proposals {
                section.proposal.(p.state.as_str()) id=(format!("proposal-{}", p.id)) data-proposal=(p.id) data-state=(p.state.as_str()) {
                    h3 { code { (p.id) } " — " (p.state.as_str()) }
                    dl {
                        dt { "conversation" } dd { a href=(c2.href(&format!("/conversations/{}", p.conversation.as_str()))) { code { (p.conversation.as_str()) } } }
                        dt { "from" } dd { "side " (p.side.as_str()) " at " (p.created_at) }
                        dt { "mode" } dd { (p.mode.as_str()) }
                        @if let Some(a) = activations.iter().find(|a| a.request.conversation == p.conversation) {
                            dt { "workspace" } dd { code { (line(&a.request.workspace.to_string_lossy())) } }
                            dt { "sandbox" } dd { @if a.request.sandbox { "on" } @else { strong { "OFF" } } }
                        }
                        @if let Some(why) = &p.unreadable {
                            dt { "command" } dd.unreadable { "does not open with this database's key (" (line(why)) "): it can be denied, never approved" }
                        } @else {
                            dt { "command (exactly what will run)" } dd { pre.command { (command(&p.command)) } }
                            dt { "size" } dd.size { (crate::runner::policy::describe_size(&p.command)) }
                        }
                    }
                    @if admin && p.state == ProposalState::Pending && p.unreadable.is_none() {
                        form.decide method="post" action=(c2.href(&format!("/yolo/approve/{}", p.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            label { "Operator passphrase " input name="passphrase" type="password" autocomplete="off" required; }
                            button type="submit" { "Approve this exact command" }
                        }
                    }
                    @if admin && p.state == ProposalState::Pending {
                        form.decide method="post" action=(c2.href(&format!("/yolo/deny/{}", p.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.deny type="submit" { "Deny" }
                        }
                    }
                    // Approved but not run yet: the human can still change their mind.
                    @if admin && p.state == ProposalState::Approved {
                        form.decide.withdraw method="post" action=(c2.href(&format!("/yolo/deny/{}", p.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.deny type="submit" { "Withdraw approval" }
                            span.hint { "denies it: its approval token can no longer run the command" }
                        }
                    }
                }
            }
        };
        Ok(layout(&c2, Some(&who), "YOLO", Nav::Yolo, "yolo", None, body).into_response())
    })
    .await
}

/// A plain status page with a message (for decisions).
pub fn outcome_page<S: Backend>(
    console: &Console<S>,
    who: &Caller,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    outcome_under(console, who, Nav::Yolo, status, title, body)
}

/// [`outcome_page`] under another nav entry (a decision taken elsewhere).
pub(super) fn outcome_under<S: Backend>(
    console: &Console<S>,
    who: &Caller,
    nav: Nav,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    (
        status,
        layout(console, Some(who), title, nav, "outcome", None, body),
    )
        .into_response()
}

/// The page of a refused decision: why, and `back` (a link onwards).
pub(super) fn not_done<S: Backend>(
    console: &Console<S>,
    who: &Caller,
    nav: Nav,
    e: &ServiceError,
    back: Markup,
) -> Response {
    let body = html! {
        h1 { "Not done" }
        p.error { (message_of(e)) }
        (back)
    };
    outcome_under(console, who, nav, status_of(e), "Not done", body)
}

/// The session caller of a post whose CSRF token is right; otherwise the
/// response refusing it (audited).
pub(super) async fn checked<S: Backend>(
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
// No `Debug`: it holds the passphrase.
#[derive(Deserialize)]
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
    let back = html! { p { a href=(console.href("/yolo")) { "Back to YOLO" } } };
    not_done(console, who, Nav::Yolo, e, back)
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
// No `Debug`: it holds the passphrase.
#[derive(Deserialize)]
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
                p { "Command " pre.command { (command(&p.command)) } " in " code { (p.conversation.as_str()) } }
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

/// `POST /yolo/deny/{proposal}`: denies a pending proposal, or withdraws an
/// approved one whose token has not been used (the CLI's `yolo deny`).
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
            // `p` is the proposal as it was before: approved means withdrawn.
            let withdrawn = p.state == ProposalState::Approved;
            let body = html! {
                h1 { @if withdrawn { "Approval withdrawn" } @else { "Denied" } }
                p id="outcome" {
                    @if withdrawn { "Withdrew the approval of " } @else { "Denied " }
                    code { (p.id) } ": " pre.command { (command(&p.command)) }
                }
                @if withdrawn { p { "Its approval token is refused from now on; the agent must propose again." } }
                p { a href=(console.href("/yolo")) { "Back to YOLO" } }
            };
            outcome_page(&console, &who, StatusCode::OK, "Denied", body)
        }
        Err(e) => refused(&console, &who, &e),
    }
}

/// `POST /yolo/revoke/{conversation}`: an admin ends command execution at once.
pub async fn revoke<S: Backend>(
    State(console): State<Arc<Console<S>>>,
    Path(conversation): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = match checked(&console, &headers, &form.csrf, "yolo revoke").await {
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
        .console_revoke(who.user(), &conversation)
        .await
    {
        Ok(()) => {
            let body = html! {
                h1 { "Revoked" }
                p id="outcome" { "Command execution revoked for " code { (conversation.as_str()) } "; its pending proposals were denied." }
                p { a href=(console.href("/yolo")) { "Back to YOLO" } }
            };
            outcome_page(&console, &who, StatusCode::OK, "Revoked", body)
        }
        Err(e) => refused(&console, &who, &e),
    }
}
