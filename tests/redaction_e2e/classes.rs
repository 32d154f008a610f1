//! One end-to-end test per class of secret from issue 11: fresh samples go
//! through two real `serve` processes on one database (as a message, a
//! status note and `files_involved` paths), through `mcp-bridge redact
//! --jsonl`, and no run of 8 characters of any secret may come out or reach
//! the database files. Role names of `create_conversation` are redacted like
//! any other text.

use serde_json::{Value, json};

use super::assert_not_in_files;
use super::samples::{self, ClassSample};
use crate::util::*;
use crate::util_cli::{NO_LIMITS, cli, run_cmd};

/// Shortest run of a secret whose survival counts as a leak.
const LEAK_RUN: usize = 8;

/// The leaked part of any of `sample`'s secrets in `out`, if one survived.
fn leaked(sample: &ClassSample, out: &str) -> Option<String> {
    let mut baseline = sample.text.clone();
    for s in &sample.secrets {
        baseline = baseline.replace(s.as_str(), "\u{0}");
    }
    sample.secrets.iter().find_map(|s| {
        if out.contains(s.as_str()) {
            return Some(s.clone());
        }
        let chars: Vec<char> = s.chars().collect();
        chars.windows(LEAK_RUN).find_map(|w| {
            let run: String = w.iter().collect();
            (out.contains(&run) && !baseline.contains(&run)).then_some(run)
        })
    })
}

/// Runs every sample of `class` through servers, notes, paths and the CLI.
async fn class_end_to_end(class: &str) {
    let samples = samples::of(class);
    let env = TestEnv::new(&format!("redaction_{class}"));
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s1).await;
    let mut failures = Vec::new();
    let mut all_secrets = Vec::new();

    for sample in &samples {
        all_secrets.extend(sample.secrets.iter().cloned());
        let sent = send(&s1, &conv, "a", &sample.text).await;
        let got = contents(&check(&s2, &conv, "b", json!({})).await)
            .pop()
            .expect("the message arrives");
        if let Some(run) = leaked(sample, &got) {
            failures.push(format!("message leaked {run:?}: {got:?}"));
        }
        let counted: u64 = sent["redactions"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        if counted == 0 {
            failures.push(format!("no redaction counted for {:?}", sample.text));
        }
        if sample.text.chars().count() <= 500 {
            ok(&call(
                &s1,
                "update_my_status",
                conv.args("a", json!({"status": "working", "note": sample.text})),
            )
            .await);
            let status = ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
            let note = status["note"].as_str().unwrap_or_default();
            if let Some(run) = leaked(sample, note) {
                failures.push(format!("note leaked {run:?}: {note:?}"));
            }
        }
    }

    // Every sample as a path in one message's files_involved.
    let paths: Vec<&str> = samples.iter().map(|s| s.text.as_str()).collect();
    ok(&call(
        &s1,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": "see files", "files_involved": paths}),
        ),
    )
    .await);
    let got = messages(&check(&s2, &conv, "b", json!({})).await)[0]["files_involved"].clone();
    let got: Vec<String> = serde_json::from_value(got).expect("a list of paths");
    for (sample, path) in samples.iter().zip(&got) {
        if let Some(run) = leaked(sample, path) {
            failures.push(format!("path leaked {run:?}: {path:?}"));
        }
    }

    // The same engine as a filter.
    let input: String = samples
        .iter()
        .map(|s| json!({"text": s.text}).to_string() + "\n")
        .collect();
    let mut cmd = env.bridge();
    cmd.args(["redact", "--jsonl"]);
    let out = run_cmd(cmd, Some(input.as_bytes())).await.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), samples.len(), "{out}");
    for (sample, line) in samples.iter().zip(lines) {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        let text = v["text"].as_str().unwrap_or_default();
        if let Some(run) = leaked(sample, text) {
            failures.push(format!("redact --jsonl leaked {run:?}: {text:?}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{class}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    s1.stop().await;
    s2.stop().await;
    assert_not_in_files(&env, &all_secrets);
}

macro_rules! per_class {
    ($($class:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $class() {
                class_end_to_end(stringify!($class)).await;
            }
        )*
    };
}

per_class!(
    kubeconfig,
    putty,
    defaults,
    yaml_next_line,
    azure_sas,
    google_oauth,
    cli_flags,
    credential_files,
    json_urls,
    wrapped,
    cut_short,
    multi_word,
    evasion_invisible,
    evasion_lookalike,
    evasion_placeholder,
    split_and_encoded,
);

/// Role names are free text an agent picks, shown to its partner, in
/// `list` and `show`: a secret in one is redacted before it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_names_are_redacted_like_any_other_text() {
    let env = TestEnv::new("redaction_roles");
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let token = format!("ghp_{}", random_from(ALNUM, 36));
    let password = format!("Qz7{}", random_from(ALNUM, 13));
    let (role_a, role_b) = (
        format!("deploy bot {token}"),
        format!("db admin password {password}"),
    );
    let conv = Conv::create_with_roles(&s1, &role_a, &role_b).await;
    let invited_token = format!("ghp_{}", random_from(ALNUM, 36));
    let secrets = vec![token.clone(), password.clone(), invited_token.clone()];
    let clean = |what: &str, text: &str| {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{what} holds a secret: {text:?}"
            );
        }
    };

    let b_sees = ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
    let a_role = b_sees["partner_role"].as_str().expect("partner_role");
    clean("a's role", a_role);
    assert_eq!(a_role, "deploy bot GITHUB_TOKEN_REDACTED");
    let a_sees = ok(&call(&s1, "check_partner_status", conv.args("a", json!({}))).await);
    let b_role = a_sees["partner_role"].as_str().expect("partner_role");
    clean("b's role", b_role);
    assert!(
        b_role.starts_with("db admin password PASSWORD_RED"),
        "{b_role}"
    );

    send(&s1, &conv, "a", "hello").await;
    let inbox = messages(&check(&s2, &conv, "b", json!({})).await);
    clean(
        "from_role",
        inbox[0]["from_role"].as_str().unwrap_or_default(),
    );
    assert_eq!(inbox[0]["from_role"], a_role);

    let listed = cli(&env, &["list", "--json"]).await.ok();
    clean("list", &listed);
    let shown = cli(&env, &["show", &conv.id, "--json"]).await.ok();
    clean("show", &shown);
    assert!(shown.contains("GITHUB_TOKEN_REDACTED"), "{shown}");

    let audit = cli(&env, &["audit", &conv.id, "--json"]).await.ok();
    clean("audit", &audit);
    assert!(audit.contains("redactions=github_pat_classic:1"), "{audit}");

    // A role given in an invite is redacted the same way, before it is stored.
    let invited = ok(&call(
        &s1,
        "create_invite",
        json!({"role": format!("reviewer {invited_token}")}),
    )
    .await);
    let role_c = invited["role"].as_str().expect("role");
    clean("invited role", role_c);
    assert_eq!(role_c, "reviewer GITHUB_TOKEN_REDACTED");
    let s3 = env.server_with(NO_LIMITS).await;
    let joined = ok(&call(
        &s3,
        "join_conversation",
        json!({"invite_code": invited["invite_code"]}),
    )
    .await);
    assert_eq!(joined["role"], role_c);

    s1.stop().await;
    s2.stop().await;
    s3.stop().await;
    assert_not_in_files(&env, &secrets);
}
