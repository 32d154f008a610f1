//! PostgreSQL URLs: recognising one, and showing one without its password.

/// Whether `db` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A connection URL whose password never reaches `Debug` or `Display`.
#[derive(Clone)]
pub struct PgUrl(String);

impl PgUrl {
    /// Wraps `url` if it is a PostgreSQL URL.
    pub fn parse(url: &str) -> Option<Self> {
        is_url(url).then(|| Self(url.to_owned()))
    }

    /// The URL itself, password included (for connecting only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PgUrl {
    /// The URL with any password replaced by `***`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        let (authority, tail) = rest
            .split_once('/')
            .map_or((rest, None), |(a, t)| (a, Some(t)));
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _)) => format!("{name}:***@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_owned(),
        };
        // A password may also come as a query parameter.
        let tail = tail.map(|t| match t.split_once('?') {
            Some((path, query)) if query.contains("password") => format!("{path}?***"),
            _ => t.to_owned(),
        });
        match tail {
            Some(t) => write!(f, "{scheme}://{authority}/{t}"),
            None => write!(f, "{scheme}://{authority}"),
        }
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

/// `text` with every PostgreSQL URL in it shown without its password (as
/// [`PgUrl`]'s `Display`): for reports that quote URLs from anywhere, such
/// as a client's configuration. A URL ends at whitespace or a quote.
pub fn mask_urls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("postgres") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("postgres") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`'))
            .unwrap_or(tail.len());
        match PgUrl::parse(&tail[..end]) {
            Some(url) => out.push_str(&url.to_string()),
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
        if end == 0 {
            // (Unreachable: "postgres" is not a stop character.)
            break;
        }
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://bridge:s3cret@db:5432/bridge",
                "postgres://bridge:***@db:5432/bridge",
            ),
            (
                "postgresql://u:p@h/d?sslmode=disable",
                "postgresql://u:***@h/d?sslmode=disable",
            ),
            ("postgres://u@h/d?password=p", "postgres://u@h/d?***"),
            ("postgres://h", "postgres://h"),
        ] {
            let parsed = PgUrl::parse(url).expect("a postgres URL");
            assert_eq!(parsed.to_string(), shown);
            assert!(!format!("{parsed:?}").contains("s3cret"));
        }
    }

    #[test]
    fn only_postgres_schemes_select_postgres() {
        assert!(is_url("postgres://x") && is_url("postgresql://x"));
        assert!(!is_url("/var/lib/bridge.db") && !is_url("postgres.db") && !is_url("mysql://x"));
    }

    #[test]
    fn urls_inside_text_lose_their_passwords() {
        let text = "runs serve --db 'postgres://u:S3cret@h/d' (this check is of postgresql://a:Pw2@x:5432/b?sslmode=require), postgres in prose, postgres://u@h/d?password=Q9";
        let masked = super::mask_urls(text);
        for secret in ["S3cret", "Pw2", "Q9"] {
            assert!(!masked.contains(secret), "{masked}");
        }
        assert!(masked.contains("'postgres://u:***@h/d'"), "{masked}");
        assert!(masked.contains("postgres in prose"), "{masked}");
        assert_eq!(super::mask_urls("no url here"), "no url here");
    }
}
