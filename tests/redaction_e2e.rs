//! Redaction through real server processes: every seed kind is replaced by its
//! placeholder in messages, notes and file paths, counted per kind, and no
//! byte of any secret reaches the database files. [`classes`] does the same
//! for each class of issue 11 (and for role names), with samples from
//! [`samples`]; [`invites`] for this bridge's invite codes in every spelling
//! `join_conversation` accepts; [`folded`] for tokens a fixed-width wrap cut
//! and session tokens written to hide them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::util::*;

mod classes;
mod folded;
mod invites;
mod samples;

/// One planted secret: the text around it, the parts that must vanish, the
/// placeholder that must appear, and a word its kind name contains.
pub struct Sample {
    pub text: String,
    pub secrets: Vec<String>,
    pub placeholder: &'static str,
    pub kind_hint: &'static str,
}

/// Fresh random secrets of the seed's seven kinds (random, so no engine's
/// list of documented example keys lets them through).
pub fn samples() -> Vec<Sample> {
    // No `X`: `AKIA…XXXX…` reads as a documentation placeholder.
    let base32 = "ABCDEFGHIJKLMNOPQRSTUVWYZ234567";
    let base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let aws = format!("AKIA{}", random_from(base32, 16));
    let pem_lines: Vec<String> = (0..4).map(|_| random_from(base64, 64)).collect();
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        pem_lines.join("\n")
    );
    let bearer = random_from(ALNUM, 40);
    let api_key = random_from(ALNUM, 32);
    let password = format!("Zq{}", random_from(ALNUM, 14));
    let github = format!("ghp_{}", random_from(ALNUM, 36));
    let openai = format!(
        "sk-proj-{}T3BlbkFJ{}",
        random_from(ALNUM, 24),
        random_from(ALNUM, 24)
    );
    vec![
        Sample {
            text: format!("staging key {aws} for the deploy"),
            secrets: vec![aws],
            placeholder: "AWS_KEY_REDACTED",
            kind_hint: "aws",
        },
        Sample {
            text: format!("the key:\n{pem}\nuse it wisely"),
            secrets: pem_lines,
            placeholder: "PRIVATE_KEY_REDACTED",
            kind_hint: "private_key",
        },
        Sample {
            text: format!("curl -H 'Authorization: Bearer {bearer}' https://api.example.com/v1"),
            secrets: vec![bearer],
            placeholder: "BEARER_TOKEN_REDACTED",
            kind_hint: "bearer",
        },
        Sample {
            text: format!("set api_key={api_key} in .env"),
            secrets: vec![api_key],
            placeholder: "API_KEY_REDACTED",
            kind_hint: "api_key",
        },
        Sample {
            text: format!("db login with password: {password} today"),
            secrets: vec![password],
            placeholder: "PASSWORD_REDACTED",
            kind_hint: "password",
        },
        Sample {
            text: "the admin Password is: hunter2 (do not share)".into(),
            secrets: vec!["hunter2".into()],
            placeholder: "PASSWORD_REDACTED",
            kind_hint: "password",
        },
        Sample {
            text: format!("push with {github} please"),
            secrets: vec![github],
            placeholder: "GITHUB_TOKEN_REDACTED",
            kind_hint: "github",
        },
        Sample {
            text: format!("OPENAI key {openai} for evals"),
            secrets: vec![openai],
            placeholder: "OPENAI_KEY_REDACTED",
            kind_hint: "openai",
        },
    ]
}

fn total(redactions: &Value) -> u64 {
    redactions
        .as_object()
        .unwrap_or_else(|| panic!("redactions is not an object: {redactions}"))
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what}: the secret {secret:?} survived in {text:?}"
        );
    }
}

/// Asserts that none of `secrets` occurs in the raw bytes of the database
/// files. Stored texts are sealed (encryption at rest), so the redacted
/// placeholders cannot be looked for in the bytes; that these are the files
/// holding the conversations is checked through SQL instead.
fn assert_not_in_files(env: &TestEnv, secrets: &[String]) {
    let files = env.raw_db_bytes();
    assert!(
        env.count("SELECT count(*) FROM conversations") > 0,
        "the database holds no conversation: is this the right file?"
    );
    for (path, bytes) in &files {
        for secret in secrets {
            let needle = secret.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds the secret {secret:?}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_kind_is_redacted_in_messages_notes_and_paths() {
    let env = TestEnv::new("redaction");
    let s1 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let s2 = env.server_with(&[("MCP_BRIDGE_RATE_LIMITS", "off")]).await;
    let conv = Conv::create(&s1).await;
    let samples = samples();
    let mut all_secrets = Vec::new();
    let mut failures = Vec::new();

    for sample in &samples {
        all_secrets.extend(sample.secrets.iter().cloned());
        let sent = send(&s1, &conv, "a", &sample.text).await;
        let inbox = check(&s2, &conv, "b", json!({})).await;
        let content = contents(&inbox).pop().expect("one message");
        let leaked = sample.secrets.iter().any(|s| content.contains(s.as_str()));
        let kinds: Vec<&String> = sent["redactions"].as_object().unwrap().keys().collect();
        if leaked || !content.contains(sample.placeholder) {
            failures.push(format!("{:?} arrived as {content:?}", sample.text));
            continue;
        }
        if total(&sent["redactions"]) != 1
            || kinds.len() != 1
            || !kinds[0].contains(sample.kind_hint)
        {
            failures.push(format!(
                "{:?}: expected one {}* redaction, got {}",
                sample.text, sample.kind_hint, sent["redactions"]
            ));
        }
        // The text around the secret is kept.
        let first_word = sample.text.split_whitespace().next().unwrap();
        assert!(
            content.starts_with(first_word),
            "{content:?} lost its beginning"
        );
    }
    assert!(
        failures.is_empty(),
        "redaction failures:\n{}",
        failures.join("\n")
    );

    // All kinds in one message, several of one kind: counts per kind.
    let together: String = samples
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let sent = send(&s2, &conv, "b", &together).await;
    let counts: BTreeMap<String, u64> = serde_json::from_value(sent["redactions"].clone()).unwrap();
    assert_eq!(
        counts.values().sum::<u64>(),
        samples.len() as u64,
        "{counts:?}"
    );
    for hint in [
        "aws",
        "private_key",
        "bearer",
        "api_key",
        "github",
        "openai",
    ] {
        assert_eq!(
            counts
                .iter()
                .filter(|(k, _)| k.contains(hint))
                .map(|(_, n)| n)
                .sum::<u64>(),
            1,
            "{hint} in {counts:?}"
        );
    }
    assert_eq!(
        counts
            .iter()
            .filter(|(k, _)| k.contains("password"))
            .map(|(_, n)| n)
            .sum::<u64>(),
        2,
        "{counts:?}"
    );
    let aws_twice = format!(
        "{} and {}",
        samples[0].text,
        samples[0].text.replace(
            &samples[0].secrets[0],
            &format!(
                "AKIA{}",
                random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            )
        )
    );
    let twice = send(&s1, &conv, "a", &aws_twice).await;
    assert_eq!(total(&twice["redactions"]), 2);
    assert_eq!(
        twice["redactions"].as_object().unwrap().len(),
        1,
        "{}",
        twice["redactions"]
    );
    let received = check(&s1, &conv, "a", json!({})).await;
    let content = &contents(&received)[0];
    assert_clean("combined message", content, &all_secrets);
    for s in &samples {
        assert!(
            content.contains(s.placeholder),
            "{} missing from the combined message",
            s.placeholder
        );
    }
    check(&s2, &conv, "b", json!({})).await;

    // Notes.
    let note = format!("{} / {}", samples[4].text, samples[0].text);
    ok(&call(
        &s1,
        "update_my_status",
        conv.args("a", json!({"status": "working", "note": note})),
    )
    .await);
    let status = ok(&call(&s2, "check_partner_status", conv.args("b", json!({}))).await);
    let shown = status["note"].as_str().unwrap();
    assert_clean("note", shown, &all_secrets);
    assert!(
        shown.contains("PASSWORD_REDACTED") && shown.contains("AWS_KEY_REDACTED"),
        "{shown}"
    );

    // Paths in files_involved.
    let (aws, api_key) = (&samples[0].secrets[0], &samples[3].secrets[0]);
    let files = json!([
        format!("deploy/{aws}/creds.txt"),
        format!("https://api.example.com/x?api_key={api_key}"),
        "src/plain.rs"
    ]);
    let sent = ok(&call(
        &s1,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": "see files", "files_involved": files}),
        ),
    )
    .await);
    assert_eq!(total(&sent["redactions"]), 2, "{}", sent["redactions"]);
    let got = messages(&check(&s2, &conv, "b", json!({})).await)[0]["files_involved"].clone();
    let got: Vec<String> = serde_json::from_value(got).unwrap();
    assert_eq!(got.len(), 3);
    assert_clean("files_involved", &got.join("\n"), &all_secrets);
    assert!(
        got[0].contains("AWS_KEY_REDACTED") && got[1].contains("API_KEY_REDACTED"),
        "{got:?}"
    );
    assert_eq!(got[2], "src/plain.rs");

    // No byte of any secret in the database or its WAL, while running and after a checkpoint.
    assert_not_in_files(&env, &all_secrets);
    s1.stop().await;
    s2.stop().await;
    assert_not_in_files(&env, &all_secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversations_own_session_tokens_never_reach_the_partner_or_the_human() {
    let env = TestEnv::new("own_tokens");
    let s = env.server().await;
    let conv = Conv::create(&s).await;
    // The shape of every SHA-256 digest: only this conversation's tokens go.
    let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let message = format!(
        "here is b's token {}, mine is ({}); the tarball's sha256 is {digest}",
        conv.b, conv.a
    );
    let sent = ok(&call(
        &s,
        "send_to_partner",
        conv.args(
            "a",
            json!({"message": message, "files_involved": [format!("tokens/{}.txt", conv.b)]}),
        ),
    )
    .await);
    assert_eq!(sent["redactions"]["bridge_session_token"], 3, "{sent}");
    ok(&call(
        &s,
        "update_my_status",
        conv.args(
            "a",
            json!({"status": "waiting", "note": format!("b: use {}", conv.b)}),
        ),
    )
    .await);
    let got = check(&s, &conv, "b", json!({})).await;
    let m = &got["messages"][0];
    assert_eq!(
        m["content"],
        format!(
            "here is b's token SESSION_TOKEN_REDACTED, mine is (SESSION_TOKEN_REDACTED); the tarball's sha256 is {digest}"
        )
    );
    assert_eq!(
        m["files_involved"],
        json!(["tokens/SESSION_TOKEN_REDACTED.txt"])
    );
    let status = ok(&call(&s, "check_partner_status", conv.args("b", json!({}))).await);
    assert_eq!(status["note"], "b: use SESSION_TOKEN_REDACTED", "{status}");
    // A role given to an invite is shown to whoever joins (and to everyone
    // after): b's token there handed b's seat to an observer (red team).
    let invited = ok(&call(
        &s,
        "create_invite",
        conv.args("a", json!({"role": conv.b, "as": "observer"})),
    )
    .await);
    assert_eq!(invited["role"], "SESSION_TOKEN_REDACTED", "{invited}");
    let secrets = [conv.a.clone(), conv.b.clone()];
    let shown = crate::util_cli::cli(&env, &["show", &conv.id, "--full"])
        .await
        .ok();
    assert_clean("show", &shown, &secrets);
    s.stop().await;
    assert_not_in_files(&env, &secrets);
}
