//! Tests of the redaction engine: one positive and one near-miss negative per
//! kind ([`kinds_table`]), many of each per class of issue 11 ([`classes`]),
//! shapes a generated corpus found ([`labels`]), behaviour of the public API
//! ([`behaviour`]) and properties over generated inputs ([`props`]).

mod behaviour;
mod classes;
mod classes_a;
mod classes_b;
mod classes_c;
mod folded;
mod kinds_table;
mod labels;
mod languages;
mod listings;
mod positional;
mod props;
mod round10;
mod round12;
mod round13;
mod round14;
mod round15;
mod round16;
mod round17;
mod round5;
mod round6;
mod round7;
mod round8;
mod round9;

use super::Redactor;
use kinds_table::KIND_CASES;
use std::sync::OnceLock;

/// One redactor for all tests (building it is cheap, but there is no need to repeat it).
pub(super) fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(Redactor::builtin)
}

/// `text` redacted by [`redactor`].
pub(super) fn redacted(text: &str) -> String {
    redactor().redact(text).text.into_owned()
}

/// Checks the positive and the near-miss negative of `kind`.
fn check_kind(kind: &str) {
    let r = redactor();
    let (_, pos, secret, neg) = KIND_CASES
        .iter()
        .find(|c| c.0 == kind)
        .unwrap_or_else(|| panic!("no test case for kind {kind}"));
    let out = r.redact(pos);
    assert!(
        !out.text.contains(secret),
        "{kind}: secret survived in {:?}",
        out.text
    );
    assert_eq!(
        out.counts.get(kind).copied(),
        Some(1),
        "{kind}: counts {:?} for {:?}",
        out.counts,
        out.text
    );
    let placeholder = r
        .kinds()
        .into_iter()
        .find(|k| k.name == kind)
        .map(|k| k.placeholder);
    let placeholder = placeholder.unwrap_or_else(|| panic!("{kind} is not a known kind"));
    assert!(
        out.text.contains(&placeholder),
        "{kind}: {placeholder} missing in {:?}",
        out.text
    );
    let again = r.redact(&out.text);
    assert_eq!(again.text, out.text, "{kind}: not idempotent");
    let n = r.redact(neg);
    assert_eq!(
        n.text, *neg,
        "{kind}: near-miss negative was changed ({:?})",
        n.counts
    );
}

macro_rules! per_kind {
    ($($kind:ident),* $(,)?) => {
        mod kinds {
            $(
                #[test]
                fn $kind() {
                    super::check_kind(stringify!($kind));
                }
            )*
        }
    };
}

per_kind!(
    aws_access_key_id,
    aws_secret_access_key,
    gcp_api_key,
    gcp_service_account_key,
    azure_storage_key,
    azure_ad_client_secret,
    digitalocean_token,
    cloudflare_api_token,
    heroku_api_key,
    vault_token,
    terraform_cloud_token,
    github_pat_classic,
    github_fine_grained_pat,
    github_oauth_token,
    github_app_token,
    gitlab_pat,
    npm_token,
    pypi_token,
    dockerhub_pat,
    huggingface_token,
    openai_api_key_legacy,
    openai_project_key,
    anthropic_api_key,
    groq_api_key,
    slack_bot_token,
    slack_user_token,
    slack_webhook_url,
    discord_bot_token,
    discord_webhook_url,
    telegram_bot_token,
    twilio_api_key,
    twilio_auth_token,
    sendgrid_api_key,
    mailgun_api_key,
    stripe_secret_key,
    stripe_restricted_key,
    stripe_webhook_secret,
    shopify_token,
    square_token,
    datadog_key,
    newrelic_key,
    sentry_token,
    databricks_token,
    atlassian_api_token,
    grafana_token,
    linear_api_key,
    postman_api_key,
    private_key_rsa,
    private_key_ec,
    private_key_openssh,
    private_key_pgp,
    private_key_pkcs8,
    age_secret_key,
    jwt,
    database_url_postgres,
    database_url_mysql,
    database_url_mongodb,
    database_url_redis,
    url_credentials,
    http_basic_auth,
    http_bearer_token,
    password_assignment,
    secret_assignment,
    api_key_assignment,
    token_assignment,
    kubernetes_secret,
    aws_session_token,
    google_oauth_client_secret,
    google_oauth_token,
    private_key_putty,
    azure_sas_token,
    signed_url,
    session_cookie,
    teams_webhook_url,
    jwk_private_key,
    bridge_http_token,
    bridge_approval_token,
    bridge_invite_code
);

#[test]
fn every_builtin_kind_has_a_case() {
    for k in redactor().kinds() {
        assert!(
            KIND_CASES.iter().any(|c| c.0 == k.name),
            "kind {} has no unit test case",
            k.name
        );
    }
}

/// Each `(text, secret)`: the secret must not survive, and the output must
/// be a fixpoint.
pub(super) fn all_redacted(cases: &[(&str, &str)]) {
    for (text, secret) in cases {
        let out = redacted(text);
        assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
        assert_eq!(redacted(&out), out, "not idempotent: {out:?}");
    }
}

/// Each input is redacted to valid UTF-8 within `seconds`. Only
/// catastrophic (super-linear) behaviour fails this: a linear pass over such
/// inputs takes milliseconds even in a debug build on a loaded machine, a
/// quadratic one minutes.
pub(super) fn all_within(inputs: &[String], seconds: f64) {
    for t in inputs {
        let start = std::time::Instant::now();
        let out = redactor().redact(t);
        assert!(std::str::from_utf8(out.text.as_bytes()).is_ok());
        let took = start.elapsed().as_secs_f64();
        assert!(
            took < seconds,
            "{took:.2}s on input starting {:?}",
            &t[..20]
        );
    }
}

/// Checks a labelled corpus (JSON lines of `id`, `text` and the `secrets`
/// in it; none for a look-alike): every secret is gone and every look-alike
/// comes through unchanged, except the cases `known_misses` lists, which
/// must all still be in it. How many secrets and look-alikes were checked.
pub(super) fn corpus_holds(corpus: &str, known_misses: &[&str]) -> (usize, usize) {
    let (mut secrets, mut negatives, mut known) = (0, 0, 0);
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let id = case["id"].as_str().expect("id");
        if known_misses.contains(&id) {
            known += 1;
            continue;
        }
        let text = case["text"].as_str().expect("text");
        let out = redacted(text);
        let listed = case["secrets"].as_array().expect("secrets");
        if listed.is_empty() {
            negatives += 1;
            assert_eq!(out, text, "{id} changed");
            continue;
        }
        for s in listed {
            let s = s.as_str().expect("secret");
            secrets += 1;
            assert!(!out.contains(s), "{id}: {s:?} survived in {out:?}");
        }
    }
    assert_eq!(known, known_misses.len(), "a known miss left the corpus");
    (secrets, negatives)
}

/// Each text comes out unchanged.
pub(super) fn all_kept(texts: &[&str]) {
    for t in texts {
        assert_eq!(redacted(t), *t, "changed: {t:?}");
    }
}
