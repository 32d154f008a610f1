//! Secrets in prose hard-wrapped at a fixed width, as `fold -w` or a
//! terminal copied out leaves them (cut anywhere, prose before and after on
//! the same lines), sent through two real `serve` processes: no run of 6
//! characters of a secret reaches the partner or the database files. And the
//! conversation's own session tokens written so a person still reads them
//! (a zero-width space or soft hyphen inside, fullwidth digits, wrapped over
//! two lines) are replaced like a `ghp_` token in the same forms.

use serde_json::json;

use super::assert_not_in_files;
use crate::util::*;
use crate::util_cli::NO_LIMITS;

/// Shortest run of a secret whose arrival counts as a leak.
const LEAK_RUN: usize = 6;

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `text` cut into lines of `width` characters, as `fold -w` does.
fn fold(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(width)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A run of `LEAK_RUN` characters of `secret` in `out`, read with its line
/// breaks gone (a wrapped piece is a piece all the same).
fn leaked(secret: &str, out: &str) -> Option<String> {
    let flat = out.replace('\n', "");
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(LEAK_RUN).find_map(|w| {
        let run: String = w.iter().collect();
        flat.contains(&run).then_some(run)
    })
}

/// Fresh fake tokens of kinds with a fixed and a variable length.
fn fresh_tokens() -> Vec<String> {
    vec![
        format!("ghp_{}", random_from(ALNUM, 36)),
        format!(
            "xoxb-{}-{}-{}",
            random_from("0123456789", 10),
            random_from("0123456789", 13),
            random_from(ALNUM, 24)
        ),
        format!(
            "AKIA{}",
            random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        format!("sk-ant-api03-{}AA", random_from(ALNUM, 93)),
        format!("npm_{}", random_from(ALNUM, 36)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fold_wrapped_tokens_in_prose_never_reach_the_partner() {
    let env = TestEnv::new("redaction_folded");
    let s1 = env.server_with(NO_LIMITS).await;
    let s2 = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s1).await;
    let mut failures = Vec::new();
    let mut secrets = Vec::new();
    let mut crossing = 0;
    for width in [40, 60, 80, 100] {
        for trailing in [true, false] {
            for (n, secret) in fresh_tokens().into_iter().enumerate() {
                // A different cut through each token: `cut` of its bytes
                // end a line, the rest starts the next.
                let said = " I pushed the fix with the deploy key ";
                let cut = 1 + (n * 7 + width) % (secret.len().min(width) - 1);
                let lead = "lorem ipsum dolor sit amet ".repeat(width / 9 + 1);
                let lead = &lead[..(2 * width - cut - said.len() % width) % width];
                let mut text = format!("{lead}{said}{secret}");
                if trailing {
                    text.push_str(" and then restarted the worker pool so the config is live");
                }
                let folded = fold(&text, width);
                if !folded.lines().any(|l| l.contains(&secret)) {
                    crossing += 1;
                }
                send(&s1, &conv, "a", &folded).await;
                let got = contents(&check(&s2, &conv, "b", json!({})).await)
                    .pop()
                    .expect("the message arrives");
                if let Some(run) = leaked(&secret, &got) {
                    failures.push(format!("width {width}: {run:?} in {got:?}"));
                }
                if trailing && !got.replace('\n', "").contains("the config is live") {
                    failures.push(format!("prose lost: {got:?}"));
                }
                secrets.push(secret);
            }
        }
    }
    assert_eq!(crossing, 40, "every token is cut by the wrap");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    s1.stop().await;
    s2.stop().await;
    assert_not_in_files(&env, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_hidden_or_wrapped_are_replaced() {
    let env = TestEnv::new("own_tokens_hidden");
    let s = env.server_with(NO_LIMITS).await;
    let conv = Conv::create(&s).await;
    let t = conv.b.clone();
    let wide: String = t
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c))
        .collect();
    let forms = [
        format!("{}\u{200B}{}", &t[..30], &t[30..]),
        format!("{}\u{00AD}{}", &t[..30], &t[30..]),
        wide,
        format!("{}\n{}", &t[..32], &t[32..]),
    ];
    for form in &forms {
        let sent = send(&s, &conv, "a", &format!("fyi {form} thanks")).await;
        assert_eq!(sent["redactions"]["bridge_session_token"], 1, "{sent}");
        let got = contents(&check(&s, &conv, "b", json!({})).await)
            .pop()
            .expect("the message arrives");
        assert_eq!(got, "fyi SESSION_TOKEN_REDACTED thanks");
    }
    s.stop().await;
    assert_not_in_files(&env, &[conv.a.clone(), conv.b.clone()]);
}
