//! User configuration: extra patterns (`[[redaction.patterns]]`) and the
//! allow-list (`[redaction] allow = […]`), validated once at startup.
//!
//! A custom pattern replaces its `secret` capture group when it has one,
//! otherwise the whole match. Custom patterns run through one `RegexSet`
//! first, so a text that matches none of them costs a single extra pass no
//! matter how many patterns there are.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::RedactError;

/// Compiled-size cap for one user regex: keeps a careless `.{0,10000}` from
/// costing megabytes of memory in a server that targets a small footprint.
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled user pattern.
pub(crate) struct Custom {
    pub name: String,
    pub placeholder: String,
    pub regex: Regex,
    /// Index of the `secret` group, when the pattern has one.
    pub secret_group: Option<usize>,
}

/// All user patterns plus their prefilter set.
pub(crate) struct Customs {
    pub patterns: Vec<Custom>,
    set: Option<RegexSet>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_placeholder(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl Customs {
    /// Validates and compiles user patterns. `taken` are the names already
    /// used (built-in kinds); `placeholders` every placeholder in use, which no
    /// pattern may match (or redaction would not be idempotent).
    pub(crate) fn build(
        specs: &[super::CustomPattern],
        taken: &[&str],
        placeholders: &[&str],
    ) -> Result<Customs, RedactError> {
        let mut patterns: Vec<Custom> = Vec::with_capacity(specs.len());
        for p in specs {
            let bad = |reason: String| RedactError::BadPattern {
                name: p.name.clone(),
                reason,
            };
            if !valid_name(&p.name) {
                return Err(bad(
                    "name must be non-empty and use only a-z, 0-9 and _".into()
                ));
            }
            if taken.contains(&p.name.as_str()) || patterns.iter().any(|q| q.name == p.name) {
                return Err(bad("name is already used by another kind".into()));
            }
            if !valid_placeholder(&p.placeholder) {
                return Err(RedactError::BadPlaceholder {
                    name: p.name.clone(),
                    placeholder: p.placeholder.clone(),
                    reason: "placeholder must be non-empty and use only A-Z, 0-9 and _".into(),
                });
            }
            let regex = RegexBuilder::new(&p.regex)
                .size_limit(SIZE_LIMIT)
                .dfa_size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| bad(format!("regex does not compile: {e}")))?;
            if regex.is_match("") || regex.find("x").is_some_and(|m| m.is_empty()) {
                return Err(bad("regex matches the empty string".into()));
            }
            let mut all_placeholders: Vec<&str> = placeholders.to_vec();
            all_placeholders.push(&p.placeholder);
            all_placeholders.extend(patterns.iter().map(|q| q.placeholder.as_str()));
            if let Some(ph) = all_placeholders.iter().find(|ph| regex.is_match(ph)) {
                return Err(bad(format!(
                    "regex matches the placeholder {ph}, so redaction would not be idempotent"
                )));
            }
            let secret_group = regex.capture_names().position(|n| n == Some("secret"));
            patterns.push(Custom {
                name: p.name.clone(),
                placeholder: p.placeholder.clone(),
                regex,
                secret_group,
            });
        }
        let set = if patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(patterns.iter().map(|c| c.regex.as_str()))
                .size_limit(SIZE_LIMIT * 4)
                .dfa_size_limit(SIZE_LIMIT * 4)
                .build()
                .map_err(|e| RedactError::BadPattern {
                    name: "(all patterns together)".into(),
                    reason: e.to_string(),
                })?;
            Some(set)
        };
        // Each placeholder must also be unmatched by the others (checked above
        // one way; check the other way for earlier patterns).
        for (i, a) in patterns.iter().enumerate() {
            for b in &patterns[i + 1..] {
                if a.regex.is_match(&b.placeholder) {
                    return Err(RedactError::BadPattern {
                        name: a.name.clone(),
                        reason: format!(
                            "regex matches the placeholder {}, so redaction would not be idempotent",
                            b.placeholder
                        ),
                    });
                }
            }
        }
        Ok(Customs { patterns, set })
    }

    /// Calls `f(start, end, index)` for every secret span of every custom pattern.
    pub(crate) fn scan(&self, text: &str, mut f: impl FnMut(usize, usize, usize)) {
        let Some(set) = &self.set else { return };
        for idx in set.matches(text).iter() {
            let c = &self.patterns[idx];
            match c.secret_group {
                Some(g) => {
                    for caps in c.regex.captures_iter(text) {
                        if let Some(m) = caps.get(g).filter(|m| !m.is_empty()) {
                            f(m.start(), m.end(), idx);
                        }
                    }
                }
                None => {
                    for m in c.regex.find_iter(text).filter(|m| !m.is_empty()) {
                        f(m.start(), m.end(), idx);
                    }
                }
            }
        }
    }
}

/// The compiled allow-list: a candidate whose whole secret value matches any
/// entry is kept as it is.
pub(crate) struct Allow {
    set: Option<RegexSet>,
}

impl Allow {
    /// Compiles the entries anchored at both ends.
    pub(crate) fn build(entries: &[String]) -> Result<Allow, RedactError> {
        let mut anchored = Vec::with_capacity(entries.len());
        for e in entries {
            let a = format!("^(?:{e})$");
            Regex::new(&a).map_err(|err| RedactError::BadAllow {
                entry: e.clone(),
                reason: err.to_string(),
            })?;
            anchored.push(a);
        }
        if anchored.is_empty() {
            return Ok(Allow { set: None });
        }
        let set = RegexSetBuilder::new(&anchored)
            .size_limit(SIZE_LIMIT * 4)
            .build()
            .map_err(|e| RedactError::BadAllow {
                entry: "(all entries together)".into(),
                reason: e.to_string(),
            })?;
        Ok(Allow { set: Some(set) })
    }

    /// True when `value` is allowed in full.
    pub(crate) fn allows(&self, value: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(value))
    }
}
