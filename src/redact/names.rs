//! Classifies the *name* in `name = value`: is it a password, a secret, an
//! API key, a token — and does it pin a product (`DD_API_KEY`,
//! `TWILIO_AUTH_TOKEN`, `aws_secret_access_key`)? Names are split into
//! lowercase words (`openweatherApiKey` → `openweather api key`), so
//! `passwordless`, `password_hash`, `max_tokens` or `token_count` do not count.

use super::kinds::Kind;
use super::scan::priority;
use super::value::Strictness;
use super::words::{
    ANY_STOP, KEY_CONTEXT_STOP, KEY_QUALIFIERS, PASS_AFTER, PASS_FALSE, PASS_STAGE, PASSWORD_STOP,
    SUFFIX_STOP,
};

/// What a secret-bearing name says about its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameClass {
    pub kind: Kind,
    pub strictness: Strictness,
    pub priority: u8,
}

/// A word that names a password wherever it stands in a name.
fn is_password_word(w: &str) -> bool {
    w.ends_with("password")
        || w.ends_with("passwd")
        || w.ends_with("passphrase")
        || w.ends_with("passcode")
        || w.ends_with("pwd")
        || w == "pw"
        || w == "psk"
        || w == "passwort"
        || TYPOS.iter().any(|t| w.ends_with(t))
        || ROOT_PW.contains(&w)
}

/// Misspelt password words, as typed in a hurry (`passwrod`, `DB_PASWORD`):
/// no other word ends in them.
const TYPOS: &[&str] = &[
    "pasword",
    "passwrod",
    "passowrd",
    "passwrd",
    "pssword",
    "passsword",
    "paswword",
    "passwod",
    "paswd",
    "paasword",
];

/// `rootpw` of slapd.conf and its kin: a `pw` glued to who it belongs to.
const ROOT_PW: &[&str] = &["rootpw", "adminpw", "dbpw", "userpw", "bindpw", "sapw"];

/// Whether `words[i]`, `pass` or a word ending in it (`dbpass`), names a
/// password. Code is full of other passes: of a render pipeline
/// (`GpuComputePassEncoder`, `render_pass`), a compiler, a test run
/// (`pass_count`, `passEncoder`). So `pass` counts as the name's last word
/// (`DB_PASS`, `smtpPass`) or before words that keep it a password
/// (`pass_phrase`, `PASS_PROD`, `PASS_2`), and not after a word that makes
/// it something else (`render_pass`, `fds_to_pass`, `boarding_pass`).
fn pass_names_password(words: &[String], i: usize) -> bool {
    let w = words[i].as_str();
    if !w.ends_with("pass") || PASS_FALSE.contains(&w) {
        return false;
    }
    if w == "pass" && i > 0 && PASS_STAGE.contains(&words[i - 1].as_str()) {
        return false;
    }
    words[i + 1..]
        .iter()
        .all(|x| PASS_AFTER.contains(&x.as_str()) || x.bytes().all(|b| b.is_ascii_digit()))
}

/// File extensions: a name ending in one (`signing-key.asc:` in a
/// changelog, `api_token.txt`) is a file's, not a setting's.
const FILE_EXTS: &[&str] = &[
    "asc", "gpg", "pgp", "pem", "pub", "crt", "cer", "der", "p12", "pfx", "jks", "txt", "json",
    "yaml", "yml", "toml", "ini", "cfg", "conf", "md", "rst", "html", "xml", "csv", "log", "sh",
    "py", "rs", "js", "ts", "go", "rb", "gz", "zip",
];

/// Whether `name` (as written, dots kept) is a file name.
pub(crate) fn is_file_name(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    dot > 0
        && FILE_EXTS
            .iter()
            .any(|x| name[dot + 1..].eq_ignore_ascii_case(x.as_bytes()))
}

/// Splits `name` into lowercase words at non-alphanumerics and camelCase humps.
pub(crate) fn split_words(name: &[u8], out: &mut Vec<String>) {
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    for (i, &b) in name.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            flush(&mut cur, out);
            continue;
        }
        let prev = if i > 0 { name[i - 1] } else { b' ' };
        let next = name.get(i + 1).copied().unwrap_or(b' ');
        let hump = b.is_ascii_uppercase()
            && (prev.is_ascii_lowercase()
                || (prev.is_ascii_uppercase() && next.is_ascii_lowercase()));
        if hump {
            flush(&mut cur, out);
        }
        cur.push(char::from(b.to_ascii_lowercase()));
    }
    flush(&mut cur, out);
}

/// Classifies the name whose words are `words`; `ident_words` is how many of
/// them (at the end) come from the identifier itself rather than the
/// preceding prose word.
pub(crate) fn classify(words: &[String], ident_words: usize) -> Option<NameClass> {
    classify_words(words, ident_words).or_else(|| {
        // Digits written for look-alike letters (`passw0rd`, `s3cret`,
        // `t0ken`, `ap1_k3y`): the name read with letters.
        let folded: Vec<String> = words.iter().map(|w| unleet(w)).collect();
        (folded != words)
            .then(|| classify_words(&folded, ident_words))
            .flatten()
    })
}

/// Secret words as they read once look-alike digits are letters again.
const LEET_ROOTS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "api",
    "apikey",
    "credential",
    "credentials",
    "auth",
    "secretkey",
    "accesskey",
];

/// `w` with `0 1 3 4 5 7` read as `o i e a s t`, when that spells a secret
/// word (`passw0rd` → `password`); otherwise `w` unchanged (`sha256`, `v2`).
fn unleet(w: &str) -> String {
    if !w.bytes().any(|b| b"013457".contains(&b)) || !w.bytes().any(|b| b.is_ascii_alphabetic()) {
        return w.to_string();
    }
    let folded: String = w
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect();
    if LEET_ROOTS.iter().any(|r| folded.ends_with(r)) {
        folded
    } else {
        w.to_string()
    }
}

fn classify_words(words: &[String], ident_words: usize) -> Option<NameClass> {
    let last = words.last()?.as_str();
    if SUFFIX_STOP.contains(&last) && !(last == "id" && secret_id(words)) {
        return None;
    }
    // `pw` names a password only as the name's last word (`DB_PW`), not as
    // a prefix (`pw_uid`, `pw_name` of struct passwd).
    let password = words.iter().enumerate().any(|(i, w)| {
        (is_password_word(w) && (w != "pw" || i + 1 == words.len()))
            || pass_names_password(words, i)
    });
    // A service or store named before a password word (`REDIS_PASSWORD`,
    // `keystore_password`, `ssh_password`) still names a password, and
    // before a secret, token, API key or access key word a secret
    // (`S3_SECRET_KEY`, `primary_access_key` of an Azure storage account).
    let strong = words
        .iter()
        .any(|w| w.ends_with("secret") || w.ends_with("token"))
        || words.concat().contains("apikey")
        || words.concat().contains("accesskey");
    let stop = |w: &&String| {
        let w = w.as_str();
        if password {
            PASSWORD_STOP.contains(&w)
        } else {
            ANY_STOP.contains(&w) || (!strong && KEY_CONTEXT_STOP.contains(&w))
        }
    };
    // A plural that names a group before the slot (`secrets.cloudflareApiToken`
    // in Helm values, `keys.stripe_secret`) stops nothing.
    let namespace = |i: usize, w: &String| {
        ["secrets", "keys", "tokens", "passwords"].contains(&w.as_str())
            && words[i + 1..].iter().enumerate().any(|(k, l)| {
                is_password_word(l)
                    || pass_names_password(words, i + 1 + k)
                    || l.ends_with("secret")
                    || l.ends_with("token")
                    || l == "key"
            })
    };
    if words
        .iter()
        .enumerate()
        .any(|(i, w)| stop(&w) && !namespace(i, w))
    {
        return None;
    }
    let has = |w: &str| words.iter().any(|x| x == w);
    let joined: String = words.concat();
    let jc = |s: &str| joined.contains(s);
    let named = |kind| {
        Some(NameClass {
            kind,
            strictness: Strictness::Random,
            priority: priority::NAMED,
        })
    };
    let generic = |kind, strictness| {
        Some(NameClass {
            kind,
            strictness,
            priority: priority::ASSIGN,
        })
    };
    let keyish =
        has("key") || has("token") || has("secret") || jc("apikey") || jc("token") || jc("secret");

    if password {
        return generic(Kind::PasswordAssignment, Strictness::Password);
    }
    if jc("secretaccesskey") || (has("aws") && (jc("secret") || jc("sessiontoken"))) {
        return named(Kind::AwsSecretAccessKey);
    }
    if has("twilio") && (jc("token") || has("auth")) {
        return named(Kind::TwilioAuthToken);
    }
    if has("twilio") && keyish {
        return named(Kind::TwilioApiKey);
    }
    if (has("datadog") || has("dd") || jc("ddapi") || jc("ddapp"))
        && (keyish || has("api") || has("app"))
    {
        return named(Kind::DatadogKey);
    }
    if ((has("cloudflare") || has("cf")) && keyish) || joined == "xauthkey" {
        return named(Kind::CloudflareApiToken);
    }
    if has("heroku") && keyish {
        return named(Kind::HerokuApiKey);
    }
    if has("mailgun") && keyish {
        return named(Kind::MailgunApiKey);
    }
    if has("vault") && jc("token") {
        return named(Kind::VaultToken);
    }
    if jc("accountkey") || jc("storagekey") || jc("sharedaccesskey") || (has("azure") && has("key"))
    {
        return named(Kind::AzureStorageKey);
    }
    if (has("relic") || has("newrelic")) && keyish {
        return named(Kind::NewrelicKey);
    }
    if has("sentry") && keyish {
        return named(Kind::SentryToken);
    }
    if has("databricks") && keyish {
        return named(Kind::DatabricksToken);
    }
    if has("discord") && jc("token") {
        return named(Kind::DiscordBotToken);
    }
    if has("telegram") && jc("token") {
        return named(Kind::TelegramBotToken);
    }
    let secretish = words.iter().any(|w| w.ends_with("secret"))
        || [
            "secretkey",
            "signingkey",
            "encryptionkey",
            "privatekey",
            // WireGuard's `PresharedKey` (its `PublicKey` is public).
            "presharedkey",
            "masterkey",
            "hmackey",
            "sessionkey",
            "jwtkey",
        ]
        .iter()
        .any(|s| jc(s));
    if secretish {
        return generic(Kind::SecretAssignment, Strictness::Random);
    }
    if has("credential") || has("credentials") || has("creds") {
        return generic(Kind::SecretAssignment, Strictness::Random);
    }
    if jc("apikey") {
        return generic(Kind::ApiKeyAssignment, Strictness::Random);
    }
    if words.iter().any(|w| w.ends_with("token")) {
        return generic(Kind::TokenAssignment, Strictness::Random);
    }
    // WordPress's `AUTH_SALT`, `NONCE_SALT`, Rails' `key_derivation_salt`:
    // secret inputs of a key derivation (a bare `salt` is often stored in
    // the clear beside its hash).
    if last == "salt" && words.iter().any(|w| SALT_QUALIFIERS.contains(&w.as_str())) {
        return generic(Kind::SecretAssignment, Strictness::Random);
    }
    if last == "key" {
        let own = &words[words.len().saturating_sub(ident_words)..];
        if own.len() >= 2 && own.iter().any(|w| KEY_QUALIFIERS.contains(&w.as_str())) {
            return generic(Kind::ApiKeyAssignment, Strictness::Random);
        }
        return generic(Kind::ApiKeyAssignment, Strictness::Bare);
    }
    if last == "auth" || last == "authkey" {
        return generic(Kind::TokenAssignment, Strictness::Random);
    }
    None
}

/// Words that make `…_salt` name a secret.
const SALT_QUALIFIERS: &[&str] = &[
    "auth",
    "nonce",
    "logged",
    "secure",
    "derivation",
    "secret",
    "signing",
    "cookie",
    "session",
];

/// `secret_id` (Vault AppRole) and `VAULT_DEV_ROOT_TOKEN_ID` (the token
/// itself) hold a secret; `key_id`, `token_id` do not.
fn secret_id(words: &[String]) -> bool {
    let has = |w: &str| words.iter().any(|x| x == w);
    (words.len() >= 2 && words[words.len() - 2] == "secret")
        || (has("vault") && has("root") && has("token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_not_setting_names() {
        assert!(is_file_name(b"signing-key.asc"));
        assert!(is_file_name(b"api_token.txt"));
        assert!(!is_file_name(b"app.secret.key"));
        assert!(!is_file_name(b"spring.datasource.password"));
        let redact = crate::redact::tests::redacted;
        for text in [
            "    - d/upstream/signing-key.asc: Upstream public key.",
            "Zutty. To use clang instead, pass =--check-cxx-compiler=clang++= to",
        ] {
            assert_eq!(redact(text), text);
        }
        assert!(!redact("app.secret.key: Zq8mWn3Lp7RtYb2Kx9VcXk9f").contains("Zq8mWn3L"));
    }

    fn class(name: &str) -> Option<Kind> {
        let mut w = Vec::new();
        split_words(name.as_bytes(), &mut w);
        let n = w.len();
        classify(&w, n).map(|c| c.kind)
    }

    #[test]
    fn names() {
        assert_eq!(class("SMTP_PASSWORD"), Some(Kind::PasswordAssignment));
        assert_eq!(class("PGPASSWORD"), Some(Kind::PasswordAssignment));
        assert_eq!(class("password_hash"), None);
        assert_eq!(class("passwordless"), None);
        assert_eq!(class("max_tokens"), None);
        assert_eq!(class("token_count"), None);
        assert_eq!(class("api_key_env_var"), None);
        assert_eq!(class("openweatherApiKey"), Some(Kind::ApiKeyAssignment));
        assert_eq!(class("x-api-key"), Some(Kind::ApiKeyAssignment));
        assert_eq!(class("secretAccessKey"), Some(Kind::AwsSecretAccessKey));
        assert_eq!(
            class("aws_secret_access_key"),
            Some(Kind::AwsSecretAccessKey)
        );
        assert_eq!(class("TWILIO_AUTH_TOKEN"), Some(Kind::TwilioAuthToken));
        assert_eq!(class("DD_APP_KEY"), Some(Kind::DatadogKey));
        assert_eq!(class("client_secret"), Some(Kind::SecretAssignment));
        assert_eq!(class("secretKeyRef"), None);
        assert_eq!(class("AccessKeyId"), None);
        assert_eq!(class("GH_TOKEN"), Some(Kind::TokenAssignment));
        assert_eq!(class("_authToken"), Some(Kind::TokenAssignment));
        assert_eq!(class("Author"), None);
        assert_eq!(class("public_key"), None);
        assert_eq!(class("bypass"), None);
        assert_eq!(class("REDIS_PASSWORD"), Some(Kind::PasswordAssignment));
        assert_eq!(class("DB_PW"), Some(Kind::PasswordAssignment));
        assert_eq!(class("pw_uid"), None);
        assert_eq!(class("passw0rd"), Some(Kind::PasswordAssignment));
        assert_eq!(class("DB_P4SSWORD"), Some(Kind::PasswordAssignment));
        assert_eq!(class("s3cret"), Some(Kind::SecretAssignment));
        assert_eq!(class("ap1_k3y"), Some(Kind::ApiKeyAssignment));
        assert_eq!(class("sha256"), None);
        assert_eq!(class("oauth2"), None);
        assert_eq!(class("keystorePassword"), Some(Kind::PasswordAssignment));
        assert_eq!(class("redis_key"), None);
        assert_eq!(class("show_password"), None);
        assert_eq!(class("example_password"), None);
        // Context words name an identifier only without a secret word.
        assert_eq!(class("cache_key"), None);
        assert_eq!(class("s3_key"), None);
        assert_eq!(class("recaptcha_site_key"), None);
        assert_eq!(class("S3_SECRET_KEY"), Some(Kind::SecretAssignment));
        assert_eq!(class("CACHE_SECRET"), Some(Kind::SecretAssignment));
        assert_eq!(class("REDIS_AUTH_TOKEN"), Some(Kind::TokenAssignment));
        assert_eq!(class("REACT_APP_API_KEY"), Some(Kind::ApiKeyAssignment));
        assert_eq!(class("RECAPTCHA_SECRET_KEY"), Some(Kind::SecretAssignment));
        assert_eq!(class("OAUTH2_CLIENT_SECRET"), Some(Kind::SecretAssignment));
        assert_eq!(class("HOST_API_KEY"), Some(Kind::ApiKeyAssignment));
        assert_eq!(class("max_tokens"), None);
        assert_eq!(class("next_page_token"), None);
        assert_eq!(class("VAULT_DEV_ROOT_TOKEN_ID"), Some(Kind::VaultToken));
        assert_eq!(class("ALGOLIA_KEY"), Some(Kind::ApiKeyAssignment));
    }

    #[test]
    fn pass_names_a_password_only_where_it_ends_the_name() {
        for name in [
            "pass",
            "PASS",
            "db_pass",
            "DB_PASS",
            "smtpPass",
            "mysql_pass",
            "MYSQL_PASS",
            "dbpass",
            "pass_phrase",
            "passWord",
            "SMTP_PASS_PROD",
            "PASS_2",
            "DB_PA55",
            "secrets.dbPass",
        ] {
            assert_eq!(class(name), Some(Kind::PasswordAssignment), "{name}");
        }
        for name in [
            "GpuComputePassEncoder",
            "RenderPassDescriptor",
            "passEncoder",
            "render_pass",
            "renderPass",
            "shadow_pass",
            "compute_pass",
            "pass_count",
            "pass_through",
            "passThrough",
            "bypassCache",
            "compassHeading",
            "pass_fail",
            "first_pass_result",
            "boarding_pass",
            "fds_to_pass",
        ] {
            assert_eq!(class(name), None, "{name}");
        }
    }
}
