//! Round 12: an independent red-team corpus. Text carried inside a JSON
//! string (tool results, `write_file` arguments) has its line breaks and
//! tabs as `\n` / `\t` escapes: a token right after one had no word
//! boundary, a keyword at a line's end took the escape's backslash for a
//! separator and the next line for its value (and split the escape, so the
//! JSON no longer parsed); and a command window ending on an escaped quote
//! panicked. Values with a lone `<` or `>` were taken for `<placeholder>`s,
//! `curl -u user:'pw'` kept its quoted password, and an unquoted `.env` or
//! YAML value was cut at a `,` or `;`. A qualifier in parentheses between
//! a password's name and its colon, and `passcode`, were not read.

use super::{all_kept, all_redacted, redacted};

/// Output that must still parse as JSON, with the secret gone.
fn json_redacted(cases: &[(&str, &str)]) {
    all_redacted(cases);
    for (text, _) in cases {
        let out = redacted(text);
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "no longer JSON: {out:?}"
        );
    }
}

#[test]
fn a_token_after_an_escaped_line_break() {
    json_redacted(&[
        (
            r#"{"type": "tool_result", "content": "$ gh auth token\ngho_Vt3kR8pQz1mW6yLc9XhJ2dN5sF0aB7eG4uTq"}"#,
            "gho_Vt3kR8pQz1mW6yLc9XhJ2dN5sF0aB7eG4uTq",
        ),
        (
            r#"{"stdout": "Webhook created:\nhttps://hooks.slack.com/services/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"}"#,
            "pQ7sVd2KfL9xWm4RzT8cYbN3",
        ),
        (
            r#"{"content": "$ aws sts get-session-token --output text\nCREDENTIALS\tASIAQ7RZ2MVKXHP4LD9T\t2024-07-01T12:00:00Z\tRq8vT2mLx9KpZ4wN7cYj3HdF6sBgA1eUoWi5Xk0P"}"#,
            "ASIAQ7RZ2MVKXHP4LD9T",
        ),
        (
            r#"{"content": "key\nAKIAQ4WNZT7RXKVM2PLD"}"#,
            "AKIAQ4WNZT7RXKVM2PLD",
        ),
        (
            r#"{"content": "| variable | value |\n|---|---|\n| ELASTIC_PASSWORD | `Tq7Lm2Vx9Rk4Wz8NcP3y` |"}"#,
            "Tq7Lm2Vx9Rk4Wz8NcP3y",
        ),
    ]);
}

#[test]
fn a_keyword_at_an_escaped_line_end_takes_no_value() {
    all_kept(&[
        r#"{"type": "tool_result", "content": "$ grep -c api_key\nsrc/settings/providerConfigLoader3.py:4"}"#,
        r###"{"type": "tool_result", "content": "## Token\nTokenizerFastV3 handles the byte-level BPE."}"###,
        r#"{"type": "tool_result", "content": "Reset password\nPasswordResetController9#create"}"#,
        r#"{"content": "secret\ttab-separated header\tcolumn"}"#,
        // An escaped backslash and a letter: a Windows path, not a line break.
        r#"{"path": "C:\\new\\tokens\\notes.txt"}"#,
        "plain text with a literal \\n in it",
    ]);
}

#[test]
fn a_replacement_never_splits_an_escape() {
    json_redacted(&[
        (
            r#"{"content": "export DB_PASSWORD=\"Wq8zL3vN7tK2pR9x\"\nexport DB_HOST=db"}"#,
            "Wq8zL3vN7tK2pR9x",
        ),
        (
            r#"{"cmd": "ConvertTo-SecureString \"Hx4mQ9vT2wLk7Rz\" -AsPlainText -Force"}"#,
            "Hx4mQ9vT2wLk7Rz",
        ),
    ]);
}

#[test]
fn a_command_window_ending_on_an_escaped_quote_does_not_panic() {
    // Only that it returns: the quote opens past the end of the window.
    for n in 0..40 {
        let text = format!("{}(&[\\\"ConvertTo-SecureString\\\"", " ".repeat(n));
        let _ = redacted(&text);
    }
}

#[test]
fn a_lone_angle_bracket_is_part_of_a_password() {
    all_redacted(&[
        ("DB_PASSWORD=\"7}KQv!@TmpWe<!9d\"", "7}KQv!@TmpWe<!9d"),
        (
            "$ PGPASSWORD='w3kR#?pLqTzM8vN2xYcb~h5%>' psql -h db -U app",
            "w3kR#?pLqTzM8vN2xYcb~h5%>",
        ),
        (
            "spring:\n  datasource:\n    password: rx^HLqW82>TbN-w4P7kZ",
            "rx^HLqW82>TbN-w4P7kZ",
        ),
        (
            "define( 'AUTH_KEY',         'q9)Wm,~vT3<hKpd4&*nb[}rz(Lx7=V{2YC[F<T@Z{BMaEkn5/}?8]XGwRL(j' );",
            "q9)Wm,~vT3<hKpd4&*nb[}rz(Lx7=V{2YC[F<T@Z{BMaEkn5/}?8]XGwRL(j",
        ),
    ]);
    all_kept(&[
        "DB_PASSWORD=\"<your-password>\"",
        "password: <db password>",
        "api_key: \"<API_KEY>\"",
        "password: \"<%= ENV['DB_PASSWORD'] %>\"",
        "//! (`os.environ.get(\"DB_PASSWORD\")`, `cfg->api_key`), and more",
        "where `>pw` adds a password (`ACL SETUSER app on >pw ~keys:*`); and",
    ]);
}

#[test]
fn curl_user_with_a_quoted_password() {
    all_redacted(&[
        (
            "$ curl -u deploy:'Pv7sKq2WmZt9xLr4N' https://api.acme.io/v1/status",
            "Pv7sKq2WmZt9xLr4N",
        ),
        (
            "$ curl -u ci:\"hB4wX8qanZeLf3R7tyUmKs*D\" https://ci.acme.io/job",
            "hB4wX8qanZeLf3R7tyUmKs*D",
        ),
    ]);
    json_redacted(&[(
        r#"{"body": "$ curl -u admin:\"mq7H^vTz2W-kLr9x\" https://x.acme.io/api"}"#,
        "mq7H^vTz2W-kLr9x",
    )]);
    all_kept(&[
        "$ curl -u deploy:'$PASSWORD' https://api.acme.io/v1/status",
        "$ curl -u admin:'<password>' https://api.acme.io/",
    ]);
}

#[test]
fn a_config_value_runs_past_a_comma_or_semicolon() {
    all_redacted(&[
        (
            "DB_PASSWORD=w*+](+4[T,kP7zqLbv\nDB_HOST=db.internal",
            ",kP7zqLbv",
        ),
        (
            "redis:\n  password: Rk4;wN8pTz2VyXq6LhMd37",
            ";wN8pTz2VyXq6LhMd37",
        ),
    ]);
    // In code a comma or semicolon followed by a space or the line's end
    // closes the value; what follows is kept.
    for (text, kept) in [
        ("connect(password=Vt8qLm2xKz, user=admin)", ", user=admin)"),
        (
            "  password: Vt8qLm2xKz4R,\n  user: admin",
            ",\n  user: admin",
        ),
        (
            "PASSWORD=Vt8qLm2xKz4R; export PASSWORD",
            "; export PASSWORD",
        ),
    ] {
        let out = redacted(text);
        assert!(out.ends_with(kept), "{kept:?} lost in {out:?}");
        assert!(!out.contains("Vt8qLm2xKz"), "leaked in {out:?}");
    }
}

#[test]
fn an_escaped_quote_closes_a_pair_password() {
    all_kept(&[r#"{"c": "sample(format!(\"login: admin / password: {word}\"), &[&word]),\n"}"#]);
}

#[test]
fn a_qualifier_before_the_colon_and_passcode() {
    all_redacted(&[
        (
            "password (prod): Lq8vT3zWm2Kx9RpN4yHd",
            "Lq8vT3zWm2Kx9RpN4yHd",
        ),
        (
            "**Password (staging DB):** `Lq8vT3zWm2Kx9RpN4yHd`",
            "Lq8vT3zWm2Kx9RpN4yHd",
        ),
        (
            "the passcode is Lq8vT3zWm2Kx9RpN4yHd",
            "Lq8vT3zWm2Kx9RpN4yHd",
        ),
    ]);
    all_kept(&[
        "def password(self): return self._pw",
        "password (optional): string",
        "token (str): The access token.",
        "api_key (required): str",
        "Password (see vault): <redacted>",
        "passcode: 482913",
    ]);
}

#[test]
fn redis_two_argument_auth() {
    all_redacted(&[
        (
            "127.0.0.1:6379> AUTH default Rw7kT2qLx9VmZ4pN8yHc\nOK",
            "Rw7kT2qLx9VmZ4pN8yHc",
        ),
        (
            "cache.acme.io:6380> AUTH app hQ4-vX8z%2eWk+LmT7pR3s",
            "hQ4-vX8z%2eWk+LmT7pR3s",
        ),
    ]);
    all_kept(&[
        "127.0.0.1:6379> AUTH default",
        "127.0.0.1:6379> AUTH app $REDIS_PASSWORD",
        "echo done > auth default.txt",
    ]);
}

#[test]
fn context_on_other_lines_of_an_escaped_file() {
    json_redacted(&[
        (
            r#"{"content": "variable \"dd_app_key\" {\n  type    = string\n  default = \"7c41d9e2b08fa3356e91c24d0b7fa8e15c63d2a9\"\n}"}"#,
            "7c41d9e2b08fa3356e91c24d0b7fa8e15c63d2a9",
        ),
        (
            r#"{"content": "[\n  {\n    \"keyName\": \"key1\",\n    \"permissions\": \"FULL\",\n    \"value\": \"Qm3vT8zLp2Wk9Rx4Nc7Hy1Bd6Fs0Gj5Ea2Ku8Oi3Mn7Lq4Pt9Vw1Xy6Zb3Cd8Ef0Gh2Ij5Kl==\"\n  }\n]"}"#,
            "Qm3vT8zLp2Wk9Rx4Nc7Hy1Bd6Fs0Gj5Ea2Ku8Oi3Mn7Lq4Pt9Vw1Xy6Zb3Cd8Ef0Gh2Ij5Kl==",
        ),
    ]);
    all_kept(&[
        r#"{"content": "variable \"region\" {\n  type    = string\n  default = \"us-east-1-prod-cluster\"\n}"}"#,
        r#"{"content": "[{\"keyName\": \"key1\", \"value\": \"<storage-key>\"}]"}"#,
    ]);
}
