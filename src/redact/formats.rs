//! Secrets placed by a known layout rather than named by a secret word:
//! the anchors of [`chpasswd`], [`userlist`] and [`pair`] (logins given as
//! `user / password`), of protocol and prompt transcripts ([`transcript`])
//! and the words that introduce an invite code ([`invite`]), and the
//! dispatch from the shared automaton to them.
//!
//! Bundler's per-host credentials live here: `BUNDLE_<HOST>=user:password`
//! (the host with `.` written `__`), in the environment, `.bundle/config` or
//! a CI file, and `bundle config set --global <host> user:password`.

use super::chpasswd;
use super::invite;
use super::kinds::Kind;
use super::literal::read_value;
use super::operator::skip_blank;
use super::pair;
use super::procsub;
use super::scan::{Scan, priority};
use super::sql_insert;
use super::text::line_end;
use super::transcript;
use super::userlist;
use super::value::{Strictness, is_secret_value};

/// Anchors (matched case-insensitively) and the detector each starts.
pub(crate) const ANCHORS: &[(&str, Detector)] = &[
    ("bundle_", Detector::BundleEnv),
    ("bundle config ", Detector::BundleConfig),
    ("chpasswd:", Detector::Chpasswd),
    ("\" \"md5", Detector::Userlist),
    ("\" \"scram-sha-256$", Detector::Userlist),
    ("userlist", Detector::Userlist),
    ("login", Detector::Pair),
    ("creds", Detector::Pair),
    ("credentials", Detector::Pair),
    ("user/pass", Detector::Pair),
    ("user/password", Detector::Pair),
    ("username/password", Detector::Pair),
    ("invite", Detector::Invite),
    ("invitation", Detector::Invite),
    ("code", Detector::Invite),
    ("join", Detector::Invite),
    ("redeem", Detector::Invite),
    ("auth plain ", Detector::AuthPlain),
    (" login ", Detector::ImapLogin),
    (": » ", Detector::PromptAnswer),
    (": › ", Detector::PromptAnswer),
    ("what's the value of ", Detector::ValueOf),
    ("value\n---", Detector::KvTable),
    ("auth-user-pass", Detector::AuthUserPass),
    ("> auth ", Detector::RedisAuth),
    ("<(echo ", Detector::ProcSub),
    ("<(printf ", Detector::ProcSub),
    ("insert into ", Detector::SqlInsert),
];

/// The detector an anchor starts.
#[derive(Clone, Copy)]
pub(crate) enum Detector {
    BundleEnv,
    BundleConfig,
    Chpasswd,
    Userlist,
    Pair,
    Invite,
    AuthPlain,
    ImapLogin,
    PromptAnswer,
    ValueOf,
    KvTable,
    AuthUserPass,
    RedisAuth,
    ProcSub,
    SqlInsert,
}

/// Runs the detector of anchor `i` found at `start..end`.
pub(crate) fn on_anchor(scan: &mut Scan<'_>, i: usize, start: usize, end: usize) {
    match ANCHORS.get(i).map(|a| a.1) {
        Some(Detector::BundleEnv) => on_bundle_env(scan, start, end),
        Some(Detector::BundleConfig) => on_bundle_config(scan, end),
        Some(Detector::Chpasswd) => chpasswd::on_key(scan, start, end),
        Some(Detector::Userlist) => userlist::on_anchor(scan, start),
        Some(Detector::Pair) => pair::on_word(scan, start, end),
        Some(Detector::Invite) => invite::on_word(scan, start, end),
        Some(Detector::AuthPlain) => transcript::on_auth_plain(scan, end),
        Some(Detector::ImapLogin) => transcript::on_login(scan, start, end),
        Some(Detector::PromptAnswer) => transcript::on_prompt_answer(scan, start, end),
        Some(Detector::ValueOf) => transcript::on_value_of(scan, start, end),
        Some(Detector::KvTable) => super::kv_table::on_header(scan, start, end),
        Some(Detector::AuthUserPass) => transcript::on_auth_user_pass(scan, start),
        Some(Detector::RedisAuth) => transcript::on_redis_auth(scan, start, end),
        Some(Detector::ProcSub) => procsub::on_anchor(scan, start, end),
        Some(Detector::SqlInsert) => sql_insert::on_insert(scan, start, end),
        None => {}
    }
}

/// Bundler settings whose name holds `__` without being a host.
const NOT_HOSTS: &[&[u8]] = &[b"BUILD__", b"MIRROR__", b"LOCAL__"];

/// `BUNDLE_GEMS__CONTRIBSYS__COM=abc123:secret` (`.env`, `export`, YAML
/// `BUNDLE_…: "user:token"`).
fn on_bundle_env(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return;
    }
    let mut e = end;
    while e < bytes.len() && (bytes[e].is_ascii_alphanumeric() || bytes[e] == b'_') && e - end < 96
    {
        e += 1;
    }
    let host = &bytes[end..e];
    let uppercase = bytes[start..e].iter().all(|b| !b.is_ascii_lowercase());
    if !uppercase
        || !host.windows(2).any(|w| w == b"__")
        || NOT_HOSTS.iter().any(|p| host.starts_with(p))
    {
        return;
    }
    let mut i = e;
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i = skip_blank(bytes, i);
    if !matches!(bytes.get(i), Some(b'=' | b':')) {
        return;
    }
    credential(scan, skip_blank(bytes, i + 1));
}

/// `bundle config [set] [--global|--local] <host> <user:password>`.
fn on_bundle_config(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let le = line_end(bytes, end);
    let mut i = end;
    let mut host = false;
    loop {
        i = skip_blank(bytes, i);
        if i >= le {
            return;
        }
        let we = bytes[i..le]
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .map_or(le, |p| i + p);
        let w = &bytes[i..we];
        if host {
            credential(scan, i);
            return;
        }
        if !matches!(w, b"set" | b"--global" | b"--local") {
            // The host the credential is for: a domain or a setting name.
            host = w.contains(&b'.') || w.starts_with(b"BUNDLE_");
            if !host {
                return;
            }
        }
        i = we;
    }
}

/// The credential at `vs`: `user:password` (Basic auth to the gem server)
/// or a bare token. The whole value is replaced.
fn credential(scan: &mut Scan<'_>, vs: usize) {
    let bytes = scan.bytes;
    let Some((vs, ve, quoted)) = read_value(bytes, vs, false) else {
        return;
    };
    let v = &bytes[vs..ve];
    if v.contains(&b' ') || v.first() == Some(&b'-') {
        return;
    }
    let (kind, secret) = match v.iter().position(|&b| b == b':') {
        Some(c) if c > 0 => (Kind::HttpBasicAuth, &v[c + 1..]),
        _ => (Kind::TokenAssignment, v),
    };
    if is_secret_value(
        secret,
        Strictness::Password,
        quoted || kind == Kind::HttpBasicAuth,
    ) {
        scan.push(vs, ve, kind, priority::ASSIGN);
    }
}
