//! Credentials inside URLs: `scheme://user:PASSWORD@host` (and Go's MySQL
//! DSN, `user:PASSWORD@tcp(host)/db`, which has no scheme). Only the password
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
            // A password with an unencoded `#` or `?` (`https://ci:pa#ss@host`):
            // they end the authority only if no `@` follows.
            b'?' | b'#' if last_at.is_none() && at_follows(bytes, end + 1, auth_start) => {}
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
        // Not a Sentry DSN's key, which is public by design (it ships in every
        // browser bundle that reports errors).
        None => {
            if userinfo.len() >= 20
                && is_secret_value(userinfo, Strictness::Random, false)
                && !userinfo.contains(&b'.')
                && !super::text::contains_ci(host, b"sentry")
            {
                scan.push(auth_start, at, kind, priority::URL);
            }
        }
    }
}

/// Handles a percent-encoded `%3A%2F%2F` found at `sep` (a URL inside a
/// query parameter: `?next=postgres%3A%2F%2Fapp%3Apw%40db`): the same
/// search with `%3A` for `:`, `%40` for `@` and `%2F` ending the authority.
pub(crate) fn on_encoded_sep(scan: &mut Scan<'_>, sep: usize) {
    let bytes = scan.bytes;
    let mut s = sep;
    while s > 0 && sep - s < MAX_SCHEME && is_scheme_byte(bytes[s - 1]) {
        s -= 1;
    }
    if s == sep || !bytes[s].is_ascii_alphabetic() {
        return;
    }
    let kind = kind_for(&bytes[s..sep], false);
    let auth_start = sep + 9;
    let code = |i: usize, c: &[u8]| bytes.len() >= i + 3 && bytes[i..i + 3].eq_ignore_ascii_case(c);
    let mut end = auth_start;
    let (mut colon, mut at) = (None, None);
    while end < bytes.len() && end - auth_start <= MAX_USERINFO {
        if code(end, b"%2F")
            || code(end, b"%3F")
            || matches!(
                bytes[end],
                b'&' | b'/' | b'?' | b'#' | b' ' | b'\n' | b'"' | b'\'' | b'<'
            )
        {
            break;
        }
        if code(end, b"%40") {
            at = Some(end);
        } else if code(end, b"%3A") && colon.is_none() {
            colon = Some(end);
        }
        end += 1;
    }
    if let (Some(c), Some(a)) = (colon, at)
        && c < a
        && a + 3 < end
        && password_ok(&bytes[auth_start..c], &bytes[c + 3..a])
    {
        scan.push(c + 3, a, kind, priority::URL);
    }
}

/// Handles `@tcp(` or `@unix(` at `at`: Go's MySQL driver DSN,
/// `user:password@tcp(host:3306)/db`, which has no scheme.
pub(crate) fn on_go_dsn(scan: &mut Scan<'_>, at: usize) {
    let bytes = scan.bytes;
    let mut s = at;
    while s > 0
        && at - s <= MAX_USERINFO
        && !matches!(
            bytes[s - 1],
            b'"' | b'\'' | b'`' | b' ' | b'\t' | b'\n' | b'\r' | b'=' | b'(' | b','
        )
    {
        s -= 1;
    }
    let userinfo = &bytes[s..at];
    let Some(c) = userinfo.iter().position(|&b| b == b':') else {
        return;
    };
    let (user, pass) = (&userinfo[..c], &userinfo[c + 1..]);
    if !user.is_empty() && password_ok(user, pass) {
        scan.push(s + c + 1, at, Kind::DatabaseUrlMysql, priority::URL);
    }
}

/// Whether an `@` comes after `from` before anything that ends an authority.
fn at_follows(bytes: &[u8], from: usize, auth_start: usize) -> bool {
    let hi = (auth_start + MAX_USERINFO).min(bytes.len());
    bytes[from.min(hi)..hi].iter().find(|&&b| {
        b == b'@'
            || matches!(
                b,
                b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'<' | b'>'
            )
    }) == Some(&b'@')
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

/// Handles `:thin:` at `end`: Oracle's JDBC URL, `jdbc:oracle:thin:user/
/// password@//host:1521/service` (or `@host:1521:SID`), user and password
/// apart by a slash rather than a colon.
pub(crate) fn on_oracle_thin(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let hi = (end + MAX_USERINFO).min(bytes.len());
    let Some(slash) = bytes[end..hi].iter().position(|&b| !is_oracle_user(b)) else {
        return;
    };
    let slash = end + slash;
    if slash == end || bytes[slash] != b'/' || bytes.get(slash + 1) == Some(&b'/') {
        return;
    }
    let Some(at) = bytes[slash + 1..hi]
        .iter()
        .position(|&b| b == b'@' || b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
    else {
        return;
    };
    let at = slash + 1 + at;
    if bytes[at] == b'@' && password_ok(&bytes[end..slash], &bytes[slash + 1..at]) {
        scan.push(slash + 1, at, Kind::PasswordAssignment, priority::URL);
    }
}

fn is_oracle_user(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'#')
}
