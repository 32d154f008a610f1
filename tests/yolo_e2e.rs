//! YOLO mode end to end, the four stages: the operator's opt-in, an agent's
//! request, a human's confirmation typed on a real terminal (a pty), and the
//! per-command proposal → approval → run, across two `serve` processes on one
//! database; plus `revoke`, `deny`, and what the audit trail keeps of it all.

use serde_json::json;

use crate::util::*;
use crate::yolo_util::*;

/// A fake AWS access key id the redactor recognises (random, so not a placeholder).
fn fake_aws_key() -> String {
    format!(
        "AKIA{}",
        random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_tools_are_disabled_without_the_operator_opt_in() {
    let env = TestEnv::new("yolo-off");
    let s = env.server().await;
    let on = env.server_with(&[YOLO_ON]).await;
    for (server, disabled) in [(&s, true), (&on, false)] {
        let tools = server.client.list_all_tools().await.expect("tools/list");
        for name in ["enable_yolo_mode", "execute_command"] {
            let tool = tools
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("{name} is not listed"));
            let description = tool.description.as_deref().unwrap_or_default();
            assert_eq!(
                description.contains("DISABLED"),
                disabled,
                "{name}: {description}"
            );
        }
    }
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    tool_error(
        &enable(&s, &conv, "safe", &ws, json!({})).await,
        "yolo_disabled",
    );
    for extra in [json!({}), json!({"dry_run": true})] {
        tool_error(&execute(&s, &conv, "a", "ls", extra).await, "yolo_disabled");
    }
    // An activation confirmed elsewhere does not switch on a server that did not opt in.
    activate(&env, &on, &conv, "safe", &ws, json!({})).await;
    tool_error(
        &execute(&s, &conv, "a", "ls", json!({})).await,
        "yolo_disabled",
    );
    assert_eq!(rows(&env, "yolo_proposals"), 0);
    let refused: Vec<_> = wait_audit(&env, &conv.id, 4, |r| {
        r.2.as_deref() == Some("yolo_disabled")
    })
    .await
    .into_iter()
    .map(|r| (r.0, r.1))
    .collect();
    let want = |a: &str| (a.to_owned(), "denied".to_owned());
    assert_eq!(
        refused,
        [
            want("enable_yolo_mode"),
            want("execute_command"),
            want("execute_command"),
            want("execute_command")
        ]
    );

    // Without any opt-in at all, nothing is stored.
    let env = TestEnv::new("yolo-off-empty");
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    tool_error(
        &enable(&s, &conv, "yolo", &ws, json!({})).await,
        "yolo_disabled",
    );
    assert_eq!(rows(&env, "yolo_activations"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_happy_path_across_two_processes_with_a_human_at_a_terminal() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-happy");
    let s1 = env.server_with(&[YOLO_ON]).await;
    let s2 = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let key = fake_aws_key();
    std::fs::write(ws.join("notes.txt"), format!("alpha\n{key}\ngamma\n")).expect("write");
    let conv = Conv::create(&s1).await;

    // Stage 2: the agent asks; nothing is enabled yet, on either process.
    let body = ok(&enable(&s1, &conv, "safe", &ws, json!({"timeout_s": 20})).await);
    let next = format!(
        "a human runs `mcp-bridge yolo confirm {}` in a terminal",
        conv.id
    );
    assert_eq!(
        body,
        json!({"status": "pending_confirmation", "conversation_id": conv.id, "mode": "safe",
               "workspace": ws, "timeout_s": 20, "sandbox": true, "next_step": next})
    );
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));
    tool_error(
        &execute(&s2, &conv, "a", "ls", json!({})).await,
        "yolo_not_active",
    );

    // Stage 3: a human reads the request and types the phrase and the code.
    let transcript = confirm(&env, &conv.id).await;
    for shown in [
        "backend (a) and frontend (b)",
        "mode:       safe",
        &ws.display().to_string(),
        "timeout:    20 s",
    ] {
        assert!(
            transcript.contains(shown),
            "{shown:?} not in:\n{transcript}"
        );
    }
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("active"));

    // Stage 4: a proposal on the other process; nothing runs. (A command
    // holding a secret would be refused: see audit_trail.rs.)
    let command = "grep -n -e alpha -e AKIA notes.txt".to_owned();
    let dry = ok(&execute(&s2, &conv, "a", &command, json!({"dry_run": true})).await);
    assert_eq!(dry["status"], "dry_run", "{dry}");
    assert_eq!(
        dry["argv"],
        json!(["grep", "-n", "-e", "alpha", "-e", "AKIA", "notes.txt"])
    );
    assert_eq!(dry["via_shell"], false);
    assert_eq!(dry["proposal_id"], json!(null));
    assert_eq!(rows(&env, "yolo_proposals"), 0, "a dry run stores nothing");
    let proposal = propose(&s2, &conv, "a", &command).await;
    assert_eq!(proposal_state(&env, &proposal), "pending");

    // The human sees the exact command and hands over a token.
    let (status, shown, token) = approve_typing(&env, &proposal, &[]).await;
    assert!(status.success(), "{shown}");
    assert!(
        shown.contains(&command),
        "approve must show the command:\n{shown}"
    );
    let token = token.expect("approval token");
    assert_eq!(proposal_state(&env, &proposal), "approved");

    // Back on the first process: with the token, exactly this command runs.
    let body = ok(&execute(&s1, &conv, "a", &command, json!({"approval_token": token})).await);
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["proposal_id"], proposal.as_str());
    assert_eq!(body["exit_code"], 0, "{body}");
    assert_eq!(body["timed_out"], false);
    assert_eq!(body["sandboxed"], true);
    assert_eq!(body["writable_workspace"], false);
    let stdout = body["stdout"].as_str().expect("stdout");
    assert!(stdout.starts_with("1:alpha\n2:"), "{stdout}");
    assert!(
        !stdout.contains(&key) && stdout.contains("REDACTED"),
        "{stdout}"
    );
    assert_eq!(body["stderr"], "");
    assert_eq!(proposal_state(&env, &proposal), "used");

    // The partner hears about it from "system"; the caller does not.
    let inbox = check(&s2, &conv, "b", json!({})).await;
    let got = messages(&inbox);
    assert_eq!(got.len(), 1, "{inbox}");
    assert_eq!(got[0]["from_session"], "system");
    assert_eq!(got[0]["action_type"], "system");
    assert_eq!(got[0]["id"], body["message_id"]);
    let content = got[0]["content"].as_str().expect("content");
    for part in ["safe mode", "sandboxed", "exit 0", "1:alpha", &proposal] {
        assert!(content.contains(part), "{part:?} not in {content}");
    }
    assert!(!content.contains(&key), "{content}");
    assert!(messages(&check(&s1, &conv, "a", json!({})).await).is_empty());

    // The audit trail has every stage, and never the key. The refusal (a call
    // that changed nothing) is appended a moment later, so it is checked apart.
    let yolo = |r: &AuditRow| r.0 != "check_messages" && r.0 != "create_conversation";
    let all = wait_audit(&env, &conv.id, 7, yolo).await;
    let not_active = all
        .iter()
        .filter(|r| r.2.as_deref() == Some("yolo_not_active"))
        .count();
    assert_eq!(not_active, 1, "{all:#?}");
    let actions: Vec<(String, String)> = all
        .into_iter()
        .filter(|r| r.1 == "ok")
        .map(|r| (r.0, r.3.unwrap_or_default()))
        .collect();
    let kinds: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "enable_yolo_mode",
            "yolo confirm",
            "execute_command",
            "execute_command",
            "yolo approve",
            "execute_command"
        ],
        "{actions:#?}"
    );
    assert!(actions[0].1.contains("mode=safe") && actions[0].1.contains("timeout_s=20"));
    assert!(
        actions[2].1.starts_with("dry_run command_digest="),
        "{}",
        actions[2].1
    );
    assert!(
        actions[3]
            .1
            .starts_with(&format!("proposal={proposal} command_digest="))
    );
    assert_eq!(actions[4].1, format!("proposal={proposal}"));
    assert!(
        actions[5]
            .1
            .starts_with(&format!("ran proposal={proposal} exit 0 "))
    );
    assert!(actions[5].1.contains("sandbox=true"), "{}", actions[5].1);
    // The command itself is never in the trail, only one keyed digest of it.
    let digests: std::collections::BTreeSet<&str> = [&actions[2].1, &actions[3].1, &actions[5].1]
        .iter()
        .map(|record| {
            assert!(!record.contains("grep"), "{record}");
            record
                .split_once("command_digest=")
                .map(|(_, d)| d)
                .unwrap_or_else(|| panic!("no digest in {record}"))
        })
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let audit = audit_text(&env);
    assert!(
        !audit.contains(&key),
        "the key leaked into audit_log:\n{audit}"
    );
    assert!(
        !audit.contains(&token),
        "the approval token leaked into audit_log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_a_wrong_phrase_or_code_leaves_nothing_active() {
    let env = TestEnv::new("yolo-wrong");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    ok(&enable(&s, &conv, "yolo", &ws, json!({})).await);
    let attempts = [
        (
            "i understand the risks",
            Code::Shown,
            "the phrase did not match",
        ),
        ("I UNDERSTAND", Code::Shown, "the phrase did not match"),
        (PHRASE, Code::Typed("ABCDEFGH"), "the code did not match"),
        (PHRASE, Code::Typed(""), "the code did not match"),
    ];
    for (phrase, code, why) in attempts {
        let (status, transcript) = confirm_typing(&env, &conv.id, phrase, code).await;
        assert_eq!(status.code(), Some(1), "{phrase:?}/{code:?}:\n{transcript}");
        assert!(transcript.contains(why), "{transcript}");
        assert!(!transcript.contains("ACTIVE"), "{transcript}");
        assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));
        tool_error(
            &execute(&s, &conv, "a", "ls", json!({})).await,
            "yolo_not_active",
        );
    }
    let failures: Vec<_> = audit_rows(&env, &conv.id)
        .into_iter()
        .filter(|r| r.0 == "yolo confirm")
        .map(|r| (r.1, r.2, r.3))
        .collect();
    let failed = |why: &str| {
        (
            "denied".to_owned(),
            Some("confirmation_failed".to_owned()),
            Some(why.to_owned()),
        )
    };
    assert_eq!(
        failures,
        [
            failed("wrong phrase"),
            failed("wrong phrase"),
            failed("wrong code"),
            failed("wrong code")
        ]
    );
    assert_eq!(rows(&env, "yolo_proposals"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_confirm_and_approve_refuse_without_a_terminal() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-notty");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    ok(&enable(&s, &conv, "safe", &ws, json!({})).await);
    // A pipe that even carries the right answers is not a terminal.
    let mut cmd = yolo_cli(&env, &["confirm", &conv.id], &[]);
    let out = pipe_answers(&mut cmd, &format!("{PHRASE}\n"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stdin is not a terminal"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("pending"));

    confirm(&env, &conv.id).await;
    let proposal = propose(&s, &conv, "a", "ls").await;
    let out = pipe_answers(&mut yolo_cli(&env, &["approve", &proposal], &[]), "yes\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin is not a terminal"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("apv_"));
    assert_eq!(proposal_state(&env, &proposal), "pending");
    let approvals = audit_rows(&env, &conv.id)
        .iter()
        .filter(|r| r.0 == "yolo approve")
        .count();
    assert_eq!(approvals, 0);
}

/// Runs `cmd` with `input` on a pipe as stdin.
fn pipe_answers(cmd: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mcp-bridge yolo");
    // It may exit before reading; a broken pipe is fine.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("wait")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_enable_needs_an_existing_workspace_directory() {
    let env = TestEnv::new("yolo-ws");
    let s = env.server_with(&[YOLO_ON]).await;
    let conv = Conv::create(&s).await;
    let file = env.dir.join("a-file");
    std::fs::write(&file, "x").expect("write");
    for missing in [env.dir.join("no-such-dir"), file] {
        let body = tool_error(
            &enable(&s, &conv, "safe", &missing, json!({})).await,
            "invalid_argument",
        );
        assert!(
            body["message"].as_str().unwrap().contains("workspace"),
            "{body}"
        );
    }
    assert_eq!(rows(&env, "yolo_activations"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_revoke_ends_it_at_once_for_every_process() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-revoke");
    let s1 = env.server_with(&[YOLO_ON]).await;
    let s2 = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s1).await;
    activate(&env, &s1, &conv, "safe", &ws, json!({})).await;
    let pending = propose(&s2, &conv, "a", "ls -l").await;
    let token = approved(&env, &s1, &conv, "pwd").await;

    let out = yolo_plain(&env, &["revoke", &conv.id]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    assert_eq!(activation_state(&env, &conv.id).as_deref(), Some("revoked"));
    for server in [&s1, &s2] {
        tool_error(
            &execute(server, &conv, "a", "ls", json!({})).await,
            "yolo_not_active",
        );
        let with_token = json!({"approval_token": token});
        tool_error(
            &execute(server, &conv, "a", "pwd", with_token).await,
            "yolo_not_active",
        );
    }
    assert_eq!(proposal_state(&env, &pending), "denied");
    let transcript = approve_refused(&env, &pending).await;
    assert!(transcript.contains("already denied"), "{transcript}");
    // Nothing ran: no system message reached the partner.
    assert!(messages(&check(&s2, &conv, "b", json!({})).await).is_empty());
    // Revoking twice says there is nothing to revoke.
    let again = yolo_plain(&env, &["revoke", &conv.id]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let revokes: Vec<_> = audit_rows(&env, &conv.id)
        .into_iter()
        .filter(|r| r.0 == "yolo revoke")
        .map(|r| (r.1, r.2))
        .collect();
    assert_eq!(
        revokes,
        [
            ("ok".to_owned(), None),
            ("error".to_owned(), Some("not_found".to_owned()))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_a_denied_proposal_cannot_be_approved() {
    if crate::yolo_util::bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-deny");
    let s = env.server_with(&[YOLO_ON]).await;
    let ws = workspace(&env, "ws");
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "safe", &ws, json!({})).await;
    let proposal = propose(&s, &conv, "a", "ls -a").await;
    let out = yolo_plain(&env, &["deny", &proposal]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Denied {proposal}")));
    assert_eq!(proposal_state(&env, &proposal), "denied");
    let transcript = approve_refused(&env, &proposal).await;
    assert!(transcript.contains("already denied"), "{transcript}");
    // A second deny is refused too, and the status shows the decision.
    assert_eq!(
        yolo_plain(&env, &["deny", &proposal]).status.code(),
        Some(1)
    );
    let status = yolo_plain(&env, &["status", &conv.id, "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    assert_eq!(status["proposals"][0]["id"], proposal.as_str());
    assert_eq!(status["proposals"][0]["state"], "denied");
    assert_eq!(status["activations"][0]["state"], "active");
    let denies: Vec<_> = audit_rows(&env, &conv.id)
        .into_iter()
        .filter(|r| r.0 == "yolo deny")
        .map(|r| (r.1, r.3))
        .collect();
    assert_eq!(
        denies[0],
        ("ok".to_owned(), Some(format!("proposal={proposal}")))
    );
    assert_eq!(denies.len(), 2, "{denies:?}");
}
