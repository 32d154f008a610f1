//! Credentials inside URLs: `scheme://user:PASSWORD@host`. Only the password
//! is replaced, so the URL stays readable (user, host, port, path survive).
//! Database schemes get their own kinds; everything else (git remotes, pip
//! index URLs, proxies, AMQP, FTP, …) is `url_credentials`.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::value::{Strictness, is_placeholder, is_reference, is_secret_value, is_trivial};

/// Longest scheme we look back for (`postgresql+asyncpg`, `mongodb+srv`).
const MAX_SCHEME: usize = 32;
/// Longest `user:password` part we accept.
const MAX_USERINFO: usize = 512;

/// Handles a `://` found at `sep`.
pub(crate) fn on_scheme_sep(scan: &mut Scan<'_>, sep: usize) {
    let bytes = scan.bytes;
    let mut s = sep;
    while s > 0 && sep - s < MAX_SCHEME && is_scheme_byte(bytes[s - 1]) {
        s -= 1;
    }
    if s == sep || !bytes[s].is_ascii_alphabetic() {
        return;
    }
    let scheme = &bytes[s..sep];
    let jdbc = s >= 5 && bytes[s - 5..s].eq_ignore_ascii_case(b"jdbc:");
    let auth_start = sep + 3;
    // The authority ends at the first byte that cannot be in it unencoded.
    let mut end = auth_start;
    let mut last_at = None;
    while end < bytes.len() && end - auth_start <= MAX_USERINFO {
        match bytes[end] {
            b'/' | b'?' | b'#' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'`' | b'<'
            | b'>' | b'\\' | b'|' | b'{' | b'}' => break,
            b'@' => last_at = Some(end),
            _ => {}
        }
        end += 1;
    }
    let Some(at) = last_at else { return };
    let userinfo = &bytes[auth_start..at];
    let host = &bytes[at + 1..end];
    if host.is_empty() || !(host[0].is_ascii_alphanumeric() || host[0] == b'[') {
        return;
    }
    let kind = kind_for(scheme, jdbc);
    match userinfo.iter().position(|&b| b == b':') {
        Some(c) => {
            let user = &userinfo[..c];
            let pass = &userinfo[c + 1..];
            if password_ok(user, pass) {
                scan.push(auth_start + c + 1, at, kind, priority::URL);
            }
        }
        // `https://<token>@github.com`: a bare user part that is a generated token.
        None => {
            if userinfo.len() >= 20
                && is_secret_value(userinfo, Strictness::Random, false)
                && !userinfo.contains(&b'.')
            {
                scan.push(auth_start, at, kind, priority::URL);
            }
        }
    }
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'.' || b == b'-'
}

fn kind_for(scheme: &[u8], jdbc: bool) -> Kind {
    let lower = scheme.to_ascii_lowercase();
    let base = lower.split(|&b| b == b'+').next().unwrap_or(&[]);
    match base {
        b"postgres" | b"postgresql" | b"postgis" | b"pgsql" | b"psql" | b"cockroachdb"
        | b"timescale" => Kind::DatabaseUrlPostgres,
        b"mysql" | b"mariadb" | b"mysqlx" => Kind::DatabaseUrlMysql,
        b"mongodb" | b"mongo" => Kind::DatabaseUrlMongodb,
        b"redis" | b"rediss" | b"valkey" => Kind::DatabaseUrlRedis,
        _ if jdbc && lower.starts_with(b"postgres") => Kind::DatabaseUrlPostgres,
        _ if jdbc && lower.starts_with(b"mysql") => Kind::DatabaseUrlMysql,
        _ => Kind::UrlCredentials,
    }
}

/// A URL password is anything non-empty that is not a placeholder, a
/// reference or a well-known default (`postgres:postgres@localhost`).
fn password_ok(user: &[u8], pass: &[u8]) -> bool {
    if pass.is_empty() || pass.len() > 256 {
        return false;
    }
    if is_reference(pass)
        || is_placeholder(pass)
        || is_trivial(pass)
        || pass.eq_ignore_ascii_case(user)
    {
        return false;
    }
    if pass
        .iter()
        .all(|&b| b == b'*' || b == b'x' || b == b'X' || b == b'.')
    {
        return false;
    }
    // `user:password@` with a word spelled out is a documentation template.
    if super::text::contains_ci(pass, b"password") || super::text::contains_ci(pass, b"passwd") {
        return false;
    }
    // Host:port pairs seen as `user:pass` (e.g. `http://host:8080@...`) are rare;
    // a purely numeric "password" is far more often a port.
    !pass.iter().all(u8::is_ascii_digit) || pass.len() >= 6
}
