//! Setters whose value is a secret only when the name they set is one:
//! `gh variable set NAME --body VALUE`, `glab variable set NAME --value
//! VALUE` (or `glab variable set NAME VALUE`). A variable is meant for
//! plain settings, yet people store keys in them; the name says which (or
//! glab's `--masked`, which only a secret needs).

use super::{Word, unquoted, word_names_secret};

/// The value spans in `rest`, the words after the subcommand path, when the
/// first of them is a secret's name: the word after one of `flags` (or glued
/// to it with `=`), else the plain word right after the name.
pub(super) fn values(bytes: &[u8], rest: &[Word], flags: &[&str]) -> Vec<(usize, usize)> {
    let text = |w: &Word| &bytes[w.start..w.end];
    let Some(name) = rest.first().filter(|w| !text(w).starts_with(b"-")) else {
        return Vec::new();
    };
    let (ns, ne) = unquoted(bytes, *name, 0);
    if !word_names_secret(&bytes[ns..ne]) && !rest.iter().any(|w| text(w) == b"--masked") {
        return Vec::new();
    }
    let mut out: Vec<(usize, usize)> = (0..rest.len())
        .flat_map(|k| {
            flags
                .iter()
                .filter_map(move |f| flag_value(bytes, rest, k, f))
        })
        .collect();
    if out.is_empty()
        && let Some(v) = rest.get(1).filter(|w| !text(w).starts_with(b"-"))
    {
        out.push(unquoted(bytes, *v, 0));
    }
    out
}

/// The value the flag `f` gives if `args[k]` is that flag: the next word,
/// the rest after `=` (`--body=X`), or, for a short flag, the rest glued to
/// it (`-b'X'`, as Go's flag parsers take it).
pub(super) fn flag_value(bytes: &[u8], args: &[Word], k: usize, f: &str) -> Option<(usize, usize)> {
    let w = args[k];
    let t = &bytes[w.start..w.end];
    let f = f.as_bytes();
    if t == f {
        return args.get(k + 1).map(|n| unquoted(bytes, *n, 0));
    }
    if t.len() <= f.len() || !t.starts_with(f) {
        return None;
    }
    if t.len() > f.len() + 1 && t[f.len()] == b'=' {
        return Some(unquoted(bytes, w, f.len() + 1));
    }
    let short = f.len() == 2 && f[0] == b'-' && f[1] != b'-';
    short.then(|| unquoted(bytes, w, f.len()))
}
