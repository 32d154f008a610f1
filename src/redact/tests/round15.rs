//! Round 15: a red team's corpus (`redteam7_corpus.jsonl`, 467 cases of
//! what coding agents send each other, values random in each kind's real
//! format) and what it found: a setting on the line after a long key taken
//! as the rest of it (`OPENAI_KEY_REDACTED=org-…`), a JWT one part per
//! line, OpenVPN's static key, `kubectl … -o jsonpath='{.data.x}'`
//! printing a stored value, GitLab CI's `gitlab-ci-token:$CI_JOB_TOKEN@`,
//! schema code (`z.string().min(12)`, `String!`, `SecretStr`) and
//! `uuid.uuid4().hex` read as values.

use super::{all_kept, all_redacted, corpus_holds, redacted};

#[test]
fn openvpn_static_keys_are_key_material() {
    let body: String = (0..16)
        .map(|i| {
            format!(
                "{:032x}\n",
                0x9f3a_c2e1_u128.wrapping_mul(i + 7919) ^ 0x5bd1e995
            )
        })
        .collect();
    let text = format!(
        "<tls-auth>\n-----BEGIN OpenVPN Static key V1-----\n{body}-----END OpenVPN Static key V1-----\n</tls-auth>"
    );
    let out = redacted(&text);
    assert!(!out.contains(&body[..32]), "{out}");
    assert!(
        out.starts_with("<tls-auth>\n") && out.ends_with("\n</tls-auth>"),
        "{out}"
    );
}

#[test]
fn a_secret_kubectl_prints_as_stored_is_redacted() {
    all_redacted(&[
        (
            "$ kubectl get secret api-keys -o jsonpath='{.data.token}'\nNTVWSVJfZjU9WEtwb2pRbmE=\n",
            "NTVWSVJfZjU9WEtwb2pRbmE=",
        ),
        (
            "$ kubectl -n prod get secret db -o jsonpath=\"{.data.password}\"\nS0luQU4lcTFlU3MtaisrSiNtPQ==\n",
            "S0luQU4lcTFlU3MtaisrSiNtPQ==",
        ),
    ]);
    all_redacted(&[
        (
            "echo -n \"KkfDXevgy7QMVmNiP3gMs\" | gcloud secrets create db-password --data-file=-",
            "KkfDXevgy7QMVmNiP3gMs",
        ),
        (
            "echo \"DQKBIRVYycam6wj4kBFVxY\" | npx wrangler secret put API_KEY",
            "DQKBIRVYycam6wj4kBFVxY",
        ),
        (
            "echo RYd0PAEqevdOrR3Hbi | vercel env add DATABASE_PASSWORD production",
            "RYd0PAEqevdOrR3Hbi",
        ),
    ]);
    all_redacted(&[
        (
            "api_key: !!str e50e86c2c5f2ca9635310f88053fc3fcdceab11b",
            "e50e86c2c5f2ca9635310f88053fc3fcdceab11b",
        ),
        (
            "db:\n  password: !!str 5L17GSBjRsTQFR6516",
            "5L17GSBjRsTQFR6516",
        ),
    ]);
    all_kept(&[
        "version: !!str 1.10",
        "echo \"production\" | vercel env add NODE_ENV production",
        "$ kubectl get secret x -o jsonpath='{.metadata.name}'\nmy-secret-name-abc\n",
        "$ kubectl get secret x -o jsonpath='{.data.tls\\.crt}' | base64 -d | openssl x509 -noout\nnotAfter=May\n",
    ]);
}

#[test]
fn references_types_and_schema_code_are_not_values() {
    all_kept(&[
        "git clone https://gitlab-ci-token:$CI_JOB_TOKEN@gitlab.com/acme/repo.git",
        "git clone https://ci-token:$TOKEN@gitlab.com/acme/repo.git",
        "const schema = z.object({ password: z.string().min(12), token: z.string().uuid() });",
        "schema = Joi.object({ password: Joi.string().required() })",
        "api_key = uuid.uuid4().hex",
        "type Mutation {\n  login(email: String!, password: String!): AuthPayload\n}",
        "input Creds { password: [String!]! }",
        "class Settings(BaseSettings):\n    db_password: SecretStr\n    jwt_secret: SecretStr = Field(..., env=\"JWT_SECRET\")",
        "password: PostgresDsn",
        "password: random",
        "password: prompt",
        "Secret Manager: projects/353049882507/secrets/db-password/versions/6",
        "  Type: SecureString",
    ]);
    // A capitalised word is still a password where it is one.
    all_redacted(&[
        ("password: Sunshine", "Sunshine"),
        ("password: $ecretP@ss/1", "$ecretP@ss/1"),
    ]);
}

/// Cases of the red team's corpus this engine does not handle yet (see the
/// README's Redaction section); round 16 fixed the last of them (secret-store
/// and package-manager CLIs, UI-test scripts, rarer quotings, two languages,
/// code shapes read as values), and the list stays for the next round.
const KNOWN_MISSES: &[&str] = &[];

/// The whole corpus: every other secret is gone and every other look-alike
/// comes through unchanged, so a change that loses one fails here.
#[test]
fn redteam7_corpus_holds_except_its_known_misses() {
    let (secrets, negatives) = corpus_holds(include_str!("redteam7_corpus.jsonl"), KNOWN_MISSES);
    assert!(
        secrets >= 300 && negatives >= 160,
        "{secrets} secrets, {negatives} negatives"
    );
}
