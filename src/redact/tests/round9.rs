//! Round 9: recall. Secrets a generated corpus of many embeddings found
//! kept: random mixed-case letters read as UpperCamel type names, misspelt
//! password words (`pasword`, `passwrod`) and slapd's `rootpw`, a Markdown
//! row of a name and its value, German, French and Chinese prose (`lautet:`,
//! `est :`, `密码：X`), short bearer tokens and letters-only values after a
//! quoted error message. Real type names in the same places still stay.

use super::{all_kept, all_redacted, all_within};

#[test]
fn random_mixed_case_is_not_a_type_name() {
    all_redacted(&[
        ("{token: XqcEdmPGvmWEvZEw, user: bob}", "XqcEdmPGvmWEvZEw"),
        ("secret_key: XqOseoWkIvCZypHS = old", "XqOseoWkIvCZypHS"),
        (
            "x\nValueError: bad password 'lCWpvFJdZfFTxTSS'",
            "lCWpvFJdZfFTxTSS",
        ),
    ]);
}

#[test]
fn real_type_names_stay() {
    all_kept(&[
        "        let takes_ownership = move |token: CancellationToken| {",
        "  password: ClientExtensions,",
        "    pub credentials: MI_UserCredentials_0,",
        "fn f(key: HTTPClientConfig) {}",
        "fn f(key: XMLHttpRequestUploadEventTarget) {}",
        "fn g(token: kCMSAttrSmimeEncryptionKeyPrefs) {}",
        "    secret: IOErrorKindOSStatus,",
        "        nonce_key: NonceRandomKey,",
        "fn f(key: SecKeyRef, token: URLsForIDs) -> SecKeyCreateRandomKey {}",
        "#[doc(alias = \"kCFStringTokenizerTokenHasSubTokensMask\")]",
        "fn h(key: &GpuComputePassEncoder, token: UIViewControllerTransitionCoordinator) {}",
    ]);
}

#[test]
fn misspelt_password_names_are_still_passwords() {
    all_redacted(&[
        ("pasword=iKhQlVfteUavMzGt5", "iKhQlVfteUavMzGt5"),
        ("DB_PASWORD=iKhQlVfteUavMzGt5", "iKhQlVfteUavMzGt5"),
        ("passwrod: iKhQlVfteUavMzGt5", "iKhQlVfteUavMzGt5"),
        ("{\"pssword\": \"iKhQlVfteUavMzGt5\"}", "iKhQlVfteUavMzGt5"),
        ("bindpw = iKhQlVfteUavMzGt5", "iKhQlVfteUavMzGt5"),
        ("ROOTPW=%9yINoGVynEEr", "9yINoGVynEEr"),
    ]);
    all_kept(&[
        "let pw_uid = pw.pw_uid;",
        "the password field was misspelt pasword here",
    ]);
}

#[test]
fn markdown_rows_of_a_name_and_its_value() {
    all_redacted(&[
        (
            "| PASSWORD | `uN7YtMb1truklFHGOiXKW` |",
            "uN7YtMb1truklFHGOiXKW",
        ),
        (
            "| name | value |\n|---|---|\n| DB_PASSWORD | ueARvuszu75Bcz2rndBhcUcFnat43k |",
            "ueARvuszu75Bcz2rndBhcUcFnat43k",
        ),
        (
            "| Key | Value |\n| --- | --- |\n| AUTH_TOKEN | `ab7d5f6d02bba5c7533246925a2a9e0d` |",
            "ab7d5f6d02bba5c7533246925a2a9e0d",
        ),
    ]);
    all_kept(&[
        "| name | password | token |\n|---|---|---|",
        "| api_key | description |",
        "| Password | Required | Notes |",
    ]);
}

#[test]
fn foreign_prose_with_colons() {
    all_redacted(&[
        (
            "Das Passwort für den Server lautet: uN7YtMb1truklFHGOiXKW",
            "uN7YtMb1truklFHGOiXKW",
        ),
        ("Le mot de passe est : xN93X^1G+H%UUeJd", "xN93X^1G+H%UUeJd"),
        ("密码：xN93X^1G+H%UUeJd", "xN93X^1G+H%UUeJd"),
        ("パスワード:uN7YtMb1truklFHGOiXKW", "uN7YtMb1truklFHGOiXKW"),
    ]);
    all_kept(&[
        "Das Passwort ist abgelaufen.",
        "Le mot de passe est : requis",
    ]);
}

#[test]
fn short_bearer_tokens_with_three_classes() {
    all_redacted(&[
        (
            "Authorization: Bearer SD0rxNXf7KIDNK0\r\n",
            "SD0rxNXf7KIDNK0",
        ),
        (
            "wget --header=\"Authorization: Bearer 4yL6VzUTpKav4\" https://example.com/f",
            "4yL6VzUTpKav4",
        ),
    ]);
    all_kept(&[
        "Authorization: Bearer YOUR_TOKEN",
        "Authorization: Bearer <token>",
        "Authorization: Bearer accessToken",
    ]);
}

#[test]
fn round9_checks_stay_linear() {
    let inputs = vec![
        format!("token: {}", "aB".repeat(50_000)),
        format!("| password | {} |", "x|".repeat(50_000)),
        format!("密码：{}", "：".repeat(30_000)),
        "Le mot de passe est : : : ".repeat(10_000),
        format!("Authorization: Bearer {}", "a1B".repeat(30_000)),
    ];
    all_within(&inputs, 20.0);
}
