//! The built-in secret kinds: each kind's stable name (the key of
//! `Redaction::counts`), the placeholder that replaces it and a one-line
//! description for `mcp-bridge redact --list`.
//!
//! This file only names things; the detectors live in the sibling modules.
//! Several kinds share a placeholder on purpose (every PEM private key form is
//! `PRIVATE_KEY_REDACTED`, every password, wherever it appears, is
//! `PASSWORD_REDACTED`), so a reader learns what was removed without the
//! placeholder leaking which product it came from more precisely than needed.

/// A built-in kind. The discriminant indexes [`SPECS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u16)]
pub(crate) enum Kind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GcpApiKey,
    GcpServiceAccountKey,
    AzureStorageKey,
    AzureAdClientSecret,
    DigitaloceanToken,
    CloudflareApiToken,
    HerokuApiKey,
    VaultToken,
    TerraformCloudToken,
    GithubPatClassic,
    GithubFineGrainedPat,
    GithubOauthToken,
    GithubAppToken,
    GitlabPat,
    NpmToken,
    PypiToken,
    DockerhubPat,
    HuggingfaceToken,
    OpenaiApiKeyLegacy,
    OpenaiProjectKey,
    AnthropicApiKey,
    GroqApiKey,
    SlackBotToken,
    SlackUserToken,
    SlackWebhookUrl,
    DiscordBotToken,
    DiscordWebhookUrl,
    TelegramBotToken,
    TwilioApiKey,
    TwilioAuthToken,
    SendgridApiKey,
    MailgunApiKey,
    StripeSecretKey,
    StripeRestrictedKey,
    StripeWebhookSecret,
    ShopifyToken,
    SquareToken,
    DatadogKey,
    NewrelicKey,
    SentryToken,
    DatabricksToken,
    AtlassianApiToken,
    GrafanaToken,
    LinearApiKey,
    PostmanApiKey,
    PrivateKeyRsa,
    PrivateKeyEc,
    PrivateKeyOpenssh,
    PrivateKeyPgp,
    PrivateKeyPkcs8,
    AgeSecretKey,
    Jwt,
    DatabaseUrlPostgres,
    DatabaseUrlMysql,
    DatabaseUrlMongodb,
    DatabaseUrlRedis,
    UrlCredentials,
    HttpBasicAuth,
    HttpBearerToken,
    PasswordAssignment,
    SecretAssignment,
    ApiKeyAssignment,
    TokenAssignment,
    KubernetesSecret,
    AwsSessionToken,
    GoogleOauthClientSecret,
    GoogleOauthToken,
    PrivateKeyPutty,
    AzureSasToken,
    SignedUrl,
    SessionCookie,
    TeamsWebhookUrl,
    JwkPrivateKey,
    BridgeHttpToken,
    BridgeApprovalToken,
    BridgeInviteCode,
}

/// Name, placeholder and description of one built-in kind.
pub(crate) struct KindSpec {
    pub name: &'static str,
    pub placeholder: &'static str,
    pub description: &'static str,
}

const fn spec(
    name: &'static str,
    placeholder: &'static str,
    description: &'static str,
) -> KindSpec {
    KindSpec {
        name,
        placeholder,
        description,
    }
}

/// One entry per [`Kind`], in declaration order (a test checks the order).
#[rustfmt::skip]
pub(crate) const SPECS: &[KindSpec] = &[
    spec("aws_access_key_id", "AWS_KEY_REDACTED", "AWS access key id: AKIA/ASIA/ABIA/ACCA + 16 chars"),
    spec("aws_secret_access_key", "AWS_SECRET_KEY_REDACTED", "AWS secret access key: 40 base64 chars named aws_secret_access_key / SecretAccessKey or next to an access key id"),
    spec("gcp_api_key", "GCP_API_KEY_REDACTED", "Google API key: AIza + 35 chars"),
    spec("gcp_service_account_key", "PRIVATE_KEY_REDACTED", "private key inside a Google service-account JSON (\"type\": \"service_account\")"),
    spec("azure_storage_key", "AZURE_STORAGE_KEY_REDACTED", "Azure storage / shared access key: AccountKey=, SharedAccessKey=, az keys output, named storage keys"),
    spec("azure_ad_client_secret", "AZURE_CLIENT_SECRET_REDACTED", "Azure AD client secret: 3 chars + digit + Q~ + 31-34 chars"),
    spec("digitalocean_token", "DIGITALOCEAN_TOKEN_REDACTED", "DigitalOcean token: dop_v1_/doo_v1_/dor_v1_ + 64 hex"),
    spec("cloudflare_api_token", "CLOUDFLARE_TOKEN_REDACTED", "Cloudflare API token / global key (named) and origin CA key v1.0-…"),
    spec("heroku_api_key", "HEROKU_KEY_REDACTED", "Heroku API key: HRKU-AA…, or a UUID named HEROKU_API_KEY"),
    spec("vault_token", "VAULT_TOKEN_REDACTED", "HashiCorp Vault token: hvs./hvb. + base64url, legacy s. token named VAULT_TOKEN"),
    spec("terraform_cloud_token", "TERRAFORM_TOKEN_REDACTED", "Terraform Cloud token: 14 chars + .atlasv1. + 60-70 chars"),
    spec("github_pat_classic", "GITHUB_TOKEN_REDACTED", "GitHub classic personal access token: ghp_ + 36"),
    spec("github_fine_grained_pat", "GITHUB_TOKEN_REDACTED", "GitHub fine-grained personal access token: github_pat_ + 82"),
    spec("github_oauth_token", "GITHUB_TOKEN_REDACTED", "GitHub OAuth token: gho_ + 36"),
    spec("github_app_token", "GITHUB_TOKEN_REDACTED", "GitHub App tokens: ghs_/ghu_/ghr_ + 36"),
    spec("gitlab_pat", "GITLAB_TOKEN_REDACTED", "GitLab tokens: glpat-, glrt-, gldt-, glptt-, gloas-, … and GR1348941 runner tokens"),
    spec("npm_token", "NPM_TOKEN_REDACTED", "npm access token: npm_ + 36"),
    spec("pypi_token", "PYPI_TOKEN_REDACTED", "PyPI upload token: pypi-AgE… macaroon"),
    spec("dockerhub_pat", "DOCKERHUB_TOKEN_REDACTED", "Docker Hub token: dckr_pat_/dckr_oat_ + 20+"),
    spec("huggingface_token", "HUGGINGFACE_TOKEN_REDACTED", "Hugging Face token: hf_ / api_org_ + 34 letters"),
    spec("openai_api_key_legacy", "OPENAI_KEY_REDACTED", "OpenAI user key: sk- + 32+ alphanumerics (T3BlbkFJ marker)"),
    spec("openai_project_key", "OPENAI_KEY_REDACTED", "OpenAI project / service-account / admin key: sk-proj-, sk-svcacct-, sk-admin-"),
    spec("anthropic_api_key", "ANTHROPIC_KEY_REDACTED", "Anthropic key: sk-ant-api03-, sk-ant-admin01-, sk-ant-oat01-"),
    spec("groq_api_key", "GROQ_KEY_REDACTED", "Groq API key: gsk_ + 52"),
    spec("slack_bot_token", "SLACK_TOKEN_REDACTED", "Slack bot and app-level tokens: xoxb-…, xapp-…"),
    spec("slack_user_token", "SLACK_TOKEN_REDACTED", "Slack user and other tokens: xoxp-, xoxa-, xoxo-, xoxr-, xoxs-, xoxe"),
    spec("slack_webhook_url", "SLACK_WEBHOOK_REDACTED", "Slack incoming webhook URL: hooks.slack.com/services|workflows|triggers/…"),
    spec("discord_bot_token", "DISCORD_TOKEN_REDACTED", "Discord bot token: base64(user id) . 6 . 27-38"),
    spec("discord_webhook_url", "DISCORD_WEBHOOK_REDACTED", "Discord webhook URL: discord.com/api/webhooks/<id>/<token>"),
    spec("telegram_bot_token", "TELEGRAM_TOKEN_REDACTED", "Telegram bot token: 8-10 digits :AA + 33"),
    spec("twilio_api_key", "TWILIO_KEY_REDACTED", "Twilio API key SID SK + 32 hex and its paired / named API secret"),
    spec("twilio_auth_token", "TWILIO_TOKEN_REDACTED", "Twilio auth token: 32 hex named TWILIO_AUTH_TOKEN or next to an AC account SID"),
    spec("sendgrid_api_key", "SENDGRID_KEY_REDACTED", "SendGrid API key: SG. + 22 . 43"),
    spec("mailgun_api_key", "MAILGUN_KEY_REDACTED", "Mailgun key: key- + 32 hex, or a key named MAILGUN_*"),
    spec("stripe_secret_key", "STRIPE_KEY_REDACTED", "Stripe secret key: sk_live_/sk_test_ + 24+"),
    spec("stripe_restricted_key", "STRIPE_KEY_REDACTED", "Stripe restricted key: rk_live_/rk_test_ + 24+"),
    spec("stripe_webhook_secret", "STRIPE_WEBHOOK_SECRET_REDACTED", "Stripe webhook signing secret: whsec_ + 32+"),
    spec("shopify_token", "SHOPIFY_TOKEN_REDACTED", "Shopify tokens: shpat_/shpca_/shppa_/shpss_ + 32 hex"),
    spec("square_token", "SQUARE_TOKEN_REDACTED", "Square tokens: sq0atp-, sq0csp-, EAAA…"),
    spec("datadog_key", "DATADOG_KEY_REDACTED", "Datadog API (32 hex) / application (40 hex) key named DD_API_KEY, DD_APP_KEY, datadog…"),
    spec("newrelic_key", "NEWRELIC_KEY_REDACTED", "New Relic keys: NRAK-, NRII-, 36 hex + NRAL"),
    spec("sentry_token", "SENTRY_TOKEN_REDACTED", "Sentry tokens: sntryu_ + 64 hex, sntrys_…"),
    spec("databricks_token", "DATABRICKS_TOKEN_REDACTED", "Databricks token: dapi + 32 hex"),
    spec("atlassian_api_token", "ATLASSIAN_TOKEN_REDACTED", "Atlassian API token: ATATT3 + 150+"),
    spec("grafana_token", "GRAFANA_TOKEN_REDACTED", "Grafana tokens: glsa_ service account, glc_ cloud"),
    spec("linear_api_key", "LINEAR_KEY_REDACTED", "Linear API key: lin_api_ + 40"),
    spec("postman_api_key", "POSTMAN_KEY_REDACTED", "Postman API key: PMAK- + 24 hex - 34 hex"),
    spec("private_key_rsa", "PRIVATE_KEY_REDACTED", "PEM RSA PRIVATE KEY block (raw, indented or \\n-escaped)"),
    spec("private_key_ec", "PRIVATE_KEY_REDACTED", "PEM EC PRIVATE KEY block"),
    spec("private_key_openssh", "PRIVATE_KEY_REDACTED", "OPENSSH PRIVATE KEY block"),
    spec("private_key_pgp", "PRIVATE_KEY_REDACTED", "PGP PRIVATE KEY BLOCK"),
    spec("private_key_pkcs8", "PRIVATE_KEY_REDACTED", "PEM PRIVATE KEY / ENCRYPTED PRIVATE KEY / DSA PRIVATE KEY and other private key blocks"),
    spec("age_secret_key", "AGE_KEY_REDACTED", "age secret key: AGE-SECRET-KEY-1 + 58 bech32"),
    spec("jwt", "JWT_REDACTED", "JSON Web Token: eyJ….eyJ….signature"),
    spec("database_url_postgres", "PASSWORD_REDACTED", "password in a postgres:// / postgresql+driver:// / jdbc:postgresql URL"),
    spec("database_url_mysql", "PASSWORD_REDACTED", "password in a mysql:// / mariadb:// URL"),
    spec("database_url_mongodb", "PASSWORD_REDACTED", "password in a mongodb:// / mongodb+srv:// URL"),
    spec("database_url_redis", "PASSWORD_REDACTED", "password in a redis:// / rediss:// URL"),
    spec("url_credentials", "PASSWORD_REDACTED", "password (or token user) in any other scheme://user:password@host URL"),
    spec("http_basic_auth", "BASIC_AUTH_REDACTED", "HTTP Basic credentials: Authorization: Basic <base64>, curl -u user:password, auth=(user, password)"),
    spec("http_bearer_token", "BEARER_TOKEN_REDACTED", "Authorization: Bearer / Token / Bot … credential in any case"),
    spec("password_assignment", "PASSWORD_REDACTED", "literal value assigned to a password-like name (password, passwd, pwd, DB_PASSWORD, -p<pw>, …)"),
    spec("secret_assignment", "SECRET_REDACTED", "literal value assigned to a secret-like name (secret, client_secret, SECRET_KEY, signing key, …)"),
    spec("api_key_assignment", "API_KEY_REDACTED", "literal value assigned to an api-key-like name (api_key, apiKey, X-API-Key, ?api_key=, …)"),
    spec("token_assignment", "TOKEN_REDACTED", "literal value assigned to a token-like name (auth_token, access_token, GH_TOKEN, …)"),
    spec("kubernetes_secret", "K8S_SECRET_REDACTED", "values under data: / stringData: of a kind: Secret manifest"),
    spec("aws_session_token", "AWS_SESSION_TOKEN_REDACTED", "AWS STS session token: base64 starting IQoJb3JpZ2luX2Vj… / FwoGZXIvYXdz…, also URL-encoded"),
    spec("google_oauth_client_secret", "GOOGLE_OAUTH_SECRET_REDACTED", "Google OAuth client secret: GOCSPX- + 28"),
    spec("google_oauth_token", "GOOGLE_OAUTH_TOKEN_REDACTED", "Google OAuth tokens: ya29. access, 1//0 refresh, 4/0A authorization code"),
    spec("private_key_putty", "PRIVATE_KEY_REDACTED", "PuTTY private key file (PuTTY-User-Key-File-2/3), raw, indented or \\n-escaped"),
    spec("azure_sas_token", "AZURE_SAS_REDACTED", "signature (sig=) of an Azure shared access signature, in URLs, connection strings and SharedAccessSignature headers"),
    spec("signed_url", "URL_SIGNATURE_REDACTED", "signature or session token of a pre-signed URL: X-Amz-Signature, X-Amz-Security-Token, X-Goog-Signature"),
    spec("session_cookie", "SESSION_COOKIE_REDACTED", "session cookie value: Cookie / Set-Cookie / curl -b with sessionid, PHPSESSID, JSESSIONID, connect.sid, *session*, …"),
    spec("teams_webhook_url", "TEAMS_WEBHOOK_REDACTED", "Microsoft Teams incoming webhook URL: …webhook.office.com/webhookb2/<guid>@<guid>/IncomingWebhook/<32 hex>/<guid>"),
    spec("jwk_private_key", "PRIVATE_KEY_REDACTED", "private members (d, p, q, dp, dq, qi; k of an oct key) of a JSON Web Key"),
    spec("bridge_http_token", "BRIDGE_TOKEN_REDACTED", "this bridge's own HTTP bearer token: mcpb_ + 64 hex"),
    spec("bridge_approval_token", "BRIDGE_APPROVAL_REDACTED", "this bridge's YOLO approval token: apv_ + 32 hex"),
    spec("bridge_invite_code", "INVITE_CODE_REDACTED", "this bridge's invite code: 4 dash-separated groups of 4 Crockford base-32 symbols; after a word such as invite, code or join also in lower case, undashed or spaced"),
];

impl Kind {
    /// Index of this kind in the redactor's kind table (built-ins come first).
    pub(crate) fn id(self) -> u16 {
        self as u16
    }
}

/// True when `word` is shaped like one of our placeholders (`SOMETHING_REDACTED`),
/// so that redacting already-redacted text changes nothing.
pub(crate) fn is_placeholder_like(word: &[u8]) -> bool {
    word.ends_with(b"_REDACTED")
        && word
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_enum() {
        assert_eq!(SPECS.len(), Kind::BridgeInviteCode as usize + 1);
        assert_eq!(
            SPECS[Kind::AwsAccessKeyId as usize].name,
            "aws_access_key_id"
        );
        assert_eq!(
            SPECS[Kind::GithubAppToken as usize].name,
            "github_app_token"
        );
        assert_eq!(
            SPECS[Kind::PrivateKeyPkcs8 as usize].name,
            "private_key_pkcs8"
        );
        assert_eq!(
            SPECS[Kind::KubernetesSecret as usize].name,
            "kubernetes_secret"
        );
        assert_eq!(SPECS[Kind::Jwt as usize].name, "jwt");
        let mut names: Vec<_> = SPECS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SPECS.len());
        for s in SPECS {
            assert!(
                is_placeholder_like(s.placeholder.as_bytes()),
                "{}",
                s.placeholder
            );
        }
    }
}
