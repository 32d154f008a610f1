//! Secrets that tools print under generic names: the rows of `az storage
//! account keys list -o table` and the sensitive outputs of `terraform output
//! -json`, each with the near misses that must stay as they are.

use super::redactor;

const KEY1: &str =
    "q3VhZ8kL0pXb2yN7mR4tW9sE1cF6gJ5uA0iO3lK8jH2dS7aP4zX1vB6nM9qW2eR5tY8uI0oP3aS6dF9gH2jK5lZ==";
const KEY2: &str =
    "Zx8cV7bN6mQ5wE4rT3yU2iO1pA0sD9fG8hJ7kL6zX5cV4bN3mQ2wE1rT0yU9iO8pA7sD6fG5hJ4kL3zX2cV1b==";

fn az_table(header: &str, rows: &[(&str, &str)]) -> String {
    let col = header.find("Value").unwrap();
    let mut out = format!("{header}\n{}\n", "-".repeat(col + 10));
    for (left, value) in rows {
        out.push_str(&format!("{left:<col$}{value}\n"));
    }
    out
}

#[test]
fn storage_keys_in_a_cli_table_are_redacted() {
    let r = redactor();
    let tables = [
        az_table(
            "KeyName    Permissions    Value",
            &[("key1       FULL", KEY1), ("key2       FULL", KEY2)],
        ),
        az_table(
            "CreationTime                      KeyName    Permissions    Value",
            &[
                ("2026-11-30T09:12:44.123456+00:00  key1       FULL", KEY1),
                ("2026-11-30T09:12:44.123456+00:00  key2       FULL", KEY2),
            ],
        ),
    ];
    for table in tables {
        let out = r.redact(&table).text;
        assert!(!out.contains(KEY1) && !out.contains(KEY2), "{out}");
        assert!(out.contains("key1       FULL"), "{out}");
        assert_eq!(r.redact(&out).text, out);
    }
}

#[test]
fn cli_tables_without_a_key_are_left_alone() {
    let r = redactor();
    let texts = [
        // Not a storage key under `Value`: a short word, a path.
        az_table(
            "KeyName    Permissions    Value",
            &[("key1       FULL", "disabled")],
        ),
        az_table(
            "KeyName    Value",
            &[(
                "kv1        ",
                "https://acme.vault.azure.net/keys/relay/0123456789abcdef",
            )],
        ),
        // `KeyName` inside a word.
        "MyKeyName  Permissions  Value\nkey1       FULL         short\n".to_string(),
    ];
    for text in &texts {
        assert_eq!(&r.redact(text).text, text);
    }
}

const OUTPUT: &str = r#"{
  "admin_token": {
    "sensitive": true,
    "type": "string",
    "value": "a9f3k2m8q7w1e6r5t4y3u2i1o0p9l8k7"
  },
  "db_password": {
    "sensitive": true,
    "type": "string",
    "value": "Tq8#mZ2vLp9!xR4w"
  },
  "endpoint": {
    "sensitive": false,
    "type": "string",
    "value": "db.internal.acme.io"
  },
  "signing": {
    "sensitive": true,
    "type": "string",
    "value": "Zr8Qm2Lx7Vp4Nw9K"
  }
}"#;

#[test]
fn sensitive_terraform_outputs_are_redacted() {
    let r = redactor();
    let out = r.redact(OUTPUT).text;
    for secret in [
        "a9f3k2m8q7w1e6r5t4y3u2i1o0p9l8k7",
        "Tq8#mZ2vLp9!xR4w",
        "Zr8Qm2Lx7Vp4Nw9K",
    ] {
        assert!(!out.contains(secret), "{out}");
    }
    assert!(out.contains("\"value\": \"PASSWORD_REDACTED\""), "{out}");
    assert!(out.contains("\"value\": \"TOKEN_REDACTED\""), "{out}");
    assert!(out.contains("db.internal.acme.io"), "{out}");
    assert_eq!(r.redact(&out).text, out);
    // Compact, on one line.
    let compact = r#"{"signing":{"sensitive":true,"type":"string","value":"Zr8Qm2Lx7Vp4Nw9K"}}"#;
    assert!(!r.redact(compact).text.contains("Zr8Qm2Lx7Vp4Nw9K"));
}

#[test]
fn values_outside_a_sensitive_object_are_left_alone() {
    let r = redactor();
    let texts = [
        // The value belongs to the next object.
        r#"{"a": {"sensitive": true, "type": "string"}, "b": {"value": "Zr8Qm2Lx7Vp4Nw9K"}}"#,
        // A nested object's value, and a value that is not a string.
        r#"{"a": {"sensitive": true, "meta": {"value": "Zr8Qm2Lx7Vp4Nw9K"}}}"#,
        r#"{"a": {"sensitive": true, "type": "number", "value": 3}}"#,
        // Placeholders and empty values.
        r#"{"a": {"sensitive": true, "type": "string", "value": ""}}"#,
        r#"{"a": {"sensitive": true, "type": "string", "value": "<sensitive>"}}"#,
        r#"{"a": {"sensitive": false, "type": "string", "value": "Zr8Qm2Lx7Vp4Nw9K"}}"#,
    ];
    for text in texts {
        assert_eq!(r.redact(text).text, text);
    }
}

#[test]
fn secret_columns_of_query_results_are_redacted() {
    let r = redactor();
    let psql = "relay=# SELECT id, provider, api_key FROM integrations;\n id | provider | api_key\n----+----------+-----------------------------------------\n 82 | slack    | D4feuqh8XASOMWfWIc5M+R08F3HEEi5pIbCUMcsN\n 83 | github   |\n(2 rows)\n";
    let out = r.redact(psql).text;
    assert!(!out.contains("D4feuqh8XASOMWfWIc5M"), "{out}");
    assert!(out.contains(" 82 | slack    | API_KEY_REDACTED\n"), "{out}");
    let mysql = "+----+-------+--------------------+\n| id | name  | password           |\n+----+-------+--------------------+\n|  1 | admin | Kestrel*Birch6033! |\n+----+-------+--------------------+\n";
    let out = r.redact(mysql).text;
    assert!(out.contains("|  1 | admin | PASSWORD_REDACTED |"), "{out}");
    assert_eq!(r.redact(&out).text, out);
}

#[test]
fn result_columns_that_hold_no_secret_are_left_alone() {
    let r = redactor();
    let texts = [
        // The header names no secret slot, or the cells are not secrets.
        " id | token_type | expires\n----+------------+--------\n 1  | bearer     | 3600\n",
        " id | password_changed_at\n----+---------------------\n 1  | 2026-11-30\n",
        " id | api_key\n----+---------\n 1  | <hidden>\n 2  | ********\n",
        // Not a table: no rule under the header.
        " id | api_key\n 1  | not-a-rule\n",
    ];
    for text in texts {
        assert_eq!(r.redact(text).text, text);
    }
}

#[test]
fn box_drawn_rows_and_namespaced_names_are_redacted() {
    let r = redactor();
    let cases = [
        (
            "║ PWD          ║ Mxa^-iM_j5Y=cjbmGdOXxY=1 ║",
            "Mxa^-iM_j5Y=cjbmGdOXxY=1",
        ),
        (
            "│ TWILIO_AUTH_TOKEN │ d48abd38407a76dad874731c70014272 │",
            "d48abd38407a76dad874731c70014272",
        ),
        (
            "helm upgrade relay ./chart --set secrets.cloudflareApiToken=JasK_9vwc7iZ4QUevoMzoW0fvmx50iRxoxnwosPI",
            "JasK_9vwc7iZ4QUevoMzoW0fvmx50iRxoxnwosPI",
        ),
    ];
    for (text, secret) in cases {
        let out = r.redact(text).text;
        assert!(!out.contains(secret), "{out}");
    }
    for text in [
        "║ PORT         ║ 8080                     ║",
        "num_keys = 12",
        "a || b",
    ] {
        assert_eq!(r.redact(text).text, text);
    }
}

#[test]
fn columns_named_only_by_a_delimited_header_are_redacted() {
    let r = redactor();
    let cases = [
        (
            "name,url,username,password,note\npgAdmin,https://pgadmin.internal/login,ops,l95-0u^7eLxjDuK1I,\ngit,https://x.io,me,\"Qw9#zLm2!pR7vT\",hi\n",
            &["l95-0u^7eLxjDuK1I", "Qw9#zLm2!pR7vT"][..],
        ),
        (
            "id\tservice\tenvironment\tapi_key\tcreated_at\n100\tmailer\tstaging\t314d15d38699859f8a0af592af0edfe0\t2024-09-16\n",
            &["314d15d38699859f8a0af592af0edfe0"],
        ),
        (
            "Title;Username;Password\nJira;ops;Vx7!kPq2zR9mWt\n",
            &["Vx7!kPq2zR9mWt"],
        ),
        (
            "| Env | User | Client secret |\n|-----|------|:------|\n| staging | jenkins | `05448fb583361187311f52d4761af2ff` |\n",
            &["05448fb583361187311f52d4761af2ff"],
        ),
    ];
    for (text, secrets) in cases {
        let out = r.redact(text).text;
        for s in secrets {
            assert!(!out.contains(s), "{out}");
        }
        assert_eq!(
            out.lines().next(),
            text.lines().next(),
            "header kept: {out}"
        );
    }
}

#[test]
fn delimited_tables_without_secret_values_stay() {
    let r = redactor();
    let kept = [
        // Column named like a secret, cells that are not secrets.
        "name,password_set,updated\nalice,true,2026-01-02\nbob,false,2026-01-03\n",
        "| Setting | Token |\n|---|---|\n| timeout | `GITHUB_TOKEN` |\n| retries | 3 |\n",
        // Prose with commas is not a header.
        "Set the password, then restart the service.\nfoo,Xk9mP2vL8qR4tWz\n",
        // A hash column is not a secret column.
        "file,sha256\napp.tar.gz,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
    ];
    for text in kept {
        assert_eq!(r.redact(text).text, text);
    }
}
