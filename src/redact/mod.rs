//! Secret redaction: every message text, note, file path and role name goes
//! through [`Redactor::redact`] before it is stored, and each secret found is
//! replaced with a placeholder naming its kind (`AWS_KEY_REDACTED`,
//! `PASSWORD_REDACTED`, …). About seventy built-in kinds (see
//! [`Redactor::kinds`]), plus user patterns and an allow-list from the config
//! file.
//!
//! How it works, and why it stays fast on any input:
//! - [`view`] normalises the text into a matching view (NFKC, invisible
//!   characters dropped, look-alike letters folded, escapes decoded)
//!   with a map back to the original; ASCII text without escapes is its own
//!   view.
//! - [`scan`] runs one Aho-Corasick automaton over the view, looking for the
//!   literal anchors of every detector (token prefixes such as `ghp_`,
//!   keywords such as `password`, `://`, PEM armour, `kind: Secret`, tool
//!   names, …).
//! - Each hit hands a bounded window to its detector: [`tokens`] (prefixed
//!   tokens, verified by small regexes and checks, also cut short or
//!   hard-wrapped), [`assign`] (`name = value` in every syntax, classified by
//!   [`names`], judged by [`value`] and [`placeholder`], with [`nextline`]
//!   values and [`phrase`] passphrases), [`fallback`] (secrets given as
//!   defaults), [`cli`] (password flags of common tools), [`url`], [`http`],
//!   [`cookie`], [`signed`] (SAS and pre-signed URLs), [`pem`] and [`ppk`]
//!   (key files, walked by [`block`]), [`pgpass`], [`k8s`]. Work per hit is
//!   bounded, so the whole pass is linear in the input, and `regex` never
//!   backtracks.
//! - After the pass, [`joined`] rescans literals joined from a short first
//!   piece (`"ghp_" + "…"`), [`unfold`] lines a hard wrap cut a token across,
//!   [`encoded`] the decoding of base64 runs and [`percent`] of
//!   percent-encoded URLs, each keeping only
//!   self-identifying secrets found there.
//! - Candidate spans are mapped back to the original, overlapping ones are
//!   merged, the allow-list is applied, and the text is rebuilt. Where only
//!   part of a match is secret (the password in a URL, the value of an
//!   assignment) only that part is replaced; text outside every span is kept
//!   byte for byte.
//!
//! Placeholders are `[A-Z0-9_]+` ending in `_REDACTED` and no detector accepts
//! them, so redacting twice changes nothing.

mod assign;
mod block;
mod calls;
mod chpasswd;
mod cli;
mod code_type;
mod code_value;
mod concat;
mod cookie;
mod custom;
mod encoded;
mod escape;
mod fallback;
mod fold;
mod foreign;
mod formats;
mod fragment;
mod gibberish;
mod hard_wrap;
mod http;
mod invite;
mod joined;
mod jwk;
mod k8s;
mod kinds;
mod known_hex;
mod kv_table;
mod label_below;
mod line_context;
mod listing;
mod literal;
mod markup;
mod names;
mod nextline;
mod operator;
mod pair;
mod pem;
mod percent;
mod pgpass;
mod phrase;
mod placeholder;
mod ppk;
mod procsub;
mod query;
mod repeat;
mod repl;
mod scan;
mod seq;
mod shown;
mod sibling;
mod signed;
mod spaced;
mod spoken_name;
mod sql;
mod sql_insert;
mod table;
mod text;
mod token_rules;
mod tokens;
mod transcript;
mod ui_input;
mod unfold;
mod url;
mod use_as;
mod userlist;
mod value;
mod view;
mod words;
mod wrapped;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

pub use invite::recognised as recognises_invite_code;
use kinds::{SPECS, is_placeholder_like};
pub use known_hex::find_known_hex;
use scan::{Candidate, priority};

/// A user-defined pattern from `[[redaction.patterns]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomPattern {
    /// Kind name reported in counts: non-empty, `[a-z0-9_]+`, not a built-in name.
    pub name: String,
    /// Regex (Rust `regex` syntax). If it has a group named `secret`, only that
    /// group is replaced; otherwise the whole match. Must not match the empty string.
    pub regex: String,
    /// Replacement text: non-empty, `[A-Z0-9_]+`.
    pub placeholder: String,
}

/// The `[redaction]` section of the config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactionSettings {
    /// Extra patterns, checked after the built-in kinds.
    pub patterns: Vec<CustomPattern>,
    /// Regexes; a candidate secret whose whole value matches one is left alone.
    pub allow: Vec<String>,
}

/// Why a [`RedactionSettings`] was refused. Each message names the offending entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// A custom pattern's name or regex is unusable.
    #[error("redaction pattern {name:?}: {reason}")]
    BadPattern {
        /// The pattern's `name` as configured.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An allow-list entry does not compile.
    #[error("redaction allow entry {entry:?}: {reason}")]
    BadAllow {
        /// The entry as configured.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A custom pattern's placeholder is unusable.
    #[error("redaction pattern {name:?}: placeholder {placeholder:?}: {reason}")]
    BadPlaceholder {
        /// The pattern's `name`.
        name: String,
        /// The placeholder as configured.
        placeholder: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The result of redacting one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redaction<'a> {
    /// The redacted text; `Cow::Borrowed` when nothing was replaced.
    pub text: Cow<'a, str>,
    /// How many spans of each kind were replaced, keyed by kind name
    /// (e.g. `"aws_access_key_id"`). Never contains the secrets.
    pub counts: BTreeMap<String, usize>,
}

/// One kind the redactor knows, for `mcp-bridge redact --list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// Stable kind name, as used in [`Redaction::counts`].
    pub name: String,
    /// The text that replaces a secret of this kind.
    pub placeholder: String,
    /// What the kind matches.
    pub description: String,
    /// False for patterns from the config file.
    pub builtin: bool,
}

/// Documented example credentials that are published on purpose and must not
/// be reported (besides anything containing `EXAMPLE`, handled in [`value`]).
const DOC_EXAMPLES: &[&str] = &[
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    // RFC 7617's and RFC 2617's `Aladdin` with `open sesame`.
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "QWxhZGRpbjpvcGVuc2VzYW1l",
    // This bridge's own documented invite code (README, `domain::invite`'s errors).
    "7KQ2-M9XD-4HTP-0R3C",
    // Stripe's and Mailgun's older documentation keys.
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
    // The Azure Cosmos DB emulator's published key.
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
    // RFC 6749's (OAuth 2.0) example tokens, code and client credentials
    // (`s6BhdRkqt3:gX1fBat3bV`), RFC 6750's bearer token, RFC 7519's JWT.
    "2YotnFZFEjr1zCsicMWpAA",
    "tGzv3JOkF0XG5Qx2TlKWIA",
    "SplxlOBeZQQYbYS6WxSbIA",
    "czZCaGRSa3F0MzpnWDFmQmF0M2JW",
    "gX1fBat3bV",
    "mF_9.B5f-4.1JqM",
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    // The Kubernetes documentation's `mysecret` (`admin` / `1f2d1e2e67df`).
    "YWRtaW4=",
    "MWYyZDFlMmU2N2Rm",
    "1f2d1e2e67df",
    // MongoDB's connection-string documentation.
    "D1fficultP%40ssw0rd",
    "D1fficultP@ssw0rd",
];

/// Extra passes over an already redacted text before giving up on a fixpoint.
const MAX_EXTRA_PASSES: usize = 3;

/// The compiled redaction engine. Build it once (it is `Send + Sync`) and
/// share it, e.g. in an `Arc`.
pub struct Redactor {
    anchors: scan::Anchors,
    rules: tokens::Compiled,
    customs: custom::Customs,
    allow: custom::Allow,
    kinds: Vec<KindInfo>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("kinds", &self.kinds.len())
            .field("custom_patterns", &self.customs.patterns.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// The built-in kinds only, with an empty allow-list.
    pub fn builtin() -> Redactor {
        match Redactor::new(&RedactionSettings::default()) {
            Ok(r) => r,
            // Only user input can fail validation, and there is none here.
            Err(e) => unreachable!("built-in redactor failed to build: {e}"),
        }
    }

    /// The built-in kinds plus `settings`' patterns and allow-list.
    ///
    /// # Errors
    /// [`RedactError`] naming the first bad pattern name, regex, placeholder
    /// or allow entry.
    pub fn new(settings: &RedactionSettings) -> Result<Redactor, RedactError> {
        let builtin_names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        let builtin_placeholders: Vec<&str> = SPECS.iter().map(|s| s.placeholder).collect();
        let customs =
            custom::Customs::build(&settings.patterns, &builtin_names, &builtin_placeholders)?;
        let allow = custom::Allow::build(&settings.allow)?;
        let mut kinds: Vec<KindInfo> = SPECS
            .iter()
            .map(|s| KindInfo {
                name: s.name.to_string(),
                placeholder: s.placeholder.to_string(),
                description: s.description.to_string(),
                builtin: true,
            })
            .collect();
        kinds.extend(customs.patterns.iter().map(|c| KindInfo {
            name: c.name.clone(),
            placeholder: c.placeholder.clone(),
            description: format!("custom pattern {}", c.regex.as_str()),
            builtin: false,
        }));
        Ok(Redactor {
            anchors: scan::Anchors::build(),
            rules: tokens::Compiled::build(),
            customs,
            allow,
            kinds,
        })
    }

    /// Every kind this redactor reports, built-ins first.
    pub fn kinds(&self) -> Vec<KindInfo> {
        self.kinds.clone()
    }

    /// Replaces every secret in `text` with its kind's placeholder.
    /// Text around a secret is kept byte for byte; the result is valid UTF-8.
    pub fn redact<'a>(&self, text: &'a str) -> Redaction<'a> {
        let mut result = self.redact_once(text);
        // Replacing a secret puts a placeholder where it was, and the words
        // around it can then read differently (a name glued to a placeholder,
        // a value that now follows `NAME:`). Passing over the result again
        // until nothing changes keeps redaction idempotent whatever the input;
        // a later pass only sees already-redacted text, so it is cheap.
        for _ in 0..MAX_EXTRA_PASSES {
            let Cow::Owned(current) = &result.text else {
                break;
            };
            let again = self.redact_once(current);
            let Cow::Owned(next) = again.text else { break };
            for (kind, n) in again.counts {
                *result.counts.entry(kind).or_insert(0) += n;
            }
            result.text = Cow::Owned(next);
        }
        result
    }

    /// One pass over `text`.
    fn redact_once<'a>(&self, text: &'a str) -> Redaction<'a> {
        // Detectors read the normalised view; spans are mapped back to the
        // original before anything is replaced.
        let view = view::View::build(text);
        let vt = view.text();
        let mut cands = scan::scan_builtin(&self.anchors, &self.rules, vt);
        let base = SPECS.len();
        self.customs.scan(vt, |start, end, idx| {
            let kind = u16::try_from(base + idx).unwrap_or(u16::MAX);
            cands.push(Candidate {
                start,
                end,
                kind,
                priority: priority::CUSTOM,
            });
        });
        joined::extend(&self.anchors, &self.rules, vt, &mut cands);
        unfold::extend(&self.anchors, &self.rules, vt, &mut cands);
        encoded::extend(&self.anchors, &self.rules, vt, &mut cands);
        percent::extend(&self.anchors, &self.rules, vt, &mut cands);
        concat::extend(vt, &mut cands);
        repeat::extend(vt, &mut cands);
        cands.retain_mut(|c| {
            c.start = text::floor_char(vt, c.start);
            c.end = text::ceil_char(vt, c.end);
            let v = &vt[c.start..c.end];
            let keep = c.start < c.end
                && usize::from(c.kind) < self.kinds.len()
                && !is_placeholder_like(v.as_bytes())
                && !DOC_EXAMPLES.contains(&v)
                // A self-identifying token is whole whatever note follows it.
                && (c.priority >= priority::TOKEN || !placeholder::elided(vt.as_bytes(), c.end))
                && !self.allow.allows(v);
            (c.start, c.end) = view.to_original(c.start, c.end);
            (c.start, c.end) = escape::whole_escapes(text.as_bytes(), c.start, c.end);
            c.start = text::floor_char(text, c.start);
            c.end = text::ceil_char(text, c.end);
            keep && c.start < c.end
        });
        if cands.is_empty() {
            return Redaction {
                text: Cow::Borrowed(text),
                counts: BTreeMap::new(),
            };
        }
        let merged = scan::merge(cands);
        let mut out = String::with_capacity(text.len());
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut at = 0;
        for c in merged {
            let info = &self.kinds[usize::from(c.kind)];
            out.push_str(&text[at..c.start]);
            out.push_str(&info.placeholder);
            *counts.entry(info.name.clone()).or_insert(0) += 1;
            at = c.end;
        }
        out.push_str(&text[at..]);
        Redaction {
            text: Cow::Owned(out),
            counts,
        }
    }
}
