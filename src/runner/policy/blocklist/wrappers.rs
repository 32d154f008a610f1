//! Looking through wrapper programs (`env`, `nice`, `timeout`, `xargs`, `busybox` …)
//! to the command that really runs, and recognising how shells and interpreters were
//! asked to get their code: a `-c` string, a script operand, or stdin. Pure.

use super::command::{DELETERS, DOWNLOADERS, SHELLS, is_interpreter, program_name, word_downloads};
use crate::runner::policy::args::listed;
use crate::runner::policy::lex::{RedirKind, Word};

/// What a wrapper program runs.
pub(super) enum Next<'a, 'w> {
    /// These words are the real command.
    Run(&'a [&'w Word]),
    /// This word is shell code.
    Code(&'w Word, &'static str),
    /// This text is shell code.
    Text(String, &'static str),
    /// Nothing more runs.
    Done,
}

/// Skips a wrapper's leading options; `valued` options (space-separated) take the
/// next word.
fn skip_options<'a, 'w>(args: &'a [&'w Word], valued: &str) -> &'a [&'w Word] {
    let mut i = 0;
    while let Some(text) = args.get(i).and_then(|w| w.static_text()) {
        if text == "--" {
            i += 1;
            break;
        }
        if !text.starts_with('-') || text == "-" {
            break;
        }
        i += 1;
        if listed(valued, &text) {
            i += 1;
        }
    }
    args.get(i..).unwrap_or_default()
}

pub(super) fn has_option(args: &[&Word], options: &[&str]) -> bool {
    args.iter()
        .filter_map(|w| w.static_text())
        .take_while(|t| t.starts_with('-'))
        .any(|t| options.contains(&t.as_str()))
}

/// If `name` is a wrapper, what it runs.
pub(super) fn wrapper<'a, 'w>(name: &str, words: &'a [&'w Word]) -> Option<Next<'a, 'w>> {
    let args = words.get(1..).unwrap_or_default();
    let run = |rest: &'a [&'w Word]| {
        Some(if rest.is_empty() {
            Next::Done
        } else {
            Next::Run(rest)
        })
    };
    match name {
        "env" => {
            let mut i = 0;
            while let Some(word) = args.get(i) {
                let Some(text) = word.static_text() else {
                    break;
                };
                if text == "-S" || text == "--split-string" {
                    return Some(match args.get(i + 1) {
                        Some(code) => Next::Code(code, "env -S"),
                        None => Next::Done,
                    });
                }
                if let Some(code) = text
                    .strip_prefix("--split-string=")
                    .or(text.strip_prefix("-S"))
                {
                    return Some(Next::Text(code.to_string(), "env -S"));
                }
                if text == "--" {
                    i += 1;
                    break;
                }
                if text.starts_with('-') {
                    i += if matches!(text.as_str(), "-u" | "-C" | "--unset" | "--chdir") {
                        2
                    } else {
                        1
                    };
                } else if super::is_assignment(word) {
                    i += 1;
                } else {
                    break;
                }
            }
            run(args.get(i..).unwrap_or_default())
        }
        // Refused by the privilege rule before this is used; looked through so a
        // pipeline check still sees `curl … | sudo bash`.
        "sudo" | "doas" => run(skip_options(args, "-u -g -C -D -h -p -r -t -U -T")),
        "nice" => run(skip_options(args, "-n --adjustment")),
        "nohup" | "builtin" | "unbuffer" | "catchsegv" | "busybox" => run(skip_options(args, "")),
        "time" => run(skip_options(args, "-f -o --format --output")),
        "exec" => run(skip_options(args, "-a")),
        "setsid" => run(skip_options(args, "")),
        "stdbuf" => run(skip_options(args, "-i -o -e --input --output --error")),
        "xargs" => run(skip_options(
            args,
            "-a -d -E -I -L -n -P -s --arg-file --delimiter --eof --replace --max-lines --max-args --max-procs --max-chars --process-slot-var",
        )),
        "strace" | "ltrace" => run(skip_options(
            args,
            "-e -o -p -s -u -a -b -E -I -O -P -S -X -U",
        )),
        "unshare" => run(skip_options(
            args,
            "-S -G -R -w --setuid --setgid --root --wd --map-user --map-group",
        )),
        "command" => {
            let verbose = args
                .iter()
                .filter_map(|w| w.static_text())
                .take_while(|t| t.starts_with('-'))
                .any(|t| t.contains('v') || t.contains('V'));
            if verbose {
                Some(Next::Done)
            } else {
                run(skip_options(args, ""))
            }
        }
        "timeout" => {
            let rest = skip_options(args, "-s --signal -k --kill-after");
            run(rest.get(1..).unwrap_or_default())
        }
        "ionice" | "chrt" | "taskset" => {
            if has_option(args, &["-p", "--pid", "-P", "--pgid", "-u", "--uid"]) {
                return Some(Next::Done);
            }
            let rest = skip_options(args, "-c -n --class --classdata -T -P -D");
            run(if name == "ionice" {
                rest
            } else {
                rest.get(1..).unwrap_or_default()
            })
        }
        "chroot" => run(skip_options(args, "--userspec --groups")
            .get(1..)
            .unwrap_or_default()),
        "flock" => {
            let rest = skip_options(args, "-w --timeout -E --conflict-exit-code");
            if let Some(code) = args
                .iter()
                .position(|w| matches!(w.static_text().as_deref(), Some("-c" | "--command")))
            {
                return Some(match args.get(code + 1) {
                    Some(word) => Next::Code(word, "flock -c"),
                    None => Next::Done,
                });
            }
            run(rest.get(1..).unwrap_or_default())
        }
        "watch" => {
            let exec = has_option(args, &["-x", "--exec"]);
            let rest = skip_options(args, "-n --interval -q --equexit");
            if exec {
                return run(rest);
            }
            if let Some(dynamic) = rest.iter().find(|w| w.static_text().is_none()) {
                return Some(Next::Code(dynamic, "watch"));
            }
            let text: Vec<String> = rest.iter().filter_map(|w| w.static_text()).collect();
            Some(Next::Text(text.join(" "), "watch"))
        }
        "script" => {
            for (i, word) in args.iter().enumerate() {
                let Some(text) = word.static_text() else {
                    continue;
                };
                if let Some(code) = text.strip_prefix("--command=") {
                    return Some(Next::Text(code.to_string(), "script -c"));
                }
                if text == "--command"
                    || (text.starts_with('-') && !text.starts_with("--") && text.ends_with('c'))
                {
                    return Some(match args.get(i + 1) {
                        Some(code) => Next::Code(code, "script -c"),
                        None => Next::Done,
                    });
                }
            }
            Some(Next::Done)
        }
        _ => None,
    }
}

/// The innermost command of a chain of wrappers, if it is a plain command.
pub(super) fn peel<'a, 'w>(mut words: &'a [&'w Word]) -> &'a [&'w Word] {
    while let Some(name) = words.first().and_then(|w| program_name(w)) {
        match wrapper(&name, words) {
            Some(Next::Run(rest)) => words = rest,
            Some(_) => return &[],
            None => break,
        }
    }
    words
}

/// How a shell was invoked: does it run a `-c` string, a script operand, or stdin?
pub(super) struct ShellCall<'a, 'w> {
    pub(super) command_string: bool,
    pub(super) stdin: bool,
    pub(super) operand: Option<&'a &'w Word>,
}

pub(super) fn shell_call<'a, 'w>(args: &'a [&'w Word]) -> ShellCall<'a, 'w> {
    let mut call = ShellCall {
        command_string: false,
        stdin: false,
        operand: None,
    };
    let mut i = 0;
    while let Some(text) = args.get(i).and_then(|w| w.static_text()) {
        if text == "--" || text == "-" {
            call.stdin |= text == "-";
            i += 1;
            break;
        }
        if !(text.starts_with('-') || text.starts_with('+')) || text.len() < 2 {
            break;
        }
        i += 1;
        if text.starts_with("--") {
            i += usize::from(text == "--rcfile" || text == "--init-file");
        } else if matches!(text.as_str(), "-o" | "+o" | "-O" | "+O") {
            i += 1;
        } else if text.starts_with('-') {
            call.command_string |= text.contains('c');
            call.stdin |= text.contains('s');
        }
    }
    call.operand = args.get(i);
    call
}

/// How an interpreter was invoked: code in an argument, a module, a script, or stdin.
pub(super) struct InterpreterCall<'a, 'w> {
    pub(super) code: Option<&'a &'w Word>,
    pub(super) module: bool,
    pub(super) operand: Option<&'a &'w Word>,
}

pub(super) fn interpreter_call<'a, 'w>(
    name: &str,
    args: &'a [&'w Word],
) -> InterpreterCall<'a, 'w> {
    let mut call = InterpreterCall {
        code: None,
        module: false,
        operand: None,
    };
    let mut i = 0;
    while let Some(text) = args.get(i).and_then(|w| w.static_text()) {
        if text == "--" {
            i += 1;
            break;
        }
        if !text.starts_with('-') || text == "-" {
            break;
        }
        i += 1;
        let short = !text.starts_with("--");
        let code_flag = matches!(text.as_str(), "--eval" | "-r")
            || (matches!(text.as_str(), "-p" | "--print") && name.starts_with("node"))
            || (short && text.ends_with(['c', 'e', 'E']));
        if code_flag {
            call.code = args.get(i);
            i += 1;
        } else if text == "-m" || text.starts_with("-m") && name.starts_with("py") {
            call.module = true;
            return call;
        } else if matches!(
            text.as_str(),
            "-W" | "-X" | "-I" | "-C" | "-d" | "-M" | "--require" | "--import"
        ) {
            i += 1;
        }
    }
    call.operand = args.get(i);
    call
}

/// Whether a `-` / `/dev/stdin` operand, or none, means "read the code from stdin".
pub(super) fn stdin_operand(operand: Option<&&Word>) -> bool {
    operand.is_none_or(|w| {
        matches!(
            w.static_text().as_deref(),
            Some("-" | "/dev/stdin" | "/dev/fd/0")
        )
    })
}

/// The program that would run code read from its stdin, if this command is one.
pub(super) fn reads_code_from_stdin(words: &[&Word]) -> Option<String> {
    let words = peel(words);
    let name = program_name(words.first()?)?;
    let args = &words[1..];
    if listed(SHELLS, &name) {
        let call = shell_call(args);
        return (!call.command_string && (call.stdin || stdin_operand(call.operand)))
            .then_some(name);
    }
    if is_interpreter(&name) {
        let call = interpreter_call(&name, args);
        return (call.code.is_none() && !call.module && stdin_operand(call.operand))
            .then_some(name);
    }
    if name == "source" || name == "." {
        let operand = args.first();
        return (operand.is_some() && stdin_operand(operand)).then_some(name);
    }
    None
}

/// Whether a pipeline stage fetches data from the network.
pub(super) fn downloads(cmd: &super::Command) -> bool {
    let reads_socket = cmd.redirs.iter().any(|r| {
        matches!(
            r.kind,
            RedirKind::In | RedirKind::ReadWrite | RedirKind::DupIn
        ) && r
            .target
            .and_then(|t| t.static_text())
            .is_some_and(|t| t.starts_with("/dev/tcp/") || t.starts_with("/dev/udp/"))
    });
    let program = peel(&cmd.words).first().and_then(|w| program_name(w));
    reads_socket
        || program.is_some_and(|p| listed(DOWNLOADERS, &p))
        || cmd.words.iter().any(|w| word_downloads(w))
}

/// Whether this stage is `xargs` running a deleting program.
pub(super) fn xargs_deletes(words: &[&Word]) -> bool {
    let mut words = words;
    while let Some(name) = words.first().and_then(|w| program_name(w)) {
        if name == "xargs" {
            let inner = peel(words);
            return inner
                .first()
                .and_then(|w| program_name(w))
                .is_some_and(|p| listed(DELETERS, &p));
        }
        match wrapper(&name, words) {
            Some(Next::Run(rest)) => words = rest,
            _ => return false,
        }
    }
    false
}

/// The words an `echo`/`printf` stage prints.
pub(super) fn echoed<'a, 'w>(words: &'a [&'w Word]) -> &'a [&'w Word] {
    match words.first().and_then(|w| program_name(w)).as_deref() {
        Some("echo" | "printf") => skip_options(&words[1..], ""),
        _ => &[],
    }
}
