//! Restricted mode's interpreters: `python`, `node`, `sh`/`bash` may run a script file
//! that is inside the workspace, with a few harmless flags; never code given on the
//! command line, stdin or a prompt. `python -m pytest`/`-m unittest` are the exceptions.

use std::path::Path;

use super::{any_args, pytest, refuse};
use crate::runner::policy::args::listed;
use crate::runner::policy::{Refusal, paths, rule};

/// The script operand of an interpreter: it must be a file inside the workspace.
fn script_file(program: &str, script: Option<&String>, workspace: &Path) -> Result<(), Refusal> {
    let Some(script) = script else {
        return refuse(
            rule::OPTION_NOT_ALLOWED,
            format!(
                "`{program}` without a script file would read code from stdin or start a prompt; name a script inside the workspace"
            ),
        );
    };
    if paths::resolve_inside(workspace, script)?.is_file() {
        Ok(())
    } else {
        refuse(
            rule::PROGRAM_NOT_ALLOWED,
            format!("`{program} {script}`: `{script}` is not a file inside the workspace"),
        )
    }
}

pub(super) fn python(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args.get(i).filter(|a| a.starts_with('-')) {
        i += 1;
        let flags = &arg[1..];
        if let Some(attached) = arg.strip_prefix("-m") {
            let module = if attached.is_empty() {
                args.get(i).map(String::as_str)
            } else {
                Some(attached)
            };
            let skip = usize::from(arg.len() == 2);
            let rest = args.get(i + skip..).unwrap_or_default();
            return match module {
                Some("pytest") => pytest(rest, workspace),
                Some("unittest") => any_args(name, rest, workspace),
                _ => refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!(
                        "`{name} -m {}` runs an installed module; only `-m pytest` and `-m unittest` are allowed",
                        module.unwrap_or("")
                    ),
                ),
            };
        }
        if matches!(arg.as_str(), "-W" | "-X") {
            i += 1;
            continue;
        }
        let valued = arg.starts_with("-W") || arg.starts_with("-X");
        if !valued && (flags.is_empty() || !flags.chars().all(|c| "uBObEsSIqvdRP".contains(c))) {
            let why = match arg.as_str() {
                "-c" => "runs code given on the command line; put it in a file inside the workspace".to_string(),
                "-" => "reads code from stdin".to_string(),
                "-i" => "starts an interactive prompt".to_string(),
                _ => "is not an allowed interpreter option (allowed: -u -B -O -b -E -s -S -I -q -v -W -X, -m pytest, -m unittest)".to_string(),
            };
            return refuse(rule::OPTION_NOT_ALLOWED, format!("`{name} {arg}` {why}"));
        }
    }
    script_file(name, args.get(i), workspace)?;
    any_args(name, args.get(i + 1..).unwrap_or_default(), workspace)
}

pub(super) fn node(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    const ALLOWED: &str = "--test --test-only --enable-source-maps --no-warnings --trace-warnings --trace-uncaught --no-deprecation --experimental-vm-modules --experimental-test-coverage";
    const VALUED: &[&str] = &[
        "--max-old-space-size=",
        "--stack-size=",
        "--test-reporter=",
        "--test-name-pattern=",
    ];
    let mut i = 0;
    let mut test_runner = false;
    while let Some(arg) = args.get(i).filter(|a| a.starts_with('-')) {
        i += 1;
        test_runner |= arg == "--test";
        if !listed(ALLOWED, arg) && !VALUED.iter().any(|v| arg.starts_with(v)) {
            let why = match arg.as_str() {
                "-e" | "--eval" | "-p" | "--print" => {
                    "runs code given on the command line; put it in a file inside the workspace"
                }
                "-r" | "--require" | "--import" | "--loader" | "--experimental-loader" => {
                    "loads extra modules before the script"
                }
                "-i" | "--interactive" | "-" => "reads code from a prompt or stdin",
                _ => "is not an allowed node option",
            };
            return refuse(rule::OPTION_NOT_ALLOWED, format!("`{name} {arg}` {why}"));
        }
    }
    if test_runner && args.get(i).is_none() {
        return Ok(());
    }
    script_file(name, args.get(i), workspace)?;
    any_args(name, args.get(i + 1..).unwrap_or_default(), workspace)
}

pub(super) fn shell(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args
        .get(i)
        .filter(|a| a.starts_with('-') || a.starts_with('+'))
    {
        i += 1;
        match arg.as_str() {
            "-o" | "+o" => {
                let option = args.get(i).map_or("", String::as_str);
                i += 1;
                if !matches!(
                    option,
                    "errexit" | "nounset" | "pipefail" | "xtrace" | "verbose" | "noglob"
                ) {
                    return refuse(
                        rule::OPTION_NOT_ALLOWED,
                        format!("`{name} {arg} {option}` is not an allowed shell option"),
                    );
                }
            }
            "--norc" | "--noprofile" | "--posix" => {}
            a if a.len() > 1 && a[1..].chars().all(|c| "euxvnf".contains(c)) => {}
            a => {
                let why = if a.contains('c') {
                    "runs a command string; restricted mode runs one plain command (use yolo mode for shell syntax)"
                } else {
                    "is not an allowed shell option (allowed: -e -u -x -v -n -f, -o errexit|nounset|pipefail|xtrace)"
                };
                return refuse(rule::OPTION_NOT_ALLOWED, format!("`{name} {a}` {why}"));
            }
        }
    }
    script_file(name, args.get(i), workspace)?;
    any_args(name, args.get(i + 1..).unwrap_or_default(), workspace)
}
