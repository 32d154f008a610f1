//! Round 14: what round 13 left (a doubly escaped value holding an escaped
//! quote, `SYNC_TOKEN`, `wg set … preshared-key <(echo X)`, a JWT wrapped
//! with a short last piece, Mapbox public `pk.` tokens) and what a new
//! corpus generator found: SQL `INSERT` naming a secret only in its column
//! list, a Markdown table carried inside a JSON string, `… untuk staging
//! adalah X`, `rotated app secret, new value: X`, a `.properties` value
//! with `\:`, and PowerShell's `$env:NAME="…"` taking the next line for
//! its printed value (and a quadratic read of a line of such anchors).

use super::{all_kept, all_redacted, all_within, redacted};

#[test]
fn doubly_escaped_value_with_an_escaped_quote() {
    all_redacted(&[
        (
            r#"tool_result: {"args": "{\"password\": \"LxJtZdHY\\\"QWwLvYGR7KVe\", \"user\": \"svc\"}"}"#,
            "QWwLvYGR7KVe",
        ),
        (
            r#"{"content": "{\"api_key\": \"Xk29fjQm\\\"v8Lp3Rt7WzNq5YhG\"}"}"#,
            "v8Lp3Rt7WzNq5YhG",
        ),
        // Three levels: the quote inside is `\\\\\\\"`.
        (
            r#"{"a": "{\"b\": \"{\\\"password\\\": \\\"Kx92LmQz\\\\\\\"7Pw4aZ8rT3\\\"}\"}"}"#,
            "7Pw4aZ8rT3",
        ),
    ]);
    // The value ends at its own closing quote: the next member stays.
    let out =
        redacted(r#"{"args": "{\"password\": \"LxJtZdHY\\\"QWwLvYGR7KVe\", \"user\": \"svc\"}"}"#);
    assert!(out.contains(r#"\"user\": \"svc\""#), "{out}");
}

#[test]
fn sync_in_a_secret_name() {
    let v = "YuKOmNkgKqcBd7VzI2bUnLp1lT6rPloF";
    for t in [
        format!("SYNC_TOKEN={v}"),
        format!("export SYNC_TOKEN={v}"),
        format!("  SYNC_TOKEN: {v}"),
        format!("sync_token = \"{v}\""),
        format!("\tSyncToken: \"{v}\","),
        format!("http POST https://api.vendor.io/v1/events X-Sync-Token:{v} event=deploy"),
        format!("ENV SYNC_TOKEN={v}"),
    ] {
        let out = redacted(&t);
        assert!(!out.contains(v), "{t} -> {out}");
    }
    // A sync API's pagination cursor still stays.
    all_kept(&[
        "nextSyncToken: CPDAlvWDx70CEPDAlvWDx70CGAU=",
        "sync token: 4",
        "sync_interval = 30",
    ]);
}

#[test]
fn wireguard_keys_given_through_process_substitution() {
    all_redacted(&[(
        "sudo wg set wg0 peer dq1vQxQn0dSEvKSRmg4/gvqB7MeBPlFLWSBNEE9lGEA= preshared-key <(echo DhUo7W0EDUnKj0CXM2TTQZ3vcpvD45zcHkfr3y5/Vps=) allowed-ips 10.8.0.211/32",
        "DhUo7W0EDUnKj0CXM2TTQZ3vcpvD45zcHkfr3y5/Vps=",
    )]);
    // The peer's public key stays.
    let out = redacted(
        "wg set wg0 peer dq1vQxQn0dSEvKSRmg4/gvqB7MeBPlFLWSBNEE9lGEA= preshared-key <(echo DhUo7W0EDUnKj0CXM2TTQZ3vcpvD45zcHkfr3y5/Vps=)",
    );
    assert!(
        out.contains("dq1vQxQn0dSEvKSRmg4/gvqB7MeBPlFLWSBNEE9lGEA="),
        "{out}"
    );
}

#[test]
fn jwt_wrapped_with_a_short_last_piece() {
    all_redacted(&[(
        "2026-07-20T05:43:44.386Z DEBUG auth: bearer=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1MTAyNyIsImlhdCI\n6MTc4MzMwOTcyMSwicm9sZSI6InN2YyJ9.G01PEjZlCBqDLjy1BvG-HE8tPr4548\nkx_enjsnnaxaw\n2026-01-20T10:52:58.836Z DEBUG auth: verified=false",
        "kx_enjsnnaxaw",
    )]);
    // A JWT on one line keeps the word on the next one; so does a wrapped
    // one whose next line is a plain word.
    for t in [
        "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.Qm8vL3pRt7WzNq5YhGk29xT4Lp8dN2cV6bX0zA1sE3\ndone",
        "bearer=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1MTAyNyIsImlhdCI\n6MTc4MzMwOTcyMSwicm9sZSI6InN2YyJ9.G01PEjZlCBqDLjy1BvG-HE8tPr4548kx\nfinished",
    ] {
        let out = redacted(t);
        assert!(
            out.ends_with("\ndone") || out.ends_with("\nfinished"),
            "{out}"
        );
    }
}

#[test]
fn mapbox_public_tokens_stay() {
    all_kept(&[
        "mapboxgl.accessToken = 'pk.eyJ1IjoiYWNtZSIsImEiOiJjbHV5bXhiZWMxNnRxMWh4NmR5cGNuM3BvIn0.OpHCsHEPVLmbJJFc8qedI4';",
        "NEXT_PUBLIC_MAPBOX_TOKEN=pk.eyJ1IjoiZ2VvLXRlYW0iLCJhIjoiY2w0bHJxYnY0bjhyd3VudTllaXlxN2hqbCJ9.6KWROMt_JwspMEp3XSEe16",
        "<script>const MAPBOX_PUBLIC = \"pk.eyJ1IjoibWFwcyIsImEiOiJjbDkwbXlhdXQ5Mm16ODNrOXI2bDZlcHMzIn0.AczCOkWcOWNMDnctTO63b1\";</script>",
    ]);
    // Its secret `sk.` tokens do not.
    all_redacted(&[(
        "MAPBOX_SECRET=sk.eyJ1IjoiYWNtZSIsImEiOiJjbHV5bXhiZWMxNnRxMWh4NmR5cGNuM3BvIn0.OpHCsHEPVLmbJJFc8qedI4",
        "OpHCsHEPVLmbJJFc8qedI4",
    )]);
}

#[test]
fn markdown_table_inside_a_json_string() {
    let t = r#"{"type": "tool_result", "content": "Staging logins:\n\n| Service | User | Password |\n|---------|------|----------|\n| grafana | admin | ember-harbor-tundra-83 |\n| jenkins | admin | falcon-ember-violet-80 |"}"#;
    let out = redacted(t);
    for s in ["ember-harbor-tundra-83", "falcon-ember-violet-80"] {
        assert!(!out.contains(s), "{s} survived in {out}");
    }
    assert!(out.ends_with(r#"|"}"#), "{out}");
}

#[test]
fn prose_giving_a_new_value() {
    all_redacted(&[
        (
            "rotated app secret, new value: BTfTZ9RPqURkIZJfCSOkG7lhNj8IWHmuvSBZxaOw",
            "BTfTZ9RPqURkIZJfCSOkG7lhNj8IWHmuvSBZxaOw",
        ),
        (
            "Nilai aws_secret_access_key untuk staging adalah CU/F7ZSPuVt4X5tCOiD32AnVFlLr+yHqK06h8/f1 ya.",
            "CU/F7ZSPuVt4X5tCOiD32AnVFlLr+yHqK06h8/f1",
        ),
        (
            "API_KEY dla stagingu jest Xk29fjQmv8Lp3Rt7WzNq5YhG",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
        ),
        (
            "API-nøglen API_KEY til staging er Xk29fjQmv8Lp3Rt7WzNq5YhG",
            "Xk29fjQmv8Lp3Rt7WzNq5YhG",
        ),
    ]);
    all_redacted(&[(
        "AWS_SECRET_KEY değeri dxR0AgahnQwg32pz2X0N3OL1pKNujtbDDu/RboJ4, prod için ayrı.",
        "dxR0AgahnQwg32pz2X0N3OL1pKNujtbDDu/RboJ4",
    )]);
    all_kept(&[
        "API key değeri nedir?",
        "The password, new value: see the vault entry",
        "rotated the api key, new value pending",
        "Nilai API key untuk staging adalah rahasia.",
    ]);
}

#[test]
fn properties_values_with_escaped_colons() {
    all_redacted(&[("db.password=Kx92LmQz7Pw4a\\:Z8rT3", "Z8rT3")]);
    all_kept(&["spring.datasource.url=jdbc\\:mysql\\://db\\:3306/app"]);
}

#[test]
fn powershell_assignment_prints_nothing() {
    let t = "$env:GITHUB_TOKEN=\"ghp_Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gH3jK5\"\n--from-literal=user='deploy-bot'";
    let out = redacted(t);
    assert!(out.ends_with("\n--from-literal=user='deploy-bot'"), "{out}");
    // Reading the name still shows its value on the next line.
    all_redacted(&[(
        "PS C:\\> $env:API_KEY\nXk29fjQmv8Lp3Rt7WzNq5YhG",
        "Xk29fjQmv8Lp3Rt7WzNq5YhG",
    )]);
}

#[test]
fn round14_checks_stay_linear() {
    let inputs: Vec<String> = [
        "$env:X=",
        "printenv ",
        "echo %",
        "insert into ",
        "insert into t (password) values ('a'), ",
        "preshared-key <(echo ",
        r#"\"password\": \"\\\"a"#,
        "| a | b |\"}\n",
        "x, new value: ",
        "pw=a\\:",
        "kx_enjsnnaxaw\n",
    ]
    .iter()
    .map(|p| p.repeat(51_200 / p.len()))
    .collect();
    all_within(&inputs, 10.0);
}

/// A list of keys one per line (an acceptance run): each is its own token,
/// found and counted on its own line, and the lines between stay. Before,
/// the first token took the next lines for its hard-wrapped continuation,
/// and three keys came out as one `GITLAB_TOKEN_REDACTED`.
#[test]
fn keys_on_consecutive_lines_are_separate_tokens() {
    let text = "Keys to rotate:\nglpat-2FDEEtfjgVvVqE1SkHbn\nAIza88HxjSI6bWHtP3fS2qHx6kwXoIIXGvOoNZY\nxoxb-846563212233-0792440268599-u8iS2G8NPRVdD53X83RZJzzz\nDone: 3 keys above.";
    let r = super::redactor().redact(text);
    assert_eq!(r.text.lines().count(), 5, "{}", r.text);
    assert_eq!(r.counts.values().sum::<usize>(), 3, "{:?}", r.counts);
    for secret in [
        "2FDEEtfjgVvVqE1SkHbn",
        "AIza88HxjSI6",
        "u8iS2G8NPRVdD53X83RZJzzz",
    ] {
        assert!(!r.text.contains(secret), "{}", r.text);
    }
    // A hard-wrapped token still takes its continuation lines.
    all_redacted(&[(
        "GITHUB_TOKEN=ghp_c3j27xdcg2lMLzgeonyL\nGcTJFiz4so1yqbeZ\nNEXT_VAR=1",
        "GcTJFiz4so1yqbeZ",
    )]);
    // Keys of decreasing length may be the lines of one wrap: one
    // placeholder or several, nothing of any key survives.
    let keys = "AIza88HxjSI6bWHtP3fS2qHx6kwXoIIXGvOoNZY\nglpat-2FDEEtfjgVvVqE1SkHbn\nAKIAJ7Q2MZLX4WPN6RTB\nend";
    let out = redacted(keys);
    no_run_survives(&out, keys.trim_end_matches("\nend"), 8);
    assert!(out.ends_with("\nend"), "{out}");
}

/// No run of `len` bytes of any line of `secret` survives in `out`.
fn no_run_survives(out: &str, secret: &str, len: usize) {
    for line in secret.lines() {
        for w in line.as_bytes().windows(len) {
            let w = std::str::from_utf8(w).unwrap_or("");
            assert!(!out.contains(w), "{w:?} of the secret survived in {out:?}");
        }
    }
}

/// An AWS session token as a reviewer pasted it: wrapped at 76 columns, a
/// line beginning `EAAA` (Square's prefix), `KEY=` put in front afterwards.
const SESSION_LINES: [&str; 11] = [
    "IQoJb3JpZ2luX2VjEJrUvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C",
    "47bIkprJIoekk6P0K4uGpSSozBfGIy2EJAPnjR/rohtxlB3lex0XEw/yy6yxz4Uk0yGfuBXunJJm",
    "EAAAoNrKsFXJu59awr2qxPDjpLK4NFQV7FZmH+UzHQR1xfxRXmyqhAPu7NPpZP+rtJySLdi46tYB",
    "fB2WiucHX4PN8RJIb0/ZWTq338UKnJmjEfiI9Fu3YxHtGr8W67iYfU7JhUtJjuoOwN81JYuQ0gBJ",
    "WuIXpyQUfMgsNuD856nrb0NdObex/PfrsyPZGVmZBp7omYPMBH8NXApHFeZDRoAkSaJGfJdnQYS3",
    "zWdYCaiQPRYml15Hx3ZfP76d3p7TxUkGr9XvUN61LEphAU08/OHXCWwi+oGwodM+qTdF7LYQoRd6",
    "CpbxTmIiseAVKI5nM/J/MLaMc490Wa9zTozhH5buwf9B8pHeEIxsZr0WHLO77n8WfT5XRQ4Gjp4M",
    "lY0e5/85pzXAHrop1jMpBXVqR7oY8i2wDN64y1vyqJVFs3y+Lhldma+8hW5KCv+IAcml+d3zqcln",
    "NOY+nmo71knjIwhBQPM+LmmGoa/7yNv/N8x0982B0A2SoA9w5ZTQotr1SEP6L1a5XWpldDnhGvT6",
    "uCAIYgmhoIE33DGLpsBxswmLCR5nrkejg9TroSHjnvIxhvijw4/MEYKxRmBc48HwuTpEHFTnPmBm",
    "4MzsUZzgojOeoHxP7KF4ODx7ULsj+TxM9dyI2ofZHFQEqs9bRI2q03IH+XG",
];

/// The redacted `AWS_SESSION_TOKEN=<lines joined by \n>\ndone`: nothing of
/// the token survives and the line after it stays.
fn session_token_redacted(lines: &[&str]) {
    let secret = lines.join("\n");
    let out = redacted(&format!("AWS_SESSION_TOKEN={secret}\ndone"));
    no_run_survives(&out, &secret, 8);
    assert!(out.ends_with("\ndone"), "{out}");
}

/// A reviewer's repros of 18259d6: a wrapped token's continuation line that
/// only begins like another token (`AKIA…` in lower case, `EAAA…` with `+`)
/// was cut there and the rest of the token leaked.
#[test]
fn a_continuation_that_only_begins_like_a_token_stays_in_the_token() {
    let out = redacted("GITHUB_TOKEN=ghp_c3j27xdcg2lMLzgeonyL\nAKIAiz4so1yqbeZa\nNEXT_VAR=1\n");
    no_run_survives(&out, "ghp_c3j27xdcg2lMLzgeonyL\nAKIAiz4so1yqbeZa", 8);
    assert!(out.ends_with("\nNEXT_VAR=1\n"), "{out}");
    session_token_redacted(&SESSION_LINES);
}

/// A wrapped session token whose full line is, by itself, a whole valid
/// Square (`EAAA` + 72 letters and digits) or Artifactory (`AKCp…`) token:
/// as wide as the lines around it, so it is more of the wrapped token, and
/// the lines after it are replaced too — on any line, the first
/// continuation included (there the first line is wider by `KEY=`).
#[test]
fn a_wrapped_line_that_is_a_whole_token_of_the_same_width_stays_in_the_token() {
    let square = "EAAAoNrKsFXJu59awr2qxPDjpLK4NFQV7FZmH0UzHQR1xfxRXmyqhAPu7NPpZP1rtJySLdi46tYB";
    let artifactory =
        "AKCpoNrKsFXJu59awr2qxPDjpLK4NFQV7FZmH0UzHQR1xfxRXmyqhAPu7NPpZP1rtJySLdi46tYB";
    for line in [square, artifactory] {
        assert_eq!(line.len(), 76);
        // By itself, it is a token of its own.
        assert_ne!(redacted(line), line);
        for at in [1, 2, 5, 9] {
            let mut lines = SESSION_LINES;
            lines[at] = line;
            session_token_redacted(&lines);
        }
    }
}
