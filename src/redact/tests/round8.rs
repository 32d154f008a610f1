//! Round 8: code and structure in a secret-named slot, found by running
//! the engine over crate sources, the Python standard library and npm's
//! packages: declared types (`pub const IFLA_INET6_TOKEN: _bindgen_ty_7 =
//! …`), another variable's field (`colon2_token: node.colon2_token`), match
//! arms (`TLS_PSK_WITH_NULL_SHA => 0x002c`), typed numbers, dates, format
//! holes, word slugs, template fragments, version ranges, prompts and
//! registry paths stay; literals in the same places are still redacted.

use super::{all_kept, all_redacted, all_within};

#[test]
fn declared_types_and_struct_fields_are_not_values() {
    all_kept(&[
        "pub const IFLA_INET6_TOKEN: _bindgen_ty_7 = _bindgen_ty_7::IFLA_INET6_TOKEN;",
        "pub const DEVCONF_STABLE_SECRET: _bindgen_ty_3 = _bindgen_ty_3::DEVCONF_STABLE_SECRET;",
        "pub const LOGON32_LOGON_NEW_CREDENTIALS: LOGON32_LOGON = 9u32;",
        "pub const InheritPrivateKey: X509RequestInheritOptions = 3i32;",
        "    pub StorageOffloadZeroDataToken: STORAGE_OFFLOAD_TOKEN_0_0,",
        "    pub credentials: MI_UserCredentials_0,",
        "pub trait IWebAccountProviderTokenObjects2_Impl: IWebAccountProviderTokenObjects_Impl {",
        "        wrapped_key: &::js_sys::Uint8Array,",
        "pub const VALID_PASSWORD_HASHES: &[&str] = &[",
        "        let takes_ownership = move |token: CancellationToken| {",
        "    secret: Zeroizing<PayloadU8>,",
    ]);
}

#[test]
fn fields_and_expressions_of_code_are_not_values() {
    all_kept(&[
        "        colon2_token: node.colon2_token,",
        "        self.colon2_token == other.colon2_token && self.args == other.args",
        "                if let Some(dot2_token) = &self.dot2_token {",
        "            if let Some(psk_offer) = &client_hello.preshared_key_offer {",
        "        psk_offer.binders = psk_offer",
        "    generate_private_key: x25519_generate_private_key,",
        "        let traffic_secret_expander = TLS13_CHACHA20_POLY1305_SHA256_INTERNAL",
        "        let psk_offer = PresharedKeyOffer {",
        "        offered_psk: client_hello\n            .preshared_key_offer",
        "             auth = Auth::Raw(",
        "            Self::PasswordInvalid => write!(f, \"invalid password\"),",
        "      auth: parsedURL.username || parsedURL.password",
        "exports.SOCKS5_NO_ACCEPTABLE_AUTH = exports.SOCKS5_CUSTOM_AUTH_END = exports.SOCKS5_CUSTOM_AUTH_START = 1;",
        "      output = token.close = `)$))${extglobStar}`;",
    ]);
}

#[test]
fn match_arms_numbers_dates_and_sizes_are_not_values() {
    all_kept(&[
        "        TLS_PSK_WITH_AES_128_GCM_SHA256 => 0x00a8,",
        "        PSKKeyExchangeModes => 0x002d,",
        "        ResumptionPskBinderKey => b\"res binder\",",
        "pub const TOKEN_ALL_ACCESS: TOKEN_ACCESS_MASK = 983551u32;",
        "    // Parse offset datetime `key = 1979-05-27T07:32:00Z` and local datetime `key = 1979-05-27T07:32:00`.",
        "/// of a password hashing function is **32-bytes** (256-bits).",
        "            eprintln!(\"Could not set password: {err:?}\");",
    ]);
}

#[test]
fn slugs_templates_versions_prompts_and_paths_are_not_values() {
    all_kept(&[
        "        let key = \"x-hello-world-64\";",
        "     \"access_token\": \"m2m-access-token-12345\",",
        "    const KEY: &[u8] = b\"integration-signing-key-32-bytes!\";",
        "/// let old_key = b\"old-request-state-key-at-least-32b\".as_slice();",
        "          key: project-cache-v5-<< parameters.rust_img >>-{{ checksum \"Cargo.toml\" }}",
        "            let key = r\"SOFTWARE\\WOW6432Node\\Microsoft\\VisualStudio\\SxS\\VS7\";",
        "    \"minipass\": \"^7.0.4\"",
        "  \"dependencies\": {\"fs-minipass\": \"^3.0.0\", \"token-types\": \"~5.0.1\"}",
        "        data['confirm'] = getpass.getpass(' Confirm: ')",
        "__all__ = [\"getpass\",\"getuser\",\"GetPassWarning\"]",
        "    /// `--jobserver-auth=fifo:PATH`",
        "    SET password_encryption TO 'scram-sha-256';",
        "[coverage-image]: https://codecov.io/gh/RustCrypto/hybrid-array/graph/badge.svg?token=Z92NHFQ70G",
        "/// assert_eq!(auth, \"Basic QWxhZGRpbjpvcGVuc2VzYW1l\");",
    ]);
}

#[test]
fn literals_in_code_and_config_are_still_secrets() {
    all_redacted(&[
        (
            "pub const API_KEY: &str = \"Xk9mQ2vL7pR4sT8uW3yZ5aB6\";",
            "Xk9mQ2vL7pR4sT8uW3yZ5aB6",
        ),
        (
            "static SECRET: &[u8] = b\"q7Rk2Lm9Xv4Tz8Wp\";",
            "q7Rk2Lm9Xv4Tz8Wp",
        ),
        ("'DB_PASSWORD' => 'Xq8mZ2vL9kPw',", "Xq8mZ2vL9kPw"),
        ("'password' => 'Xq8mZ2vL9kPw',", "Xq8mZ2vL9kPw"),
        (":password => \"Xq8mZ2vL9kPw\"", "Xq8mZ2vL9kPw"),
        (
            "export const API_KEY = \"Xk9mQ2vL7pR4sT8uW3yZ\";",
            "Xk9mQ2vL7pR4sT8uW3yZ",
        ),
        (
            "export HCLOUD_TOKEN=oqrtBRmiUTSQU8SPTlCry5IjGXKEQkpo",
            "oqrtBRmiUTSQU8SPTlCry5IjGXKEQkpo",
        ),
        (
            "let token = \"Xk9mQ2vL7pR4sT8uW3yZ\".to_string();",
            "Xk9mQ2vL7pR4sT8uW3yZ",
        ),
        ("{token: Xk9mQ2vL7pR4sT8u, user: bob}", "Xk9mQ2vL7pR4sT8u"),
        (
            "secret_key: NdykgPWGCwVFYaDRB4PJVfg5 = old",
            "NdykgPWGCwVFYaDRB4PJVfg5",
        ),
        ("SECRET_KEY=kx-9fq2-mzt7-w4pl-r8vd", "9fq2-mzt7"),
        (
            "password: correct-horse-battery-staple",
            "correct-horse-battery-staple",
        ),
        ("token: nu2tuam8an1iw27704it", "nu2tuam8an1iw27704it"),
        ("password = Xq8mZ2vL9kP\n", "Xq8mZ2vL9kP"),
        ("DB_PASSWORD=\"Tr0ub4dor&3x\" ./run.sh", "Tr0ub4dor&3x"),
        ("\"password\": \"^Xq8mZ2vL9kP\"", "Xq8mZ2vL9kP"),
    ]);
}

#[test]
fn code_value_checks_stay_linear() {
    let inputs = vec![
        format!("pub const TOKEN: {}", "A_".repeat(50_000)),
        format!("token: {}", "a.".repeat(50_000)),
        format!("key = {}", "x-".repeat(50_000)),
        format!("X => {}", "0x".repeat(50_000)),
        "password: node.x ".repeat(20_000),
    ];
    all_within(&inputs, 20.0);
}
