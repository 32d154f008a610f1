//! Workspace containment for `safe` and `restricted` commands: resolves a path argument
//! against the workspace (following symbolic links that exist) and expands globs the way
//! `sh` would, but only inside the workspace.
//!
//! This is the one part of the policy that does I/O: `symlink_metadata`, `canonicalize`
//! and `read_dir`, always on paths inside the workspace (a symbolic link is followed only
//! to find out that it leads out). A check is a snapshot: the sandbox, which mounts the
//! workspace read-only in these modes, is what keeps it true when the command runs.

use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use super::{Refusal, rule};

/// Most paths one glob may expand to; more is refused rather than truncated.
pub(super) const MAX_GLOB_MATCHES: usize = 2_000;

/// Resolves `arg` (relative to the workspace, or absolute) and returns the real path it
/// names, refusing anything that is or leads outside `workspace`.
///
/// Components that exist are checked for symbolic links (and a link is replaced by its
/// canonical target); components that do not exist yet cannot be links, so they are
/// taken as written. `..` is applied to the real path, so `link/..` is the link target's
/// parent, as the kernel sees it.
pub(super) fn resolve_inside(workspace: &Path, arg: &str) -> Result<PathBuf, Refusal> {
    let outside = |why: &str| {
        Refusal::new(
            rule::OUTSIDE_WORKSPACE,
            format!(
                "`{arg}` {why}; only paths inside the workspace {} are allowed",
                workspace.display()
            ),
        )
    };
    let path = Path::new(arg);
    let relative: &Path = if path.is_absolute() {
        match path.strip_prefix(workspace) {
            Ok(rest) => rest,
            Err(_) => return Err(outside("is outside the workspace")),
        }
    } else {
        path
    };
    let mut current = workspace.to_path_buf();
    let mut exists = true;
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                current.pop();
                if !current.starts_with(workspace) {
                    return Err(outside("goes above the workspace with `..`"));
                }
            }
            Component::Normal(name) => {
                current.push(name);
                if !exists {
                    continue;
                }
                match fs::symlink_metadata(&current) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        current = fs::canonicalize(&current).map_err(|_| {
                            outside("is or passes through a symbolic link whose target cannot be resolved")
                        })?;
                        if !current.starts_with(workspace) {
                            return Err(outside(
                                "is or passes through a symbolic link that points outside the workspace",
                            ));
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => exists = false,
                    Err(_) => return Err(outside("cannot be inspected")),
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(outside("is not a plain path"));
            }
        }
    }
    Ok(current)
}

/// Expands a glob pattern (quoted metacharacters backslash-escaped, see
/// `simple::glob_pattern`) inside the workspace. Like `sh`, a pattern that matches nothing
/// stands for itself (`literal`). Matches keep the pattern's spelling of its directory
/// part (`src/*.rs` gives `src/main.rs`) and come sorted.
pub(super) fn expand_glob(
    workspace: &Path,
    pattern: &str,
    literal: &str,
) -> Result<Vec<String>, Refusal> {
    let refuse = |why: &str| {
        Refusal::new(
            rule::OUTSIDE_WORKSPACE,
            format!("the glob `{literal}` {why}; globs may only match inside the workspace"),
        )
    };
    let absolute = pattern.starts_with('/');
    // (spelling so far, real directory) pairs still being expanded.
    let mut found: Vec<(String, PathBuf)> = vec![(
        if absolute {
            "/".to_string()
        } else {
            String::new()
        },
        workspace.to_path_buf(),
    )];
    let mut parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    if absolute {
        // The literal prefix must be the workspace itself.
        let prefix: Vec<String> = workspace
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if parts.len() < prefix.len()
            || parts
                .iter()
                .zip(&prefix)
                .any(|(p, w)| unescape(p) != *w || is_glob(p))
        {
            return Err(refuse("does not start with the workspace path"));
        }
        found[0].0 = format!("{}/", workspace.display());
        parts.drain(..prefix.len());
    }
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        let mut next = Vec::new();
        if !is_glob(part) {
            let name = unescape(part);
            if name == ".." {
                return Err(refuse("contains `..`"));
            }
            for (spelling, dir) in found {
                next.push((
                    format!("{spelling}{name}{}", if last { "" } else { "/" }),
                    dir.join(&name),
                ));
            }
        } else {
            for (spelling, dir) in found {
                let real = match fs::canonicalize(&dir) {
                    Ok(real) if real.starts_with(workspace) => real,
                    Ok(_) => return Err(refuse("reaches outside the workspace")),
                    Err(_) => continue,
                };
                let Ok(entries) = fs::read_dir(&real) else {
                    continue;
                };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| (!n.starts_with('.') || part.starts_with('.')) && fnmatch(part, n))
                    .collect();
                names.sort();
                for name in names {
                    next.push((
                        format!("{spelling}{name}{}", if last { "" } else { "/" }),
                        real.join(&name),
                    ));
                    if next.len() > MAX_GLOB_MATCHES {
                        return Err(Refusal::new(
                            rule::GLOB_TOO_BROAD,
                            format!(
                                "the glob `{literal}` matches more than {MAX_GLOB_MATCHES} paths; narrow it"
                            ),
                        ));
                    }
                }
            }
        }
        found = next;
    }
    let matches: Vec<String> = found
        .into_iter()
        .filter(|(_, real)| fs::symlink_metadata(real).is_ok())
        .map(|(spelling, _)| spelling)
        .collect();
    if matches.is_empty() {
        Ok(vec![literal.to_string()])
    } else {
        Ok(matches)
    }
}

/// Whether a pattern component has an unescaped glob metacharacter.
fn is_glob(part: &str) -> bool {
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

fn unescape(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Matches one path component against a `sh` pattern: `*`, `?`, `[…]`/`[!…]` with
/// ranges, `\` escapes. An unclosed `[` is an ordinary character.
pub(super) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point for the last `*` (linear enough for
    // path components, and no recursion on hostile patterns).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => Some(pi + 1),
                '[' => match class(&p, pi, n[ni]) {
                    Some((true, end)) => Some(end),
                    Some((false, _)) => None,
                    None => (n[ni] == '[').then_some(pi + 1),
                },
                '\\' if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(pi + 2),
                c => (c == n[ni]).then_some(pi + 1),
            }
        } else {
            None
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression starting at `p[start] == '['`; returns
/// whether it matched and the index after `]`, or `None` if the `[` is never closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let mut lo = p[i];
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = p[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_follows_sh() {
        for (p, n, want) in [
            ("*.rs", "main.rs", true),
            ("*.rs", "main.rc", false),
            ("m?in.rs", "main.rs", true),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("[]]x", "]x", true),
            ("[x", "[x", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*", "", true),
        ] {
            assert_eq!(fnmatch(p, n), want, "{p} vs {n}");
        }
    }
}
