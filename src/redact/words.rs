//! Word lists used to judge names and values: placeholders, fixtures,
//! references, and the name words that do or do not mark a secret slot.
//!
//! Kept apart from the logic in [`super::value`] and [`super::names`] so the
//! lists can grow without touching the rules.

#[rustfmt::skip]
/// Substrings that mark a value as a placeholder or an elided / masked secret.
/// Each is long or odd enough never to occur by chance in a random token.
pub(crate) const PLACEHOLDER_PARTS: &[&str] = &[
    "example", "changeme", "change_me", "change-me", "changeit", "placeholder", "replace", "redacted", "dummy",
    "xxxx", "****", "...", "\u{2026}", "\u{2022}\u{2022}", "goes_here", "goes-here", "goeshere", "notreal",
    "not-a-real", "not_a_real", "fake-", "fake_", "0000000", "1234567890", "abcdef", "secretvalue",
    "secret-value", "secret_value", "my-secret", "my_secret", "mysecret", "supersecret", "super-secret",
    "super_secret",
];

/// The signature of jwt.io's documentation example, left alone like other
/// documented examples wherever it appears (a bare JWT, a `Bearer` header,
/// an assignment).
pub(crate) const JWT_IO_EXAMPLE_SIG: &[u8] = b"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

#[rustfmt::skip]
/// Short placeholder words, only counted as whole words (`YOUR_API_KEY`,
/// `xoxb-your-token`, `TODO`), since as substrings they occur in random text.
pub(crate) const PLACEHOLDER_WORDS: &[&str] = &[
    "your", "todo", "tbd", "fixme", "insert", "here", "none", "null", "xxx", "fake",
];

#[rustfmt::skip]
/// Exact values (case-insensitive) that are fixtures or defaults, not secrets.
pub(crate) const TRIVIAL: &[&str] = &[
    "password", "passw0rd", "p@ssw0rd", "p@ssword", "password1", "password123", "pass", "pass123", "passwd", "test",
    "test123", "testing", "testpass", "testpassword", "secret", "secret123", "s3cr3t", "changeme", "changeit",
    "admin", "admin123", "administrator", "root", "toor", "postgres", "mysql", "mongo", "redis", "guest", "user",
    "username", "demo", "default", "letmein", "qwerty", "qwerty123", "123456", "1234567", "12345678", "123456789",
    "abc123", "foobar", "foo", "bar", "baz", "hunter", "none", "null", "nil", "undefined", "true", "false", "yes",
    "no", "on", "off", "string", "str", "text", "required", "optional", "hidden", "masked", "empty", "token",
    "apikey", "api_key", "api-key", "key", "value", "secretkey", "secret_key", "dev", "development", "local",
    "localhost", "prod", "production", "staging", "pw", "pwd", "welcome", "welcome1", "iloveyou", "master", "login",
    "access", "private", "public", "enabled", "disabled", "sha256", "bcrypt", "argon2",
];

#[rustfmt::skip]
/// Words that, padded with digits and punctuation (`Welcome1!`, `test123`,
/// `Admin@2024`), make a fixture password rather than a real one.
pub(crate) const TRIVIAL_CORES: &[&str] = &[
    "test", "testing", "tester", "demo", "admin", "user", "guest", "secret", "password", "pass", "qwerty",
    "letmein", "welcome", "root", "postgres", "mysql", "changeme", "foo", "bar", "foobar", "alice", "bob", "hello",
    "abc", "xyz", "default", "sample", "example", "pw", "pwd", "dev", "local", "app", "db",
];

#[rustfmt::skip]
/// Prefixes of expressions that reference a secret kept elsewhere.
pub(crate) const REFERENCE_PREFIXES: &[&str] = &[
    "${", "$(", "{{", "#{", "@{", "%env(", "process.env", "os.environ", "os.getenv", "getenv(", "env(", "env.", "env:",
    "env[", "ENV[", "ENV.", "secrets.", "secret.", "vars.", "var.", "local.", "locals.", "data.", "module.",
    "settings.", "config.", "conf.", "cfg.", "self.", "this.", "props.", "args.", "opts.", "options.", "params.",
    "request.", "req.", "input.", "inputs.", "context.", "ctx.", ".Values", "Values.", "vault:", "op://", "ref+",
    "arn:", "sm://", "file:", "keyring", "@Microsoft.KeyVault", "System.getenv", "std::env", "import.meta",
    "Deno.env", "System.Environment", "Environment.Get", "Secret(", "SecretStr(", "getpass", "input(", "prompt(",
    "None", "nil", "null", "undefined", "get_secret", "get_password", "read_secret", "fetch_secret",
    // Elixir's environment; Spring Cloud Config's ciphertext, meant to be committed.
    "System.fetch_env", "System.get_env", "Application.get_env", "Application.fetch_env", "{cipher}",
];

#[rustfmt::skip]
/// Last words that make a name describe something about a secret, not hold one.
pub(crate) const SUFFIX_STOP: &[&str] = &[
    "hash", "hashed", "digest", "checksum", "length", "len", "policy", "policies", "reset", "field", "fields",
    "prompt", "file", "files", "path", "paths", "dir", "url", "uri", "urls", "endpoint", "expiry", "expires",
    "expiration", "expired", "ttl", "lifetime", "type", "types", "name", "names", "count", "counts", "limit",
    "limits", "max", "min", "size", "usage", "format", "prefix", "suffix", "header", "headers", "param", "params",
    "env", "var", "vars", "variable", "ref", "refs", "arn", "version", "rotation", "store", "storage", "manager",
    "source", "mode", "provider", "helper", "command", "cmd", "script", "location", "timeout", "interval", "label",
    "hint", "placeholder", "pattern", "regex", "validator", "validation", "strength", "required", "enabled",
    "error", "errors", "message", "msg", "generator", "input", "ids", "index", "column", "table", "attribute",
    "option", "options", "less", "changed", "updated", "at", "used", "sent", "verified", "check", "rule", "rules",
    "reference", "holder", "bucket", "group", "role", "audience", "issuer", "algorithm", "alg", "scope", "scopes",
    "kind", "class", "request", "response", "result", "callback", "handler", "cache", "list", "map", "set", "id",
    "owner", "policy", "question", "confirmed", "authority", "mechanism", "method", "strategy", "config",
    "settings", "dialog", "form", "page", "screen", "button", "link", "fingerprint", "bits", "algo", "store",
    "server", "host", "port", "user", "username", "login", "email", "account", "region", "project", "vault",
    "stdin", "stdout", "hex", "bytes", "encoded", "urlsafe", "encryption", "hashing", "encoding",
];

#[rustfmt::skip]
/// Words anywhere in a name that make it something other than a secret slot.
pub(crate) const ANY_STOP: &[&str] = &[
    "public", "publishable", "idempotency", "hotkey", "keyboard", "keyword", "keywords", "keystroke", "keychain",
    "keyring", "keystore", "keypair", "tokenizer", "tokenize", "tokenized", "tokens", "keys", "secrets",
    "passwords", "monkey", "turkey", "donkey", "jockey", "hockey", "whiskey", "pagination", "next", "continuation",
    "cursor", "passwordless", "passkey", "passkeys", "secretary", "example", "sample", "dummy", "fake",
    "mock", "placeholder", "fixture", "is", "has", "should", "enable", "show", "hide", "validate", "verify",
    "forgot", "require", "requires", "allow", "min", "max", "num", "total", "sitekey", "author", "authored",
    "authors", "spoken", "hotkeys", "shortcut", "your",
    // MCP's and LSP's `progressToken`: an id for progress notifications.
    "progress",
];

#[rustfmt::skip]
/// Words that make `…_key` name an identifier (`cache_key`, `s3_key`,
/// `react key prop`, `recaptcha_site_key`) unless the name also says
/// secret, token or API key (`S3_SECRET_KEY`, `REDIS_AUTH_TOKEN`,
/// `REACT_APP_API_KEY`, `RECAPTCHA_SECRET_KEY`).
pub(crate) const KEY_CONTEXT_STOP: &[&str] = &[
    "primary", "foreign", "sort", "partition", "lookup", "composite", "unique", "recaptcha", "captcha", "oauth2",
    "cache", "redis", "s3", "object", "lock", "routing", "dedup", "dedupe", "row", "hash", "range", "map", "dict",
    "bucket", "blob", "gpg", "pgp", "fingerprint", "ssh", "known", "host", "i18n", "translation", "label", "css",
    "react", "jsx", "prop", "props", "enum", "websocket", "socket",
];

#[rustfmt::skip]
/// The stop words that also keep a password word from naming a password
/// slot (`show_password`, `example_password`); the rest name a service or
/// store (`redis_password`).
pub(crate) const PASSWORD_STOP: &[&str] = &[
    "public", "publishable", "passwordless", "passkey", "passkeys", "passwords", "example", "sample", "dummy",
    "fake", "mock", "placeholder", "fixture", "is", "has", "should", "enable", "show", "hide", "validate",
    "verify", "forgot", "require", "requires", "allow", "min", "max", "num", "total", "hash", "your", "i18n",
    "translation", "label", "css", "react", "jsx", "prop", "props", "enum", "spoken", "author", "authored",
    "authors", "lookup", "next", "cursor",
];

#[rustfmt::skip]
/// Words ending in `pass` that are not passwords.
pub(crate) const PASS_FALSE: &[&str] = &[
    "bypass", "compass", "surpass", "overpass", "underpass", "trespass", "encompass", "multipass", "firstpass",
    "onepass", "buypass", "keepass", "lastpass", "ezpass", "skipass", "subpass", "renderpass", "mainpass",
    "shadowpass", "depthpass", "secondpass", "prepass", "postpass", "singlepass", "twopass", "boardingpass",
    "minipass", "getpass",
];

#[rustfmt::skip]
/// Words before `pass` that make it something other than a password: a
/// stage of work (a render or compute pass of a GPU pipeline, a compiler
/// pass, a pass over data), a ticket (`boarding_pass`) or the verb
/// (`fds_to_pass`).
pub(crate) const PASS_STAGE: &[&str] = &[
    "render", "compute", "shadow", "depth", "blit", "draw", "geometry", "gbuffer", "lighting", "light", "opaque",
    "transparent", "transparency", "post", "pre", "main", "first", "second", "third", "final", "last", "next",
    "prev", "previous", "current", "cur", "copy", "clear", "blur", "bloom", "composite", "ui", "overlay", "raster",
    "resolve", "deferred", "forward", "sub", "mesh", "particle", "sky", "outline", "mip", "downsample", "upsample",
    "compile", "compiler", "optimization", "optimize", "lowering", "analysis", "lint", "llvm", "mir", "hir", "ir",
    "codegen", "transform", "inline", "begin", "end", "tonemap", "occlusion", "cull", "culling", "denoise", "hdr",
    "ray", "single", "multi", "double", "full", "partial", "dry", "boarding", "free", "each", "one", "two", "to",
];

#[rustfmt::skip]
/// Words after `pass` that keep it a password (`pass_phrase`, `PASS_PROD`,
/// `pass_b64`); any other (`encoder`, `descriptor`, `through`) makes it a
/// pass of something.
pub(crate) const PASS_AFTER: &[&str] = &[
    "word", "wd", "phrase", "code", "prod", "production", "dev", "development", "staging", "stage", "test", "qa",
    "uat", "local", "live", "sandbox", "old", "new", "b64", "base64", "enc", "encrypted", "plain", "plaintext",
    "clear", "raw", "value", "val", "str",
];

#[rustfmt::skip]
/// Qualifiers that make `…_key` an API key rather than a map key.
pub(crate) const KEY_QUALIFIERS: &[&str] = &[
    "api", "access", "app", "application", "license", "licence", "client", "consumer", "subscription", "service",
    "admin", "write", "read", "ingest", "dev", "developer", "partner", "merchant", "bot", "personal", "org",
    "organization", "private", "signing", "encryption", "master", "secret", "sdk", "integration", "rest", "live",
    "prod", "production", "webhook", "hmac", "session", "cookie", "jwt", "auth", "x", "logged", "nonce",
    // Services whose `<SERVICE>_KEY` is their API key.
    "algolia", "mailchimp", "sendgrid", "mailgun", "postmark", "resend", "brevo", "stripe", "paypal", "braintree",
    "plaid", "openai", "anthropic", "cohere", "mistral", "groq", "gemini", "deepseek", "perplexity", "replicate",
    "pinecone", "weaviate", "qdrant", "mapbox", "pusher", "segment", "mixpanel", "amplitude", "contentful",
    "airtable", "notion", "shopify", "twitch", "okta", "auth0", "clerk", "firebase", "supabase", "elastic",
    "elasticsearch", "infura", "alchemy", "etherscan", "pagerduty", "opsgenie", "bugsnag", "rollbar", "snyk",
    "netlify", "vercel", "doppler", "upstash", "openweather", "openweathermap", "tmdb", "giphy", "unsplash",
    "kaggle", "wandb",
];

/// Type annotations that may sit between `name:` and `=`.
pub(crate) const TYPES: &[&str] = &[
    "&str",
    "&'static str",
    "str",
    "String",
    "string",
    "Option<&str>",
    "Option<String>",
    "&[u8]",
    "SecretString",
    "Secret<String>",
    "char*",
    "const char*",
    "[]byte",
    "&'static [u8]",
    "any",
    "text",
    "Str",
];

/// Words that may continue a spoken name (`Secret Access Key [None]:`).
pub(crate) const CONTINUATION: &[&str] = &[
    "access", "key", "id", "token", "secret", "api", "auth", "code",
];

/// The first `password` in `v`, else the first `passwd`, `pass` or `pwd`
/// (position and length), found in one pass: a value full of `p`s
/// (`pw=pw=…`) must not be searched once per word.
pub(crate) fn first_password_word(v: &[u8]) -> Option<(usize, usize)> {
    const WORDS: [&[u8]; 4] = [b"password", b"passwd", b"pass", b"pwd"];
    let mut first = [None; 4];
    for i in 0..v.len() {
        if !matches!(v[i], b'p' | b'P') {
            continue;
        }
        for (k, w) in WORDS.iter().enumerate() {
            if first[k].is_none()
                && v.len() - i >= w.len()
                && v[i..i + w.len()].eq_ignore_ascii_case(w)
            {
                first[k] = Some((i, w.len()));
            }
        }
        if first[0].is_some() {
            break;
        }
    }
    first.into_iter().flatten().next()
}
