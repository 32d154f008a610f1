//! Passwords on the command lines of common tools, each the way that tool
//! takes it: `mysql -pSECRET`, `sshpass -p SECRET`, `redis-cli -a SECRET`,
//! `openssl … -passin pass:SECRET`, `ldapsearch -w SECRET`, `sqlcmd -P
//! SECRET`, `zip -P`, `7z -pSECRET`, `vault login TOKEN`, `smbclient -U user%SECRET`,
//! `xfreerdp /p:SECRET`, `sqlplus user/SECRET@db`, `htpasswd -b file user
//! SECRET`, `rabbitmqctl add_user user SECRET`, `echo SECRET | sudo -S`, …
//!
//! A program name anchors the search; the rest of that command (up to a
//! pipe, `;`, `&&` or the end of the line, across `\` continuations) is split
//! into shell words, and the program's own flags pick the password. The same
//! flag means something else elsewhere (`ssh -p 22`, `mkdir -p`), so nothing
//! is taken from a command this table does not name.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{line_end, line_start, near_line_start};
use super::value::{Strictness, is_secret_value};

mod named;
mod programs;

use Style::{
    After, AfterSubcommand, AfterWord, Apart, Either, Glued, HereString, KeyThen, LastWithBatch,
    Login, NamedUnder, NamedValue, NetUse, Nth, NthUnder, OracleLogin, Prefixed, SecretSet,
    Subcommand, Under,
};
use programs::{PROGRAMS, Style};

/// Longest command we read.
const MAX_COMMAND: usize = 1024;
/// Longest program name we look for around an anchor.
const MAX_PROGRAM: usize = 32;
/// Most words of one command we look at (a password flag comes early).
const MAX_WORDS: usize = 24;

/// Bytes that start a new command or a redirection.
fn ends_command(b: u8) -> bool {
    matches!(b, b'|' | b';' | b'&' | b'>' | b'\n' | b'\r' | b'(' | b')')
}

/// One shell word: the span of its text with quotes removed where the whole
/// word (or the part after a glued flag) was quoted.
#[derive(Clone, Copy, Debug)]
struct Word {
    start: usize,
    end: usize,
}

/// Splits the command from `from` into words, up to the end of the command.
fn words(bytes: &[u8], from: usize) -> Vec<Word> {
    let limit = (from + MAX_COMMAND).min(bytes.len());
    let mut out = Vec::new();
    let mut i = from;
    while i < limit && out.len() < MAX_WORDS {
        while i < limit && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        // `\` at the end of a line continues the command.
        if i + 1 < limit && bytes[i] == b'\\' && matches!(bytes[i + 1], b'\n' | b'\r') {
            i += if bytes[i + 1] == b'\r' { 3 } else { 2 };
            continue;
        }
        if i >= limit {
            break;
        }
        if bytes[i..].starts_with(b"<<<") {
            out.push(Word {
                start: i,
                end: i + 3,
            });
            i += 3;
            continue;
        }
        if ends_command(bytes[i]) || bytes[i] == b'<' || (bytes[i] == b'#' && i > from) {
            break;
        }
        let start = i;
        let mut closed = true;
        while i < limit && !matches!(bytes[i], b' ' | b'\t') && !ends_command(bytes[i]) {
            let b = bytes[i];
            let escaped_quote = b == b'\\' && matches!(bytes.get(i + 1), Some(b'"' | b'\''));
            if matches!(b, b'"' | b'\'') || escaped_quote {
                let skip = usize::from(escaped_quote);
                let q = bytes[i + skip];
                // An escaped quote as the window's last bytes leaves nothing
                // to search (and an empty range, not a reversed one).
                let open_end = i + 1 + skip;
                let close = bytes[open_end.min(limit)..line_end(bytes, open_end).min(limit)]
                    .iter()
                    .position(|&c| c == q);
                match close {
                    Some(p) => i += 2 + skip + p,
                    None => {
                        // An unmatched quote closes the string the command lives in.
                        closed = false;
                        break;
                    }
                }
            } else {
                i += 1;
            }
        }
        if i > start {
            out.push(Word { start, end: i });
        }
        if !closed {
            break;
        }
    }
    out
}

/// The text of `w` from `skip` bytes in, without surrounding quotes.
fn unquoted(bytes: &[u8], w: Word, skip: usize) -> (usize, usize) {
    let (mut s, mut e) = ((w.start + skip).min(w.end), w.end);
    if e > s && bytes[s] == b'\\' && e > s + 1 && matches!(bytes[s + 1], b'"' | b'\'') {
        s += 1;
        if e > s + 1 && bytes[e - 2] == b'\\' {
            e -= 1;
        }
    }
    if e > s + 1 && matches!(bytes[s], b'"' | b'\'') && bytes[e - 1] == bytes[s] {
        s += 1;
        e -= 1;
    }
    (s, e)
}

/// Handles a program name found at `start..end`.
pub(crate) fn on_program(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    // The whole command word, which may continue past the anchor (`mysqldump`).
    // Bounded: no program name is longer, and a long run of word bytes
    // holding many anchors (`ghp_ghp_…`) must not be walked once per anchor.
    let word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    let mut ws = start;
    while ws > 0 && word(bytes[ws - 1]) {
        if start - ws >= MAX_PROGRAM {
            return;
        }
        ws -= 1;
    }
    let mut we = end;
    while we < bytes.len() && word(bytes[we]) {
        if we - end >= MAX_PROGRAM {
            return;
        }
        we += 1;
    }
    if ws > 0
        && !matches!(
            bytes[ws - 1],
            b' ' | b'\t'
                | b'\n'
                | b'"'
                | b'\''
                | b'`'
                | b'/'
                | b'('
                | b';'
                | b'|'
                | b'&'
                | b'$'
                | b'['
        )
    {
        return;
    }
    let name = &bytes[ws..we];
    let Some((program, styles)) = PROGRAMS.iter().find_map(|(names, styles)| {
        names
            .iter()
            .find(|n| n.as_bytes() == name)
            .map(|n| (*n, styles))
    }) else {
        return;
    };
    if ws < scan.cli_done.0 && scan.cli_done.1 == program {
        return;
    }
    if name == b"sudo" || name == b"passwd" || name == b"chpasswd" {
        echoed(scan, ws, name == b"chpasswd");
    }
    let args = words(bytes, we);
    scan.cli_done = (args.last().map_or(we, |w| w.end), program);
    // `vault login TOKEN` (and `cargo login`, `wandb login`) takes a token,
    // which must look generated (the word also occurs in prose), and `mc` a
    // secret key after three other words (as prose has them); every other
    // program a password.
    let (kind, strictness) = if name == b"cargo" || name == b"wandb" {
        (Kind::ApiKeyAssignment, Strictness::Random)
    } else if name == b"vault" {
        (Kind::VaultToken, Strictness::Random)
    } else if name == b"mc" || name == b"mcli" {
        (Kind::PasswordAssignment, Strictness::Random)
    } else {
        (Kind::PasswordAssignment, Strictness::Password)
    };
    for style in *styles {
        for (vs, ve) in find(bytes, &args, *style) {
            if is_secret_value(&bytes[vs..ve], strictness, true) {
                scan.push(vs, ve, kind, priority::HTTP);
            }
        }
    }
}

/// Flags that name a secret yet take no value in one program, so the word
/// after them is not one: `pulumi config set --secret NAME` (the value comes
/// after the name, and is read as a `pulumi` password below).
const SWITCHES: &[(&[&str], &str)] = &[(&["pulumi", "config", "set"], "secret")];

/// Whether the flag `name` starting at `at` is a switch of the command it
/// is in (see [`SWITCHES`]).
pub(crate) fn is_switch(bytes: &[u8], at: usize, name: &[u8]) -> bool {
    // Bounded, as a line of many such flags must not be walked once each.
    let head = &bytes[line_start(bytes, at).max(at.saturating_sub(MAX_COMMAND))..at];
    SWITCHES.iter().any(|(path, flag)| {
        flag.as_bytes() == name && {
            let words: Vec<&[u8]> = head
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .collect();
            words
                .windows(path.len())
                .any(|w| w.iter().zip(*path).all(|(a, b)| *a == b.as_bytes()))
        }
    })
}

/// Whether the command's `--name` value (a parameter path) names a secret
/// by its last segment (`/prod/db/password`, `app/API_TOKEN`).
fn names_secret(bytes: &[u8], args: &[Word]) -> bool {
    let Some(k) = args
        .iter()
        .position(|a| &bytes[a.start..a.end] == b"--name")
    else {
        return false;
    };
    let Some(n) = args.get(k + 1) else {
        return false;
    };
    let (s, e) = unquoted(bytes, *n, 0);
    word_names_secret(
        bytes[s..e]
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or_default(),
    )
}

/// Whether a name (`mailchimpApiKey`, `db_password`) names a secret.
fn word_names_secret(name: &[u8]) -> bool {
    let mut words = Vec::new();
    super::names::split_words(name, &mut words);
    let own = words.len();
    super::names::classify(&words, own).is_some()
}

/// The password spans `style` picks from `args`.
fn find(bytes: &[u8], args: &[Word], style: Style) -> Vec<(usize, usize)> {
    let text = |w: &Word| &bytes[w.start..w.end];
    let mut out = Vec::new();
    let next = |k: usize| args.get(k + 1).copied();
    for (k, w) in args.iter().enumerate() {
        let t = text(w);
        match style {
            Glued(f) | Either(f) if t.len() > f.len() && t.starts_with(f.as_bytes()) => {
                out.push(unquoted(bytes, *w, f.len()));
            }
            Apart(f) | Either(f) if t == f.as_bytes() => {
                if let Some(n) = next(k) {
                    out.push(unquoted(bytes, n, 0));
                }
            }
            Prefixed(f, prefix) if t == f.as_bytes() => {
                if let Some(n) = next(k) {
                    let (s, e) = unquoted(bytes, n, 0);
                    if bytes[s..e].starts_with(prefix.as_bytes()) {
                        out.push((s + prefix.len(), e));
                    }
                }
            }
            After(f, sep) if t == f.as_bytes() || t.starts_with(format!("{f}=").as_bytes()) => {
                let word = if t == f.as_bytes() { next(k) } else { Some(*w) };
                if let Some(n) = word {
                    let (s, e) = unquoted(bytes, n, 0);
                    if let Some(p) = bytes[s..e].iter().position(|&b| b == sep) {
                        out.push((s + p + 1, e));
                    }
                }
            }
            OracleLogin if k == 0 || (k == 1 && text(&args[0]).starts_with(b"-")) => {
                let (s, e) = unquoted(bytes, *w, 0);
                let t = &bytes[s..e];
                if let Some(slash) = t.iter().position(|&b| b == b'/')
                    && slash > 0
                    && !t.starts_with(b"/")
                {
                    let at = t[slash..]
                        .iter()
                        .position(|&b| b == b'@')
                        .map_or(e, |p| s + slash + p);
                    out.push((s + slash + 1, at));
                }
            }
            AfterSubcommand(subs) if subs.iter().any(|s| s.as_bytes() == t) => {
                // `net user bob /delete`: a Windows switch, not a password.
                if let Some(n) = args.get(k + 2)
                    && !text(n).starts_with(b"/")
                {
                    out.push(unquoted(bytes, *n, 0));
                }
            }
            AfterWord(word) if t == word.as_bytes() => {
                if let Some(n) = next(k) {
                    out.push(unquoted(bytes, n, 0));
                }
            }
            Nth(n) if k == n && !t.starts_with(b"-") => out.push(unquoted(bytes, *w, 0)),
            Under(path, flags)
                if k >= path.len()
                    && path.iter().zip(args).all(|(p, a)| text(a) == p.as_bytes()) =>
            {
                out.extend(
                    flags
                        .iter()
                        .filter_map(|f| named::flag_value(bytes, args, k, f)),
                );
            }
            NamedValue if t == b"--value" && names_secret(bytes, args) => {
                if let Some(n) = next(k) {
                    out.push(unquoted(bytes, n, 0));
                }
            }
            NamedUnder(path, flags)
                if k == path.len()
                    && path.iter().zip(args).all(|(p, a)| text(a) == p.as_bytes()) =>
            {
                out.extend(named::values(bytes, &args[k..], flags));
            }
            NetUse if k == 0 && t == b"use" => {
                let secret = args[1..].iter().find(|a| {
                    let t = text(a);
                    !(t.starts_with(b"/")
                        || t.ends_with(b":")
                        || t == b"*"
                        || t.starts_with(b"\\\\"))
                });
                if let Some(a) = secret {
                    out.push(unquoted(bytes, *a, 0));
                }
            }
            Subcommand(sub) if k == 0 && t == sub.as_bytes() => {
                if let Some(n) = next(k).filter(|n| !text(n).starts_with(b"-")) {
                    out.push(unquoted(bytes, n, 0));
                }
            }
            NthUnder(path, n)
                if k == path.len()
                    && path.iter().zip(args).all(|(p, a)| text(a) == p.as_bytes()) =>
            {
                let nth = args[k..]
                    .iter()
                    .filter(|a| !text(a).starts_with(b"-"))
                    .nth(n);
                if let Some(a) = nth {
                    out.push(unquoted(bytes, *a, 0));
                }
            }
            SecretSet if k == 0 && args.len() > 2 && t == b"config" && text(&args[1]) == b"set" => {
                let mut positional = args[2..].iter().filter(|a| !text(a).starts_with(b"-"));
                if let (Some(name), Some(value)) = (positional.next(), positional.next())
                    && (args.iter().any(|a| text(a) == b"--secret") || {
                        let (s, e) = unquoted(bytes, *name, 0);
                        word_names_secret(&bytes[s..e])
                    })
                {
                    out.push(unquoted(bytes, *value, 0));
                }
            }
            KeyThen(prefix, n) if t.len() > prefix.len() && t.starts_with(prefix.as_bytes()) => {
                let nth = args[k + 1..]
                    .iter()
                    .filter(|a| !text(a).starts_with(b"-"))
                    .nth(n - 1);
                if let Some(a) = nth {
                    out.push(unquoted(bytes, *a, 0));
                }
            }
            Login(sub, value_flags) if k == 0 && t == sub.as_bytes() => {
                let mut rest = args[1..].iter();
                while let Some(a) = rest.next() {
                    let t = text(a);
                    if value_flags.iter().any(|f| t == f.as_bytes()) {
                        rest.next();
                    } else if !t.starts_with(b"-") {
                        out.push(unquoted(bytes, *a, 0));
                        break;
                    }
                }
            }
            HereString if t == b"<<<" => {
                if let Some(n) = next(k) {
                    out.push(unquoted(bytes, n, 0));
                }
            }
            _ => {}
        }
    }
    if let LastWithBatch = style {
        let batch = args.iter().any(|w| {
            let t = text(w);
            t.len() > 1 && t[0] == b'-' && t[1] != b'-' && t.contains(&b'b')
        });
        let positional = args.iter().filter(|w| text(w)[0] != b'-').count();
        let no_file = args.iter().any(|w| {
            let t = text(w);
            t.len() > 1 && t[0] == b'-' && t[1] != b'-' && t.contains(&b'n')
        });
        if let Some(last) = args.last()
            && batch
            && positional >= if no_file { 2 } else { 3 }
            && text(last)[0] != b'-'
        {
            out.push(unquoted(bytes, *last, 0));
        }
    }
    out
}

/// `echo SECRET | sudo -S`, `echo user:SECRET | chpasswd`: the echoed
/// value before the pipe into the program at `prog`.
fn echoed(scan: &mut Scan<'_>, prog: usize, pair: bool) {
    let bytes = scan.bytes;
    let ls = near_line_start(bytes, prog, 512).unwrap_or(prog.saturating_sub(512));
    let head = &bytes[ls..prog];
    let Some(pipe) = head.iter().rposition(|&b| b == b'|') else {
        return;
    };
    if !super::operator::trim(&head[pipe + 1..]).is_empty() {
        return;
    }
    let Some(echo) = ["echo -n ", "echo -e ", "echo ", "printf "]
        .iter()
        .filter_map(|w| super::text::find_ci(&head[..pipe], w.as_bytes()).map(|p| p + w.len()))
        .max()
    else {
        return;
    };
    let args = words(&bytes[..ls + pipe], ls + echo);
    let Some(w) = args.first() else { return };
    let (mut s, e) = unquoted(bytes, *w, 0);
    if pair {
        let Some(c) = bytes[s..e].iter().position(|&b| b == b':') else {
            return;
        };
        s += c + 1;
    }
    if is_secret_value(&bytes[s..e], Strictness::Password, true) {
        scan.push(s, e, Kind::PasswordAssignment, priority::HTTP);
    }
}

/// The literal anchors of every program in [`PROGRAMS`] (their shortest
/// distinct prefixes are enough: the handler reads the whole word).
pub(crate) fn anchors() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (names, _) in PROGRAMS {
        for n in *names {
            if !out.iter().any(|a| n.starts_with(a)) {
                out.retain(|a| !a.starts_with(n));
                out.push(n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: &str) -> Vec<&str> {
        words(t.as_bytes(), 0)
            .into_iter()
            .map(|w| &t[w.start..w.end])
            .collect()
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split(" -u root -p'a b' db | less"),
            ["-u", "root", "-p'a b'", "db"]
        );
        assert_eq!(split(" a \\\n  b; c"), ["a", "b"]);
        assert_eq!(split(" -p\"x\" db\"}"), ["-p\"x\"", "db"]);
        assert_eq!(split(" -S <<< \"pw\" apt"), ["-S", "<<<", "\"pw\"", "apt"]);
        assert!(anchors().contains(&"mysql"));
        assert!(!anchors().contains(&"mysqldump"));
    }
}
