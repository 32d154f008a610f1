//! The table of self-identifying token formats, one entry per format, written
//! from each provider's public format (see KINDS.md for sources).
//!
//! Conventions: patterns are ASCII-only (`unicode(false)`), use no counted
//! repetition wider than a token's real length, and start with `^` when the
//! token starts at its anchor (`back == 0`). Unbounded `+`/`{n,}` repetitions
//! are bounded in practice by `max_len`, the size of the window searched.

use super::kinds::Kind;
use super::tokens::{After, Check, TokenRule, edge_b64, edge_word, edge_word_dash};

const fn rule(
    kind: Kind,
    anchors: &'static [&'static str],
    max_len: usize,
    pattern: &'static str,
) -> TokenRule {
    TokenRule {
        kind,
        anchors,
        back: 0,
        max_len,
        pattern,
        edge: edge_word,
        check: Check::NotFake { skip: 0 },
        after: After::None,
        quick: None,
        secret_group: false,
        report: true,
        short: None,
    }
}

/// Accepts matches shorter than `full` bytes when the part after `prefix` looks generated.
const fn cut(mut r: TokenRule, prefix: usize, full: usize) -> TokenRule {
    r.short = Some((prefix, full));
    r
}

const fn with_edge(mut r: TokenRule, edge: fn(u8) -> bool) -> TokenRule {
    r.edge = edge;
    r
}

const fn with_back(mut r: TokenRule, back: usize) -> TokenRule {
    r.back = back;
    r
}

const fn with_check(mut r: TokenRule, check: Check) -> TokenRule {
    r.check = check;
    r
}

const fn skip(r: TokenRule, n: usize) -> TokenRule {
    with_check(r, Check::NotFake { skip: n })
}

/// The first two bytes at the anchor must be exactly `SK` / `AC` (the
/// automaton matched them case-insensitively) and be followed by hex.
fn quick_twilio(bytes: &[u8], at: usize) -> bool {
    bytes.len() >= at + 34
        && bytes[at].is_ascii_uppercase()
        && bytes[at + 1].is_ascii_uppercase()
        && bytes[at + 2].is_ascii_hexdigit()
        && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
}

/// Discord tokens have a 6-byte middle segment: the dot 7 bytes on must be a dot.
fn quick_discord(bytes: &[u8], at: usize) -> bool {
    at >= 23
        && bytes.get(at + 7) == Some(&b'.')
        && bytes[at - 1].is_ascii_alphanumeric()
        && bytes
            .get(at + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// AWS STS tokens: the anchor sits two bytes into the token, and those two
/// must be base64 that nothing base64 touches on the left.
fn quick_sts(bytes: &[u8], at: usize) -> bool {
    at >= 2
        && (at == 2
            || !(bytes[at - 3].is_ascii_alphanumeric() || matches!(bytes[at - 3], b'+' | b'/')))
        && super::text::is_b64(bytes[at - 1])
        && super::text::is_b64(bytes[at - 2])
}

/// A token glued to a word by `_` (`ws_AKIA…`, `token_ghp_…`): a word
/// byte and `_` before the anchor, for kinds whose prefix is distinctive
/// enough that a word ending in it is not a plausible identifier.
pub(crate) fn glued_by_underscore(rule: &TokenRule, bytes: &[u8], at: usize) -> bool {
    let glue_kind = matches!(
        rule.kind,
        Kind::AwsAccessKeyId
            | Kind::GcpApiKey
            | Kind::NpmToken
            | Kind::GithubPatClassic
            | Kind::GithubOauthToken
            | Kind::GithubAppToken
            | Kind::GithubFineGrainedPat
            | Kind::GitlabPat
            | Kind::StripeSecretKey
            | Kind::StripeRestrictedKey
            | Kind::SlackBotToken
            | Kind::SlackUserToken
            | Kind::DigitaloceanToken
            | Kind::OpenaiProjectKey
            | Kind::AnthropicApiKey
    );
    glue_kind && at >= 2 && bytes[at - 1] == b'_' && bytes[at - 2].is_ascii_alphanumeric()
}

/// A glued token must be whole, and an AWS key id's body real base32 with a
/// digit (`REGION_ASIAPACIFIC…` is a name, not a key).
pub(crate) fn glued_token_ok(rule: &TokenRule, token: &[u8]) -> bool {
    if rule.kind == Kind::AwsAccessKeyId {
        let body = &token[4.min(token.len())..];
        return token.len() == 20
            && body
                .iter()
                .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            && body.iter().any(u8::is_ascii_digit);
    }
    rule.short.is_none_or(|(_, full)| token.len() >= full)
}

/// Every self-identifying token format.
#[rustfmt::skip]
pub(crate) static RULES: &[TokenRule] = &[
    TokenRule { after: After::AwsPair, ..cut(skip(rule(Kind::AwsAccessKeyId, &["AKIA", "ASIA", "ABIA", "ACCA"], 20, r"^(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,16}"), 4), 4, 20) },
    with_edge(skip(rule(Kind::GcpApiKey, &["AIza"], 39, r"^AIza[A-Za-z0-9_-]{35}"), 4), edge_word_dash),
    with_edge(with_back(rule(Kind::AzureAdClientSecret, &["Q~"], 40, r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}"), 4), |b| b == b'_' || b == b'~' || b == b'.' || b == b'-'),
    TokenRule { secret_group: true, ..with_edge(rule(Kind::AzureStorageKey, &["AccountKey=", "SharedAccessKey="], 120, r"^(?i:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,}={0,2})"), |_| false) },
    cut(skip(rule(Kind::DigitaloceanToken, &["dop_v1_", "doo_v1_", "dor_v1_"], 71, r"^do[opr]_v1_[a-f0-9]{24,64}"), 7), 7, 71),
    skip(rule(Kind::CloudflareApiToken, &["v1.0-"], 180, r"^v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"), 5),
    with_edge(skip(rule(Kind::HerokuApiKey, &["HRKU-"], 70, r"^HRKU-AA[A-Za-z0-9_-]{56,60}"), 7), edge_word_dash),
    with_edge(skip(rule(Kind::VaultToken, &["hvs.", "hvb.", "hvr."], 400, r"^hv[sbr]\.[A-Za-z0-9_-]{24,}"), 4), edge_word_dash),
    with_edge(with_back(rule(Kind::TerraformCloudToken, &[".atlasv1."], 90, r"[a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}"), 14), |b| b == b'_' || b == b'-' || b == b'='),
    cut(with_check(rule(Kind::GithubPatClassic, &["ghp_"], 40, r"^ghp_[A-Za-z0-9]{16,36}"), Check::GithubChecksum), 4, 40),
    cut(with_check(rule(Kind::GithubOauthToken, &["gho_"], 40, r"^gho_[A-Za-z0-9]{16,36}"), Check::GithubChecksum), 4, 40),
    cut(with_check(rule(Kind::GithubAppToken, &["ghu_", "ghs_", "ghr_"], 260, r"^gh[usr]_[A-Za-z0-9]{16,255}"), Check::GithubChecksum), 4, 40),
    cut(skip(rule(Kind::GithubFineGrainedPat, &["github_pat_"], 255, r"^github_pat_[A-Za-z0-9_]{16,240}"), 11), 11, 93),
    with_edge(skip(rule(Kind::GitlabPat, &[ "glpat-", "glrt-", "gldt-", "glptt-", "gloas-", "glcbt-", "glimt-", "glft-", "glsoat-", "glagent-", "glffct-", "GR1348941", ], 310, r"^(?:(?:glpat|glrt|gldt|glptt|gloas|glcbt|glimt|glft|glsoat|glagent|glffct)-[A-Za-z0-9_-]{12,300}(?:\.[0-9a-z]{2}\.?[0-9a-z]{7,})?|GR1348941[A-Za-z0-9_-]{20,})"), 5), edge_word_dash),
    cut(with_check(rule(Kind::NpmToken, &["npm_"], 40, r"^npm_[A-Za-z0-9]{16,36}"), Check::GithubChecksum), 4, 40),
    with_edge(skip(rule(Kind::PypiToken, &["pypi-AgE"], 1100, r"^pypi-AgE[A-Za-z0-9_-]{50,}"), 8), edge_word_dash),
    with_edge(skip(rule(Kind::DockerhubPat, &["dckr_pat_", "dckr_oat_"], 100, r"^dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}"), 9), edge_word_dash),
    skip(rule(Kind::HuggingfaceToken, &["hf_", "api_org_"], 42, r"^(?:hf_|api_org_)[A-Za-z]{34}"), 3),
    cut(with_edge(skip(rule(Kind::OpenaiProjectKey, &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"], 260, r"^sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{16,}"), 8), edge_word_dash), 8, 100),
    cut(with_edge(skip(rule(Kind::OpenaiApiKeyLegacy, &["sk-"], 200, r"^sk-[A-Za-z0-9]{20,}"), 3), edge_word_dash), 3, 51),
    cut(with_edge(skip(rule(Kind::AnthropicApiKey, &["sk-ant-"], 260, r"^sk-ant-[a-z]{2,6}[0-9]{2}-[A-Za-z0-9_-]{16,}"), 13), edge_word_dash), 13, 100),
    cut(skip(rule(Kind::GroqApiKey, &["gsk_"], 56, r"^gsk_[A-Za-z0-9]{20,52}"), 4), 4, 56),
    with_edge(skip(rule(Kind::SlackBotToken, &["xoxb-", "xapp-"], 200, r"^(?:xoxb-[0-9]{6,}-[A-Za-z0-9-]{20,}|xapp-[0-9]-[A-Z0-9]{8,}-[0-9]{8,}-[A-Za-z0-9]{20,})"), 5), edge_word_dash),
    with_edge(skip(rule(Kind::SlackUserToken, &[ "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe.", "xoxe-", ], 300, r"^xox(?:[paors]-[0-9]{4,}-[A-Za-z0-9-]{20,}|e\.xox[bp]-[0-9]-[A-Za-z0-9-]{40,}|e-[0-9]-[A-Za-z0-9-]{40,})"), 5), edge_word_dash),
    with_edge(with_check(with_back(rule(Kind::SlackWebhookUrl, &["hooks.slack.com/"], 200, r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}"), 8), Check::WebhookSecret), |b| b == b'/' || b == b'_' || b == b'-'),
    // Teams connectors: the 32-hex id and the GUIDs after `IncomingWebhook/`
    // are the credential; the tenant host and path before it may be cut off.
    with_edge(with_check(with_back(rule(Kind::TeamsWebhookUrl, &["/incomingwebhook/"], 200, r"(?:https?://[A-Za-z0-9.-]{1,80}/webhookb?2?/)?[0-9a-fA-F-]{36}@[0-9a-fA-F-]{36}/IncomingWebhook/[0-9a-fA-F]{32}/[0-9a-fA-F-]{36}(?:/[A-Za-z0-9_-]{8,80})?"), 200), Check::WebhookSecret), edge_word_dash),
    // The same webhooks as notification URLs (Apprise, Shoutrrr, Watchtower):
    // `slack://T…/B…/<token>`, `discord://<id>/<token>`.
    with_check(rule(Kind::SlackWebhookUrl, &["slack://"], 120, r"^slack://[A-Za-z0-9]{8,12}/[A-Za-z0-9]{8,12}/[A-Za-z0-9]{20,32}"), Check::WebhookSecret),
    with_edge(with_check(rule(Kind::DiscordWebhookUrl, &["discord://"], 120, r"^discord://[0-9]{17,20}/[A-Za-z0-9_-]{50,90}"), Check::WebhookSecret), edge_word_dash),
    with_edge(with_check(with_back(rule(Kind::DiscordWebhookUrl, &["/api/webhooks/"], 200, r"(?:https?://)?(?:(?:canary\.|ptb\.)?discord(?:app)?\.com)/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{50,90}"), 40), Check::WebhookSecret), edge_word_dash),
    TokenRule { quick: Some(quick_discord), ..with_edge(with_check(with_back(rule(Kind::DiscordBotToken, &["."], 72, r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}"), 28), Check::DiscordId), edge_word_dash) },
    with_edge(with_back(skip(rule(Kind::TelegramBotToken, &[":AA"], 50, r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}"), 12), 10), edge_word_dash),
    TokenRule { quick: Some(quick_twilio), after: After::TwilioKey, ..skip(rule(Kind::TwilioApiKey, &["SK"], 34, r"^SK[0-9a-fA-F]{32}"), 2) },
    TokenRule { quick: Some(quick_twilio), after: After::TwilioAccount, report: false, ..rule(Kind::TwilioAuthToken, &["AC"], 34, r"^AC[0-9a-f]{32}") },
    with_edge(skip(rule(Kind::SendgridApiKey, &["SG."], 69, r"^SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"), 3), edge_word_dash),
    skip(rule(Kind::MailgunApiKey, &["key-"], 36, r"^key-[0-9a-zA-Z]{32}"), 4),
    cut(skip(rule(Kind::StripeSecretKey, &["sk_live_", "sk_test_"], 260, r"^sk_(?:live|test)_[A-Za-z0-9]{14,}"), 8), 8, 32),
    cut(skip(rule(Kind::StripeRestrictedKey, &["rk_live_", "rk_test_"], 260, r"^rk_(?:live|test)_[A-Za-z0-9]{14,}"), 8), 8, 32),
    with_edge(skip(rule(Kind::StripeWebhookSecret, &["whsec_"], 200, r"^whsec_[A-Za-z0-9+/=]{24,}"), 6), edge_b64),
    skip(rule(Kind::ShopifyToken, &["shpat_", "shpca_", "shppa_", "shpss_"], 38, r"^shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"), 6),
    with_edge(skip(rule(Kind::SquareToken, &["sq0atp-", "sq0csp-", "EAAA"], 200, r"^(?:sq0atp-[A-Za-z0-9_-]{22,}|sq0csp-[A-Za-z0-9_-]{40,}|EAAA[A-Za-z0-9_-]{60,})"), 4), edge_word_dash),
    skip(rule(Kind::NewrelicKey, &["NRAK-", "NRII-"], 50, r"^(?:NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9_-]{32})"), 5),
    with_back(rule(Kind::NewrelicKey, &["NRAL"], 40, r"[a-fA-F0-9]{36}NRAL"), 36),
    with_edge(skip(rule(Kind::SentryToken, &["sntryu_", "sntrys_"], 400, r"^(?:sntryu_[a-f0-9]{64}|sntrys_[A-Za-z0-9_=+/-]{40,})"), 7), edge_b64),
    skip(rule(Kind::DatabricksToken, &["dapi"], 38, r"^dapi[a-f0-9]{32}(?:-[0-9])?"), 4),
    with_edge(skip(rule(Kind::AtlassianApiToken, &["ATATT3"], 260, r"^ATATT3[A-Za-z0-9_=-]{150,}"), 6), edge_word_dash),
    with_edge(skip(rule(Kind::GrafanaToken, &["glsa_", "glc_"], 420, r"^(?:glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})"), 4), edge_b64),
    skip(rule(Kind::LinearApiKey, &["lin_api_"], 48, r"^lin_api_[A-Za-z0-9]{40}"), 8),
    skip(rule(Kind::PostmanApiKey, &["PMAK-"], 64, r"^PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"), 5),
    skip(rule(Kind::AgeSecretKey, &["AGE-SECRET-KEY-1"], 74, r"^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"), 16),
    cut(with_edge(skip(rule(Kind::GoogleOauthClientSecret, &["GOCSPX-"], 40, r"^GOCSPX-[A-Za-z0-9_-]{12,32}"), 7), edge_word_dash), 7, 35),
    cut(with_edge(skip(rule(Kind::GoogleOauthToken, &["ya29."], 2048, r"^ya29\.[A-Za-z0-9_.-]{14,}[A-Za-z0-9_-]"), 5), edge_word_dash), 5, 100),
    cut(with_edge(skip(rule(Kind::GoogleOauthToken, &["1//0"], 1024, r"^1//0[A-Za-z0-9_-]{16,}"), 4), edge_word_dash), 4, 60),
    cut(with_edge(skip(rule(Kind::GoogleOauthToken, &["4/0A"], 1024, r"^4/0A[A-Za-z0-9_-]{16,}"), 4), edge_word_dash), 4, 60),
    TokenRule { quick: Some(quick_sts), ..with_edge(skip(with_back(rule(Kind::AwsSessionToken, &["oJb3JpZ2luX2Vj", "oGZXIvYXdz"], 8192, r"[A-Za-z0-9+/]{2}(?:oJb3JpZ2luX2Vj|oGZXIvYXdz)(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd]){8,}"), 2), 16), |b| b == b'+' || b == b'/' || b == b'=' || b == b'%') },
    skip(rule(Kind::BridgeHttpToken, &["mcpb_"], 69, r"^mcpb_[0-9a-f]{64}"), 5),
    // SonarQube user, project and global analysis tokens (gitleaks sonar-api-token).
    skip(rule(Kind::TokenAssignment, &["squ_", "sqp_", "sqa_"], 44, r"^sq[upa]_[0-9a-f]{40}"), 4),
    skip(rule(Kind::BridgeApprovalToken, &["apv_"], 36, r"^apv_[0-9a-f]{32}"), 4),
    // Vendors' prefixed tokens reported as generic tokens (gitleaks rules of
    // the same names): cloud and CI, registries, SaaS, AI vendors.
    skip(rule(Kind::TokenAssignment, &["LTAI"], 34, r"^LTAI[A-Za-z0-9]{16,30}"), 4),
    skip(rule(Kind::TokenAssignment, &["AKCp"], 80, r"^AKCp[A-Za-z0-9]{64,73}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["sl."], 300, r"^sl\.(?:u\.)?[A-Za-z0-9_=-]{120,}"), 3), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["fm2_", "fm1r_", "fm1a_"], 8192, r"^fm(?:2|1[ar])_[A-Za-z0-9+/]{80,}={0,3}"), 4), edge_b64),
    with_edge(skip(rule(Kind::TokenAssignment, &["fo1_"], 50, r"^fo1_[A-Za-z0-9_-]{43}"), 4), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["sdk-", "mob-"], 40, r"^(?:sdk|mob)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), 4), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["pat-na1-", "pat-eu1-"], 50, r"^pat-(?:na|eu)1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), 8), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["r8_"], 40, r"^r8_[A-Za-z0-9]{37}"), 3),
    with_edge(skip(rule(Kind::TokenAssignment, &["pplx-"], 60, r"^pplx-[A-Za-z0-9]{48}"), 5), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["xai-"], 90, r"^xai-[A-Za-z0-9]{70,90}"), 4), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["sk-or-v1-"], 80, r"^sk-or-v1-[0-9a-f]{64}"), 9), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["ntn_"], 60, r"^ntn_[A-Za-z0-9]{40,50}"), 4),
    skip(rule(Kind::TokenAssignment, &["secret_"], 50, r"^secret_[A-Za-z0-9]{43}"), 7),
    skip(rule(Kind::TokenAssignment, &["figd_"], 60, r"^figd_[A-Za-z0-9_-]{40}"), 5),
    skip(rule(Kind::TokenAssignment, &["nfp_", "rnd_"], 50, r"^(?:nfp_[A-Za-z0-9]{36}|rnd_[A-Za-z0-9]{32})"), 4),
    skip(rule(Kind::TokenAssignment, &["sbp_", "bkua_"], 50, r"^(?:sbp|bkua)_[0-9a-f]{40}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["pscale_pw_", "pscale_tkn_", "pscale_oauth_"], 70, r"^pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_.=-]{32,64}"), 10), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["tskey-"], 100, r"^tskey-(?:auth|api|client|webhook|scim)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,}"), 6), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["ops_eyJ"], 4096, r"^ops_eyJ[A-Za-z0-9_+/=-]{100,}"), 4), edge_b64),
    with_edge(skip(rule(Kind::TokenAssignment, &["dp.st.", "dp.pt.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."], 80, r"^dp\.(?:st|pt|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}"), 6), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["pul-"], 48, r"^pul-[0-9a-f]{40}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["CCIPAT_"], 80, r"^CCIPAT_[A-Za-z0-9]{22}_[0-9a-f]{40}"), 7), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["FLWSECK-", "FLWSECK_TEST-"], 50, r"^FLWSECK(?:_TEST)?-[0-9a-f]{32}-X"), 8), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["rubygems_"], 57, r"^rubygems_[0-9a-f]{48}"), 9),
    skip(rule(Kind::TokenAssignment, &["oy2"], 46, r"^oy2[a-z0-9]{43}"), 3),
    with_edge(skip(rule(Kind::TokenAssignment, &["xkeysib-"], 90, r"^xkeysib-[0-9a-f]{64}-[A-Za-z0-9]{16}"), 8), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["dt0c01."], 100, r"^dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"), 7), edge_word_dash),
    with_edge(skip(rule(Kind::TokenAssignment, &["CFPAT-"], 60, r"^CFPAT-[A-Za-z0-9_-]{43}"), 6), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["ATBB"], 40, r"^ATBB[A-Za-z0-9]{32}"), 4),
    skip(rule(Kind::TokenAssignment, &["pnu_"], 40, r"^pnu_[A-Za-z0-9]{36}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["lsv2_pt_", "lsv2_sk_"], 60, r"^lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}"), 8), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["pcsk_"], 90, r"^pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}"), 5),
    skip(rule(Kind::TokenAssignment, &["shippo_live_", "shippo_test_"], 60, r"^shippo_(?:live|test)_[0-9a-f]{40}"), 12),
    skip(rule(Kind::TokenAssignment, &["EZAK", "EZTK"], 60, r"^EZ[AT]K[A-Za-z0-9]{54}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["EAAB", "EAAC", "EAAG", "EAAI", "EAAM"], 400, r"^EAA[BCGIM][A-Za-z0-9]{100,}"), 4), edge_b64),
    skip(rule(Kind::TokenAssignment, &["rdme_"], 80, r"^rdme_[a-z0-9]{70}"), 5),
    with_edge(skip(rule(Kind::TokenAssignment, &["mlsn."], 80, r"^mlsn\.[0-9a-f]{64}"), 5), edge_word_dash),
    skip(rule(Kind::TokenAssignment, &["aio_"], 40, r"^aio_[A-Za-z0-9]{28}"), 4),
    with_edge(skip(rule(Kind::TokenAssignment, &["tvly-"], 60, r"^tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}"), 5), edge_word_dash),
    with_edge(with_check(rule(Kind::Jwt, &["eyJ"], 16 * 1024, r"^eyJ[A-Za-z0-9_-]{8,2048}\.(?:eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+)?|[A-Za-z0-9_-]{0,2048}\.[A-Za-z0-9_-]{8,2048}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"), Check::Jwt), edge_word_dash),
];
