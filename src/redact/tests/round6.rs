//! Shapes of the sixth round: `user / password` pairs whose password is a
//! plain word, secrets split into literals from a short first piece, tokens
//! printed as base64 with no name near them, secrets deep in YAML, vendors'
//! prefixed tokens and positional API keys — with the look-alikes that must
//! stay, and the cost of inputs built from repeated anchors.

use super::{all_kept, all_redacted, all_within, corpus_holds, redacted};

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn pairs_with_a_word_for_a_password() {
    all_redacted(&[
        ("login: admin / password: hunter", "hunter"),
        ("login: admin / password: sunshine.", "sunshine"),
        ("creds are bob / correcthorsebattery", "correcthorsebattery"),
        ("creds are bob / Tr0ub4dor", "Tr0ub4dor"),
        (
            "credentials: deploy / purplemonkeydishwasher, rotate monthly",
            "purplemonkeydishwasher",
        ),
        ("login: admin / hunter2", "hunter2"),
    ]);
    all_kept(&[
        "read / write access for the team",
        "use tabs and / or spaces",
        "Use `read / write` scopes for the bot.",
        "credentials are read / write for the CI role",
        "creds: Admin / Settings page",
        "Login: Settings / Profile",
        "login is required / optional depending on the tenant",
        "login: SSO / SAML only",
        "creds: see 1Password / Vault",
        "login: admin / password: ********",
        "login: admin / password: none",
        "login: Admin / ",
        "creds: Bob /",
    ]);
}

#[test]
fn literals_joined_from_a_short_first_piece() {
    let body = "zuHfozCNfa80RzFhBxMO4Dn2r6iqUk40NKed";
    let openai = format!(
        "proj-{}T3BlbkFJ{}",
        "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5t",
        "Xb3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5t"
    );
    let plus = format!("token = \"ghp_\" + \"{body}\"");
    let lua = format!("local t = 'ghp_' .. '{body}'");
    let shell = format!("key = \"sk-\" \\\n  \"{openai}\"");
    let python =
        "TOKEN = ('xoxb-'\n         '979920759784-7803236466476-eK76y6GRiWplBZypMTgtmfmX')";
    let java = "String id = \"AKIA\" + \"ZXCV7BNM2QWERTY4\";";
    let split = format!("const k = \"sk_live_\" +\n  \"{body}\";");
    all_redacted(&[
        (&plus, body),
        (&lua, body),
        (&shell, &openai[5..]),
        (python, "eK76y6GRiWplBZypMTgtmfmX"),
        (java, "ZXCV7BNM2QWERTY4"),
        (&split, body),
    ]);
    all_kept(&[
        "const prefix = \"ghp_\" + suffix;",
        "label = \"sk-\" + model_name",
        "url = \"https://\" + host + \"/api\"",
        "msg = \"token \" + \"expired\"",
        "id = \"AKIA\" + \"XXXXXXXXXXXXXXXX\"",
        "print('xoxb-' 'not-a-token')",
        "PREFIXES = ['xoxb-', 'xoxp-', 'xapp-']",
        "if t.startswith(('ghp_', 'gho_', 'ghs_')):",
    ]);
}

#[test]
fn base64_of_a_token_is_decoded() {
    let ghp = b64("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");
    let aws = b64("AKIAZXCV7BNM2QWERTY4");
    let json = b64("{\"token\": \"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\", \"user\": \"ci\"}");
    let ant = b64(&format!(
        "sk-ant-api03-{}AA",
        "aB3_dE5-fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5tU7vW9xY1zA3bC5dE7fG9hI1jK"
    ));
    let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oZk3bN2kAdIloAoGCCqGSM49\nAwEHoUQDQgAE9xQ2r6lN4w9vA8b2kCmY1yT3pH0sX5eR7uF2jD8gK3hL6zV4nQ==\n-----END EC PRIVATE KEY-----\n";
    let pem = b64(key);
    // `base64` wraps its output at 76 columns.
    let wrapped: String = pem
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap_or("")))
        .collect();
    let cases = [
        (format!("echo {ghp} | base64 -d"), ghp.clone()),
        (format!("payload: {aws}"), aws.clone()),
        (format!("CI_CONFIG={json}"), json.clone()),
        (format!("The value is {ant} (decode it)"), ant.clone()),
        (format!("ssh_key_b64: {pem}"), pem.clone()),
        (
            format!("$ base64 id_ec\n{wrapped}"),
            pem[80..120].to_string(),
        ),
    ];
    for (text, secret) in &cases {
        all_redacted(&[(text, secret)]);
    }
    let plain = [
        b64("hello world, this is plain text"),
        b64("{\"name\": \"acme\", \"replicas\": 3}"),
        b64("-----BEGIN CERTIFICATE-----\nMIIB"),
        b64("Keys starting with ghp_ are GitHub tokens"),
        b64("AKIAIOSFODNN7EXAMPLE"),
    ];
    for p in &plain {
        all_kept(&[&format!("echo {p} | base64 -d")]);
    }
    all_kept(&[
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        "ThisIsAVeryLongIdentifierThatLooksLikeBase64ButIsNot = 1",
        "integrity sha512-Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
        "The key fingerprint is SHA256:zirbq2fpBe0mJWvpIxDoaf0Jaah21IMQaIa0pipD7Kg deploy@ci",
    ]);
}

#[test]
fn secrets_deep_in_yaml() {
    let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0x1ZsBCAC5v4m9H0A2gk3Qm8n7Q4rT6yU2hJ1kL9pZ0aX3cV5bN7mM1qW2\neR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8dF0gH2jK4l\n=Ab3d\n-----END PGP PRIVATE KEY BLOCK-----";
    let ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDxq0fG9kzR0R3m5yZ0fQ8zq8nX1v0Zr7k3cX9yq2n4bQAAAJg3nq0aN56t\n-----END OPENSSH PRIVATE KEY-----";
    let nest = |depth: usize, leaf: &str| {
        let mut s = String::new();
        for d in 0..depth {
            s.push_str(&format!("{}l{d}:\n", "  ".repeat(d)));
        }
        let pad = "  ".repeat(depth);
        let leaf: Vec<String> = leaf.lines().map(|l| format!("{pad}{l}")).collect();
        s + &leaf.join("\n") + "\n"
    };
    let indent = |s: &str| {
        s.lines()
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("  {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pw = nest(7, "password: Sup3rS3cretValue");
    let word = nest(14, "password: correcthorsebattery");
    let gpg = nest(7, &format!("signing_key: |-\n{}\nnext: 1", indent(pgp)));
    let key = nest(8, &format!("id_ed25519: |\n{}", indent(ssh)));
    all_redacted(&[
        (&pw, "Sup3rS3cretValue"),
        (&word, "correcthorsebattery"),
        (
            &gpg,
            "eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8dF0gH2jK4l",
        ),
        (
            &key,
            "QyNTUxOQAAACDxq0fG9kzR0R3m5yZ0fQ8zq8nX1v0Zr7k3cX9yq2n4bQAAAJg3nq0aN56t",
        ),
    ]);
    assert!(redacted(&gpg).contains("next: 1"));
    all_kept(&[&nest(
        9,
        "password_policy: strict\ntoken_ttl: 3600\nkey_rotation: monthly",
    )]);
}

#[test]
fn vendor_prefixes_and_positional_keys() {
    all_redacted(&[
        (
            "X-JFrog-Art-Api: AKCphnfoCBzeeOdyeslCPybjw2nogu0C1AYSQFflidy7QC1ekl4JzLwm8J7rQ2wE4rT6yU8i",
            "AKCphnfoCBzeeOdyeslCPybjw2nogu0C1AYSQ",
        ),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIKNVySJqmgwmsT2L1WLQr",
            "LTAIKNVySJqmgwmsT2L1WLQr",
        ),
        (
            "ldclient.set_config(Config(\"sdk-d3c5d32d-9be5-8e7f-601e-2af463cb8973\"))",
            "d3c5d32d-9be5-8e7f-601e-2af463cb8973",
        ),
        (
            "use r8_Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYzQ for replicate",
            "r8_Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYzQ",
        ),
        (
            "Authorization: Bearer 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",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ),
        (
            "snyk auth baecd20e-dc88-6ec4-02a9-912c085b7f7b",
            "baecd20e-dc88-6ec4-02a9-912c085b7f7b",
        ),
        (
            "const c = algoliasearch('ABCD1234EF', '0MBkg6obFTAkILg7xzWdLoTRswWR3pW2');",
            "0MBkg6obFTAkILg7xzWdLoTRswWR3pW2",
        ),
        (
            "co = cohere.Client('y1bsTRHkbt6zxlFH0w7SzNmJt2WGD1ha1B2VXAQx')",
            "y1bsTRHkbt6zxlFH0w7SzNmJt2WGD1ha1B2VXAQx",
        ),
    ]);
    all_kept(&[
        "the sdk-version flag and the mob-programming session",
        "snyk auth",
        "algoliasearch(appId, apiKey)",
        "secret_name: prod/db/password",
    ]);
}

/// Inputs of repeated anchors of this round's detectors (and the value
/// checks they reach) stay cheap: well under a second even in a debug build.
#[test]
fn round6_adversarial_inputs_stay_fast() {
    let inputs = [
        "=pw".repeat(17_066),
        "pw=".repeat(17_066),
        "=pass".repeat(10_240),
        "pwd=".repeat(12_800),
        "\"ab\" + ".repeat(7_000),
        "\"ghp_\" \"".repeat(7_000),
        "'sk-' \\\n".repeat(7_000),
        "\"".repeat(51_200),
        "Z2hwX".repeat(10_240),
        format!("{}\n", "QUtJQVpYQ1Y3Qk5NMlFXRVJUWTQ".repeat(3)).repeat(600),
        format!("{}\n", &b64(&"ghp_ ".repeat(57))[..76]).repeat(670),
        b64(&"x".repeat(38_000)),
        "creds are a / ".repeat(3_600),
        "login: a / password: ".repeat(2_400),
        "login: Admin / ".repeat(3_600),
    ];
    all_within(&inputs, 3.0);
}

/// The round's own corpus (`round6_corpus.jsonl`, written by
/// `round6_corpus_gen.py`): secrets of kinds and formats the public sample
/// lacks, each in text around it, and look-alikes that must come through
/// unchanged.
#[test]
fn round6_corpus_is_redacted_and_its_look_alikes_kept() {
    let (secrets, negatives) = corpus_holds(include_str!("round6_corpus.jsonl"), &[]);
    assert!(
        secrets >= 150 && negatives >= 140,
        "{secrets} secrets, {negatives} negatives"
    );
}
