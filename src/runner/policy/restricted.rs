//! The `restricted` mode list: everything in `safe`, plus listed subcommands of the
//! project tools, and running a file that is inside the workspace.
//!
//! * `git` `status diff log show add commit branch checkout (of a branch) switch stash
//!   (not `clear`) restore rev-parse ls-files grep blame annotate tag shortlog describe
//!   reflog (not `expire`/`delete`) show-ref cat-file merge-base for-each-ref diff-tree
//!   diff-index diff-files ls-tree rev-list name-rev version`. Not: push, pull, fetch,
//!   clone, remote, submodule, config, credential, filter-branch, reset, clean, rebase,
//!   gc …; no `-c`/`--config-env`/`--exec-path`/`-p` global options, nothing that runs
//!   a pager, editor, signer, diff or textconv program, no `--output`.
//! * `cargo` `build check test clippy fmt run doc tree metadata bench` (and their short
//!   aliases). Not: install, publish, login, new, add, update, clean …; no `+toolchain`,
//!   `--config`, `-Z`, `doc --open`; `clippy -- ARGS` only lint levels.
//! * `npm` `test run run-script start ls list`, with a short list of options only (npm
//!   reads every other `--key=value` as configuration, and keys such as `script-shell`
//!   and `node-options` name programs and code). Not `install`/`ci`: they fetch packages
//!   and run the packages' own install scripts, and the sandbox has no network anyway;
//!   a human installs dependencies. No `exec`/`npx`, publish, login, adduser, config.
//! * `pip`/`pip3` `list show freeze check`. Not install/download/uninstall/config; no
//!   `--python`.
//! * `pytest`/`py.test`, `python -m pytest`, `python -m unittest` (of workspace modules);
//!   no `-p NAME` but `-p no:NAME`, no `-o`, `--pyargs`, `--pdbcls`.
//! * `python`/`python3`/`python3.N`, `node`, `sh`, `bash` running a script file inside
//!   the workspace (a few harmless interpreter flags); never `-c`, `-e`, `-m` (other
//!   than pytest/unittest), stdin or a REPL, nor modules loaded by `--require`,
//!   `--test-reporter`, `-W …::pkg.Category`. `node --test` may run without a file.
//! * `make`/`gmake` with targets and options only: no `--eval`, and no `NAME=value`
//!   operand (`X:=$(shell …)`, `SHELL=prog` are make code), so only the workspace's
//!   makefile says what runs; and `./script` or `dir/script` inside the workspace.
//!
//! What each refused option does, and the manual that says so, is in `audit`.
//!
//! Every path-like argument must stay inside the workspace, as in `safe`. The project
//! code these run (build scripts, tests, Makefiles, git hooks and filters, npm scripts)
//! can do anything the sandbox allows: restricted mode limits what the agent can ask
//! for directly, not what the project's own code does.

use std::path::Path;

mod scripts;

use super::args::{self, Spec, listed};
use super::readonly;
use super::simple::{self, Program};
use super::{Refusal, audit, rule};

/// Checks a command in `restricted` mode.
pub(super) fn check(argv: &[String], workspace: &Path) -> Result<(), Refusal> {
    let Some(argv0) = argv.first() else {
        return Err(Refusal::new(rule::EMPTY_COMMAND, "the command is empty"));
    };
    let args = argv.get(1..).unwrap_or_default();
    let name = match simple::program(argv0, workspace, true)? {
        Program::Script(_) => return any_args(argv0, args, workspace),
        Program::Named(name) => name,
    };
    match name.as_str() {
        "git" => git(args, workspace),
        "cargo" => cargo(args, workspace),
        "npm" => npm(args, workspace),
        "pip" | "pip3" => pip(&name, args, workspace),
        "pytest" | "py.test" => pytest(args, workspace),
        "make" | "gmake" => make(&name, args, workspace),
        "node" | "nodejs" => scripts::node(&name, args, workspace),
        "sh" | "bash" => scripts::shell(&name, args, workspace),
        n if is_python(n) => scripts::python(n, args, workspace),
        _ => readonly::check_named(&name, argv, workspace, true),
    }
}

fn is_python(name: &str) -> bool {
    name.strip_prefix("python").is_some_and(|v| {
        v.is_empty()
            || (v.starts_with(|c: char| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    })
}

/// Path-checks every operand and option value of a program we know nothing else about.
pub(super) fn any_args(program: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let parsed = args::parse(program, args, &Spec::default(), workspace)?;
    args::check_operands(workspace, &parsed.operands)
}

pub(super) fn refuse(rule: &'static str, detail: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal::new(rule, detail))
}

const GIT_SUBCOMMANDS: &str = "status diff log show add commit branch checkout switch stash restore rev-parse ls-files grep blame annotate tag shortlog describe reflog show-ref cat-file merge-base for-each-ref diff-tree diff-index diff-files ls-tree rev-list name-rev version";

fn git(args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args.get(i).filter(|a| a.starts_with('-')) {
        i += 1;
        match arg.as_str() {
            "--no-pager"
            | "-P"
            | "--no-replace-objects"
            | "--literal-pathspecs"
            | "--glob-pathspecs"
            | "--noglob-pathspecs"
            | "--icase-pathspecs"
            | "--no-optional-locks"
            | "--version"
            | "--no-advice"
            | "--bare" => {}
            "-C" | "--git-dir" | "--work-tree" => {
                let value = args.get(i).map_or("", String::as_str);
                args::check_path(workspace, value)?;
                i += 1;
            }
            a if a.starts_with("--git-dir=") || a.starts_with("--work-tree=") => {
                let value = a.split_once('=').map_or("", |(_, v)| v);
                args::check_path(workspace, value)?;
            }
            "-c" | "--config-env" | "--exec-path" => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!(
                        "`git {arg}` changes git's configuration or helpers, which can run programs (core.pager, core.fsmonitor, …); set configuration in the repository instead"
                    ),
                );
            }
            "-p" | "--paginate" => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    "`git --paginate` starts a pager; output is returned to you anyway",
                );
            }
            _ => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!(
                        "`git {arg}` is not an allowed global option (allowed: --no-pager, -C DIR, --git-dir, --work-tree, pathspec options)"
                    ),
                );
            }
        }
    }
    let Some(sub) = args.get(i) else {
        return Ok(());
    };
    let rest = &args[i + 1..];
    if !listed(GIT_SUBCOMMANDS, sub) {
        let why = match sub.as_str() {
            "push" | "pull" | "fetch" | "clone" | "remote" | "submodule" | "ls-remote"
            | "send-email" | "request-pull" => "uses the network or changes remotes",
            "config" | "credential" | "credential-store" | "credential-cache" => {
                "changes configuration or credentials"
            }
            "filter-branch" | "filter-repo" | "reset" | "clean" | "rebase" | "gc" | "prune"
            | "update-ref" | "replace" | "merge" | "cherry-pick" | "revert" | "am" | "apply"
            | "rm" | "mv" | "worktree" | "init" | "notes" => {
                "rewrites history, deletes work or changes more than the listed subcommands"
            }
            _ => "is not on the restricted-mode list",
        };
        return refuse(
            rule::SUBCOMMAND_NOT_ALLOWED,
            format!(
                "`git {sub}` {why}; allowed: {}",
                GIT_SUBCOMMANDS.replace(' ', ", ")
            ),
        );
    }
    match (sub.as_str(), rest.first().map(String::as_str)) {
        ("stash", Some("clear")) => {
            return refuse(
                rule::SUBCOMMAND_NOT_ALLOWED,
                "`git stash clear` drops every stash at once; drop them one by one",
            );
        }
        ("reflog", Some("expire" | "delete")) => {
            return refuse(
                rule::SUBCOMMAND_NOT_ALLOWED,
                "`git reflog expire/delete` destroys the history that makes mistakes recoverable",
            );
        }
        _ => {}
    }
    let spec = Spec {
        short_values: match sub.as_str() {
            "commit" => "mFCct",
            "tag" => "mFu",
            "stash" => "m",
            "log" | "diff" | "show" | "shortlog" | "whatchanged" => "SGn",
            "grep" => "ef",
            "checkout" | "switch" => "bBc",
            _ => "",
        },
        // `--pretty` takes a value only after `=`: `--pretty X` makes X an operand.
        long_values: "--message --grep --author --committer --format --since --until --after --before --file --template --date --orphan",
        text: "-m --message --grep --author --committer --format --pretty -S -G --since --until --after --before --date -e -b -B -c -C -u --orphan",
    };
    let parsed = args::parse(&format!("git {sub}"), rest, &spec, workspace)?;
    let mut operands = parsed.operands.as_slice();
    if sub == "checkout" {
        // One operand: the branch to switch to, or the start point of `-b NAME`.
        let dashdash = rest.iter().any(|a| a == "--");
        if dashdash
            || parsed.saw(&[
                "-p", "--patch", "--ours", "--theirs", "-f", "--force", "-m", "--merge",
            ])
            || operands.len() > 1
        {
            return refuse(
                rule::SUBCOMMAND_NOT_ALLOWED,
                "`git checkout` is allowed for switching or creating a branch (`git checkout NAME`, `git checkout -b NAME [START]`); to discard changes to files use `git restore`",
            );
        }
    }
    if sub == "grep" && !parsed.saw(&["-e", "-f"]) && !operands.is_empty() {
        operands = &operands[1..];
    }
    args::check_operands(workspace, operands)
}

fn cargo(args: &[String], workspace: &Path) -> Result<(), Refusal> {
    const SUBCOMMANDS: &str = "build b check c test t clippy fmt run r doc d tree metadata bench";
    let mut i = 0;
    while let Some(arg) = args
        .get(i)
        .filter(|a| a.starts_with('-') || a.starts_with('+'))
    {
        i += 1;
        match arg.as_str() {
            "-v" | "-vv" | "-q" | "--verbose" | "--quiet" | "--locked" | "--offline"
            | "--frozen" | "-V" | "--version" | "--list" => {}
            "--color" => i += 1,
            a if a.starts_with("--color=") => {}
            a if a.starts_with('+') => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!("`cargo {a}` selects another toolchain; use the default one"),
                );
            }
            a => {
                return refuse(
                    rule::OPTION_NOT_ALLOWED,
                    format!(
                        "`cargo {a}` is not an allowed global option (`--config` and `-Z` can run programs or change the build; allowed: -v, -q, --locked, --offline, --frozen, --color)"
                    ),
                );
            }
        }
    }
    let Some(sub) = args.get(i) else {
        return Ok(());
    };
    if !listed(SUBCOMMANDS, sub) {
        let why = match sub.as_str() {
            "install" | "uninstall" => "installs programs outside the workspace",
            "publish" | "login" | "logout" | "owner" | "yank" => "uses registry credentials",
            "new" | "init" | "add" | "remove" | "update" | "fetch" | "vendor"
            | "generate-lockfile" => "changes the project's dependencies or needs the network",
            "clean" => "deletes build output",
            _ => "is not on the restricted-mode list",
        };
        return refuse(
            rule::SUBCOMMAND_NOT_ALLOWED,
            format!(
                "`cargo {sub}` {why}; allowed: build, check, test, clippy, fmt, run, doc, tree, metadata, bench"
            ),
        );
    }
    let spec = Spec {
        short_values: "pjF",
        long_values: "--package --jobs --features --bin --example --test --bench --target --profile --manifest-path --target-dir --message-format --color --exclude --format-version --edges --invert --prune --depth --prefix",
        text: "-p --package -j --jobs -F --features --bin --example --test --bench --target --profile --message-format --color --exclude --format-version --edges --invert --prune --depth --prefix",
    };
    let rest = &args[i + 1..];
    let parsed = args::parse(&format!("cargo {sub}"), rest, &spec, workspace)?;
    if sub == "clippy"
        && let Some(end) = rest.iter().position(|a| a == "--")
    {
        clippy_lints(&rest[end + 1..])?;
    }
    args::check_operands(workspace, &parsed.operands)
}

/// What `cargo clippy -- ARGS` may pass on: clippy-driver hands every argument to
/// rustc, where `-C linker=PROGRAM` and friends run programs, so only lint levels.
fn clippy_lints(args: &[String]) -> Result<(), Refusal> {
    let lint = |name: &str| {
        !name.is_empty()
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'))
    };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let ok = match arg.as_str() {
            "-A" | "-W" | "-D" | "-F" | "--allow" | "--warn" | "--deny" | "--forbid"
            | "--cap-lints" => {
                i += 1;
                args.get(i - 1).is_some_and(|v| lint(v))
            }
            a => {
                ["-A", "-W", "-D", "-F"]
                    .iter()
                    .any(|f| a.strip_prefix(f).is_some_and(lint))
                    || [
                        "--allow=",
                        "--warn=",
                        "--deny=",
                        "--forbid=",
                        "--cap-lints=",
                    ]
                    .iter()
                    .any(|f| a.strip_prefix(f).is_some_and(lint))
            }
        };
        if !ok {
            return Err(audit::refuse("cargo clippy", "arguments after --", arg));
        }
    }
    Ok(())
}

fn npm(args: &[String], workspace: &Path) -> Result<(), Refusal> {
    const SUBCOMMANDS: &str = "test t tst run run-script rum urn start ls list ll la";
    // npm reads every `--key[=value]` before `--` as configuration, and several keys
    // name programs or code (script-shell, shell, node-options, userconfig …), so only
    // these are accepted.
    // Options whose type includes Boolean never take the next word as their value
    // (nopt), so `--color` is a flag here: `npm --color install` installs.
    const FLAGS: &str = "-s --silent -q --quiet -d -dd -ddd --verbose --json -p --parseable -l --long -a --all --workspaces -ws --include-workspace-root --if-present --ignore-scripts --color --no-color --no-progress --foreground-scripts";
    const VALUED: &str = "--loglevel --workspace -w --prefix --depth --omit --include";
    let mut operands: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            operands.push(arg.clone());
            continue;
        }
        let (flag, attached) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (arg.as_str(), None),
        };
        if attached.is_none() && listed(FLAGS, flag) {
            continue;
        }
        if !listed(VALUED, flag) {
            let form = if flag.starts_with("--node") {
                "--node-options"
            } else {
                "--script-shell"
            };
            return Err(audit::refuse("npm", form, arg));
        }
        let value = match attached {
            Some(value) => value,
            None => {
                i += 1;
                args.get(i - 1).map_or("", String::as_str)
            }
        };
        if flag == "--prefix" {
            args::check_path(workspace, value)?;
        }
    }
    let Some(sub) = operands.first() else {
        return Ok(());
    };
    if !listed(SUBCOMMANDS, sub) {
        let why = match sub.as_str() {
            "install" | "i" | "ci" | "add" | "update" | "up" | "rebuild" | "link" | "ln" => {
                "downloads packages and runs their install scripts (and the sandbox has no network); install dependencies yourself, then use restricted mode"
            }
            "exec" | "x" => "downloads and runs packages",
            "publish" | "unpublish" | "login" | "logout" | "adduser" | "add-user" | "token"
            | "owner" | "deprecate" | "dist-tag" => "uses registry credentials",
            "config" | "set" | "get" => "changes npm configuration",
            _ => "is not on the restricted-mode list",
        };
        return refuse(
            rule::SUBCOMMAND_NOT_ALLOWED,
            format!("`npm {sub}` {why}; allowed: test, run SCRIPT, start, ls"),
        );
    }
    args::check_operands(workspace, &operands[1..])
}

fn pip(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    const SUBCOMMANDS: &str = "list show freeze check";
    let spec = Spec {
        long_values: "--path --format --exclude",
        text: "--format --exclude",
        ..Spec::default()
    };
    let parsed = args::parse(name, args, &spec, workspace)?;
    let Some(sub) = parsed.operands.first() else {
        return Ok(());
    };
    if !listed(SUBCOMMANDS, sub) {
        let why = match sub.as_str() {
            "install" | "download" | "wheel" => {
                "downloads and installs packages, running their build code (and the sandbox has no network)"
            }
            "uninstall" => "removes packages",
            "config" | "cache" => "changes pip's configuration or cache",
            _ => "is not on the restricted-mode list",
        };
        return refuse(
            rule::SUBCOMMAND_NOT_ALLOWED,
            format!("`{name} {sub}` {why}; allowed: list, show, freeze, check"),
        );
    }
    args::check_operands(workspace, &parsed.operands[1..])
}

pub(super) fn pytest(args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let spec = Spec {
        short_values: "kmpconrW",
        long_values: "--rootdir --basetemp --junitxml --junit-xml --confcutdir --ignore --ignore-glob --deselect --maxfail --tb --durations --import-mode --log-level --cov --cov-report --pythonwarnings",
        text: "-k -m -p -n -r -W --maxfail --tb --durations --import-mode --log-level --ignore-glob --cov-report --pythonwarnings",
    };
    let parsed = args::parse("pytest", args, &spec, workspace)?;
    for (option, value) in &parsed.values {
        let shown = format!("{option} {value}");
        if option == "-p" && !value.starts_with("no:") {
            return Err(audit::refuse("pytest", "-p NAME", &shown));
        }
        // pytest-cov writes `TYPE:DEST` reports to DEST.
        if option.starts_with("--cov-r")
            && let Some((_, dest)) = value.split_once(':')
        {
            args::check_path(workspace, dest)?;
        }
        let warnings =
            option == "-W" || (option.len() > 4 && "--pythonwarnings".starts_with(option));
        if warnings && scripts::imports_category(value) {
            return Err(audit::refuse("pytest", "-W", &shown));
        }
    }
    args::check_operands(workspace, &parsed.operands)
}

fn make(name: &str, args: &[String], workspace: &Path) -> Result<(), Refusal> {
    let spec = Spec {
        short_values: "fCIjlWoE",
        long_values: "--file --makefile --directory --include-dir --jobs --load-average --what-if --new-file --assume-new --old-file --assume-old",
        text: "-j --jobs -l --load-average",
    };
    let parsed = args::parse(name, args, &spec, workspace)?;
    // Make reads a `NAME=value` argument as make code, which can run anything
    // (`X:=$(shell …)`, `SHELL=prog`); only the workspace's makefile may say what runs.
    // Every word is looked at, not only operands: `-j`, `-l` and `-O` take an optional
    // value, so `make -j X=…` is an assignment to make, not a value of `-j`.
    if let Some(code) = args
        .iter()
        .find(|a| !a.starts_with('-') && (a.contains('=') || a.contains('$')))
    {
        let form = if code.starts_with("SHELL=") {
            "SHELL="
        } else {
            "NAME=VALUE"
        };
        return Err(audit::refuse(name, form, code));
    }
    args::check_operands(workspace, &parsed.operands)
}
