//! Teams over HTTP: many clients share one server process, so the
//! per-process bound on invite guessing counts each bearer token apart — one
//! client guessing codes cannot lock the others out of joining through the
//! same server — while the database's bound still holds them all.

use serde_json::json;

use crate::teams::{invite, join};
use crate::util::*;
use crate::util_http::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tokens_guessing_does_not_lock_other_tokens_out_of_joining() {
    let env = TestEnv::new("teams_http_guessing");
    let guesser_token = make_token(&env, "guesser", "agent");
    let honest_token = make_token(&env, "honest", "agent");
    let server = HttpServer::start(&env, &[], &[]).await;
    let owner = server.client(Some(&honest_token)).await;
    let guesser = server.client(Some(&guesser_token)).await;
    let honest = server.client(Some(&honest_token)).await;
    Conv::create(owner.peer()).await;
    let code = invite(owner.peer(), "qa", "member").await;

    for i in 0..10 {
        let guess = format!("{i:04}-0000-0000-0000");
        tool_error(
            &call(
                guesser.peer(),
                "join_conversation",
                json!({"invite_code": guess}),
            )
            .await,
            "invite_invalid",
        );
    }
    // The guesser is held back, even with a valid code, and told why.
    let limited = call(
        guesser.peer(),
        "join_conversation",
        json!({"invite_code": code}),
    )
    .await;
    let limited = tool_error(&limited, "rate_limited");
    let text = limited.to_string();
    assert!(
        text.contains("wrong invite codes from this client"),
        "{limited}"
    );
    // Another token through the same process is not, and the code still works.
    assert_eq!(join(honest.peer(), &code).await["session_id"], "c");
    // The refused guess never reached the invites.
    assert_eq!(
        env.count("SELECT count(*) FROM invites WHERE used_at IS NOT NULL"),
        1
    );
}
