//! What a word names, as far as the always-blocked rules care: the root or a home
//! directory (for deletion), a device (for writes), or an account/privilege file.
//! Works on the word's pieces, so `"$HOME"`, `${HOME}`, `~`, `~root/`, `//`, `/./`,
//! `/usr/..` and quoting all reduce to the same thing. Pure.

use crate::runner::policy::lex::{DynKind, Piece, Word};

/// Stands for the home directory at the start of a normalized word.
const HOME: char = '\u{E000}';
/// Stands for something only known at run time.
const DYN: char = '\u{E001}';
/// Stands for a quoted `*`, `?` or `[` (an ordinary character, not a glob).
const QUOTED_GLOB: char = '\u{E002}';

/// Devices that are fine to write.
const HARMLESS_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/stdin",
    "/dev/tty",
];
/// Device directories that hold no disks.
/// (`/dev/tcp`/`/dev/udp` are bash's network pseudo-files, not devices.)
const HARMLESS_DEVICE_DIRS: &[&str] = &[
    "/dev/fd/",
    "/dev/shm/",
    "/dev/pts/",
    "/dev/tcp/",
    "/dev/udp/",
];

/// Files whose change grants privileges.
const PRIVILEGED_FILES: &[&str] = &[
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/ld.so.preload",
];
const PRIVILEGED_DIRS: &[&str] = &["/etc/sudoers.d/", "/etc/pam.d/", "/etc/polkit-1/"];

/// A readable rendering of a word, with run-time parts shown as `$NAME`, `$(…)` ….
pub(super) fn shown(word: &Word) -> String {
    let mut out = String::new();
    for piece in &word.pieces {
        match piece {
            Piece::Lit { text, .. } => out.push_str(text),
            Piece::Tilde(user) => {
                out.push('~');
                out.push_str(user);
            }
            Piece::Param { name } => {
                out.push('$');
                out.push_str(name);
            }
            Piece::Dynamic(d) => out.push_str(match d.kind {
                DynKind::Command => "$(…)",
                DynKind::Process => "<(…)",
                DynKind::Arithmetic => "$((…))",
                DynKind::Parameter => "${…}",
                DynKind::Quoting => "$'…'",
            }),
        }
    }
    if out.chars().count() > 80 {
        out = out.chars().take(77).collect::<String>() + "…";
    }
    out
}

/// The word with home/run-time/quoted-glob markers, as described on the constants.
fn normalized(word: &Word) -> String {
    let mut out = String::new();
    for piece in &word.pieces {
        match piece {
            Piece::Lit { text, quoted } => out.extend(text.chars().map(|c| {
                if *quoted && matches!(c, '*' | '?' | '[') {
                    QUOTED_GLOB
                } else {
                    c
                }
            })),
            Piece::Tilde(_) if out.is_empty() => out.push(HOME),
            Piece::Param { name } if name == "HOME" && out.is_empty() => out.push(HOME),
            Piece::Tilde(_) | Piece::Param { .. } | Piece::Dynamic(_) => out.push(DYN),
        }
    }
    out
}

/// Where a normalized word's path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Root,
    Home,
    Cwd,
}

/// Why deleting (or moving away) `word` could destroy `/`, a top-level directory or a
/// home directory; `None` when it is not one of those. `cwd_unknown` is set once the
/// command has `cd`-ed somewhere that may be `/` or home, so `.` and `*` count too.
pub(super) fn deletion_danger(word: &Word, cwd_unknown: bool) -> Option<String> {
    let text = normalized(word);
    let show = shown(word);
    if text.starts_with(DYN) {
        return Some(format!(
            "`{show}` starts with a value only known at run time, which may be empty or `/`"
        ));
    }
    let (base, rest) = if let Some(rest) = text.strip_prefix(HOME) {
        (Base::Home, rest)
    } else if let Some(rest) = text.strip_prefix('/') {
        (Base::Root, rest)
    } else {
        (Base::Cwd, text.as_str())
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut above = 0usize;
    let mut open_end = false;
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() && base != Base::Root {
                    above += 1;
                }
            }
            _ if part == DYN.to_string() || part.contains(['*', '?', '[']) => {
                open_end = true;
                break;
            }
            _ => stack.push(part),
        }
    }
    let depth = stack.len();
    let first = stack.first().copied().unwrap_or("");
    let in_home_dir = depth == 2 && matches!(first, "home" | "Users");
    let danger = match base {
        Base::Root if depth == 0 && open_end => "may match everything under `/`".to_string(),
        Base::Root if depth == 0 => "is the root directory `/`".to_string(),
        Base::Root if depth == 1 && open_end => format!("may match everything in `/{first}`"),
        Base::Root if depth == 1 => format!("is the top-level directory `/{first}`"),
        Base::Root if in_home_dir && open_end => {
            "may match everything in a home directory".to_string()
        }
        Base::Root if in_home_dir => "is a home directory".to_string(),
        Base::Home if above > 0 => "goes above the home directory".to_string(),
        Base::Home if depth == 0 && open_end => {
            "may match everything in the home directory".to_string()
        }
        Base::Home if depth == 0 => "is the home directory".to_string(),
        Base::Cwd if above > 0 && depth == 0 => {
            "is or matches a parent of the working directory, which may be a home directory"
                .to_string()
        }
        Base::Cwd if above == 0 && depth == 0 && cwd_unknown => {
            "is the working directory (or everything in it) after a `cd` that may have gone to `/` or a home directory"
                .to_string()
        }
        _ => return None,
    };
    Some(format!("`{show}` {danger}"))
}

/// Lexically normalizes an absolute path: no empty, `.` or `..` components.
fn normalize_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The static text of a word, or its literal prefix (up to the first run-time part)
/// with a flag saying it was cut.
pub(super) fn text_or_prefix(word: &Word) -> (String, bool) {
    let mut out = String::new();
    for piece in &word.pieces {
        match piece {
            Piece::Lit { text, .. } => out.push_str(text),
            _ => return (out, true),
        }
    }
    (out, false)
}

/// Whether `text` (a whole path, or a prefix when `cut`) is a device other than the
/// harmless ones.
pub(super) fn is_device(text: &str, cut: bool) -> bool {
    if !text.starts_with('/') {
        return false;
    }
    let mut path = normalize_absolute(text);
    if cut && (text.ends_with('/') || text.ends_with("/.")) {
        path.push('/');
    }
    if !path.starts_with("/dev/") {
        return path == "/dev" && cut;
    }
    if HARMLESS_DEVICE_DIRS.iter().any(|d| path.starts_with(d)) {
        return false;
    }
    cut || !HARMLESS_DEVICES.contains(&path.as_str())
}

/// Whether writing to `word` could write a disk or other device.
pub(super) fn writes_device(word: &Word) -> bool {
    let (text, cut) = text_or_prefix(word);
    is_device(&text, cut)
}

/// Whether writing to `word` could change an account or privilege file.
pub(super) fn is_privileged_file(word: &Word) -> bool {
    let (text, cut) = text_or_prefix(word);
    is_privileged_path(&text, cut)
}

/// Whether `text` (a whole path, or a prefix when `cut`) is an account or privilege file.
pub(super) fn is_privileged_path(text: &str, cut: bool) -> bool {
    if !text.starts_with('/') {
        return false;
    }
    let path = normalize_absolute(text);
    PRIVILEGED_FILES
        .iter()
        .any(|f| path == *f || (cut && f.starts_with(&path)))
        || PRIVILEGED_DIRS
            .iter()
            .any(|d| path.starts_with(d) || format!("{path}/") == *d)
}

/// Whether a `chmod`/`install -m` mode sets the setuid or setgid bit.
pub(super) fn sets_setuid(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| ('0'..='7').contains(&c)) {
        let digits: Vec<u32> = mode.chars().filter_map(|c| c.to_digit(8)).collect();
        return digits.len() >= 4 && digits[digits.len() - 4] & 6 != 0;
    }
    mode.split(',').any(|clause| {
        let ops = clause.trim_start_matches(['u', 'g', 'o', 'a']);
        let mut adding = false;
        for c in ops.chars() {
            match c {
                '+' | '=' => adding = true,
                '-' => adding = false,
                's' if adding => return true,
                _ => {}
            }
        }
        false
    })
}
