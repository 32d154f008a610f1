//! Round 17: shapes an independent corpus of agent chat, CLI transcripts
//! (gh, glab, vercel, vault), config files and logs found missed: values set
//! for a secret's name through a "variable" CLI, vercel's value prompt, a
//! secret-named key whose child is its `value` (YAML, Azure ARM parameter
//! files), `use X for NAME`, Vault's `Key  Value` table, a random hex key
//! under the entropy bar for wider alphabets; and `Encrypted` shown in place
//! of a value by `vercel env ls`, and the literal after an expanded
//! `"$DB_PASSWORD"`, which are not values.

use super::{all_kept, all_redacted};

#[test]
fn variable_setters_carry_secrets_for_secret_names() {
    all_redacted(&[
        (
            "gh variable set KEYSTORE_PASSWORD --body gWmrhFw_vC1lLqj2EJpOi",
            "gWmrhFw_vC1lLqj2EJpOi",
        ),
        (
            "gh variable set DATADOG_API_KEY -b 237c77dba0193a94f4f735939857675307520b50",
            "237c77dba0193a94f4f735939857675307520b50",
        ),
        (
            "$ glab variable set ALGOLIA_ADMIN_API_KEY --value 'cd23bdd9cd783294de1f706e86e3612e' --masked --protected",
            "cd23bdd9cd783294de1f706e86e3612e",
        ),
        (
            "$ glab variable set JWT_SECRET \"gYIu7owWXPRMxHflP621Ba2arkH5gDeFryyeXOst\" -s production",
            "gYIu7owWXPRMxHflP621Ba2arkH5gDeFryyeXOst",
        ),
        (
            "glab variable update DEPLOY_HOOK --value Zt6wP3nRk8Jd4Qx --masked",
            "Zt6wP3nRk8Jd4Qx",
        ),
        // A short flag with its value glued on, as Go's flag parsers take it.
        (
            "$ gh secret set MYSQL_ROOT_PASSWORD -b'uEhdZNd=ik6Qo964A6' --env production",
            "uEhdZNd=ik6Qo964A6",
        ),
        // gh reads the secret's body from stdin.
        (
            "$ echo -n 'DfIR3~z9MRB519Xo' | gh secret set KEYSTORE_PASSWORD --app dependabot",
            "DfIR3~z9MRB519Xo",
        ),
    ]);
    all_kept(&[
        "gh variable set NODE_VERSION --body 20.11.1",
        "gh variable set DEPLOY_REGION -b eu-west-1",
        "glab variable set LOG_LEVEL --value debug",
        "gh secret set NPM_TOKEN < token.txt",
        "glab variable set API_TOKEN --value \"$API_TOKEN\" --masked",
    ]);
}

#[test]
fn vercel_value_prompt_answers_are_secrets_for_secret_names() {
    all_redacted(&[
        (
            "$ vercel env add ADMIN_PASSWORD production\n? What's the value of ADMIN_PASSWORD? nGdHHI6o^DpQ7g0wuM\n✅  Added Environment Variable ADMIN_PASSWORD to Project acme-web [466ms]",
            "nGdHHI6o^DpQ7g0wuM",
        ),
        (
            "? What's the value of DD_API_KEY? 4f9eddd8f7a1646bf3e0d9062699c142",
            "4f9eddd8f7a1646bf3e0d9062699c142",
        ),
        (
            "? What's the value of CLOUDFLARE_API_TOKEN? 1zT1BvOXSoamW-wnqFNn1NROB8mkfMoXAGquDaB7",
            "1zT1BvOXSoamW-wnqFNn1NROB8mkfMoXAGquDaB7",
        ),
    ]);
    all_kept(&[
        "? What's the value of NEXT_PUBLIC_SITE_URL? https://acme.io",
        "? What's the value of DB_PASSWORD? ",
        "? What's the value of LOG_LEVEL? debug",
    ]);
}

#[test]
fn a_secret_keys_child_value_is_its_value() {
    all_redacted(&[
        (
            "secrets:\n  smtpPassword:\n    value: |-\n      DE9pV3LDW%3WDK1xwn\n    rotated: 2026-03-01",
            "DE9pV3LDW%3WDK1xwn",
        ),
        (
            "secrets:\n  xApiKey:\n    value: Wf2x4FD5ScTobsRrK3anLMun8zWQdGit\n",
            "Wf2x4FD5ScTobsRrK3anLMun8zWQdGit",
        ),
        (
            "{\n  \"parameters\": {\n    \"adminPassword\": {\n      \"value\": \"EHAyFT#0lvxfQIE5v9zG3\"\n    }\n  }\n}",
            "EHAyFT#0lvxfQIE5v9zG3",
        ),
        (
            "\"sqlAdminPassword\": { \"value\": \"Qm4rT8vLx2Wz!k\" },",
            "Qm4rT8vLx2Wz!k",
        ),
    ]);
    all_kept(&[
        "image:\n  name: nginx\n  value: Wf2x4FD5ScTobsRrK3anLMun8zWQdGit",
        "\"adminPassword\": {\n  \"value\": \"[parameters('adminPassword')]\"\n}",
        "\"adminPassword\": {\n  \"reference\": {\n    \"keyVault\": { \"id\": \"/subscriptions/x\" },\n    \"secretName\": \"vmAdminPassword\"\n  }\n}",
        "password:\n  value: ${DB_PASSWORD}",
        "db_password:\nvalue: Wf2x4FD5ScTobsRrK3anLMun8zWQdGit",
    ]);
}

#[test]
fn a_value_used_for_a_named_secret_is_redacted() {
    all_redacted(&[
        (
            "Use w0Bgr+NaehQjV39PWhGd for LDAP_BIND_PASSWORD until Monday.",
            "w0Bgr+NaehQjV39PWhGd",
        ),
        (
            "@tester Use bICfIGuF9PqIhQeNBeXDkDxYB2faWhsVsFHKLlu2 for API_KEY until Monday.",
            "bICfIGuF9PqIhQeNBeXDkDxYB2faWhsVsFHKLlu2",
        ),
        (
            "please use Zq8vN3mK1pL0xTr5wYe2s for the staging API token",
            "Zq8vN3mK1pL0xTr5wYe2s",
        ),
    ]);
    all_kept(&[
        "use bcrypt2 for the password hashing",
        "Use ssh-agent for SSH_AUTH_SOCK forwarding.",
        "use Zq8vN3mK1pL0xTr5wYe2s for the build cache",
        "use the vault for DB_PASSWORD",
        "I use v2 for API_KEY rotation",
        "use DB_PASSWORD_FILE for DB_PASSWORD in compose",
    ]);
}

#[test]
fn vault_key_value_tables_hold_values_in_the_clear() {
    all_redacted(&[
        (
            "$ vault kv get secret/prod/api\n====== Data ======\nKey               Value\n---               -----\nmapbox_secret_key  938c8645d48b6d14a7f05c150b25a54e-us3\nregion            eu-west-1",
            "938c8645d48b6d14a7f05c150b25a54e-us3",
        ),
        (
            "Key         Value\n---         -----\npassword    Correct-Horse-77\nusername    admin",
            "Correct-Horse-77",
        ),
    ]);
    all_kept(&[
        "Key                Value\n---                -----\ncreated_time       2026-01-01T00:00:00Z\ndeletion_time      n/a\nversion            3",
        "Key         Value\n---         -----\npassword    ${DB_PASSWORD}\npassword    <redacted>",
        "Key    Value\n---    -----\ntoken_policies    [default]",
    ]);
}

#[test]
fn a_random_hex_key_is_not_held_to_the_bar_of_wider_alphabets() {
    // 2.95 bits per character: under the 3.0 a random 32-character token of
    // letters and digits clears.
    all_redacted(&[(
        "api_key: 4fff8f8685569a5366ef0ffeff69fa53\nsite: datadoghq.eu",
        "4fff8f8685569a5366ef0ffeff69fa53",
    )]);
    all_kept(&[
        "api_key: ffffffffffffffff0000000000000000",
        "api_key: abababababababababababababababab",
    ]);
}

#[test]
fn values_shown_encrypted_are_not_values() {
    all_kept(&[
        "$ vercel env ls\n name                 value               environments        created\n STRIPE_SECRET_KEY    Encrypted           Production          3d ago\n DATABASE_URL         Encrypted           Production, Preview 12d ago",
    ]);
}

#[test]
fn the_literal_after_an_expanded_variable_is_not_its_value() {
    all_kept(&[
        r#"{"settings":{"claudeApiKey":"$DB_PASSWORD","region":"eu-west-1","retries":3}}"#,
        r#"x = ["$DB_PASSWORD", "region"]"#,
    ]);
    all_redacted(&[(
        r#"os.environ.setdefault("DB_PASSWORD", "Hq7#vLm2Xp9k")"#,
        "Hq7#vLm2Xp9k",
    )]);
}
