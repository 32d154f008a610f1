//! Secret redaction: replaces each secret in a text with a placeholder naming its kind.
//!
//! Interim engine covering the seed's seven kinds; the full engine replaces it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::Regex;

/// A user-defined pattern from the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPattern {
    /// Kind name.
    pub name: String,
    /// Regex; a `secret` group limits the replacement to that group.
    pub regex: String,
    /// Replacement text.
    pub placeholder: String,
}

/// User additions to the built-in rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionSettings {
    /// Extra patterns.
    pub patterns: Vec<CustomPattern>,
    /// Regexes of values never to redact.
    pub allow: Vec<String>,
}

/// Why the settings could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A pattern is invalid.
    #[error("redaction pattern `{name}`: {reason}")]
    BadPattern {
        /// The pattern's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An allow entry is invalid.
    #[error("redaction allow entry `{entry}`: {reason}")]
    BadAllow {
        /// The entry.
        entry: String,
        /// What is wrong.
        reason: String,
    },
}

/// A redacted text and how many secrets of each kind were removed.
#[derive(Debug)]
pub struct Redaction<'a> {
    /// The text with secrets replaced.
    pub text: Cow<'a, str>,
    /// Secrets removed per kind.
    pub counts: BTreeMap<String, usize>,
}

/// A kind the engine knows.
#[derive(Debug, Clone)]
pub struct KindInfo {
    /// Kind name.
    pub name: String,
    /// Its placeholder.
    pub placeholder: String,
    /// What it matches.
    pub description: String,
    /// Whether it ships with the engine.
    pub builtin: bool,
}

struct Rule {
    name: String,
    placeholder: String,
    description: String,
    regex: Regex,
    builtin: bool,
}

/// The compiled engine.
pub struct Redactor {
    rules: Vec<Rule>,
    allow: Vec<Regex>,
}

const BUILTIN: &[(&str, &str, &str, &str)] = &[
    (
        "private_key",
        "PRIVATE_KEY_REDACTED",
        "PEM private keys",
        r"(?s)(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----.*?-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----)",
    ),
    (
        "aws_access_key_id",
        "AWS_KEY_REDACTED",
        "AWS access key ids",
        r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
    ),
    (
        "github_token",
        "GITHUB_TOKEN_REDACTED",
        "GitHub tokens",
        r"\b(?P<secret>(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}))\b",
    ),
    (
        "openai_api_key",
        "OPENAI_KEY_REDACTED",
        "OpenAI keys",
        r"\b(?P<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
    ),
    (
        "http_bearer_token",
        "BEARER_TOKEN_REDACTED",
        "Bearer tokens",
        r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/\-]{8,}=*)",
    ),
    (
        "password_assignment",
        "PASSWORD_REDACTED",
        "passwords",
        r#"(?i)\b(?:password|passwd|pwd)\b(?:\s+is)?\s*[:=]\s*["']?(?P<secret>[^\s"',;]+)"#,
    ),
    (
        "api_key_assignment",
        "API_KEY_REDACTED",
        "API keys",
        r#"(?i)\bapi[_-]?key\b\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9_\-]{16,})"#,
    ),
];

impl Redactor {
    /// The built-in rules only.
    pub fn builtin() -> Redactor {
        Self::new(&RedactionSettings::default()).expect("built-in rules compile")
    }

    /// Built-in rules plus the user's.
    ///
    /// # Errors
    /// Naming the first invalid pattern or allow entry.
    pub fn new(settings: &RedactionSettings) -> Result<Redactor, RedactError> {
        let mut rules: Vec<Rule> = BUILTIN
            .iter()
            .map(|(name, placeholder, description, re)| Rule {
                name: (*name).to_owned(),
                placeholder: (*placeholder).to_owned(),
                description: (*description).to_owned(),
                regex: Regex::new(re).expect("built-in rule compiles"),
                builtin: true,
            })
            .collect();
        for p in &settings.patterns {
            let regex = Regex::new(&p.regex).map_err(|e| RedactError::BadPattern {
                name: p.name.clone(),
                reason: e.to_string(),
            })?;
            if regex.is_match("") {
                return Err(RedactError::BadPattern {
                    name: p.name.clone(),
                    reason: "matches the empty string".into(),
                });
            }
            rules.push(Rule {
                name: p.name.clone(),
                placeholder: p.placeholder.clone(),
                description: "user pattern".into(),
                regex,
                builtin: false,
            });
        }
        let allow = settings
            .allow
            .iter()
            .map(|a| {
                Regex::new(&format!("^(?:{a})$")).map_err(|e| RedactError::BadAllow {
                    entry: a.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Redactor { rules, allow })
    }

    /// Replaces every secret in `text`.
    pub fn redact<'a>(&self, text: &'a str) -> Redaction<'a> {
        let mut out = Cow::Borrowed(text);
        let mut counts = BTreeMap::new();
        for rule in &self.rules {
            let current = out.as_ref();
            let mut result = String::new();
            let mut last = 0;
            let mut n = 0;
            for caps in rule.regex.captures_iter(current) {
                let Some(m) = caps.name("secret").or_else(|| caps.get(0)) else {
                    continue;
                };
                if self.allow.iter().any(|a| a.is_match(m.as_str()))
                    || m.as_str().ends_with("_REDACTED")
                {
                    continue;
                }
                result.push_str(&current[last..m.start()]);
                result.push_str(&rule.placeholder);
                last = m.end();
                n += 1;
            }
            if n > 0 {
                result.push_str(&current[last..]);
                *counts.entry(rule.name.clone()).or_insert(0) += n;
                out = Cow::Owned(result);
            }
        }
        Redaction { text: out, counts }
    }

    /// The kinds this engine redacts.
    pub fn kinds(&self) -> Vec<KindInfo> {
        self.rules
            .iter()
            .map(|r| KindInfo {
                name: r.name.clone(),
                placeholder: r.placeholder.clone(),
                description: r.description.clone(),
                builtin: r.builtin,
            })
            .collect()
    }
}
