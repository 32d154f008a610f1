//! What a `Host` value names: a well-formed name or bracketed IPv6 literal
//! with at most a numeric port, and the name without its port, for the
//! allow-list in `access`; and which allow-list entries (`--allow-host`,
//! `--allow-origin`) could ever match a request at all.

/// Whether `host` (lower case) is a `Host` value as RFC 9110 writes one: a
/// name of letters, digits, dots and dashes, or a bracketed IPv6 literal,
/// then at most a `:port` of digits. Anything else (`localhost:1@evil.com`,
/// `[::1]evil.com`) is refused rather than read as a name it merely starts
/// with.
pub(crate) fn well_formed_host(host: &str) -> bool {
    let port_ok = |p: &str| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(literal) = host.strip_prefix('[') {
        let Some((addr, rest)) = literal.split_once(']') else {
            return false;
        };
        let addr_ok = !addr.is_empty()
            && addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        return addr_ok && (rest.is_empty() || rest.strip_prefix(':').is_some_and(port_ok));
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && port.is_none_or(port_ok)
}

/// Why `entry` (lower case) is a `Host` no request can carry, if it is one:
/// not well formed (`*.example.com`, `http://host`, `host/`) or a port
/// over 65535.
fn unmatchable_host(entry: &str) -> Option<&'static str> {
    if !well_formed_host(entry) {
        return Some(
            "it is not a host name, IPv4 address or bracketed IPv6 literal with an optional :port (no scheme, path or wildcard)",
        );
    }
    let port = match entry.strip_prefix('[') {
        Some(literal) => literal.split_once("]:").map(|(_, p)| p),
        None => entry.split_once(':').map(|(_, p)| p),
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return Some("its port is not 1 to 65535");
    }
    None
}

/// Checks the operator's allow-lists before serving: an entry that no
/// request could ever match is a start-up error naming it, not a silent
/// `403` for the clients it was meant for; and `Origin: null`, which the
/// sandboxed frames and `file:` pages of every site send, is refused.
///
/// # Errors
/// The first unusable entry, and why.
pub(super) fn check_allow_lists(hosts: &[String], origins: &[String]) -> anyhow::Result<()> {
    for entry in hosts {
        if let Some(why) = unmatchable_host(&entry.to_ascii_lowercase()) {
            anyhow::bail!(
                "--allow-host / http.allowed_hosts {entry:?} can never match a request: {why}"
            );
        }
    }
    for entry in origins {
        let lower = entry.to_ascii_lowercase();
        if lower == "null" {
            anyhow::bail!(
                "--allow-origin / http.allowed_origins \"null\" is refused: sandboxed frames and file: pages of any site send Origin: null, so it would let every web page call the bridge"
            );
        }
        let why = match lower.split_once("://") {
            Some(("http" | "https", host)) => unmatchable_host(host),
            _ => Some("an origin is http:// or https:// followed by a host and an optional :port"),
        };
        if let Some(why) = why {
            anyhow::bail!(
                "--allow-origin / http.allowed_origins {entry:?} can never match a browser's Origin: {why}"
            );
        }
    }
    Ok(())
}

/// `host` without a `:port` suffix (IPv6 literals keep their brackets).
pub(super) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::{check_allow_lists, strip_port, well_formed_host};

    #[test]
    fn allow_list_entries_no_request_can_match_are_refused() {
        let hosts = |h: &[&str]| {
            check_allow_lists(&h.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), &[])
        };
        let origins = |o: &[&str]| {
            check_allow_lists(&[], &o.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        for ok in [
            "bridge.example.com",
            "Bridge.Example.com:8765",
            "10.0.0.2",
            "[::1]:443",
        ] {
            assert!(hosts(&[ok]).is_ok(), "{ok}");
        }
        for bad in [
            "*.example.com",
            "http://host",
            "host/",
            "host:99999",
            "host:0",
            "[::1]:70000",
            "",
        ] {
            assert!(hosts(&[bad]).is_err(), "{bad}");
        }
        for ok in [
            "https://app.example.com",
            "HTTP://localhost:3000",
            "http://[::1]:8080",
        ] {
            assert!(origins(&[ok]).is_ok(), "{ok}");
        }
        for bad in [
            "*",
            "null",
            "NULL",
            "http://evil.com/",
            "evil.com",
            "*.example.com",
            "https://*.example.com",
            "http://host:99999",
            "ftp://host",
            "https://",
        ] {
            assert!(origins(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_well_formed_hosts_are_read() {
        for ok in [
            "localhost",
            "localhost:8765",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8765",
            "a-b.example.com",
        ] {
            assert!(well_formed_host(ok), "{ok}");
        }
        for bad in [
            "localhost:1@evil.com",
            "[::1]evil.com",
            "127.0.0.1:18765@evil.com",
            "localhost:",
            "localhost:123456",
            "local host",
            "",
            "[]",
            "[::1",
            "evil.com/x",
        ] {
            assert!(!well_formed_host(bad), "{bad}");
        }
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("localhost:8765"), "localhost");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:8765"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
