//! Behaviour of the public API: partial replacement, surrounding text kept
//! byte for byte, UTF-8, idempotence, user patterns, allow-list and errors.

use super::super::{CustomPattern, RedactError, RedactionSettings, Redactor};
use super::{all_within, redactor};
use std::borrow::Cow;

#[test]
fn clean_text_is_borrowed() {
    let t = "commit cfd13877c0226dd2a70c88aa8233e75fab3dad68\nrequest_id=b688b2d4-ab9b-44c1-a53c-5bbfeacde863";
    let out = redactor().redact(t);
    assert!(matches!(out.text, Cow::Borrowed(_)));
    assert!(out.counts.is_empty());
}

#[test]
fn whole_value_is_replaced_not_a_word() {
    let r = redactor();
    assert_eq!(
        r.redact("Password is: hunter2").text,
        "Password is: PASSWORD_REDACTED"
    );
    assert_eq!(
        r.redact("password: \"correct horse battery staple\"").text,
        "password: \"PASSWORD_REDACTED\""
    );
    assert_eq!(
        r.redact("SMTP_PASSWORD=VCK=j^9uC@=ERnpEc53@wrp\nPORT=1")
            .text,
        "SMTP_PASSWORD=PASSWORD_REDACTED\nPORT=1"
    );
}

#[test]
fn only_the_url_password_is_replaced() {
    let r = redactor();
    let out = r.redact("DATABASE_URL=postgres://app:nsiMoGemmTK44qKjafYZW93FZdr@db:5432/relay");
    assert_eq!(
        out.text,
        "DATABASE_URL=postgres://app:PASSWORD_REDACTED@db:5432/relay"
    );
    assert_eq!(out.counts.get("database_url_postgres"), Some(&1));
}

#[test]
fn multibyte_text_around_secrets_is_kept() {
    let r = redactor();
    let t = "Schlüssel → 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 ✓ 日本語, passwort=\"pässwörd-Ω-123\" ünd";
    let out = r.redact(t);
    assert_eq!(
        out.text,
        "Schlüssel → GITHUB_TOKEN_REDACTED ✓ 日本語, passwort=\"PASSWORD_REDACTED\" ünd"
    );
}

#[test]
fn seed_placeholders_are_kept() {
    let r = redactor();
    let cases = [
        ("AKIAXVZPYCEQTGR7SAQ6", "AWS_KEY_REDACTED"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAJbO54c+YIUzwL/Yt8N/Th3BmvJpamuRtcy4A7IjQX7Ud\n-----END RSA PRIVATE KEY-----",
            "PRIVATE_KEY_REDACTED",
        ),
        (
            "Authorization: Bearer K3NO4oKczipt8djBZfcV6PeVZcvm2AI1jy1Kt4sm",
            "BEARER_TOKEN_REDACTED",
        ),
        ("api_key=Z4CRYu4udt1o1G9c3d8k2aC1mz", "API_KEY_REDACTED"),
        ("password=Tr0ub4dor&3x", "PASSWORD_REDACTED"),
        (
            "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",
            "GITHUB_TOKEN_REDACTED",
        ),
        (
            "sk-abcd1234EFGH5678ijkl9012MNOP3456qrst7890UVWX",
            "OPENAI_KEY_REDACTED",
        ),
    ];
    for (t, ph) in cases {
        let out = r.redact(t);
        assert!(out.text.contains(ph), "{t:?} -> {:?}", out.text);
    }
}

#[test]
fn escaped_pem_in_json_is_replaced_whole() {
    let t = r#"{"private_key": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFakeFakeFakeBodyBodyBodyBodyBodyBody0123456789abcdefAoGCCqGSM49\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n", "x": 1}"#;
    let out = redactor().redact(t);
    assert_eq!(
        out.text,
        r#"{"private_key": "PRIVATE_KEY_REDACTED\n", "x": 1}"#
    );
}

#[test]
fn custom_pattern_with_secret_group() {
    let settings = RedactionSettings {
        patterns: vec![CustomPattern {
            name: "acme_internal".into(),
            regex: r"acme_(?P<secret>[a-z0-9]{24})".into(),
            placeholder: "ACME_TOKEN_REDACTED".into(),
        }],
        allow: vec![],
    };
    let r = Redactor::new(&settings).expect("valid settings");
    let out = r.redact("token acme_0123456789abcdefghijklmn end");
    assert_eq!(out.text, "token acme_ACME_TOKEN_REDACTED end");
    assert_eq!(out.counts.get("acme_internal"), Some(&1));
    assert!(
        r.kinds()
            .iter()
            .any(|k| k.name == "acme_internal" && !k.builtin)
    );
    assert_eq!(r.redact(&out.text).text, out.text);
}

#[test]
fn allow_list_keeps_matching_values() {
    let settings = RedactionSettings {
        patterns: vec![],
        allow: vec![r"AKIA[A-Z0-9]{12}TEST".into()],
    };
    let r = Redactor::new(&settings).expect("valid settings");
    assert_eq!(
        r.redact("id AKIAABCDEFGHIJKLTEST").text,
        "id AKIAABCDEFGHIJKLTEST"
    );
    assert_eq!(
        r.redact("id AKIAABCDEFGHIJKLMNOP").text,
        "id AWS_KEY_REDACTED"
    );
}

#[test]
fn bad_settings_name_the_culprit() {
    let bad = |name: &str, regex: &str, placeholder: &str| {
        let s = RedactionSettings {
            patterns: vec![CustomPattern {
                name: name.into(),
                regex: regex.into(),
                placeholder: placeholder.into(),
            }],
            allow: vec![],
        };
        Redactor::new(&s).expect_err("must be refused")
    };
    let e = bad("broken", "(unclosed", "X_REDACTED");
    assert!(
        matches!(e, RedactError::BadPattern { .. }) && e.to_string().contains("broken"),
        "{e}"
    );
    assert!(matches!(
        bad("empty", "a*", "X_REDACTED"),
        RedactError::BadPattern { .. }
    ));
    assert!(matches!(
        bad("Bad-Name", "abc", "X_REDACTED"),
        RedactError::BadPattern { .. }
    ));
    assert!(matches!(
        bad("jwt", "abc", "X_REDACTED"),
        RedactError::BadPattern { .. }
    ));
    assert!(matches!(
        bad("ok", "abc", "lower"),
        RedactError::BadPlaceholder { .. }
    ));
    assert!(matches!(
        bad("ok", "REDACTED", "X_REDACTED"),
        RedactError::BadPattern { .. }
    ));
    let e = Redactor::new(&RedactionSettings {
        patterns: vec![],
        allow: vec!["[z-a]".into()],
    })
    .expect_err("bad allow");
    assert!(
        matches!(e, RedactError::BadAllow { .. }) && e.to_string().contains("[z-a]"),
        "{e}"
    );
}

#[test]
fn kinds_list_is_complete() {
    let kinds = redactor().kinds();
    assert!(kinds.len() >= 65);
    for seed in [
        "AWS_KEY_REDACTED",
        "PRIVATE_KEY_REDACTED",
        "BEARER_TOKEN_REDACTED",
        "API_KEY_REDACTED",
        "PASSWORD_REDACTED",
        "GITHUB_TOKEN_REDACTED",
        "OPENAI_KEY_REDACTED",
    ] {
        assert!(kinds.iter().any(|k| k.placeholder == seed), "{seed}");
    }
    for k in &kinds {
        assert!(k.builtin && !k.description.is_empty());
        // A placeholder must never be redacted itself.
        let t = format!("{} {}", k.placeholder, k.placeholder);
        assert_eq!(redactor().redact(&t).text, t);
    }
}

#[test]
fn redactor_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
}

#[test]
fn pathological_inputs_stay_fast() {
    let inputs = [
        "-----BEGIN RSA PRIVATE KEY-----\n".repeat(5000),
        "password=".repeat(20_000),
        "ghp_".repeat(30_000),
        format!("https://{}", "a:b@".repeat(20_000)),
        "kind: Secret\ndata:\n".repeat(5000),
        "a".repeat(200_000),
        ".".repeat(200_000),
        "eyJ".repeat(50_000),
        // Runs of the words a name may continue with (`api key id`): each
        // name in the run once read on to the run's end.
        "key   ".repeat(20_000) + "ke",
        "auth  ".repeat(20_000) + "au",
        "key  auth  ".repeat(10_000) + "k",
        "key\t\t\t".repeat(20_000) + "k",
        " secret ".repeat(20_000) + "s",
        " api key ".repeat(20_000) + "a",
        // Anchors of the detectors added for issue 11, repeated.
        "default=\"".repeat(10_000),
        "sig=".repeat(20_000),
        "x-amz-security-token=".repeat(5_000),
        "Cookie: a=".repeat(10_000),
        "PuTTY-User-Key-File-2: ".repeat(5_000),
        "LS0tLS1CRUdJTi".repeat(10_000),
        "${PW:-".repeat(20_000),
        ":*:".repeat(20_000),
        "mysql -p".repeat(10_000),
        // Anchors of this wave's detectors: a program name inside a long word.
        "ghp_".repeat(30_000),
        "gh".repeat(60_000),
        "net".repeat(40_000),
        "@tcp(".repeat(20_000),
        "printenv ".repeat(10_000),
        "**password:".repeat(10_000),
        "<password>".repeat(10_000),
        "identified ".repeat(10_000),
        "password:\n".repeat(20_000),
        "pgpass\n".repeat(20_000),
        "pulumi config set --secret ".repeat(10_000),
        "--secret ".repeat(30_000),
        "mc alias set ".repeat(20_000),
        "--creds a:".repeat(20_000),
        "use x as the ".repeat(20_000),
        "x".repeat(100_000) + " as the api key",
        "KeyName ".repeat(30_000) + "Value",
        "KeyName Value\n".repeat(20_000),
        "\"sensitive\": true, ".repeat(20_000),
        format!(
            "\"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\"{}",
            " + \"ab\"".repeat(20_000)
        ),
        "\"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\" + ".repeat(5_000),
        format!("{}\n{}\n", "api_key|".repeat(250), "-".repeat(2000)).repeat(100),
        format!(
            "{}\n{}\n{}",
            "api_key|".repeat(25_000),
            "-+".repeat(100_000),
            "x".repeat(100)
        ),
        format!(
            "encryptedData:\n{}",
            format!("  password: Ag{}\n", "A".repeat(100)).repeat(8_000)
        ),
        // Delimited headers and foreign secret words, repeated.
        "password,api_key,token\n".repeat(20_000),
        "password,api_key,token,".repeat(20_000),
        "| Password | Token |\n|---|---|\n".repeat(20_000),
        "Пароль от от от от ".repeat(20_000),
        "비밀번호는 ".repeat(20_000),
        "kata sandi ".repeat(20_000),
        format!("s.login({}", "\"a\", ".repeat(20_000)),
        ".login(".repeat(30_000),
        "ACL SETUSER a on >".repeat(20_000),
        "<key>password</key>".repeat(20_000),
        "(Pdb) p password\n".repeat(20_000),
        "[\"password\"]=>\n".repeat(20_000),
        "Unseal Key 1: ".repeat(20_000),
        "\u{200B}".repeat(50_000),
        "а".repeat(100_000),
        // Anchors and escapes of the fifth corpus's detectors.
        "\\u0067hp_".repeat(20_000),
        "ghp%5F".repeat(20_000),
        "%5F".repeat(50_000),
        "&#95;".repeat(50_000),
        "&#".repeat(50_000),
        "a\\\n".repeat(50_000),
        "ws_AKIA".repeat(20_000),
        "encrypt = \"".repeat(20_000),
        "BUNDLE_A__B=".repeat(20_000),
        "bundle config ".repeat(20_000),
        "chpasswd:\n".repeat(20_000),
        format!("chpasswd:\n  list: |\n{}", "    u:p\\n".repeat(30_000)),
        "\"u\" \"md5\n".repeat(20_000),
        "\"u\" \"md5x\"\n".repeat(20_000),
        "userlist\n".repeat(20_000),
        "7KQ2-M9XD-".repeat(20_000),
        "----".repeat(50_000),
        "key:\n----\n".repeat(20_000),
        "{A:b ".repeat(20_000),
        format!("{{{}", "A:b ".repeat(40_000)),
        "\\\\\\\"password\\\\\\\": ".repeat(10_000),
        "{\"username\":\"a\",\"key\":\"".repeat(10_000),
        "apv_".repeat(30_000),
        "squ_".repeat(30_000),
        "login: a / ".repeat(20_000),
        // Values full of a secret word's first letter (`find_ci` in the
        // value checks), and this round's joined literals and base64 runs.
        "=pw".repeat(17_066),
        "pw=".repeat(17_066),
        "\"ab\" + ".repeat(10_000),
        "Z2hwX".repeat(20_000),
        format!("creds{}", " for".repeat(40_000)),
        // Round 17's anchors: `use X for NAME`, vercel's prompt, stdin into
        // `gh secret set`, variable setters, a key's child `value`, Vault's
        // `Key  Value` table (also with many rows).
        "use Zq8vN3mK1pL0xTr5wYe2s for DB_PASSWORD ".repeat(5_000),
        "? What's the value of DB_PASSWORD? ".repeat(5_000),
        "echo x | gh secret set ".repeat(10_000),
        "gh variable set DB_PASSWORD -b ".repeat(5_000),
        "\"DB_PASSWORD\": { ".repeat(10_000),
        "Key  value\n---".repeat(10_000),
        format!(
            "Key  Value\n---  -----\n{}",
            "db_password  Xk9#mq2Lp0zT\n".repeat(8_000)
        ),
    ];
    all_within(&inputs, 30.0);
}

/// Inputs the fuzzer found where a first pass left text that a second pass
/// read differently (a name glued to a placeholder, a value after `NAME:`).
#[test]
fn redaction_is_idempotent_on_fuzzer_findings() {
    let r = Redactor::builtin();
    for input in [
        "token key0!c0!\0||sstB hp_1||stBstB",
        "curlc4567tokenrization: Bejwtkeybcdestaging key secret: Bejwtkeybcdestaging key AfKIA KsessionkeyEY-%--gh-i",
    ] {
        let once = r.redact(input).text.into_owned();
        let twice = r.redact(&once).text.into_owned();
        assert_eq!(once, twice, "not idempotent for {input:?}");
    }
}

/// Inputs proptest found where words after `password is` were taken for a
/// passphrase (a reference, a word and a mark).
#[test]
fn prose_after_password_is_not_a_passphrase() {
    for t in [
        "password is $API_KEY api",
        "password is commit sk- \n",
        "password is commit sk- \t",
    ] {
        assert_eq!(redactor().redact(t).text, t);
    }
}

/// The matching view: a secret hidden by invisible or look-alike characters
/// is replaced whole, hidden characters included, and the text around it is
/// kept byte for byte.
#[test]
fn hidden_and_look_alike_characters_are_replaced_with_the_secret() {
    let r = redactor();
    assert_eq!(
        r.redact("é → g\u{200B}hp_zuHfozCNfa80RzFhBxMO4Dn2r6iqUk40NKed ✓")
            .text,
        "é → GITHUB_TOKEN_REDACTED ✓"
    );
    assert_eq!(
        r.redact("p\u{0430}ssword: Tr0ub4dor&3x").text,
        "p\u{0430}ssword: PASSWORD_REDACTED"
    );
    assert_eq!(
        r.redact("ｇｈｐ＿zuHfozCNfa80RzFhBxMO4Dn2r6iqUk40NKed")
            .text,
        "GITHUB_TOKEN_REDACTED"
    );
    let clean = "Пароль хранится в Vault; ΤΟΚΕΝ δεν υπάρχει; ﬁle ＡＢＣ";
    assert!(matches!(
        r.redact(clean).text,
        std::borrow::Cow::Borrowed(_)
    ));
}
