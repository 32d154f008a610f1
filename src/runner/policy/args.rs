//! Option parsing shared by the `safe` and `restricted` program rules: walks a program's
//! arguments the way getopt would (short clusters, attached values, `--long=value`,
//! GNU abbreviations of long options, `--`), refuses the options the audit table
//! (`audit`) refuses for the program, and checks that every argument that can name a
//! file stays inside the workspace.
//!
//! When the walker is unsure it errs towards checking more: an unknown option's next
//! word is treated as an operand (so it is path-checked), and a non-alphanumeric
//! character inside a short cluster starts a value that is path-checked.

use std::path::Path;

use super::{Refusal, audit, paths, rule};

/// How one program's options look.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Spec {
    /// Short options that take a value (rest of the cluster, or the next word).
    pub short_values: &'static str,
    /// Long options (space-separated) that take the next word as their value when
    /// given without `=`.
    pub long_values: &'static str,
    /// Options (space-separated) whose value is free text (a pattern, a message), not
    /// a path.
    pub text: &'static str,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    /// Non-option arguments, in order (not yet path-checked: the caller knows which are
    /// patterns or subcommands).
    pub operands: Vec<String>,
    /// Every option seen, as `-x` or `--long` (as typed, so possibly abbreviated).
    pub seen: Vec<String>,
    /// The options that took a value, with the value.
    pub values: Vec<(String, String)>,
}

impl Parsed {
    /// Whether any of `options` was given (long ones also when abbreviated).
    pub fn saw(&self, options: &[&str]) -> bool {
        self.seen.iter().any(|s| {
            options.iter().any(|o| {
                s == o || (s.starts_with("--") && s.len() > 3 && o.starts_with(s.as_str()))
            })
        })
    }
}

/// Walks `args` (without the program name), refusing the options `audit` refuses for
/// `program` (`rg`, `git commit` …) and path-checking option values that are not text.
pub(super) fn parse(
    program: &str,
    args: &[String],
    spec: &Spec,
    workspace: &Path,
) -> Result<Parsed, Refusal> {
    let mut parsed = Parsed::default();
    let mut ended = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if ended || arg == "-" || !arg.starts_with('-') {
            parsed.operands.push(arg.clone());
            continue;
        }
        if arg == "--" {
            ended = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let option = format!("--{name}");
            refuse_audited(program, &option)?;
            if ["files0", "files-from", "pathspec-from"]
                .iter()
                .any(|f| name.starts_with(f))
            {
                return Err(Refusal::new(
                    rule::OUTSIDE_WORKSPACE,
                    format!(
                        "`{program} {option}` reads file names from a file, which cannot be checked; name the files as arguments"
                    ),
                ));
            }
            let value = match value {
                Some(v) => Some(v),
                None if listed(spec.long_values, &option) && i < args.len() => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                None => None,
            };
            if let Some(v) = value {
                if !listed(spec.text, &option) {
                    check_path(workspace, &v)?;
                }
                parsed.values.push((option.clone(), v));
            }
            parsed.seen.push(option);
            continue;
        }
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut k = 0;
        while k < cluster.len() {
            let c = cluster[k];
            if !c.is_ascii_alphanumeric() {
                let rest: String = cluster[k..].iter().collect();
                check_path(workspace, &rest)?;
                break;
            }
            let option = format!("-{c}");
            refuse_audited(program, &option)?;
            let takes_value = spec.short_values.contains(c);
            let is_text = listed(spec.text, &option);
            parsed.seen.push(option.clone());
            if takes_value {
                let rest: String = cluster[k + 1..].iter().collect();
                let value = if !rest.is_empty() {
                    Some(rest)
                } else if i < args.len() {
                    i += 1;
                    Some(args[i - 1].clone())
                } else {
                    None
                };
                if let Some(v) = value {
                    if !is_text {
                        check_path(workspace, &v)?;
                    }
                    parsed.values.push((option, v));
                }
                break;
            }
            k += 1;
        }
    }
    Ok(parsed)
}

fn refuse_audited(program: &str, option: &str) -> Result<(), Refusal> {
    audit::refused_flag(program, option).map_or(Ok(()), Err)
}

/// Checks that `value` resolves inside the workspace.
pub(super) fn check_path(workspace: &Path, value: &str) -> Result<(), Refusal> {
    paths::resolve_inside(workspace, value).map(|_| ())
}

/// Checks an operand: the word itself, and for `NAME=value` also the value.
pub(super) fn check_operand(workspace: &Path, operand: &str) -> Result<(), Refusal> {
    check_path(workspace, operand)?;
    if let Some((name, value)) = operand.split_once('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        check_path(workspace, value)?;
    }
    Ok(())
}

/// Checks every operand.
pub(super) fn check_operands(workspace: &Path, operands: &[String]) -> Result<(), Refusal> {
    operands
        .iter()
        .try_for_each(|o| check_operand(workspace, o))
}

/// Whether `word` is one of the space-separated words of `list`. Lists are kept as one
/// string so that long tables stay readable.
pub(super) fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}
