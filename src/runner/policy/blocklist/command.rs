//! The always-blocked rules for one simple command: looks through wrappers to the
//! program that really runs, then applies the privilege, deletion, device,
//! download-and-run and run-time-code rules to it. Pure.

use super::targets::{self, shown};
use super::wrappers::{Next, has_option, wrapper};
use super::{Redir, Scan};
use crate::runner::policy::args::listed;
use crate::runner::policy::lex::{Script, Token, Word};
use crate::runner::policy::{Refusal, rule};

/// Programs that run something with other privileges, or change accounts.
const PRIVILEGE: &str = "sudo sudoedit su doas pkexec runuser run0 systemd-run machinectl setpriv nsenter capsh setcap newgrp sg passwd chpasswd usermod useradd userdel groupadd groupmod gpasswd adduser addgroup deluser visudo vipw vigr";
/// Programs that format or partition disks (plus everything named `mkfs*`).
const FORMATTERS: &str = "mke2fs mkswap mkdosfs mkntfs mkexfatfs wipefs fdisk sfdisk cfdisk gdisk sgdisk cgdisk parted blkdiscard sg_format";
/// Programs whose operands may be devices they write.
const DEVICE_WRITERS: &str =
    "tee shred badblocks hdparm nvme cryptsetup mdadm losetup truncate fallocate flashrom wipe";
/// Programs whose last operand is a destination they write.
const COPIERS: &str = "cp mv install ln ddrescue rsync";
/// Programs that delete their operands.
pub(super) const DELETERS: &str = "rm unlink rmdir shred srm wipe";
/// Programs that fetch data from the network.
pub(super) const DOWNLOADERS: &str = "curl wget fetch aria2c axel http https xh lwp-request GET lynx w3m links elinks nc ncat netcat socat telnet ftp tftp sftp scp";
/// Shells: `-c` runs a string; no operand reads code from stdin.
pub(super) const SHELLS: &str = "sh bash dash zsh ksh mksh ash yash posh fish csh tcsh rbash";
/// Other interpreters that run code from an argument, a file, or stdin.
const INTERPRETERS: &str = "perl ruby node nodejs php lua luajit deno bun Rscript tclsh wish pwsh powershell osascript jshell irb";

pub(super) fn is_interpreter(name: &str) -> bool {
    listed(INTERPRETERS, name)
        || ["python", "pypy", "perl", "lua", "ruby", "php"]
            .iter()
            .any(|p| {
                name.strip_prefix(p).is_some_and(|v| {
                    !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.')
                })
            })
        || name == "python"
        || name == "pypy"
}

/// The last path component of a program name.
pub(super) fn basename(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// The program a word names, when its name is known now: the word is literal, or at
/// least its last path component is (`"$PWD/run.sh"` runs something called `run.sh`).
pub(super) fn program_name(word: &Word) -> Option<String> {
    if word.has_glob() {
        return None;
    }
    word.literal_basename().filter(|name| !name.is_empty())
}

pub(super) fn static_text(word: &Word) -> Option<String> {
    word.static_text()
}

/// Operands of a command: words that are not options (before `--`).
pub(super) fn operands<'w>(args: &[&'w Word]) -> Vec<&'w Word> {
    let mut out = Vec::new();
    let mut ended = false;
    for word in args {
        let text = word.static_text();
        if !ended && text.as_deref() == Some("--") {
            ended = true;
            continue;
        }
        if !ended
            && text
                .as_deref()
                .is_some_and(|t| t.starts_with('-') && t.len() > 1)
        {
            continue;
        }
        out.push(*word);
    }
    out
}

/// Whether a command list fetches anything from the network (over-approximated: any
/// downloader name or `/dev/tcp` anywhere in it).
pub(super) fn script_downloads(script: &Script) -> bool {
    script.tokens.iter().any(|t| match t {
        Token::Word(w) => {
            w.static_text().is_some_and(|s| {
                listed(DOWNLOADERS, basename(&s))
                    || s.starts_with("/dev/tcp/")
                    || s.starts_with("/dev/udp/")
            }) || word_downloads(w)
        }
        Token::Op(_) => false,
    })
}

/// Whether a word's substitutions fetch anything from the network.
pub(super) fn word_downloads(word: &Word) -> bool {
    word.scripts().any(script_downloads)
}

fn refuse(rule: &'static str, detail: String) -> Result<(), Refusal> {
    Err(Refusal::new(rule, detail))
}

impl Scan {
    /// Applies the rules to one simple command, looking through wrappers.
    pub(super) fn argv(&mut self, words: &[&Word], redirs: &[Redir]) -> Result<(), Refusal> {
        let mut words = words;
        loop {
            let Some(first) = words.first() else {
                return Ok(());
            };
            let Some(name) = program_name(first) else {
                return self.dynamic_program(first);
            };
            self.rules(&name, words, redirs)?;
            match wrapper(&name, words) {
                Some(Next::Run(rest)) => words = rest,
                Some(Next::Code(word, what)) => return self.code_word(word, what),
                Some(Next::Text(text, what)) => return self.code_text(&text, what),
                Some(Next::Done) | None => return Ok(()),
            }
        }
    }

    fn rules(&mut self, name: &str, words: &[&Word], redirs: &[Redir]) -> Result<(), Refusal> {
        let args = &words[1..];
        self.ran_download(name, &words[0].static_text().unwrap_or_default())?;
        if listed(PRIVILEGE, name) {
            let why = match name {
                "setcap" => "grants capabilities to a program",
                "passwd" | "chpasswd" | "usermod" | "useradd" | "userdel" | "groupadd"
                | "groupmod" | "gpasswd" | "adduser" | "addgroup" | "deluser" | "visudo"
                | "vipw" | "vigr" => "changes users, groups, passwords or sudo rules",
                _ => "runs commands with another user's privileges",
            };
            return refuse(
                rule::PRIVILEGE_ESCALATION,
                format!("`{name}` {why}; privilege escalation is always blocked"),
            );
        }
        if name.starts_with("mkfs") || listed(FORMATTERS, name) {
            return refuse(
                rule::BLOCK_DEVICE_WRITE,
                format!("`{name}` formats or partitions disks; writing devices is always blocked"),
            );
        }
        let ops = operands(args);
        match name {
            "chmod" => {
                if let Some(mode) = args
                    .iter()
                    .filter_map(|w| w.static_text())
                    .find(|m| targets::sets_setuid(m))
                {
                    return refuse(
                        rule::PRIVILEGE_ESCALATION,
                        format!(
                            "`chmod {mode}` sets the setuid/setgid bit; privilege escalation is always blocked"
                        ),
                    );
                }
            }
            "chown" | "chgrp" => {
                let owner = ops
                    .first()
                    .and_then(|w| w.static_text())
                    .unwrap_or_default();
                if owner.split([':', '.']).any(|p| p == "root" || p == "0") {
                    return refuse(
                        rule::PRIVILEGE_ESCALATION,
                        format!(
                            "`{name} {owner}` hands files to root, the first step of a setuid escalation; privilege escalation is always blocked"
                        ),
                    );
                }
            }
            "install" => self.install(args)?,
            // `env -C DIR` runs the command elsewhere, like `cd`.
            "env"
                if has_option(args, &["-C", "--chdir"])
                    || args
                        .iter()
                        .filter_map(|w| w.static_text())
                        .any(|t| t.starts_with("--chdir=")) =>
            {
                self.cwd_unknown = true;
            }
            "dd" | "dcfldd" => self.dd(name, args)?,
            "cd" | "pushd" | "popd" => {
                let target = ops.first().and_then(|w| w.static_text());
                let known = name != "popd"
                    && target.is_some_and(|t| {
                        !t.starts_with('/') && t != "-" && !t.split('/').any(|p| p == "..")
                    });
                self.cwd_unknown |= !known;
            }
            "find" => self.find(args)?,
            "eval" => self.eval(args)?,
            "source" | "." => {
                if let Some(file) = ops.first() {
                    self.script_operand(name, file)?;
                }
            }
            "alias" => {
                for word in args {
                    match word.static_text() {
                        Some(text) => {
                            if let Some((_, value)) = text.split_once('=') {
                                self.code_text(value, "alias")?;
                            }
                        }
                        None => self.code_word(word, "alias")?,
                    }
                }
            }
            "trap" => {
                if let Some(action) = args
                    .first()
                    .filter(|w| !w.static_text().is_some_and(|t| t.starts_with('-')))
                {
                    self.code_word(action, "trap")?;
                }
            }
            _ => {}
        }
        if listed(DELETERS, name) || name == "mv" {
            let victims = if name == "mv" && !has_option(args, &["-t", "--target-directory"]) {
                &ops[..ops.len().saturating_sub(1)]
            } else {
                &ops[..]
            };
            for word in victims {
                if let Some(danger) = targets::deletion_danger(word, self.cwd_unknown) {
                    return refuse(
                        rule::DELETE_ROOT_OR_HOME,
                        format!(
                            "`{name}` on {danger}; deleting it is always blocked (name a path inside the project instead)"
                        ),
                    );
                }
            }
        }
        let written: &[&Word] = if listed(COPIERS, name) {
            ops.last().map(std::slice::from_ref).unwrap_or_default()
        } else if listed(DEVICE_WRITERS, name) || name == "sed" {
            &ops
        } else {
            &[]
        };
        for word in written {
            if targets::writes_device(word) {
                return refuse(
                    rule::BLOCK_DEVICE_WRITE,
                    format!(
                        "`{name}` would write the device `{}`; writing devices is always blocked",
                        shown(word)
                    ),
                );
            }
            if targets::is_privileged_file(word) {
                return refuse(
                    rule::PRIVILEGE_ESCALATION,
                    format!(
                        "`{name}` would change `{}`, an account or privilege file; privilege escalation is always blocked",
                        shown(word)
                    ),
                );
            }
        }
        if listed(DOWNLOADERS, name) {
            self.record_downloads(name, args, redirs);
        }
        if listed(SHELLS, name) {
            self.shell(name, args, redirs)?;
        } else if is_interpreter(name) {
            self.interpreter(name, args, redirs)?;
        }
        Ok(())
    }

    fn install(&self, args: &[&Word]) -> Result<(), Refusal> {
        let texts: Vec<String> = args
            .iter()
            .map(|w| w.static_text().unwrap_or_default())
            .collect();
        for (i, text) in texts.iter().enumerate() {
            let next = texts.get(i + 1).map_or("", String::as_str);
            let mode = match text.as_str() {
                "-m" | "--mode" => next,
                t => t
                    .strip_prefix("--mode=")
                    .or(t.strip_prefix("-m"))
                    .unwrap_or(""),
            };
            let owner = match text.as_str() {
                "-o" | "--owner" | "-g" | "--group" => next,
                t => t
                    .strip_prefix("--owner=")
                    .or(t.strip_prefix("--group="))
                    .unwrap_or(""),
            };
            if targets::sets_setuid(mode) || owner == "root" || owner == "0" {
                return refuse(
                    rule::PRIVILEGE_ESCALATION,
                    format!(
                        "`install {text} {next}` creates a setuid/setgid or root-owned file; privilege escalation is always blocked"
                    ),
                );
            }
        }
        Ok(())
    }

    fn dd(&self, name: &str, args: &[&Word]) -> Result<(), Refusal> {
        for word in args {
            let (text, cut) = targets::text_or_prefix(word);
            let Some(output) = text.strip_prefix("of=") else {
                continue;
            };
            if targets::is_device(output, cut) {
                return refuse(
                    rule::BLOCK_DEVICE_WRITE,
                    format!(
                        "`{name} of={}` writes straight to a device, which can destroy a disk; writing devices is always blocked",
                        shown(word).trim_start_matches("of=")
                    ),
                );
            }
            if targets::is_privileged_path(output, cut) {
                return refuse(
                    rule::PRIVILEGE_ESCALATION,
                    format!(
                        "`{name} {}` overwrites an account or privilege file; privilege escalation is always blocked",
                        shown(word)
                    ),
                );
            }
        }
        Ok(())
    }

    fn find(&mut self, args: &[&Word]) -> Result<(), Refusal> {
        let texts: Vec<Option<String>> = args.iter().map(|w| static_text(w)).collect();
        let text = |i: usize| texts.get(i).and_then(|t| t.as_deref());
        let mut i = 0;
        while let Some(t) = text(i) {
            match t {
                "-H" | "-L" | "-P" => i += 1,
                "-D" => i += 2,
                t if t.starts_with("-O") => i += 1,
                _ => break,
            }
        }
        let first_start = i;
        while i < args.len()
            && !text(i).is_some_and(|t| t.starts_with('-') || matches!(t, "(" | "!" | ","))
        {
            i += 1;
        }
        let starts = &args[first_start.min(args.len())..i.min(args.len())];
        let mut deleting = None;
        while i < args.len() {
            let t = text(i).unwrap_or("");
            i += 1;
            match t {
                "-delete" => deleting = Some("-delete"),
                "-exec" | "-execdir" | "-ok" | "-okdir" => {
                    let start = i;
                    while i < args.len() && !matches!(text(i), Some(";" | "+")) {
                        i += 1;
                    }
                    let inner = &args[start..i.min(args.len())];
                    i += 1;
                    if inner
                        .first()
                        .and_then(|w| program_name(w))
                        .is_some_and(|p| listed(DELETERS, &p))
                    {
                        deleting = Some("-exec rm");
                    }
                    self.enter()?;
                    let result = self.argv(inner, &[]);
                    self.depth -= 1;
                    result?;
                }
                _ => {}
            }
        }
        let Some(action) = deleting else {
            return Ok(());
        };
        if starts.is_empty() && self.cwd_unknown {
            return refuse(
                rule::DELETE_ROOT_OR_HOME,
                format!(
                    "`find {action}` without a start path deletes under the working directory, which after a `cd` may be `/` or a home directory"
                ),
            );
        }
        for word in starts {
            if let Some(danger) = targets::deletion_danger(word, self.cwd_unknown) {
                return refuse(
                    rule::DELETE_ROOT_OR_HOME,
                    format!("`find … {action}` on {danger}; deleting it is always blocked"),
                );
            }
        }
        Ok(())
    }
}
