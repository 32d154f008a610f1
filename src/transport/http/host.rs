//! What a `Host` value names: a well-formed name or bracketed IPv6 literal
//! with at most a numeric port, and the name without its port, for the
//! allow-list in `access`.

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
    use super::{strip_port, well_formed_host};

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
