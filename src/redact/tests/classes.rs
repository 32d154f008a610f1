//! One test per class of secret that issue 11 found missing (kubeconfig
//! keys, PuTTY keys, defaults, next-line YAML, SAS signatures, Google OAuth,
//! CLI password flags, credential files, JSON-escaped URLs, wrapped and cut
//! tokens, multi-word passwords, evasion), each over many positives and
//! near-miss negatives (`classes_a`, `classes_b`, `classes_c`).
//!
//! A secret counts as leaked, as the project's scorer counts it, when it
//! survives whole or when any run of 8 of its characters survives that the
//! input did not also hold outside the secrets.

use super::{classes_a, classes_b, classes_c, redactor};

/// One text and the secrets in it.
pub(super) struct Case {
    pub class: &'static str,
    pub text: &'static str,
    pub secrets: &'static [&'static str],
}

/// Shortest run of a secret whose survival counts as a leak.
const LEAK_RUN: usize = 8;

fn positives() -> impl Iterator<Item = &'static Case> {
    classes_a::POSITIVES
        .iter()
        .chain(classes_b::POSITIVES)
        .chain(classes_c::POSITIVES)
}

fn negatives() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    classes_a::NEGATIVES
        .iter()
        .chain(classes_b::NEGATIVES)
        .chain(classes_c::NEGATIVES)
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(240).collect();
    format!("{s:?}")
}

/// The leaked part of `secret`, if any.
fn leak(secret: &str, baseline: &str, out: &str) -> Option<String> {
    if out.contains(secret) {
        return Some(secret.to_string());
    }
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(LEAK_RUN).find_map(|w| {
        let run: String = w.iter().collect();
        (out.contains(&run) && !baseline.contains(&run)).then_some(run)
    })
}

/// Runs every case of `class`; reports all failures at once.
pub(super) fn check_class(class: &str) {
    let r = redactor();
    let mut failures = Vec::new();
    let (mut pos, mut neg) = (0, 0);
    for case in positives().filter(|c| c.class == class) {
        pos += 1;
        let out = r.redact(case.text);
        let mut baseline = case.text.to_string();
        for s in case.secrets {
            baseline = baseline.replace(s, "\u{0}");
        }
        for s in case.secrets {
            if let Some(run) = leak(s, &baseline, &out.text) {
                failures.push(format!(
                    "LEAK {} of {} in {}",
                    short(&run),
                    short(s),
                    short(&out.text)
                ));
            }
        }
        let again = r.redact(&out.text);
        if again.text != out.text {
            failures.push(format!("NOT IDEMPOTENT {}", short(case.text)));
        }
    }
    for (_, text) in negatives().filter(|(c, _)| *c == class) {
        neg += 1;
        let out = r.redact(text);
        if out.text != *text {
            failures.push(format!(
                "CHANGED {} -> {} {:?}",
                short(text),
                short(&out.text),
                out.counts
            ));
        }
    }
    assert!(
        pos >= 5 && neg >= 3,
        "{class}: {pos} positives, {neg} negatives"
    );
    assert!(
        failures.is_empty(),
        "{class}: {} of {} cases failed:\n{}",
        failures.len(),
        pos + neg,
        failures.join("\n")
    );
}

macro_rules! per_class {
    ($($class:ident),* $(,)?) => {
        $(
            #[test]
            fn $class() {
                check_class(stringify!($class));
            }
        )*
    };
}

per_class!(
    kubeconfig,
    putty,
    defaults,
    yaml_next_line,
    azure_sas,
    google_oauth,
    cli_flags,
    credential_files,
    json_urls,
    wrapped,
    cut_short,
    multi_word,
    evasion_invisible,
    evasion_lookalike,
    evasion_placeholder,
);

#[test]
fn every_case_names_a_tested_class() {
    const CLASSES: &[&str] = &[
        "kubeconfig",
        "putty",
        "defaults",
        "yaml_next_line",
        "azure_sas",
        "google_oauth",
        "cli_flags",
        "credential_files",
        "json_urls",
        "wrapped",
        "cut_short",
        "multi_word",
        "evasion_invisible",
        "evasion_lookalike",
        "evasion_placeholder",
    ];
    for c in positives() {
        assert!(CLASSES.contains(&c.class), "{}", c.class);
        assert!(!c.secrets.is_empty());
        for s in c.secrets {
            assert!(c.text.contains(s), "{s:?} not in its text");
        }
    }
    for (c, _) in negatives() {
        assert!(CLASSES.contains(c), "{c}");
    }
}
