//! Secrets a command prints, on the line after it, as an agent's transcript
//! shows them: `$ printenv DB_PASSWORD` (or `echo $API_KEY`, `terraform
//! output -raw db_password`, `heroku config:get STRIPE_KEY`), whose name
//! says what the value is; and commands that print nothing but a secret
//! (`kubectl get secret … | base64 -d`, `gcloud secrets versions access`,
//! `op read`, `heroku auth:token`, `cat ~/.vault-token`).
//!
//! Only a next line that is one word counts: a command's other output (a
//! table, a message) is left to the other detectors.

use super::kinds::Kind;
use super::names::{classify, split_words};
use super::repl;
use super::scan::{Scan, priority};
use super::text::{contains_ci, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// What the command of an anchor prints, and so what its next line is.
#[derive(Clone, Copy)]
pub(crate) enum Prints {
    /// The value of the name that follows (`printenv DB_PASSWORD`).
    Named,
    /// The same, when nothing else follows the name (`PS C:\\> $env:API_KEY`,
    /// `C:\\>echo %API_KEY%`; `$env:X = …` sets it).
    NamedAlone,
    /// The value of the expression after a REPL's or debugger's prompt,
    /// named by the last name it reads ([`repl::last_name`]).
    Expr,
    /// The value of the name given to this flag (`--name /prod/api_key`,
    /// `-field=password`): the last segment of its path.
    Flag(&'static str),
    /// A secret of this kind, when the line also holds this text (`security
    /// find-generic-password … -w` prints the password, without `-w` its
    /// attributes; `cat /run/secrets/…`).
    FixedWith(Kind, &'static str),
    /// A secret of this kind.
    Fixed(Kind),
    /// A decoded Kubernetes value, when the line reads a `kubectl` secret.
    Decoded,
    /// A Kubernetes secret's value as stored (base64), when the line reads
    /// one field of its `.data` with `-o jsonpath=` and pipes it nowhere.
    Encoded,
    /// A key file's content, when the line `cat`s it (the file's name is
    /// said in prose too).
    File(Kind),
}

use Prints::{Decoded, Encoded, Expr, File, Fixed, FixedWith, Flag, Named, NamedAlone};

/// The anchors of commands whose output names itself, with what each prints.
pub(crate) const ANCHORS: &[(&str, Prints)] = &[
    ("printenv ", Named),
    ("echo $", Named),
    ("echo \"$", Named),
    // `echo -n "$TOKEN" | base64` prints the secret, encoded.
    ("echo -n $", Named),
    ("echo -n \"$", Named),
    ("terraform output ", Named),
    ("config:get ", Named),
    ("base64 -d", Decoded),
    ("base64 --decode", Decoded),
    ("jsonpath=", Encoded),
    ("secrets versions access", Fixed(Kind::SecretAssignment)),
    ("op read ", Fixed(Kind::SecretAssignment)),
    ("auth:token", Fixed(Kind::HerokuApiKey)),
    ("secrets get ", Named),
    ("keyvault secret show", Fixed(Kind::SecretAssignment)),
    (".vault-token", Fixed(Kind::VaultToken)),
    ("configure get ", Named),
    ("--fields label=", Named),
    ("--fields ", Named),
    // `cat config/master.key` (Rails).
    ("master.key", File(Kind::SecretAssignment)),
    // A REPL or debugger printing an expression: `>>> settings.SECRET_KEY`,
    // `(Pdb) p client.client_secret`, `(gdb) p cfg->api_key`.
    (">>> ", Expr),
    ("process.env", Expr),
    ("irb(", Expr),
    ("pry(", Expr),
    ("jshell> ", Expr),
    ("(gdb) ", Expr),
    ("(lldb) ", Expr),
    ("(dlv) ", Expr),
    ("(pdb) ", Expr),
    ("ipdb> ", Expr),
    ("in [", Expr),
    // Shells printing a variable: PowerShell, cmd, `printf '%s\n' "$X"`.
    ("$env:", NamedAlone),
    ("echo %", NamedAlone),
    ("printf ", Named),
    // Secret stores printing one value.
    ("-field=", Flag("-field=")),
    ("ssm get-parameter ", Flag("--name")),
    (
        "secretsmanager get-secret-value",
        Fixed(Kind::SecretAssignment),
    ),
    ("pass show ", Fixed(Kind::PasswordAssignment)),
    (
        "find-generic-password",
        FixedWith(Kind::PasswordAssignment, " -w"),
    ),
    (
        "find-internet-password",
        FixedWith(Kind::PasswordAssignment, " -w"),
    ),
    ("/run/secrets/", FixedWith(Kind::SecretAssignment, "cat ")),
    // `sops -d --extract '["db_password"]' secrets.yaml`.
    ("--extract ", Named),
];

/// Handles the anchor `ANCHORS[index]` found at `start..end`.
pub(crate) fn on_command(scan: &mut Scan<'_>, index: usize, start: usize, end: usize) {
    let bytes = scan.bytes;
    let Some(&(_, prints)) = ANCHORS.get(index) else {
        return;
    };
    let ls = line_start(bytes, start);
    let le = line_end(bytes, end);
    let line = &bytes[ls..le];
    let (kind, strictness) = match prints {
        // Decoding base64 prints a secret only when the input was one.
        Decoded => {
            if !contains_ci(line, b"kubectl")
                || !contains_ci(line, b"secret")
                || ends_late(bytes, end, le)
            {
                return;
            }
            (Kind::KubernetesSecret, Strictness::Password)
        }
        Encoded => {
            // Base64 of the secret is the secret: anyone decodes it. Piped on
            // (`| base64 -d` is the anchor above), it is not printed here.
            let rest = &bytes[end..le];
            if !contains_ci(line, b"kubectl")
                || !contains_ci(line, b"secret")
                || !contains_ci(rest, b".data.")
                || rest.contains(&b'|')
            {
                return;
            }
            (Kind::KubernetesSecret, Strictness::Random)
        }
        File(kind) => {
            if !contains_ci(line, b"cat ") || ends_late(bytes, end, le) {
                return;
            }
            (kind, Strictness::Random)
        }
        Fixed(kind) => (kind, Strictness::Password),
        FixedWith(kind, with) => {
            let Some(at) = find_ci(line, with.as_bytes()) else {
                return;
            };
            // `cat` must be the command typed, not `$(cat …)` inside a value.
            if with == "cat " && !typed_at(line, at) {
                return;
            }
            (kind, Strictness::Password)
        }
        Named | NamedAlone => {
            // The command's first word that is not a flag names the value.
            // A command line that reads a name is short; bounding it keeps
            // a long line of anchors (`$env:X=$env:X=…`) linear.
            let cap = le.min(end + MAX_COMMAND);
            if matches!(prints, NamedAlone) && cap < le {
                return;
            }
            let (name, rest) = name_word(&bytes[end..cap]);
            // `$env:GITHUB_TOKEN="…"` sets the name; it prints nothing.
            if matches!(prints, NamedAlone)
                && (!rest.trim_ascii().is_empty() || name.contains(&b'='))
            {
                return;
            }
            let Some(class) = class_of(name) else { return };
            (class.kind, class.strictness)
        }
        Expr => {
            let Some(es) = repl::expression_start(line) else {
                return;
            };
            let Some(class) = class_of(repl::last_name(&line[es..])) else {
                return;
            };
            (class.kind, class.strictness)
        }
        Flag(flag) => {
            let Some(at) = memchr::memmem::find(line, flag.as_bytes()) else {
                return;
            };
            let (name, _) = name_word(&line[at + flag.len()..]);
            let leaf = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
            let Some(class) = class_of(leaf) else { return };
            (class.kind, class.strictness)
        }
    };
    let mut vs = next_line(bytes, le);
    // A CLI's warnings come first (`heroku auth:token`: `› Warning: token
    // will expire …`).
    for _ in 0..MAX_WARNINGS {
        let line = &bytes[vs.min(bytes.len())..line_end(bytes, vs.min(bytes.len()))];
        let text = line.trim_ascii_start();
        if !(text.starts_with("›".as_bytes())
            || text.starts_with("▸".as_bytes())
            || text.starts_with(b"Warning:")
            || text.starts_with(b"WARNING:"))
        {
            break;
        }
        vs = next_line(bytes, vs + line.len());
    }
    if vs >= bytes.len() {
        return;
    }
    let ve = line_end(bytes, vs);
    // A REPL or debugger shows a string with its quotes (`'Rs9…'`), after
    // its own decoration (`=> `, `$1 = 0x55d0 `).
    let (s, e, _) = repl::printed_value(&bytes[vs..ve]);
    let (vs, word_end) = (vs + s, vs + e);
    let word = &bytes[vs..word_end];
    // `production:` is the next key of a file, not a printed value.
    if !word.is_empty()
        && !word.ends_with(b":")
        && !word.iter().any(u8::is_ascii_whitespace)
        && is_secret_value(word, strictness, true)
    {
        scan.push(vs, word_end, kind, priority::NAMED);
    }
}

/// Bytes of a command line read after an anchor that names a value.
const MAX_COMMAND: usize = 512;

/// Most warning lines skipped between a command and the secret it prints.
const MAX_WARNINGS: usize = 3;

/// Where the line after the one ending at `le` starts.
fn next_line(bytes: &[u8], le: usize) -> usize {
    le + usize::from(bytes.get(le) == Some(&b'\r')) + 1
}

/// Whether more of a command follows the anchor on its line than a
/// redirection of errors (`| base64 -d | openssl x509 …` prints no secret).
fn ends_late(bytes: &[u8], end: usize, le: usize) -> bool {
    bytes[end..le].iter().any(|&b| b.is_ascii_alphanumeric())
}

/// The first word of `rest` that is not a flag or a format (`'%s\n'`),
/// with quotes, `${ }`, cmd's `%…%` and sops' `["…"]` stripped: the name a
/// command prints the value of; and what follows it.
fn name_word(rest: &[u8]) -> (&[u8], &[u8]) {
    let mut at = 0;
    let mut word: &[u8] = &[];
    for w in rest.split(|b| b.is_ascii_whitespace()) {
        let from = at;
        at += w.len() + 1;
        if !w.is_empty() && !w.starts_with(b"-") && !w.contains(&b'%') || w.ends_with(b"%") {
            word = &rest[from..from + w.len()];
            break;
        }
    }
    let after = &rest[at.min(rest.len())..];
    let trim = |b: &u8| {
        matches!(
            b,
            b'"' | b'\'' | b'$' | b'{' | b'}' | b'`' | b'%' | b'[' | b']'
        )
    };
    let s = word.iter().position(|b| !trim(b)).unwrap_or(word.len());
    let e = word.iter().rposition(|b| !trim(b)).map_or(s, |p| p + 1);
    (&word[s..e.max(s)], after)
}

/// Where `needle` starts in `hay`, ASCII case-insensitively.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether the command at `at` starts the line, alone or after a shell
/// prompt (`$ `, `# `, `% `, `C:\\app>`).
fn typed_at(line: &[u8], at: usize) -> bool {
    let head = line[..at].trim_ascii();
    head.is_empty() || matches!(head.last(), Some(b'$' | b'#' | b'%' | b'>'))
}

/// How a name printed by a command classifies, if it names a secret.
fn class_of(name: &[u8]) -> Option<super::names::NameClass> {
    let mut words = Vec::new();
    split_words(name, &mut words);
    classify(&words, words.len())
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn a_printed_secret_is_redacted() {
        for (command, secret) in [
            ("$ printenv DB_PASSWORD", "Xk9fPq2LmZ7wRt4v"),
            (
                "$ echo $AWS_SECRET_ACCESS_KEY",
                "wJ7rXUtnFEMI/K7MDENG/bPxRfiCYz8x2kP9Qm1T",
            ),
            ("$ echo \"${STRIPE_API_KEY}\"", "Zq8mWn3Lp7RtYb2Kx9VcXk9f"),
            (
                "$ terraform output -raw vault_token",
                "s.4vPsE8kqaOVYNFRpcJ3xfS0Q",
            ),
            (
                "$ heroku config:get SECRET_KEY_BASE -a relay",
                "Zq8mWn3Lp7RtYb2Kx9VcXk9f",
            ),
            (
                "$ gcloud secrets versions access latest --secret=db-pass",
                "Xk9f@Pq2LmZ7wRt4v",
            ),
            (
                "$ heroku auth:token",
                "9f8232f4-f6f6-4357-8b67-05ad16c05ce2",
            ),
            ("$ cat ~/.vault-token", "s.4vPsE8kqaOVYNFRpcJ3xfS0Q"),
            (
                "$ heroku auth:token\n ›   Warning: token will expire 05/02/2025",
                "d4d04676-a455-4aa4-9151-5e61dd8dc25e",
            ),
            (
                "$ terraform output -raw primary_access_key",
                "bZGZZJABAlWXYb0JqxUoOPMOZDi7cnJ0ElAfOr8BFLJR/ocnDB2mRof9yzGAdeo47FdSnERE6bieIGVDn1a+Pg==",
            ),
            (
                "$ doppler secrets get DD_APPLICATION_KEY --plain",
                "4f1066b34210aae3ca0b9de45499ee7d3d0a6433",
            ),
            (
                "$ az keyvault secret show --vault-name relay-kv --name session-secret --query value -o tsv",
                "Y4-QZWw2Sv#l3v^ZhmIf.QmqM^F4iipd",
            ),
            (
                "$ kubectl get secret relay-db -o jsonpath='{.data.password}' | base64 -d",
                "@BgvRro.lX+Zh6n+",
            ),
        ] {
            let text = format!("{command}\n{secret}\n$ echo done\n");
            let out = redact(&text);
            assert!(!out.contains(secret), "{text:?} -> {out:?}");
            assert!(out.contains("$ echo done"), "{out:?}");
        }
    }

    #[test]
    fn other_output_is_left_alone() {
        for text in [
            "$ printenv HOME\n/home/relay\n",
            "$ echo $PATH\n/usr/local/bin:/usr/bin\n",
            "$ printenv DB_PASSWORD\n\n",
            "$ terraform output -raw instance_ip\n10.0.3.17\n",
            "$ echo aGVsbG8= | base64 -d\nhello-World-1234\n",
            "$ kubectl get secret x -o jsonpath='{.data.tls\\.crt}' | base64 -d | openssl x509 -noout\nnotAfter=May\n",
            "$ printenv DB_PASSWORD\nthe variable is not set in this shell\n",
            "$ doppler secrets get DB_HOST --plain\ndb.internal.acme.io\n",
            "$ heroku auth:token\n ›   Warning: not logged in\n",
            "$ az keyvault secret show --vault-name kv --name api\n{\n",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
