//! Restricted mode's interpreters: `python`, `node`, `sh`/`bash` may run a script file
//! that is inside the workspace, with a few harmless flags; never code given on the
//! command line, stdin or a prompt, nor a module or plugin named on the command line.
//! `python -m pytest` and `python -m unittest` (of workspace modules) are the exceptions.

use std::path::Path;

use super::{any_args, pytest, refuse};
use crate::runner::policy::args::listed;
use crate::runner::policy::{Refusal, audit, paths, rule};

/// `-X` options that neither write files nor load code (`pycache_prefix` writes
/// bytecode anywhere, `presite` imports a module).
const PYTHON_X: &str = "dev utf8 importtime faulthandler tracemalloc warn_default_encoding no_debug_ranges int_max_str_digits frozen_modules";

/// Test reporters built into node; any other value is a module node loads.
const NODE_REPORTERS: &str = "spec tap dot junit lcov";

/// Whether a warnings filter (`action:message:category:module:lineno`) names a dotted
/// category, which Python (and pytest) import to resolve.
pub(super) fn imports_category(filter: &str) -> bool {
    filter.split(':').nth(2).is_some_and(|c| c.contains('.'))
}

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
                Some("unittest") => unittest(name, rest, workspace),
                _ => refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!(
                        "`{name} -m {}` runs an installed module; only `-m pytest` and `-m unittest` are allowed",
                        module.unwrap_or("")
                    ),
                ),
            };
        }
        if let Some(kind @ ("-W" | "-X")) = arg.get(..2) {
            let value = if arg.len() > 2 {
                &arg[2..]
            } else {
                i += 1;
                args.get(i - 1).map_or("", String::as_str)
            };
            let shown = format!("{kind} {value}");
            if kind == "-W" && imports_category(value) {
                return Err(audit::refuse("python", "-W", &shown));
            }
            if kind == "-X" && !listed(PYTHON_X, value.split('=').next().unwrap_or_default()) {
                return Err(audit::refuse("python", "-X", &shown));
            }
            continue;
        }
        if flags.is_empty() || !flags.chars().all(|c| "uBObEsSIqvdRP".contains(c)) {
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
        if let Some(reporter) = arg.strip_prefix("--test-reporter=")
            && !listed(NODE_REPORTERS, reporter)
        {
            return Err(audit::refuse(name, "--test-reporter", arg));
        }
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

/// `python -m unittest ARGS`: every name it would import must be a module, package or
/// file of the workspace (`unittest some.module` imports any installed module).
fn unittest(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        match arg.as_str() {
            "discover" | "-v" | "--verbose" | "-q" | "--quiet" | "--locals" | "-f"
            | "--failfast" | "-c" | "--catch" | "-b" | "--buffer" => {}
            // Patterns and numbers.
            "-k" | "-p" | "--pattern" | "--durations" => i += 1,
            "-s" | "--start-directory" | "-t" | "--top-level-directory" => {
                paths::resolve_inside(workspace, args.get(i).map_or("", String::as_str))?;
                i += 1;
            }
            a if a.starts_with('-') => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!("`{name} -m unittest {a}` is not an allowed unittest option"),
                );
            }
            a => {
                let file = a.contains('/') || a.ends_with(".py");
                let first = a.split('.').next().unwrap_or_default();
                let found = if file {
                    paths::resolve_inside(workspace, a)?.is_file()
                } else {
                    let module = paths::resolve_inside(workspace, first)?;
                    module.is_dir() || module.with_extension("py").is_file()
                };
                if !found {
                    return Err(audit::refuse(
                        "python",
                        "-m unittest NAME",
                        &format!("-m unittest {a}"),
                    ));
                }
            }
        }
    }
    Ok(())
}
