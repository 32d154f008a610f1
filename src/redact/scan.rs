//! The single pass: one Aho-Corasick automaton over every literal anchor of
//! every detector (token prefixes, keywords, `://`, PEM armour, …), run once
//! over the text; each anchor hit hands a small, bounded window to its
//! detector, which pushes candidate spans. Then overlapping candidates are
//! merged and the text is rebuilt with placeholders.
//!
//! Why an anchor automaton and not a `RegexSet` of sixty patterns: a set only
//! says *which* patterns matched, so every matching pattern would be re-run
//! over the whole text, and a few shape-only patterns would defeat the literal
//! prefilter. Here the text is read once by the automaton and every detector
//! only looks at a window of bounded size (or, for PEM and Kubernetes
//! documents, at a region it then marks as done), so the work is linear in the
//! input. Regexes used for verification are compiled by the `regex` crate,
//! which never backtracks.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::kinds::Kind;
use super::{
    assign, calls, cli, cookie, fallback, foreign, formats, http, invite, jwk, k8s, listing, pem,
    pgpass, ppk, shown, signed, sql, tokens, ui_input, url, use_as,
};

/// A span of the input to replace with a kind's placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub kind: u16,
    pub priority: u8,
}

/// Priorities used when candidates overlap: the higher one names the merged span.
pub(crate) mod priority {
    /// Whole PEM blocks: they swallow anything random inside their body.
    pub const PEM: u8 = 100;
    /// User-configured patterns.
    pub const CUSTOM: u8 = 90;
    /// Self-identifying tokens (`ghp_…`, `AKIA…`, JWTs, webhook URLs).
    pub const TOKEN: u8 = 80;
    /// Kubernetes Secret values.
    pub const K8S: u8 = 70;
    /// Passwords in URLs.
    pub const URL: u8 = 60;
    /// Authorization headers, curl -u, auth tuples.
    pub const HTTP: u8 = 50;
    /// Assignments whose name pins a product (`DD_API_KEY`, `TWILIO_AUTH_TOKEN`).
    pub const NAMED: u8 = 45;
    /// Generic assignments (`password=`, `api_key:`).
    pub const ASSIGN: u8 = 40;
}

/// What an anchor hit triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Verify token rule `n` of [`tokens::RULES`] around the hit.
    Token(u16),
    /// A secret-ish word: parse `name <op> value` around it.
    Keyword,
    /// `://`: look for `user:password@`.
    Url,
    /// `%3A%2F%2F`: a percent-encoded URL inside a query parameter.
    EncodedUrl,
    /// `-----BEGIN `.
    PemBegin,
    /// `-----END `.
    PemEnd,
    /// `service_account`: marks a GCP key file.
    ServiceAccount,
    /// `kind: Secret` in YAML or JSON.
    K8sSecret,
    /// `authorization` header name.
    Authorization,
    /// `bearer` scheme word.
    Bearer,
    /// `basic` scheme word.
    Basic,
    /// Short CLI flags that carry credentials (`-u`, `-p`, `-a`).
    CliFlag,
    /// `--password-stdin` (the password is echoed into the pipe).
    PasswordStdin,
    /// `auth=(` / `BasicAuth(` tuples.
    AuthTuple,
    /// `keyName` in `az storage account keys list` output.
    AzureKeyList,
    /// `"sensitive": true` in `terraform output -json`.
    Sensitive,
    /// Base64 of `-----BEGIN ` or of a PuTTY header.
    B64Armour,
    /// `---- BEGIN SSH2 `.
    Ssh2Begin,
    /// `PuTTY-User-Key-File-`.
    Putty,
    /// `default` / `fallback`: a literal default of a setting.
    Default,
    /// `sig=` of an Azure shared access signature.
    Sig,
    /// `X-Amz-Signature=`, `X-Amz-Security-Token=`, `X-Goog-Signature=`.
    Presigned,
    /// `Cookie:`, `Set-Cookie:`, `--cookie`, `curl -b`.
    CookieHeader,
    /// A well-known session cookie name followed by `=`.
    CookieName,
    /// The name of a command-line tool that takes a password argument.
    Program,
    /// `pgpass`: the lines around it may be `host:port:db:user:password`.
    PgpassName,
    /// `:5432:`, `:*:`: the port field of a `.pgpass` line.
    PgpassPort,
    /// `@tcp(` / `@unix(`: Go's MySQL DSN.
    GoDsn,
    /// `:thin:`: Oracle's JDBC URL, `user/password@host`.
    OracleThin,
    /// SQL `IDENTIFIED [WITH plugin] BY 'x'`.
    SqlIdentified,
    /// SQL `SET PASSWORD [FOR user] = 'x'`.
    SqlSetPassword,
    /// A command that prints a secret on the next line (`shown::ANCHORS[n]`).
    Shown(u8),
    /// ` as the ` after a value: `use X as the API key`.
    UseAs,
    /// A secret word in another language (`foreign::WORDS[n]`).
    Foreign(u8),
    /// A call whose positional argument is a password (`calls::CALLS[n]`).
    Call(u8),
    /// ` on >`: a Redis ACL rule adding a password.
    AclRule,
    /// `: EAP "`: a strongSwan `ipsec.secrets` line whose quoted string is one.
    QuotedSecret,
    /// `Unseal Key 1: …` of `vault operator init`.
    UnsealKey,
    /// An anchor of a file format that places a secret (`formats::ANCHORS[n]`).
    Format(u8),
    /// `"kty"`: a JSON Web Key, whose private members are secret.
    Kty,
    /// Text typed into a form field (`ui_input::ANCHORS[n]`).
    UiInput(u8),
}

/// Keyword anchors: a hit starts identifier parsing in [`assign`].
const KEYWORDS: &[&str] = &[
    "pass",
    "pw",
    "psk",
    // Look-alike digits in secret words (`p4ssword`, `s3cret`, `t0ken`).
    "p4ss",
    "pa55",
    "p455",
    "s3cr",
    "secr3",
    "5ecr",
    "t0k",
    "tok3",
    "k3y",
    "ap1",
    "pwd",
    "pasw",
    "pssw",
    "paas", // misspelt: `pasword`, `pssword`, `paasword`
    "secret",
    "key",
    "token",
    "credential",
    "auth",
    "salt",
    // Consul's gossip key (`encrypt = "…"`) by its shape; `appid=` in a query.
    "encrypt",
    "appid",
];

/// The compiled anchor automaton and what each pattern triggers.
pub(crate) struct Anchors {
    automaton: AhoCorasick,
    triggers: Vec<Vec<Trigger>>,
}

impl Anchors {
    /// Builds the automaton from the token rules and the fixed anchors.
    pub(crate) fn build() -> Anchors {
        let mut pairs: Vec<(String, Trigger)> = Vec::new();
        for (i, rule) in tokens::RULES.iter().enumerate() {
            let id = u16::try_from(i).unwrap_or(u16::MAX);
            for a in rule.anchors {
                pairs.push(((*a).to_ascii_lowercase(), Trigger::Token(id)));
            }
        }
        for k in KEYWORDS {
            pairs.push(((*k).to_string(), Trigger::Keyword));
        }
        let fixed: &[(&str, Trigger)] = &[
            ("://", Trigger::Url),
            ("%3a%2f%2f", Trigger::EncodedUrl),
            ("pgpass", Trigger::PgpassName),
            (":*:", Trigger::PgpassPort),
            (":5432:", Trigger::PgpassPort),
            (":5433:", Trigger::PgpassPort),
            (":5434:", Trigger::PgpassPort),
            (":6432:", Trigger::PgpassPort),
            ("-----begin ", Trigger::PemBegin),
            ("-----end ", Trigger::PemEnd),
            ("service_account", Trigger::ServiceAccount),
            ("kind: secret", Trigger::K8sSecret),
            ("\"kind\": \"secret\"", Trigger::K8sSecret),
            ("\"kind\":\"secret\"", Trigger::K8sSecret),
            ("kind: \"secret\"", Trigger::K8sSecret),
            ("authorization", Trigger::Authorization),
            ("bearer", Trigger::Bearer),
            ("basic ", Trigger::Basic),
            (" -u", Trigger::CliFlag),
            (" -p", Trigger::CliFlag),
            (" -a", Trigger::CliFlag),
            ("--user", Trigger::CliFlag),
            ("--auth", Trigger::CliFlag),
            ("--password-stdin", Trigger::PasswordStdin),
            // The value piped in is the secret created or set.
            ("docker secret create ", Trigger::PasswordStdin),
            ("passwd --stdin", Trigger::PasswordStdin),
            // Secret stores fed on stdin: `echo X | npx wrangler secret put
            // API_KEY`, `| vercel env add NAME`, `| gcloud secrets create
            // NAME --data-file=-` (and `secrets versions add`).
            ("secret put ", Trigger::PasswordStdin),
            ("env add ", Trigger::PasswordStdin),
            // `echo -n X | gh secret set NAME` (gh reads the body from stdin).
            ("secret set ", Trigger::PasswordStdin),
            ("secrets create ", Trigger::PasswordStdin),
            ("secrets versions add ", Trigger::PasswordStdin),
            (": eap \"", Trigger::QuotedSecret),
            ("unseal key ", Trigger::UnsealKey),
            (": xauth \"", Trigger::QuotedSecret),
            ("auth=(", Trigger::AuthTuple),
            ("basicauth(", Trigger::AuthTuple),
            ("btoa(", Trigger::AuthTuple),
            ("b64encode(", Trigger::AuthTuple),
            ("keyname", Trigger::AzureKeyList),
            ("\"sensitive\": true", Trigger::Sensitive),
            ("\"sensitive\":true", Trigger::Sensitive),
            ("ls0tls1crudjti", Trigger::B64Armour),
            ("uhvuvfktvxnlci1lzxktrmlszs", Trigger::B64Armour),
            ("---- begin ssh2 ", Trigger::Ssh2Begin),
            ("putty-user-key-file-", Trigger::Putty),
            ("default", Trigger::Default),
            ("fallback", Trigger::Default),
            ("sig=", Trigger::Sig),
            ("x-amz-signature=", Trigger::Presigned),
            ("x-amz-security-token=", Trigger::Presigned),
            ("x-goog-signature=", Trigger::Presigned),
            ("cookie:", Trigger::CookieHeader),
            ("--cookie ", Trigger::CookieHeader),
            (" -b ", Trigger::CookieHeader),
            ("phpsessid=", Trigger::CookieName),
            ("jsessionid=", Trigger::CookieName),
            ("connect.sid=", Trigger::CookieName),
            ("sessionid=", Trigger::CookieName),
            ("_session=", Trigger::CookieName),
            ("session-token=", Trigger::CookieName),
            ("_sess=", Trigger::CookieName),
            ("asp.net_sessionid=", Trigger::CookieName),
            ("@tcp(", Trigger::GoDsn),
            (":thin:", Trigger::OracleThin),
            ("@unix(", Trigger::GoDsn),
            ("identified ", Trigger::SqlIdentified),
            ("set password", Trigger::SqlSetPassword),
        ];
        for (a, t) in fixed {
            pairs.push(((*a).to_string(), *t));
        }
        for (i, (a, _)) in shown::ANCHORS.iter().enumerate() {
            pairs.push((
                (*a).to_string(),
                Trigger::Shown(u8::try_from(i).unwrap_or(u8::MAX)),
            ));
        }
        for a in cli::anchors() {
            pairs.push((a.to_ascii_lowercase(), Trigger::Program));
        }
        for (i, a) in foreign::anchors().enumerate() {
            pairs.push((
                a.to_string(),
                Trigger::Foreign(u8::try_from(i).unwrap_or(u8::MAX)),
            ));
        }
        for (i, (a, _)) in calls::CALLS.iter().enumerate() {
            pairs.push((
                (*a).to_string(),
                Trigger::Call(u8::try_from(i).unwrap_or(u8::MAX)),
            ));
        }
        pairs.push((" on >".to_string(), Trigger::AclRule));
        for (i, (a, _)) in formats::ANCHORS.iter().enumerate() {
            pairs.push((
                (*a).to_string(),
                Trigger::Format(u8::try_from(i).unwrap_or(u8::MAX)),
            ));
        }
        for a in jwk::ANCHORS {
            pairs.push(((*a).to_string(), Trigger::Kty));
        }
        for a in use_as::ANCHORS {
            pairs.push(((*a).to_string(), Trigger::UseAs));
        }
        for (i, (a, _)) in ui_input::ANCHORS.iter().enumerate() {
            let i = u8::try_from(i).unwrap_or(u8::MAX);
            pairs.push(((*a).to_string(), Trigger::UiInput(i)));
        }
        let mut patterns: Vec<String> = Vec::new();
        let mut triggers: Vec<Vec<Trigger>> = Vec::new();
        for (p, t) in pairs {
            match patterns.iter().position(|q| *q == p) {
                Some(i) => triggers[i].push(t),
                None => {
                    patterns.push(p);
                    triggers.push(vec![t]);
                }
            }
        }
        // The patterns are fixed literals; building can only fail on resource
        // limits that these few hundred bytes of patterns cannot reach.
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .build(&patterns)
            })
            .expect("anchor literals always compile");
        Anchors {
            automaton,
            triggers,
        }
    }

    /// Number of distinct literal anchors.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.triggers.len()
    }
}

/// State of one redaction pass.
pub(crate) struct Scan<'t> {
    pub bytes: &'t [u8],
    pub out: Vec<Candidate>,
    /// End of the last identifier parsed, so anchors inside it are skipped.
    pub ident_done: usize,
    /// The last bare one-word value judged and rejected: a name that starts
    /// inside it after `=` or `:` (`pw=pw=pw=…`) is part of that value, not a
    /// new assignment, and is not judged again.
    pub rejected_value: (usize, usize),
    /// End of the last Kubernetes document scanned.
    pub k8s_done: usize,
    pub pem_begins: Vec<usize>,
    pub pem_ends: Vec<usize>,
    pub service_accounts: Vec<usize>,
    /// End of the last query parameter, table header, cookie header and
    /// PuTTY file read:
    /// anchors inside a region already read are skipped, which keeps a text
    /// of repeated anchors linear.
    pub param_done: usize,
    pub cookie_done: usize,
    pub ppk_done: usize,
    /// End of the last block a [`formats`] detector walked.
    pub format_done: usize,
    /// End of the last JSON Web Key object walked, or of text looked back
    /// over for one in vain ([`jwk`]).
    pub jwk_done: usize,
    /// How far spelled invite codes were looked for after a word ([`invite`]).
    pub invite_done: usize,
    /// The last command read by [`cli`] (its program word and where its words
    /// end): the same program named again inside it is an argument.
    pub cli_done: (usize, &'static str),
    /// The line of the last name looked at as a result table's header.
    pub header_line: HeaderLine,
}

/// A line looked at as the header of a query result (see
/// [`listing::on_column_header`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct HeaderLine {
    pub ls: usize,
    pub le: usize,
    /// Where the rule under it ends, if it is a header.
    pub rule_end: Option<usize>,
    /// Columns read so far.
    pub columns: u8,
    /// The line read as a delimited header (CSV, Markdown).
    pub delimited: super::table::Delimited,
    /// Where the rows read under it end: a line before is a row.
    pub rows_end: usize,
}

impl<'t> Scan<'t> {
    /// Records a candidate span (empty spans are ignored).
    pub(crate) fn push(&mut self, start: usize, end: usize, kind: Kind, priority: u8) {
        if start < end && end <= self.bytes.len() {
            self.out.push(Candidate {
                start,
                end,
                kind: kind.id(),
                priority,
            });
        }
    }
}

/// Runs every built-in detector over `text` and returns the raw candidates.
pub(crate) fn scan_builtin(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
) -> Vec<Candidate> {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        out: Vec::new(),
        ident_done: 0,
        rejected_value: (0, 0),
        k8s_done: 0,
        pem_begins: Vec::new(),
        pem_ends: Vec::new(),
        service_accounts: Vec::new(),
        param_done: 0,
        cookie_done: 0,
        ppk_done: 0,
        format_done: 0,
        jwk_done: 0,
        invite_done: 0,
        cli_done: (0, ""),
        header_line: HeaderLine::default(),
    };
    for m in anchors.automaton.find_overlapping_iter(text.as_bytes()) {
        for &t in &anchors.triggers[m.pattern().as_usize()] {
            dispatch(&mut scan, rules, t, m.start(), m.end());
        }
    }
    pem::finish(&mut scan);
    invite::scan_codes(&mut scan);
    scan.out
}

fn dispatch(scan: &mut Scan<'_>, rules: &tokens::Compiled, t: Trigger, start: usize, end: usize) {
    match t {
        Trigger::Token(i) => tokens::verify(scan, rules, usize::from(i), start, end),
        Trigger::Keyword => assign::on_keyword(scan, start, end),
        Trigger::Url => url::on_scheme_sep(scan, start),
        Trigger::EncodedUrl => url::on_encoded_sep(scan, start),
        Trigger::PemBegin => scan.pem_begins.push(start),
        Trigger::PemEnd => scan.pem_ends.push(start),
        Trigger::ServiceAccount => scan.service_accounts.push(start),
        Trigger::K8sSecret => k8s::on_kind_secret(scan, start, end),
        Trigger::Authorization => http::on_authorization(scan, end),
        Trigger::Bearer => http::on_bearer(scan, start, end),
        Trigger::Basic => http::on_basic(scan, start, end),
        Trigger::CliFlag => http::on_cli_flag(scan, start, end),
        Trigger::PasswordStdin => http::on_password_stdin(scan, start),
        Trigger::AuthTuple => http::on_auth_tuple(scan, end),
        Trigger::AzureKeyList => listing::on_azure_key_list(scan, start, end),
        Trigger::Sensitive => listing::on_sensitive(scan, start, end),
        Trigger::B64Armour => pem::on_b64_armour(scan, start),
        Trigger::Ssh2Begin => pem::on_ssh2_begin(scan, start),
        Trigger::Putty => ppk::on_header(scan, start),
        Trigger::Default => fallback::on_default(scan, start, end),
        Trigger::Sig => signed::on_sig(scan, start, end),
        Trigger::Presigned => signed::on_presigned(scan, start, end),
        Trigger::CookieHeader => cookie::on_header(scan, end),
        Trigger::CookieName => cookie::on_name(scan, start, end),
        Trigger::Program => cli::on_program(scan, start, end),
        Trigger::PgpassName => pgpass::on_name(scan, start),
        Trigger::PgpassPort => pgpass::on_port(scan, start),
        Trigger::GoDsn => url::on_go_dsn(scan, start),
        Trigger::OracleThin => url::on_oracle_thin(scan, end),
        Trigger::SqlIdentified => sql::on_identified(scan, start, end),
        Trigger::SqlSetPassword => sql::on_set_password(scan, start, end),
        Trigger::Shown(i) => shown::on_command(scan, usize::from(i), start, end),
        Trigger::UseAs => use_as::on_as(scan, start, end),
        Trigger::Foreign(i) => foreign::on_word(scan, usize::from(i), start, end),
        Trigger::Call(i) => calls::on_call(scan, usize::from(i), end),
        Trigger::AclRule => calls::on_acl_rule(scan, start),
        Trigger::QuotedSecret => calls::on_quoted(scan, end),
        Trigger::UnsealKey => calls::on_unseal_key(scan, end),
        Trigger::Format(i) => formats::on_anchor(scan, usize::from(i), start, end),
        Trigger::Kty => jwk::on_kty(scan, start),
        Trigger::UiInput(i) => ui_input::on_anchor(scan, usize::from(i), start, end),
    }
}

/// Merges overlapping candidates: the union of their spans, named by the
/// highest-priority member (ties keep the earlier, longer one).
pub(crate) fn merge(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        match out.last_mut() {
            Some(last) if c.start < last.end => {
                last.end = last.end.max(c.end);
                if c.priority > last.priority {
                    last.kind = c.kind;
                    last.priority = c.priority;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_deduplicated_and_merge_unions() {
        let a = Anchors::build();
        assert!(a.len() > 100, "{}", a.len());
        let c = |start, end, priority| Candidate {
            start,
            end,
            kind: 0,
            priority,
        };
        let m = merge(vec![c(5, 9, 40), c(0, 6, 80), c(20, 30, 10)]);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].start, m[0].end, m[0].priority), (0, 9, 80));
        eprintln!("anchors: {}", a.len());
    }
}
