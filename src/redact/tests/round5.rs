//! Shapes a fifth generated corpus found: token prefixes written with JSON
//! or percent escapes, keys glued to a word by `_` or split by a shell line
//! continuation, secrets placed by a file format (Consul, kaggle.json,
//! Bundler, cloud-init `chpasswd`, pgbouncer's `userlist.txt`), JSON escaped
//! three levels deep, and this bridge's own approval tokens and invite codes
//! — with the ordinary text around them that must stay.

use super::{all_kept, all_redacted, redacted};

const GHP: &str = "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";

#[test]
fn escaped_token_prefixes_are_decoded() {
    let body = &GHP[4..];
    let json = format!("{{\"note\": \"use \\u0067hp_{body} for CI\"}}");
    let json_us = format!("{{\"v\": \"ghp\\u005F{body}\"}}");
    let doubly = format!("\"{{\\\\\"t\\\\\": \\\\\"\\\\u0067hp_{body}\\\\\"}}\"");
    let url = format!("https://ci.example.net/hook?t=ghp%5F{body}&x=1");
    let url_g = format!("curl 'https://x.example.net/a?tok=%67hp%5f{body}'");
    let py = format!("print('\\x67hp_{body}')");
    let html = format!("<td>ghp&#95;{body}</td>");
    let stripe = "{\"k\": \"sk\\u005flive\\u005f4eC39HqLyjWDarjtT1zdp7dcXq\"}";
    all_redacted(&[
        (&json, body),
        (&json_us, body),
        (&doubly, body),
        (&url, body),
        (&url_g, body),
        (&py, body),
        (&html, body),
        (stripe, "4eC39HqLyjWDarjtT1zdp7dcXq"),
    ]);
}

#[test]
fn escapes_of_ordinary_text_change_nothing() {
    all_kept(&[
        "printf(\"%41s|%-20s\\n\", name, value);",
        "{\"emoji\": \"\\u00e9t\\u00e9\", \"path\": \"C:\\\\Users\\\\me\"}",
        "GET /search?q=caf%C3%A9&page=2%5F3 HTTP/1.1",
        "cp build/app \\\n  /usr/local/bin/app",
        "CFLAGS=-O2\\\n-Wall make",
        "100% done, 50%5 left",
    ]);
}

#[test]
fn keys_glued_by_an_underscore() {
    all_redacted(&[
        (
            "aws s3 ls --profile ws_AKIAQ3EGTXZPLM4RVK7N now",
            "AKIAQ3EGTXZPLM4RVK7N",
        ),
        (
            "tell the bot: creds_AKIAZ7XQ2MLP4RVT6KDW then the secret",
            "AKIAZ7XQ2MLP4RVT6KDW",
        ),
        (&format!("export PAT=token_{GHP}"), &GHP[4..]),
        (
            "maps_AIzaSyD3xQ9vLm2pR7wT4kZ8nB1cF6hJ0sYe5Ua ok",
            "SyD3xQ9vLm2pR7wT4kZ8nB1cF6hJ0sYe5Ua",
        ),
    ]);
    all_kept(&[
        "REGION_ASIAPACIFICSOUTHEAST1 = 'ap-southeast-1'",
        "const LABEL_AKIAPREFIXDOCSSECTION = 3;",
        "see test_ghp_token_format_is_checked in tests.rs",
        "docs: aws_AKIAIOSFODNN7EXAMPLE is the documented example",
    ]);
}

#[test]
fn tokens_split_by_a_shell_line_continuation() {
    all_redacted(&[
        (
            "export GITHUB_TOKEN=ghp_zuHfozCNfa80RzFhBx\\\nMO4Dn2r6iqUk40NKed",
            "MO4Dn2r6iqUk40NKed",
        ),
        (
            "git clone https://x:ghp_zuHfozCN\\\n    fa80RzFhBxMO4Dn2r6iqUk40NKed@github.com/o/r",
            "fa80RzFhBxMO4Dn2r6iqUk40NKed",
        ),
        (
            "curl -H 'Authorization: token ghp_zuHf\\\nozCNfa80RzFhBxMO4Dn2r6iqUk40NKed' https://api.github.com",
            "ozCNfa80RzFhBxMO4Dn2r6iqUk40NKed",
        ),
    ]);
    all_kept(&["docker run --rm \\\n  -e MODE=dev \\\n  alpine:3.19 sh"]);
}

#[test]
fn consul_gossip_keys() {
    let key = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
    all_redacted(&[
        (&format!("datacenter = \"dc1\"\nencrypt = \"{key}\"\n"), key),
        (
            &format!("{{\n  \"datacenter\": \"dc1\",\n  \"encrypt\": \"{key}\"\n}}"),
            key,
        ),
        (&format!("consul agent -dev -encrypt={key}"), key),
        (
            "CONSUL_ENCRYPT=cg8StVXbQJ0gPvMd9o7yrg==",
            "cg8StVXbQJ0gPvMd9o7yrg==",
        ),
    ]);
    all_kept(&[
        "encrypt = true\nverify_incoming = true",
        "\"encrypt\": \"AES256-GCM-SHA384\"",
        "We encrypt: everything at rest.",
    ]);
}

#[test]
fn kaggle_keys_beside_a_user_name() {
    all_redacted(&[
        (
            "export KAGGLE_USERNAME=jdoe\nexport KAGGLE_KEY=0a7119beea71f353b032dfc48ff7516f",
            "0a7119beea71f353b032dfc48ff7516f",
        ),
        (
            "{\"username\":\"jdoe42\",\"key\":\"4f9a1c2b7e8d3f6a0b5c9e2d1a7f3b8c\"}",
            "4f9a1c2b7e8d3f6a0b5c9e2d1a7f3b8c",
        ),
        (
            "cat ~/.kaggle/kaggle.json\n{\n  \"username\": \"data-wiz\",\n  \"key\": \"0b5c9e2d1a7f3b8c4f9a1c2b7e8d3f6a\"\n}",
            "0b5c9e2d1a7f3b8c4f9a1c2b7e8d3f6a",
        ),
    ]);
    all_kept(&[
        "{\"key\": \"4f9a1c2b7e8d3f6a0b5c9e2d1a7f3b8c\", \"size\": 1024}",
        "{\"user\": \"ana\"}, {\"key\": \"d41d8cd98f00b204e9800998ecf8427e\"}",
    ]);
}

#[test]
fn bundler_host_credentials() {
    all_redacted(&[
        (
            "BUNDLE_GEMS__CONTRIBSYS__COM=abc123:s3cr3tPa55",
            "s3cr3tPa55",
        ),
        (
            "export BUNDLE_ENTERPRISE__CONTRIBSYS__COM=\"cafebabe:deadbeef42\"",
            "deadbeef42",
        ),
        (
            "---\nBUNDLE_RUBYGEMS__PKG__GITHUB__COM: \"octo:Xk29mPq7LwZr\"\n",
            "Xk29mPq7LwZr",
        ),
        (
            "bundle config set --global gems.contribsys.com a1b2c3d4:Rt7uYp0qWx",
            "Rt7uYp0qWx",
        ),
    ]);
    all_kept(&[
        "BUNDLE_PATH=vendor/bundle\nBUNDLE_WITHOUT=development:test",
        "BUNDLE_BUILD__NOKOGIRI=--use-system-libraries",
        "bundle config set --local path vendor/bundle",
        "BUNDLE_GEMS__CONTRIBSYS__COM=${SIDEKIQ_CREDS}",
    ]);
}

#[test]
fn cloud_init_chpasswd() {
    let list = "#cloud-config\nchpasswd:\n  list: |\n    root:Tr0ub4dor&3\n    ubuntu:correct-horse-77\n  expire: False\nssh_pwauth: true";
    let seq = "chpasswd:\n  expire: false\n  list:\n    - admin:Qw8zLm3Kp0\n";
    let flow = "chpasswd: {list: \"root:Hb4nR8sT1zQe\\nuser1:Yc7mN2pK9w\", expire: false}";
    let users = "chpasswd:\n  users:\n    - {name: ubuntu, password: Xk9mP2vQ7wLr, type: text}\n    - name: admin\n      password: Hb4nR8sT1zQe\n      type: text";
    all_redacted(&[
        (list, "Tr0ub4dor&3"),
        (list, "correct-horse-77"),
        (seq, "Qw8zLm3Kp0"),
        (flow, "Hb4nR8sT1zQe"),
        (flow, "Yc7mN2pK9w"),
        (users, "Xk9mP2vQ7wLr"),
        (users, "Hb4nR8sT1zQe"),
    ]);
    let out = redacted(list);
    assert!(
        out.contains("root:") && out.contains("expire: False"),
        "{out}"
    );
    all_kept(&["chpasswd:\n  expire: false\n  users:\n    - name: ubuntu\n      type: RANDOM\n"]);
}

#[test]
fn json_escaped_three_levels_deep() {
    all_redacted(&[
        (
            "{\\\\\\\"password\\\\\\\": \\\\\\\"hunter2x\\\\\\\"}",
            "hunter2x",
        ),
        (
            "\"{\\\\\\\"db\\\\\\\":{\\\\\\\"password\\\\\\\":\\\\\\\"Qw8zLm3Kp0\\\\\\\"}}\"",
            "Qw8zLm3Kp0",
        ),
        (
            "{\\\\\\\"api_key\\\\\\\": \\\\\\\"a8Fk29xLq0Zp7Wm3Rt5Y\\\\\\\"}",
            "a8Fk29xLq0Zp7Wm3Rt5Y",
        ),
    ]);
    all_kept(&["{\\\\\\\"password_policy\\\\\\\": \\\\\\\"min12\\\\\\\"}"]);
}

#[test]
fn pgbouncer_userlists() {
    let hashed = "\"alice\" \"md5e10adc3949ba59abbe56e057f20f883e\"\n\"bob\" \"SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5c3RvcmVka2V5$c2VydmVya2V5c2VydmVya2V5\"\n\"carol\" \"Pl41nPa55w0rd\"";
    let named =
        "$ cat /etc/pgbouncer/userlist.txt\n\"app\" \"Zq7vLm2Rt9\"\n\"report\" \"Kp3xNw8Yb1\"";
    // The user names stay: a row is not the continuation of the literal above.
    let out = redacted(hashed);
    assert!(
        out.contains("\"bob\" \"") && out.contains("\"carol\" \""),
        "{out}"
    );
    all_redacted(&[
        (hashed, "e10adc3949ba59abbe56e057f20f883e"),
        (hashed, "c3RvcmVka2V5c3RvcmVka2V5"),
        (hashed, "Pl41nPa55w0rd"),
        (named, "Zq7vLm2Rt9"),
        (named, "Kp3xNw8Yb1"),
    ]);
    all_kept(&[
        "\"name\" \"value\"\n\"color\" \"blue\"",
        "auth_file = /etc/pgbouncer/userlist.txt\nauth_type = md5",
    ]);
}

#[test]
fn bridge_approval_tokens_and_invite_codes() {
    all_redacted(&[
        (
            "approve with apv_3f9a1c2b7e8d3f6a0b5c9e2d1a7f3b8c please",
            "3f9a1c2b7e8d3f6a0b5c9e2d1a7f3b8c",
        ),
        ("Your invite code is 9WQ4-M7XD-4HTP-0R3K", "M7XD-4HTP"),
        ("join with 9WQ4-M7XD-4HTP-0R3K.", "M7XD-4HTP"),
        ("code: 4HTP-0R3K-9WQ4-M7XD", "0R3K-9WQ4"),
        ("{\"invite\":\"Q3ZD-8MRA-K2W6-TB7N\"}", "8MRA-K2W6"),
        ("paste `Q3ZD-8MRA-K2W6-TB7N` into the dialog", "8MRA-K2W6"),
    ]);
    all_kept(&[
        "id 550E8400-E29B-41D4-A716-446655440000 and 550e8400-e29b-41d4-a716-446655440000",
        "released 2024-01-15, version 1.2.3-rc.4",
        "serial 1A2B-3C4D-5E6F-7A8B",
        "license: XXXX-XXXX-XXXX-XXXX (enter yours)",
        "sample product code ABCD-1234-EFGH-5678",
        "ISBN 978-3-16-148410-0; part no. AB12-CD34",
        "apv_ tokens are 32 hex: apv_<hex>",
        "7kq2-m9xd-4htp-0r3c in lower case is how users type it",
        "invite_code: must be 16 letters and digits, e.g. 7KQ2-M9XD-4HTP-0R3C",
    ]);
}

#[test]
fn fields_of_printed_structs_and_configmaps() {
    all_redacted(&[
        (
            "cfg = {Host:db Port:5432 User:admin Password:7Sr9Dag9DEPYm5Z SSLMode:require}",
            "7Sr9Dag9DEPYm5Z",
        ),
        (
            "level=info msg=loaded config=&{Addr::8080 ApiKey:a8Fk29xLq0Zp7Wm3Rt5Y Debug:false}",
            "a8Fk29xLq0Zp7Wm3Rt5Y",
        ),
        (
            "Data\n====\nDB_PASSWORD:\n----\nv62h-rkfu183WkNu3nIfq\n\nDB_USER:\n----\napp\n",
            "v62h-rkfu183WkNu3nIfq",
        ),
        (
            "sonar.login=squ_7454b6389127b22af2237d48749c4210b42f13ad",
            "7454b6389127b22af2237d48749c4210b42f13ad",
        ),
    ]);
    all_kept(&[
        "map[string]int{Port:8080 Workers:4}",
        "{Name:api Replicas:3 Image:ghcr.io/acme/api:1.2}",
        "git add -u :/ stages every tracked change",
        "Password:\n----\nSee the vault runbook for the rotation schedule.\n",
    ]);
}

#[test]
fn logins_given_as_user_slash_password() {
    all_redacted(&[
        (
            "[09:15] priya: login is admin / d7LfBk@t+SIsSZshiEB",
            "d7LfBk@t+SIsSZshiEB",
        ),
        (
            "creds for the vendor portal → deploy / nsmbvhpsQXZmDvoZ1_D",
            "nsmbvhpsQXZmDvoZ1_D",
        ),
        ("user/pass: ops / Harbor.Ember42!", "Harbor.Ember42!"),
        ("Login: jdoe/Xq9vLm2pR7wT4k", "Xq9vLm2pR7wT4k"),
        (
            "cfg = {Host:db Port:5432 User:svc_app Password:cQT_rGPgMDgfXekuJ SSLMode:require}",
            "cQT_rGPgMDgfXekuJ",
        ),
    ]);
    all_kept(&[
        "Login → Account / Security, then click Tokens.",
        "login is required / optional depending on the tenant",
        "credentials are read from ~/.aws/credentials / env vars",
        "login: docs/login.md explains the flow",
        "Creds: see the vault / ask ops",
    ]);
}
