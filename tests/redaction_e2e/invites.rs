//! Invite codes pasted in the other spellings `join_conversation` accepts
//! (lower case, no dashes, spaces between the groups): an observer of the
//! conversation reads placeholders and cannot join with anything it read,
//! while the code, as it was pasted, still lets in the one it was meant for.
//! Near misses (UUIDs, digests, digit groups) come through `redact --jsonl`
//! unchanged.

use serde_json::{Value, json};

use super::assert_not_in_files;
use crate::teams::{invite, join, say};
use crate::util::*;
use crate::util_cli::{NO_LIMITS, run_cmd};

/// The symbols `InviteCode::parse` reads from `text`: separators dropped,
/// upper case.
fn symbols(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_codes_in_any_spelling_are_redacted_and_useless_to_an_observer() {
    let env = TestEnv::new("redaction_invites");
    let owner = env.server_with(NO_LIMITS).await;
    let observer = env.server_with(NO_LIMITS).await;
    let guesser = env.server_with(NO_LIMITS).await;
    let member = env.server_with(NO_LIMITS).await;
    Conv::create(&owner).await;
    join(&observer, &invite(&owner, "auditor", "observer").await).await;

    // One seat per spelling: each code is single use.
    let mut codes = Vec::new();
    for role in ["qa1", "qa2", "qa3", "qa4"] {
        codes.push(invite(&owner, role, "member").await);
    }
    let lower = codes[0].to_lowercase();
    let undashed = codes[1].replace('-', "");
    let lower_undashed = codes[2].replace('-', "").to_lowercase();
    let spaced = codes[3].replace('-', " ");
    let text = format!(
        "invite code: {lower}\njoin with {undashed}\nredeem {lower_undashed} for docs\ncode {spaced} (valid 24 h)"
    );
    let sent = say(&owner, &text, json!({})).await;
    assert_eq!(sent["redactions"]["bridge_invite_code"], 4, "{sent}");

    let seen = ok(&call(&observer, "check_messages", json!({})).await);
    let seen = contents(&seen)
        .pop()
        .expect("the observer gets the message");
    assert_eq!(
        seen,
        "invite code: INVITE_CODE_REDACTED\njoin with INVITE_CODE_REDACTED\nredeem INVITE_CODE_REDACTED for docs\ncode INVITE_CODE_REDACTED (valid 24 h)"
    );
    let read = symbols(&seen);
    for code in &codes {
        assert!(
            !read.contains(&symbols(code)),
            "{code} readable in {seen:?}"
        );
    }
    // Whatever long word the observer read where a code stood is refused
    // (by the schema, or as an invalid invite).
    let tried: Vec<&str> = seen.split_whitespace().filter(|w| w.len() >= 16).collect();
    assert_eq!(tried.len(), 4, "{seen:?}");
    for word in tried {
        match try_call(&guesser, "join_conversation", json!({"invite_code": word})).await {
            Err(e) => assert!(e.to_string().contains("invite_code"), "{e}"),
            Ok(r) => {
                tool_error(&r, "invite_invalid");
            }
        }
    }
    // The pasted spelling itself was a live code all along.
    let joined = join(&member, &lower).await;
    assert_eq!(joined["role"], "qa1", "{joined}");

    // The same engine as a filter: the spellings go, near misses stay.
    let near_misses = [
        "invite code fix: 9fceb02d0ae598e95dc970b74767f19372d61af8 (span 9fceb02d0ae598e9)",
        "invite id 550e8400-e29b-41d4-a716-446655440000",
        "code 1234-5678-9012-3456 is the sample card number",
        "join the team: abcdefghjkmnpqrs is a 16-letter run",
        "join team 2025 next week",
        "7kq2-m9xd-4htp-0r3c in lower case is how users type it",
    ];
    let positives = [
        (format!("invite code: {lower}"), &codes[0]),
        (format!("join with {undashed}"), &codes[1]),
        (format!("code {spaced}"), &codes[3]),
        (format!("--invite-code={}", codes[3]), &codes[3]),
    ];
    let input: String = positives
        .iter()
        .map(|(t, _)| t.as_str())
        .chain(near_misses)
        .map(|t| json!({"text": t}).to_string() + "\n")
        .collect();
    let mut cmd = env.bridge();
    cmd.args(["redact", "--jsonl"]);
    let out = run_cmd(cmd, Some(input.as_bytes())).await.ok();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), positives.len() + near_misses.len(), "{out}");
    for ((given, code), line) in positives.iter().zip(&lines) {
        let got = line["text"].as_str().unwrap_or_default();
        assert!(
            got.ends_with("INVITE_CODE_REDACTED"),
            "{given:?} -> {got:?}"
        );
        assert!(!symbols(got).contains(&symbols(code)[..8]), "{got:?}");
    }
    for (given, line) in near_misses.iter().zip(&lines[positives.len()..]) {
        assert_eq!(line["text"], *given, "a near miss was changed");
    }

    for s in [owner, observer, guesser, member] {
        s.stop().await;
    }
    let spellings: Vec<String> = codes
        .iter()
        .flat_map(|c| [c.clone(), c.to_lowercase(), c.replace('-', "")])
        .collect();
    assert_not_in_files(&env, &spellings);
}
