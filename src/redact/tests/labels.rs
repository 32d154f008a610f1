//! Shapes found by a generated corpus of the 65 kinds in realistic contexts
//! (labels in bold, service-named variables, words that contain `pass`, a
//! token at a sentence's end or inside an encoded URL, tool command lines,
//! SQL), each with the near misses that must stay as they are.

use super::redactor;

/// Texts with one secret each, which must be gone after redaction.
#[rustfmt::skip]
const POSITIVES: &[(&str, &str)] = &[
    ("**Password:** Xk9fPq2LmZ7wRt4v", "Xk9fPq2LmZ7wRt4v"),
    ("- **API key:** Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("**Token**: Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("<b>Password:</b> Xk9fPq2LmZ7wRt4v", "Xk9fPq2LmZ7wRt4v"),
    ("DB_PASSWORD=Compass!Harbor2719*", "Compass!Harbor2719*"),
    ("password: \"Passage@Pine8914!\"", "Passage@Pine8914!"),
    ("Rotated, the new one is wpg3Q~4cNyHYJYQKtwO0KCq9d0tR8w5JEFIb1D3e.", "wpg3Q~4cNyHYJYQKtwO0KCq9d0tR8w5JEFIb1D3e"),
    ("$ vault login s.4vPsE8kqaOVYNFRpcJ3xfS0Q", "s.4vPsE8kqaOVYNFRpcJ3xfS0Q"),
    ("VAULT_DEV_ROOT_TOKEN_ID=s.4vPsE8kqaOVYNFRpcJ3xfS0Q", "s.4vPsE8kqaOVYNFRpcJ3xfS0Q"),
    ("REACT_APP_API_KEY=Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("S3_SECRET_KEY=wJ7rXUtnFEMI/K7MDENG/bPxRfiCYz8x2kP9Qm1T", "wJ7rXUtnFEMI/K7MDENG/bPxRfiCYz8x2kP9Qm1T"),
    ("CACHE_SECRET=Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("REDIS_AUTH_TOKEN=Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("RECAPTCHA_SECRET_KEY=6LcXk9fPq2LmZ7wRt4vHu8sKe3JAbCq7x2Yz", "6LcXk9fPq2LmZ7wRt4vHu8sKe3JAbCq7x2Yz"),
    ("ALGOLIA_KEY=6be0576ff61c053d5f9a3225e2a90f76", "6be0576ff61c053d5f9a3225e2a90f76"),
    ("DB_PASSWORD=#4r+uGb2.eV1ZKcl", "#4r+uGb2.eV1ZKcl"),
    ("Use SK3ade074b7c8204d5f02646593a6cdac1", "SK3ade074b7c8204d5f02646593a6cdac1"),
    ("az storage blob list --account-key +olNgO8XtDhV24v4LjDUe4sqowPzoGI2MgMGnl8Z+H8xMoM63J3ZIkLQ1eWf4DC/e23yU++OPV5yN3RWl9mwLw==", "olNgO8XtDhV24v4LjDUe4sqowPzoGI2MgMGnl8Z"),
    ("next=%2Fcb%3Ftoken%3D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", "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"),
    ("machine api.acme.io\n  login ci-bot\n  password _J%-yIM7MSvR", "_J%-yIM7MSvR"),
    ("$ aws ssm put-parameter --name /prod/relay/db/password --type SecureString --value 'N!5wyLp1EgOZK3HzkO+vc@T97'", "N!5wyLp1EgOZK3HzkO+vc@T97"),
    ("gh secret set API_KEY --body \"Zq8mWn3Lp7RtYb2Kx9VcXk9f\"", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("skopeo copy --src-creds deploy:Tundra!Raven8499# docker://a docker://b", "Tundra!Raven8499#"),
    ("podman pull --creds=bob:Vq7nR2mXp9Lw quay.io/acme/app", "Vq7nR2mXp9Lw"),
    ("buildah push --creds bob:Vq7nR2mXp9Lw img docker://r/img", "Vq7nR2mXp9Lw"),
    ("mc alias set prod https://s3.acme.io AKIA4QXNZ7PL2RW8KD3M wJ9aXv2Lq8Rz5Tn1Yb6Kc3Md7Pf0Hg4S --api S3v4", "wJ9aXv2Lq8Rz5Tn1Yb6Kc3Md7Pf0Hg4S"),
    ("PS C:\\> PsExec.exe \\\\srv01 -u ACME\\admin -p Harbor!Lantern2719 cmd", "Harbor!Lantern2719"),
    ("hydra -l admin -p Qp4zLx8Rw2Nv ssh://10.0.0.5", "Qp4zLx8Rw2Nv"),
    ("pulumi config set --secret dbPassword Harbor!Lantern2719", "Harbor!Lantern2719"),
    ("pulumi config set dbPassword Harbor!Lantern2719 --secret", "Harbor!Lantern2719"),
    ("spec:\n  encryptedData:\n    note: x\n---\nkind: Config\ndata:\n  password: AgB8H8NXp3fY3u8JpaijZrrqy5v0stDBQbIj61v6Cq4jy0vJ5xoQxmY5TjUxTd8a4xJHcjUhJTqcuQiX9GWDKzj0njsgfMQyLdQZRsbi+LWAcvJx7lcuHhsGs\n", "AgB8H8NXp3fY3u8JpaijZrrqy5v0stDBQbIj61v6Cq4"),
    ("$ pulumi config set mailchimpApiKey f9d6e017375f3ae22a570fcde59cb7b2-us11", "f9d6e017375f3ae22a570fcde59cb7b2-us11"),
    ("WEBSOCKET_SECRET_KEY=Zq8vN3mK1pL0xTr5wYe2s", "Zq8vN3mK1pL0xTr5wYe2s"),
    ("FYI the dd api key changed to 3f9a8c7b6d5e4f3a2b1c0d9e8f7a6b5c", "3f9a8c7b6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("password was rotated to Harbor!Lantern2719", "Harbor!Lantern2719"),
    ("API key -> Zq8vN3mK1pL0xTr5wYe2s", "Zq8vN3mK1pL0xTr5wYe2s"),
    ("API key → Zq8vN3mK1pL0xTr5wYe2s", "Zq8vN3mK1pL0xTr5wYe2s"),
    ("Sure thing.\nThe recaptcha secret key for staging is:\n\n    oYvQEs7rxgcAhEl/EFtAw4kf+LN4FxCh\n\n(copied from 1Password)", "oYvQEs7rxgcAhEl/EFtAw4kf+LN4FxCh"),
    ("The heroku api token for staging is:\n\n    b109a3c8-ea4b-48e0-ba64-6cefb6c2d4d3\n", "b109a3c8-ea4b-48e0-ba64-6cefb6c2d4d3"),
    ("C:\\> net use Z: \\\\fs01\\share /user:ACME\\jo Tundra!Raven8499#", "Tundra!Raven8499#"),
    ("db, err := sql.Open(\"mysql\", \"relay:Xk9fPq2LmZ7wRt4v@tcp(db:3306)/shop?parseTime=true\")", "Xk9fPq2LmZ7wRt4v"),
    ("password: 'Summit@Compass6108.'", "Summit@Compass6108."),
    ("\x1b[32m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\x1b[0m", "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"),
    ("level=debug password=O9Yy(LPt65WvsDZtDOt7OpRqc8EzGtS retries=3", "O9Yy(LPt65WvsDZtDOt7OpRqc8EzGtS"),
    ("DB_PASSWORD:Xk9fPq2LmZ7wRt4v", "Xk9fPq2LmZ7wRt4v"),
    ("relay.api.key:Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("{\"key\": \"apiKey\", \"value\": \"Zq8mWn3Lp7RtYb2Kx9VcXk9f\", \"type\": \"string\"}", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    ("{\"Parameter\": {\"Name\": \"/prod/relay/db/password\", \"Type\": \"SecureString\", \"Value\": \"Xk9fPq2LmZ7wRt4v\"}}", "Xk9fPq2LmZ7wRt4v"),
    ("mysql> CREATE USER 'relay'@'%' IDENTIFIED BY 'Cedar_Orbit5740!';", "Cedar_Orbit5740!"),
    ("spring.datasource.url=jdbc:oracle:thin:scott/HVP6Gnm4hnd9E65bE2qT0Y@//ora-prod:1521/ORCLPDB1", "HVP6Gnm4hnd9E65bE2qT0Y"),
    ("jdbc:oracle:thin:relay/Tundra!Raven8499@db01:1521:ORCL", "Tundra!Raven8499"),
    ("define( 'NONCE_SALT', 'Xnvgn3QCQCsE5~6G^V74DHLH.bT_jX^rcS}!r_D~|(yb}nK|E0f19bPmw6h{LPt_' );", "Xnvgn3QCQCsE5~6G^V74DHLH"),
    ("define('LOGGED_IN_KEY', 'abcXnvgn3QCQCsE5~6G^V74DHLH.bT_jX');", "abcXnvgn3QCQCsE5~6G^V74DHLH"),
    ("$c = (ConvertTo-SecureString \"Echo@Nova1730*\" -AsPlainText -Force)", "Echo@Nova1730*"),
    ("active_record_encryption:\n  primary_key: IweMU8XsLdH6MgJUE4xdX7fw4Yk2GPh0", "IweMU8XsLdH6MgJUE4xdX7fw4Yk2GPh0"),
    ("active_record_encryption:\n  key_derivation_salt: xEY0dt6TZcAMg52K7O84wYzkjvbA62Hz", "xEY0dt6TZcAMg52K7O84wYzkjvbA62Hz"),
    ("$ cat config/master.key\neb9a936302374633efcb9219ebe25b14", "eb9a936302374633efcb9219ebe25b14"),
    ("$ aws configure get aws_secret_access_key --profile prod\nguKI+mgvZmD+KYuwiGw57dDTRhlvaPDi8Kr9Koex", "guKI+mgvZmD+KYuwiGw57dDTRhlvaPDi8Kr9Koex"),
    ("$ op item get stripe --fields label=twilio_auth_token --reveal\n6763bb94be31b7c8cae3badc88fff4dc", "6763bb94be31b7c8cae3badc88fff4dc"),
    ("Das Passwort für CLOUDFLARE_API_TOKEN ist to9WOCS8CDe8PFWjcG7KDNCb3I1LPZxOslMOPnzK.", "to9WOCS8CDe8PFWjcG7KDNCb3I1LPZxOslMOPnzK"),
    ("La variable MAILGUN_SIGNING_KEY vale 6d0142b345f309839a85afacafb002ab-a23a39f6-69506d7a en producción.", "6d0142b345f309839a85afacafb002ab"),
    ("Pour HEROKU_API_KEY, la valeur est 3e3e51db-2ba3-488c-bc2e-b8b6037f6637.", "3e3e51db-2ba3-488c-bc2e-b8b6037f6637"),
    ("ADMIN_PASSWORD 的值是 tx_G51fSZauIw2q4G。", "tx_G51fSZauIw2q4G"),
    ("DB_PASSWORD の値は Kx9fPq2LmZ7wRt4v です", "Kx9fPq2LmZ7wRt4v"),
    ("C:\\src> setx HEROKU_API_TOKEN \"70fba458-2e6a-4de5-9c4a-11f8777e6f2f\"", "70fba458-2e6a-4de5-9c4a-11f8777e6f2f"),
    ("~/src (main)> set -gx MAILGUN_SIGNING_KEY cbc6f6056ae98d0bcb98d69609367362-55bc1601-fdf71eb6", "cbc6f6056ae98d0bcb98d69609367362"),
    ("  <property name=\"connection.password\">1Kvkm@W7kK2*e</property>", "1Kvkm@W7kK2*e"),
    ("<string name=\"api_token\">rz56YxOFicZI54luCzmNy7FdG1GBVMbmmhkMM3MY</string>", "rz56YxOFicZI54luCzmNy7FdG1GBVMbmmhkMM3MY"),
    ("$ echo -n \"$TOKEN\" | base64\nT1RjNU16a3pOalF4T1RnNE1UUTBNakkxTWcubnhrMkJZ", "T1RjNU16a3pOalF4T1RnNE1UUTBNakkxTWcubnhrMkJZ"),
    ("Failed to bind properties under 'app.vite.maps-api-key' with value 'uAvNcTkbiZoliwd0H04yb6v5vb4SVHVv'", "uAvNcTkbiZoliwd0H04yb6v5vb4SVHVv"),
    ("C:\\> net user svc_backup svdpLmCoSOQa6RRwLmV35OK /add", "svdpLmCoSOQa6RRwLmV35OK"),
    ("app:\n  secret:\n    key: \"bef4e0f2bf0e6abd9d108a8bafe05a38\"", "bef4e0f2bf0e6abd9d108a8bafe05a38"),
    ("stripe:\n  # live\n  token: Zq8mWn3Lp7RtYb2Kx9VcXk9f", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
    // Split into joined literals after a first piece that is found.
    ("const token = \"69l2Q~cSA9bRsh\" +\n  \"nWXryYNDnszqht8QHg2BNMrewk\";", "nWXryYNDnszqht8QHg2BNMrewk"),
    ("token := \"shpat_b23f7e2f4a859d9\" + `f1f40e8fab54bf97d`", "f1f40e8fab54bf97d"),
    ("$t = 'ghp_zuHfozCNfa80RzFhBxMO' . 'Dn2r6iqUk40NKed';", "Dn2r6iqUk40NKed"),
    ("token = (\n    \"ghp_zuHfozCNfa80RzFhBxMO4D\"\n    \"n2r6iqUk40NKed\"\n)", "n2r6iqUk40NKed"),
    // Said again where nothing around it says so, and its base64 decoded.
    ("requirepass Lantern#Delta1814!\nmasterauth Lantern#Delta1814!", "Lantern#Delta1814!"),
    ("data:\n  password: U2xhdGVfUXVpbGw2MjU1IQ==\n$ echo U2xhdGVfUXVpbGw2MjU1IQ== | base64 -d\nSlate_Quill6255!", "Slate_Quill6255!"),
];

/// Texts without a secret, which must come through unchanged.
#[rustfmt::skip]
const NEGATIVES: &[&str] = &[
    "DATABASE_URL=postgres://app:<password>@localhost/relay",
    "mongodb+srv://<username>:<password>@cluster0.example.mongodb.net/test",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "cache_key = \"user:1234:profile\"",
    "s3_key: uploads/2024/10/report-final.pdf",
    "recaptcha_site_key: 6LcXk9fPq2LmZ7wRt4vHu8sKe3JAbCq7x2Yz",
    "next_page_token = nextPageTokenValue1",
    "vault rotate schema login audit",
    "The **key** point: keep it short.",
    "Use the compass to find north.",
    "The network is slow; net use of time is low.",
    "skopeo inspect --creds \"$REGISTRY_USER:$REGISTRY_PASSWORD\" docker://quay.io/acme/app",
    "mc alias set prod https://s3.acme.io",
    "The mc alias set command takes four words.",
    "hydra -l admin -P passwords.txt ssh://10.0.0.5",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: relay-db\nspec:\n  encryptedData:\n    password: AgB8H8NXp3fY3u8JpaijZrrqy5v0stDBQbIj61v6Cq4jy0vJ5xoQxmY5TjUxTd8a4xJHcjUhJTqcuQiX9GWDKzj0njsgfMQyLdQZRsbi+LWAcvJx7lcuHhsGs+JwQq4D6J3bdPgk4qFEqRRvEF1HCcdyfQ==\n",
    "pulumi config set --secret dbPassword",
    "pulumi config set aws:region eu-west-1",
    "pulumi config set instanceCount 3",
    "The password changed to something else yesterday",
    "the token rotated to a new one",
    "$token->id",
    "password -> hash -> store",
    "The password for staging is:\n\n    stored in the team vault\n",
    "The token for staging is:\n\n    rotated\n",
    "The API key for staging is:\nnot set yet\n",
    "pulumi config set --secret --path 'db.password'",
    "The user is identified by their email address.",
    "aws ssm put-parameter --name /prod/relay/db/host --value 'db.internal.acme.io'",
    "Our price is $20.",
    "secret:prod/db-credentials",
    "image: ghcr.io/acme/secret:1.4.2",
    "token:refresh",
    "password=bcrypt.hashpw(pw, salt)",
    "password=getPassword(user, realm)",
    "password=make_password(raw)",
    "dsn := \"root@tcp(127.0.0.1:3306)/test\"",
    "contact: ops@example.com",
    "jdbc:oracle:thin:@//ora-prod:1521/ORCLPDB1",
    "GITHUB_TOKEN=%env(GITHUB_TOKEN)%",
    "url = \"https://api.acme.io/\" + \"v2/users\"",
    "echo \"$API_KEY\" \"second-arg\"",
    "cache:\n  key: \"user-profile-1234\"",
    "public:\n  key: Zq8mWn3Lp7RtYb2Kx9VcXk9fZq8mWn3Lp7",
    "sort:\n  key: created_at_desc_2024",
    "secret:\n  name: relay-db\n  other: x\nkey: plain-word",
    "C:\\> net user svc_backup /delete",
    "C:\\> net user svc_backup * /add",
    "C:\\> net user",
    "$ echo -n \"$TOKEN_COUNT\" | wc -c\n42",
    "Failed to bind properties under 'app.api-key' with value '${API_KEY}'",
    "The token es muy importante",
    "der Token ist abgelaufen",
    "<string name=\"password_hint\">Enter your password</string>",
    "<property name=\"connection.password\"></property>",
    "reset set -x",
    "jdbc:oracle:thin:@db01:1521:ORCL",
    "salt = bcrypt.gensalt()",
    "password_salt_rounds: 12",
    "primary_key: id",
    "add_index :users, :email, unique: true # primary_key: Zq8mWn3Lp7RtYb2K",
    "config/master.key is ignored by git\nentirely",
    "$ aws configure get region\neu-west-1",
    "$ ConvertTo-SecureString $plain -AsPlainText -Force",
    "data:\n  database: cG9zdGdyZXM=\nthe database is postgres",
    "SENTRY_DSN=https://e3d2c1b0a9f84c6ba5f4e3d2c1b0a9f8@o450000.ingest.us.sentry.io/4507",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

#[test]
fn corpus_shapes_are_redacted() {
    let r = redactor();
    for (text, secret) in POSITIVES {
        let out = r.redact(text).text;
        assert!(!out.contains(secret), "{text:?} -> {out:?}");
        assert_eq!(r.redact(&out).text, out, "not idempotent: {text:?}");
    }
}

#[test]
fn corpus_near_misses_are_left_alone() {
    let r = redactor();
    for text in NEGATIVES {
        assert_eq!(r.redact(text).text, *text);
    }
}

#[test]
fn a_secret_said_again_is_redacted_and_only_it() {
    let r = redactor();
    let text = "requirepass Harbor!Lantern2719\nmasterauth Harbor!Lantern2719\nHarbor is the host; Harbor!Lantern27190 is another";
    assert_eq!(
        r.redact(text).text,
        "requirepass PASSWORD_REDACTED\nmasterauth PASSWORD_REDACTED\nHarbor is the host; Harbor!Lantern27190 is another"
    );
}

#[test]
fn only_what_joins_a_found_piece_goes_with_it() {
    let r = redactor();
    let text = "k = \"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\" + \"\\n\"\nlabel = \"a\" + \"b\"";
    assert_eq!(
        r.redact(text).text,
        "k = \"GITHUB_TOKEN_REDACTED\" + \"\\n\"\nlabel = \"a\" + \"b\""
    );
    let text = "t = \"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\", \"not-joined-1234\"";
    assert!(r.redact(text).text.contains("not-joined-1234"));
    let text =
        "token: \"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\"\n\"app.kubernetes.io/name\": relay";
    assert!(
        r.redact(text)
            .text
            .contains("\"app.kubernetes.io/name\": relay")
    );
    // A diff's `+` line is not joined to the `-` line above it.
    let text = "-  \"key\": \"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\"\n+  \"relay-build-id\"";
    assert!(r.redact(text).text.ends_with("+  \"relay-build-id\""));
    // An operator that starts an indented line still joins.
    let text = "t = \"ghp_zuHfozCNfa80RzFhBxMO\"\n    + \"4Dn2r6iqUk40NKed\";";
    assert!(!r.redact(text).text.contains("4Dn2r6iqUk40NKed"));
}
