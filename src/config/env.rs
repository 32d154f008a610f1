//! `MCP_BRIDGE_*` variables onto the raw settings' keys (the module doc of
//! `config` gives the mapping), and file errors that name their file.

use std::path::Path;

use super::ConfigError;

/// The error for a config file that does not parse (`text` is what was
/// parsed) or does not fit the settings (`text` is `None`). It names the
/// place, never quotes the file: toml's own message shows the offending
/// line, and the file may be anything a client entry points `--config` at
/// (`doctor` loads it to check the entry), a bare secret included.
pub(super) fn file_error(path: &Path, text: Option<&str>, e: &toml::de::Error) -> ConfigError {
    // Without its input the error renders only its message (and the key).
    let mut bare = e.clone();
    bare.set_input(None);
    let what = bare.to_string().trim().replace('\n', " ");
    let message = match (text, e.span()) {
        (Some(text), Some(span)) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("not valid TOML (line {line}, column {column}): {what}")
        }
        (Some(_), None) => format!("not valid TOML: {what}"),
        (None, _) => without_values(&what),
    };
    ConfigError::File {
        path: path.to_owned(),
        message,
    }
}

/// `what` without the values serde quotes in a type error (`invalid type:
/// string "…", expected …`, or ``integer `…` `` for a number, which is how
/// an unquoted numeric token came back on stderr, red team): the key named
/// is enough to find it.
fn without_values(what: &str) -> String {
    let mut what = what.to_owned();
    for kind in ["integer `", "floating point `", "character `"] {
        let mut from = 0;
        while let Some(at) = what[from..].find(kind).map(|i| from + i + kind.len()) {
            let end = what[at..].find('`').map_or(what.len(), |i| at + i);
            what.replace_range(at - 1..(end + 1).min(what.len()), "(value not shown)");
            from = at;
        }
    }
    let what = what.as_str();
    let mut out = String::with_capacity(what.len());
    let mut rest = what;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        match rest[start + 1..].find('"') {
            Some(len) => {
                out.push_str("(value not shown)");
                rest = &rest[start + 1 + len + 1..];
            }
            None => {
                out.push_str("(value not shown)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sets the key an environment variable stands for.
pub(super) fn apply_env(
    table: &mut toml::Table,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let bad = |message: &str| ConfigError::Env {
        name: name.to_owned(),
        message: message.to_owned(),
    };
    let key = &name["MCP_BRIDGE_".len()..];
    let switch = |v: &str| match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    };
    let (path, value): (Vec<String>, toml::Value) = match key {
        "RATE_LIMITS" => {
            let on = switch(value).ok_or_else(|| bad("expected on or off"))?;
            (
                vec!["rate_limits".into(), "enabled".into()],
                toml::Value::Boolean(on),
            )
        }
        "YOLO" => {
            let on = switch(value).ok_or_else(|| bad("expected 1 or 0"))?;
            (
                vec!["yolo".into(), "enabled".into()],
                toml::Value::Boolean(on),
            )
        }
        "HTTP_TOKEN" => (
            vec!["http".into(), "token".into()],
            toml::Value::String(value.to_owned()),
        ),
        "LOG" => (
            vec!["log_level".into()],
            toml::Value::String(value.to_owned()),
        ),
        "KEY_FILE" => (
            vec!["key_file".into()],
            toml::Value::String(value.to_owned()),
        ),
        _ => {
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                return Err(bad("is not a setting"));
            }
            (path, parse_env_value(value))
        }
    };
    let (last, sections) = path.split_last().ok_or_else(|| bad("is not a setting"))?;
    let mut node = table;
    for section in sections {
        let entry = node
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| bad("conflicts with a non-table setting"))?;
    }
    node.insert(last.clone(), value);
    Ok(())
}

/// Reads a variable's value as a TOML literal (number, boolean, array…),
/// falling back to a plain string.
fn parse_env_value(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn type_errors_lose_their_values() {
        for (what, secret) in [
            (
                "invalid type: integer `1234567890123456789`, expected a string in `http.token`",
                "1234567890123456789",
            ),
            (
                "invalid type: floating point `3.14159`, expected a string in `http.token`",
                "3.14159",
            ),
            (
                "invalid type: string \"s3cret\", expected a boolean in `x`",
                "s3cret",
            ),
            ("invalid type: character `z`, expected u8", "`z`"),
        ] {
            let shown = super::without_values(what);
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("(value not shown)"), "{shown}");
        }
        assert_eq!(
            super::without_values("missing field in `http.token`"),
            "missing field in `http.token`"
        );
        let kept =
            super::without_values("invalid type: integer `12`, expected a string in `http.token`");
        assert!(kept.ends_with("in `http.token`"), "{kept}");
    }
}
