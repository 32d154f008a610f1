//! Round 13: credential shapes outside the first kind table that agents do
//! paste (Teams incoming webhooks, private JWK members, WireGuard preshared
//! keys), a subcommand such as `sync` before a token flag, a password on
//! the line under a bare `Password:` label, values glued to CJK prose,
//! JSON that travels percent-encoded or HTML-escaped, and two false
//! positives (PEM armour around a placeholder, a CRLF Markdown table).

use super::{all_kept, all_redacted, redacted};

/// Each `(text, secret, kept)`: the secret goes, every `kept` part stays.
fn redacted_keeping(cases: &[(&str, &str, &[&str])]) {
    for (text, secret, kept) in cases {
        let out = redacted(text);
        assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
        for k in *kept {
            assert!(out.contains(k), "{k:?} lost in {out:?}");
        }
        assert_eq!(redacted(&out), out, "not idempotent: {out:?}");
    }
}

#[test]
fn teams_incoming_webhooks() {
    all_redacted(&[
        (
            "TEAMS_WEBHOOK_URL=https://acme.webhook.office.com/webhookb2/882ac06e-1dbe-46ca-a56f-92a4dddf30e5@00ee544e-9e1d-452b-bf4f-3ad44039d771/IncomingWebhook/6dfbf7133d0ae37956f0dfb5d3ae29e9/c1838c3e-a4b3-4926-bd4a-f68a9acfb2b9/V2co3hwXHrYJGiCKwZv3k5LA1YeABqUb2E9Zeqbysj",
            "6dfbf7133d0ae37956f0dfb5d3ae29e9",
        ),
        (
            "curl -H 'Content-Type: application/json' -d '{\"text\":\"deploy ok\"}' https://initech.webhook.office.com/webhookb2/10c5fe97-6336-41d6-9dd2-50f515b5fb21@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/a3d9f1c27b8e4065b2c1d0e9f8a7b6c5/4e1b2c3d-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
            "a3d9f1c27b8e4065b2c1d0e9f8a7b6c5",
        ),
        (
            "{\"webhook\": \"https:\\/\\/acme.webhook.office.com\\/webhookb2\\/882ac06e-1dbe-46ca-a56f-92a4dddf30e5@00ee544e-9e1d-452b-bf4f-3ad44039d771\\/IncomingWebhook\\/6dfbf7133d0ae37956f0dfb5d3ae29e9\\/c1838c3e-a4b3-4926-bd4a-f68a9acfb2b9\"}",
            "6dfbf7133d0ae37956f0dfb5d3ae29e9",
        ),
    ]);
}

#[test]
fn private_jwk_members() {
    let public: &[&str] = &[
        "CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk",
        "FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e",
    ];
    redacted_keeping(&[
        (
            r#"{"kty":"EC","crv":"P-256","x":"CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk","y":"FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e","d":"cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD"}"#,
            "cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD",
            public,
        ),
        // `d` before `kty`, pretty-printed.
        (
            "{\n  \"d\": \"cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD\",\n  \"kty\": \"EC\",\n  \"x\": \"CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk\",\n  \"y\": \"FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e\"\n}",
            "cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD",
            public,
        ),
        (
            r#"JWT_PRIVATE_JWK='{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUgq9LmTz3Rw"}'"#,
            "GawgguFyGrWKav7AX4VKUgq9LmTz3Rw",
            &["JWT_PRIVATE_JWK='{\"kty\":\"oct\",\"k\":\""],
        ),
        (
            r#"{"env": "JWT_PRIVATE_JWK={\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk\",\"d\":\"cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD\"}"}"#,
            "cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD",
            &["CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk"],
        ),
        (
            r#"{"keys": [{"kty": "RSA", "kid": "k1", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", "e": "AQAB", "d": "X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q", "p": "83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQyLPQBQxtPVnwD20R-60eTDmD2ujnMt5PoqMrm8RfmNhVWDtjjMmCMjOpSXicFHj7XOuVIYQyqVWlWEh6dN36GVZYk93N8Bc9vY41xy8B9RzzOGVQzXvNEvn7O0nVbfs"}]}"#,
            "X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH",
            &[
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
                "\"e\": \"AQAB\"",
            ],
        ),
    ]);
    all_kept(&[
        r#"{"kty":"EC","crv":"P-256","x":"CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk","y":"FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e"}"#,
        r#"{"kty":"EC","d":"<private scalar, base64url>"}"#,
        // A `d` outside any JWK is nobody's key.
        r#"{"d":"cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD"}"#,
    ]);
}

#[test]
fn wireguard_preshared_keys() {
    redacted_keeping(&[(
        "[Peer]\nPublicKey = fKcU24u5fNMrWdsgM5YXILrZsB+pgOH0hbbnTh8aiy0=\nPresharedKey = jTNcPBt84NnWtfOYa87mVObvaV2sIeRCTzLdclVc/7s=\nEndpoint = vpn.acme.io:51820",
        "jTNcPBt84NnWtfOYa87mVObvaV2sIeRCTzLdclVc/7s=",
        &["PublicKey = fKcU24u5fNMrWdsgM5YXILrZsB+pgOH0hbbnTh8aiy0="],
    )]);
}

#[test]
fn a_subcommand_before_a_token_flag() {
    all_redacted(&[
        (
            "$ relay-cli sync --token mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
            "mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
        ),
        (
            "$ ./bin/sync --api-key=mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
            "mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
        ),
        (
            "$ tool sync TOKEN=mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
            "mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
        ),
        (
            "rclone sync ./out remote:bucket --access-token=Qm8vL3pRt7WzNq5YhGk29xT4",
            "Qm8vL3pRt7WzNq5YhGk29xT4",
        ),
    ]);
    // The pagination token a sync API returns is still not a credential.
    all_kept(&[
        "nextSyncToken: CPDAlvWDx70CEPDAlvWDx70CGAU=",
        "sync token: 4",
    ]);
}

#[test]
fn a_value_alone_under_a_lone_label() {
    all_redacted(&[
        (
            "Username: admin\nPassword:\nXk29fjQmv8Lp3Rt7WzNq5YhG",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
        ),
        ("**Password:**\nXk9#pQ2!mZ7w\n", "Xk9#pQ2!mZ7w"),
        (
            "Admin password:\r\n\r\nq7R!x2Lm#9Vb\r\nThanks",
            "q7R!x2Lm#9Vb",
        ),
        (
            "passphrase\nXk29fjQmv8Lp3Rt7WzNq5YhG",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
        ),
        (
            r#"{"content": "Your API token:\nmZuK4j8kaoGYDCsygrdI7QyfrTKia4R0\nKeep it safe."}"#,
            "mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
        ),
    ]);
    all_kept(&[
        "Reset password\nPasswordResetController9#create",
        "Password:\nPasswordResetController9#create",
        "Password:\nchange it on first login",
        "Password:\n<your password>",
        "## Token\nTokenizerFastV3 handles the byte-level BPE.",
        "Password:\n********",
        "the password:\nhunter2",
    ]);
}

#[test]
fn a_value_glued_to_cjk_prose() {
    redacted_keeping(&[
        ("密码是Xk9#pQ2!mZ", "Xk9#pQ2!mZ", &["密码是"]),
        ("パスワード:Xk9#pQ2!mZ", "Xk9#pQ2!mZ", &["パスワード"]),
        (
            "token为ghp_Q7nLmK2pX9vR4tY8wZ3cB6dF1hJ5sA0eG2iT，请保管好",
            "Q7nLmK2pX9vR4tY8wZ3cB6dF1hJ5sA0eG2iT",
            &["token为", "请保管好"],
        ),
        (
            "数据库密码是 2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatx，请勿外传。",
            "2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatx",
            &["，请勿外传。"],
        ),
        (
            "パスワード：2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatxです",
            "2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatx",
            &["です"],
        ),
        (
            "PAGERDUTY_API_KEY 的密钥是 2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatx，请勿外传。",
            "2Bsp1Byzk7MURwUAu6jF5nYKVvocfnokOgvjfatx",
            &["请勿外传"],
        ),
        (
            "password: Xk29fjQmv8Lp3Rt7WzNq5YhG，谢谢",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            &["，谢谢"],
        ),
    ]);
}

#[test]
fn json_percent_encoded_or_html_escaped() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "password%22%3A%22Xk29fjQmv8Lp3Rt7WzNq5YhG%22",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            &["password%22%3A%22", "%22"],
        ),
        (
            "GET /save?data=%7B%22password%22%3A%22Xk29fjQmv8Lp3Rt7WzNq5YhG%22%7D HTTP/1.1",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            &["%7B%22password%22%3A%22", "%22%7D HTTP/1.1"],
        ),
        (
            "body=%7B%22token%22%3A%20%22mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0%22%2C%22user%22%3A%22bob%22%7D",
            "mZuK4j8kaoGYDCsygrdI7QyfrTKia4R0",
            &["%22%2C%22user%22%3A%22bob%22%7D"],
        ),
        (
            "<pre>{&quot;password&quot;: &quot;Xk29fjQmv8Lp3Rt7WzNq5YhG&quot;}</pre>",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            &["{&quot;password&quot;: &quot;", "&quot;}</pre>"],
        ),
        (
            r#"{\\\"password\\\": \\\"Xk29fjQmv8Lp3Rt7WzNq5YhG\\\"}"#,
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
            &[r#"{\\\"password\\\": \\\""#, r#"\\\"}"#],
        ),
    ];
    redacted_keeping(cases);
    // Each output decodes again: no escape was cut in half.
    for (text, _, _) in cases {
        let out = redacted(text);
        let bad = out
            .match_indices('%')
            .any(|(i, _)| !out[i + 1..].chars().take(2).all(|c| c.is_ascii_hexdigit()));
        assert!(!bad, "broken percent escape in {out:?}");
    }
    // A password with a quote in it stays one value.
    all_redacted(&[(
        r#"{"password": "ab%22Xk29fjQmv8Lp3Rt7WzNq5YhG"}"#,
        "Xk29fjQmv8Lp3Rt7WzNq5YhG",
    )]);
    all_kept(&[
        "https%3A%2F%2Fexample.com%2Fcallback%3Fstate%3Dxyz",
        "q=%22password%22+policy",
        "<p>Use &quot;Forgot password&quot; to reset it.</p>",
    ]);
}

#[test]
fn round12_false_positives() {
    all_kept(&[
        "-----BEGIN RSA PRIVATE KEY-----\n<paste your key here>\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n&lt;paste your key here&gt;\n-----END RSA PRIVATE KEY-----",
        r#"{"command": "Context:\n> -----BEGIN RSA PRIVATE KEY-----\n> <paste your key here>\n> -----END RSA PRIVATE KEY-----"}"#,
        "| field | type |\r\n|---|---|\r\n| password | string |\r\n| token_ttl | int |",
        "| field | type |\n|---|---|\n| password | string |\n| api_key_id | int |",
    ]);
    // A key cut short is still a key.
    all_redacted(&[(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA7bq9",
    )]);
}

#[test]
fn a_token_after_a_doubly_escaped_line_break() {
    all_redacted(&[
        (
            r#"{"type": "tool_result", "content": "{\"role\": \"assistant\", \"content\": \"$ echo $SHOPIFY_ADMIN_API_TOKEN\\n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\\n$ \"}"}"#,
            "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",
        ),
        (
            r#"{"body": "{\"content\": \"$ echo $DO_API_TOKEN\\ndop_v1_d6f09020945d8b9f1e88cc7c345438eb6cc2ce4b1dbffaa4fbd0b6337ca5c922\\n$ make deploy\"}"}"#,
            "d6f09020945d8b9f1e88cc7c345438eb6cc2ce4b1dbffaa4fbd0b6337ca5c922",
        ),
    ]);
    all_kept(&[
        r#"{"body": "{\"type\": \"tool_result\", \"content\": \"Rotate the key\\nnextRotationScheduledFor20240310\"}"}"#,
        r#"{"cmd": "type C:\\new\\tokens\\notes.txt"}"#,
    ]);
}

#[test]
fn corpus_shapes_of_round13() {
    all_redacted(&[
        // A JWT signed with a literal key; Algolia's admin key by position.
        (
            "const token = jwt.sign({ sub: user.id }, 'jsJP8rXJ67GeMKkJ44qAqAznYMhx19OH', { expiresIn: '1h' });",
            "jsJP8rXJ67GeMKkJ44qAqAznYMhx19OH",
        ),
        (
            "encoded = jwt.encode(payload, \"PP5fMBY67izncQGGsssJusKvjF1jEFMq\", algorithm=\"HS256\")",
            "PP5fMBY67izncQGGsssJusKvjF1jEFMq",
        ),
        (
            "client = algoliasearch.Client('NL72P6G527', 'MovrMeeeg2YUBf7vmyDYOTRtvm9WNjqt')",
            "MovrMeeeg2YUBf7vmyDYOTRtvm9WNjqt",
        ),
        // `<p8dd>` inside a generated password is no `<placeholder>`.
        (
            "      KEYSTORE_PASSWORD: \"BO%N_RW1D,2,n<p8dd>XQ|quf?!>+\"",
            "BO%N_RW1D,2,n<p8dd>XQ|quf?!>+",
        ),
        // HTML-escaped single quotes.
        (
            "ENV[&#x27;REGISTRY_PASSWORD&#x27;] ||= &#x27;LtImm5NcTbpCFSQYRTE7souTJ8&#x27;",
            "LtImm5NcTbpCFSQYRTE7souTJ8",
        ),
        // More than one `;` in an unquoted `.env` value.
        ("DB_PASSWORD=OB*2O5lmRAGD;j;oExiAok\nX=1", "oExiAok"),
        // URL-encoded characters of an X/Twitter app bearer token.
        (
            "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAPa0JYFQsaqBP197PYvgi1n3Dwd5uDf%2BNnyjXGebrhXZWcaufKr1EDj6vsayGc%3DcpYaagk3C6ZjVrFM",
            "NnyjXGebrhXZWcaufKr1EDj6vsayGc",
        ),
    ]);
    all_kept(&[
        "jwt.sign(payload, process.env.JWT_SECRET, { expiresIn: '1h' })",
        "jwt.decode(token, options={\"verify_signature\": False})",
        "API_KEY=<api_key_v2>",
        "LIST=a=1;b=2;c=3",
    ]);
}

#[test]
fn probe_shapes_of_round13() {
    redacted_keeping(&[
        (
            "conn.setRequestProperty(\"Authorization\", \"Bearer \" + \"o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft\");",
            "o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft",
            &["\"Bearer \" + \""],
        ),
        (
            ".header(AUTHORIZATION, format!(\"Bearer {}\", \"o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft\"))",
            "o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft",
            &["format!(\"Bearer {}\", \""],
        ),
        (
            "API令牌：OiD8MNB8Q8oSd4PihaDvonLhQiqRA5pe，有效期30天",
            "OiD8MNB8Q8oSd4PihaDvonLhQiqRA5pe",
            &["API令牌：", "，有效期30天"],
        ),
        (
            "APIキーはOiD8MNB8Q8oSd4PihaDvonLhQiqRA5peです。",
            "OiD8MNB8Q8oSd4PihaDvonLhQiqRA5pe",
            &["APIキーは", "です。"],
        ),
        (
            "访问令牌 o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft 已生成",
            "o3DrFPgHOP8V0E3X0NNOxbn1BamBBFft",
            &["访问令牌 ", " 已生成"],
        ),
        (
            "**Root password**\n\neQpmO!Qi1d1FlDec\n",
            "eQpmO!Qi1d1FlDec",
            &["**Root password**"],
        ),
        (
            "The admin password is:\n\n    qlRn9nATxsHILX%yTc\n\nPlease rotate.",
            "qlRn9nATxsHILX%yTc",
            &["Please rotate."],
        ),
        (
            "The API token is:\n    qlRn9nATxsHILXyTc",
            "qlRn9nATxsHILXyTc",
            &["The API token is:"],
        ),
        (
            "The password:\n    qlRn9nATxsHILXyTc",
            "qlRn9nATxsHILXyTc",
            &[],
        ),
    ]);
    all_kept(&[
        "if password:\n    pass\nelse:\n    x = 1",
        "    if token:\n        continue",
        "令牌桶算法（token bucket）用于限流。",
        "APIキーは環境変数から読み込みます。",
        "let auth = format!(\"Bearer {}\", token);",
        "headers.put(\"Authorization\", \"Bearer \" + accessToken);",
    ]);
}
