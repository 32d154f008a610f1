//! The audit of every program `safe` and `restricted` mode run: each option (or operand
//! form) that runs another program, loads code, writes files, reads outside the
//! workspace or follows symbolic links out of it, as the program's own manual describes
//! it, with the verdict the policy gives it. Programs that stay off the lists for such a
//! reason are here too.
//!
//! The table is not only documentation: an entry whose [`Form::Flags`] are refused is
//! what `args::parse` refuses (for that program, in any abbreviation of a long option);
//! an entry with a [`Form::Rule`] is enforced by the program's own rule in `readonly`,
//! `restricted` or `restricted/scripts`. Every entry carries an example command, and the
//! unit test below runs each example through [`super::evaluate`] in the entry's mode
//! and checks the verdict, so an entry cannot say more than the policy does.
//!
//! Manuals read: the Debian 12 man pages (GNU coreutils 9.1, grep 3.8, findutils 4.9,
//! diffutils 3.8, file 5.44 and its source, binutils 2.40, tree 2.1, make 4.3 and the
//! GNU make manual, git 2.47, ripgrep 13) and ripgrep 14's `rg --help`; `cargo help`
//! (1.95), `npm help config` (npm 11), `pip --help` (pip 23), `pytest --help`
//! (pytest 9), `python3 --help-xoptions` (3.11), `node --help` (20).

use super::rule;

/// What an option does that matters to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Starts another program (a pager, editor, decompressor, shell, signer …).
    RunsProgram,
    /// Imports or loads code named on the command line (a plugin, module, reporter).
    LoadsCode,
    /// Creates, changes or deletes files.
    WritesFiles,
    /// Reads a file whose name the policy cannot check, or one outside the workspace.
    ReadsOutside,
    /// Follows symbolic links while walking directories.
    FollowsLinks,
    /// Uses the network or changes the system.
    Network,
}

impl Effect {
    fn says(self) -> &'static str {
        match self {
            Self::RunsProgram => "runs another program",
            Self::LoadsCode => "loads code named on the command line",
            Self::WritesFiles => "writes files",
            Self::ReadsOutside => "reads files the policy cannot check",
            Self::FollowsLinks => {
                "follows symbolic links while walking directories, which can leave the workspace"
            }
            Self::Network => "uses the network or changes the system",
        }
    }
}

/// How the policy treats an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Refused with this rule id wherever it appears.
    Refused(&'static str),
    /// Allowed only when its value or operand resolves inside the workspace (the example
    /// names a path outside, and must be refused with `outside-workspace`).
    InsideOnly,
    /// Allowed: it runs the workspace's own project code (build scripts, test files,
    /// Makefile recipes, package scripts, repository hooks and filters), which is what
    /// `restricted` mode exists for (SPEC §7); the sandbox bounds it. The example runs.
    ProjectCode,
}

/// What an entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// These option spellings; `args::parse` refuses them when the verdict is `Refused`.
    Flags(&'static [&'static str]),
    /// A form the program's own rule checks (described here).
    Rule(&'static str),
}

/// Where an entry applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A `safe` program, so also in `restricted` mode.
    Safe,
    /// Only in `restricted` mode.
    Restricted,
}

/// One audited option.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// The program (alternatives separated by `/`); `git` also covers `git SUBCOMMAND`.
    pub program: &'static str,
    pub form: Form,
    pub effect: Effect,
    pub verdict: Verdict,
    #[cfg_attr(not(test), allow(dead_code))]
    pub mode: Mode,
    /// What the manual says, and where.
    pub manual: &'static str,
    /// A command that uses it, run by the test in `mode`. (`mode` and `example` are
    /// the entry's proof, read only by the test.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub example: &'static str,
}

const OPTION: Verdict = Verdict::Refused(rule::OPTION_NOT_ALLOWED);
const NOT_READ_ONLY: Verdict = Verdict::Refused(rule::NOT_READ_ONLY);
const OUTSIDE: Verdict = Verdict::Refused(rule::OUTSIDE_WORKSPACE);
const NOT_LISTED: Verdict = Verdict::Refused(rule::PROGRAM_NOT_ALLOWED);
const SUBCOMMAND: Verdict = Verdict::Refused(rule::SUBCOMMAND_NOT_ALLOWED);
const INSIDE: Verdict = Verdict::InsideOnly;
const PROJECT: Verdict = Verdict::ProjectCode;

use Effect::{FollowsLinks, LoadsCode, Network, ReadsOutside, RunsProgram, WritesFiles};
use Form::{Flags, Rule};
use Mode::{Restricted, Safe};

const fn e(
    program: &'static str,
    form: Form,
    effect: Effect,
    verdict: Verdict,
    mode: Mode,
    manual: &'static str,
    example: &'static str,
) -> Entry {
    Entry {
        program,
        form,
        effect,
        verdict,
        mode,
        manual,
        example,
    }
}

/// The audit. Grouped by program; one line per option.
#[rustfmt::skip]
pub(super) const AUDIT: &[Entry] = &[
    // ripgrep
    e("rg", Flags(&["--pre"]), RunsProgram, OPTION, Safe, "rg(1): --pre COMMAND: search the output of COMMAND FILE instead of FILE", "rg --pre ./build.sh x src"),
    e("rg", Flags(&["--hostname-bin"]), RunsProgram, OPTION, Safe, "rg 14 --help: --hostname-bin=COMMAND: run COMMAND to find the host name for hyperlinks", "rg --hostname-bin ./build.sh x src"),
    e("rg", Flags(&["-z", "--search-zip"]), RunsProgram, OPTION, Safe, "rg(1): -z, --search-zip: expects the decompression binaries to be available in your PATH", "rg -z x src"),
    e("rg", Flags(&["-L", "--follow"]), FollowsLinks, OUTSIDE, Safe, "rg(1): -L, --follow: follow symbolic links while traversing directories", "rg -L x"),
    e("rg", Rule("--ignore-file PATH, -f/--file PATTERNFILE: values are paths"), ReadsOutside, INSIDE, Safe, "rg(1): --ignore-file PATH; -f, --file PATTERNFILE", "rg --ignore-file /etc/passwd x src"),
    // grep
    e("grep/egrep/fgrep", Flags(&["-R", "--dereference-recursive"]), FollowsLinks, OUTSIDE, Safe, "grep(1): -R: follow all symbolic links, unlike -r", "grep -R x ."),
    e("grep/egrep/fgrep", Rule("-f FILE, --exclude-from FILE: values are paths"), ReadsOutside, INSIDE, Safe, "grep(1): -f FILE: obtain patterns from FILE", "grep -f /etc/passwd x src"),
    // sort
    e("sort", Flags(&["--compress-program"]), RunsProgram, OPTION, Safe, "sort(1): --compress-program=PROG: compress temporaries with PROG", "sort --compress-program=./build.sh README.md"),
    e("sort", Flags(&["-o", "--output"]), WritesFiles, NOT_READ_ONLY, Safe, "sort(1): -o, --output=FILE: write result to FILE", "sort -o out.txt README.md"),
    e("sort", Flags(&["-T", "--temporary-directory"]), WritesFiles, NOT_READ_ONLY, Safe, "sort(1): -T, --temporary-directory=DIR: use DIR for temporaries", "sort -T src README.md"),
    e("sort", Rule("--random-source FILE: a path"), ReadsOutside, INSIDE, Safe, "sort(1): --random-source=FILE: get random bytes from FILE", "sort --random-source=/etc/passwd README.md"),
    e("sort/wc/du", Rule("--files0-from=F: reads the names of its input files from F"), ReadsOutside, OUTSIDE, Safe, "sort(1), wc(1), du(1): --files0-from=F", "wc --files0-from=notes/a.txt"),
    // file
    e("file", Flags(&["-z", "-Z", "--uncompress", "--uncompress-noreport"]), RunsProgram, OPTION, Safe, "file(1): -z: look inside compressed files (file's compress.c spawns gzip, xz, zstd … for formats without a built-in decoder)", "file -z README.md"),
    e("file", Flags(&["-C", "--compile"]), WritesFiles, NOT_READ_ONLY, Safe, "file(1): -C, --compile: write a magic.mgc output file", "file -C -m notes"),
    e("file", Flags(&["-f", "--files-from"]), ReadsOutside, OUTSIDE, Safe, "file(1): -f, --files-from namefile: read the names of the files to examine", "file -f notes/a.txt"),
    e("file", Rule("-m, --magic-file LIST: a path"), ReadsOutside, INSIDE, Safe, "file(1): -m, --magic-file magicfiles", "file -m /etc/magic README.md"),
    // find
    e("find", Flags(&["-exec", "-execdir", "-ok", "-okdir"]), RunsProgram, NOT_READ_ONLY, Safe, "find(1): ACTIONS: -exec command ;  -execdir  -ok  -okdir", "find . -exec cat {} +"),
    e("find", Flags(&["-delete"]), WritesFiles, NOT_READ_ONLY, Safe, "find(1): -delete: delete files", "find . -delete"),
    e("find", Flags(&["-fprint", "-fprint0", "-fprintf", "-fls"]), WritesFiles, NOT_READ_ONLY, Safe, "find(1): -fprint file: print the file name into file", "find . -fprint listing.txt"),
    e("find", Flags(&["-L", "-follow"]), FollowsLinks, OUTSIDE, Safe, "find(1): -L: follow symbolic links", "find -L . -name x"),
    e("find", Flags(&["-files0-from"]), ReadsOutside, OUTSIDE, Safe, "find(1): -files0-from file: read the starting points from file", "find -files0-from notes/a.txt"),
    e("find", Rule("-newer, -anewer, -cnewer, -samefile, -newerXY FILE: paths"), ReadsOutside, INSIDE, Safe, "find(1): -newer reference", "find . -newer /etc/passwd"),
    // tree
    e("tree", Flags(&["-o"]), WritesFiles, NOT_READ_ONLY, Safe, "tree(1): -o filename: send output to filename", "tree -o out.txt"),
    e("tree", Flags(&["-R"]), WritesFiles, NOT_READ_ONLY, Safe, "tree(1): -R: recursively cross down the tree each level directories, at each level outputting to a file named 00Tree.html", "tree -R -H . src"),
    e("tree", Flags(&["-l"]), FollowsLinks, OUTSIDE, Safe, "tree(1): -l: follow symbolic links like directories", "tree -l"),
    e("tree", Rule("--fromfile: operands are files holding a listing"), ReadsOutside, INSIDE, Safe, "tree(1): --fromfile: read paths from files", "tree --fromfile /etc/passwd"),
    // du, diff, ls, checksums, strings, date, uniq
    e("du", Flags(&["-L", "--dereference"]), FollowsLinks, OUTSIDE, Safe, "du(1): -L, --dereference: dereference all symbolic links", "du -L ."),
    e("du", Rule("-X, --exclude-from FILE: a path"), ReadsOutside, INSIDE, Safe, "du(1): -X, --exclude-from=FILE", "du -X /etc/passwd ."),
    e("diff", Rule("-r without --no-dereference"), FollowsLinks, OUTSIDE, Safe, "diff(1): -r, --recursive; --no-dereference: don't follow symbolic links", "diff -r src notes"),
    e("diff", Rule("--from-file, --to-file FILE: paths"), ReadsOutside, INSIDE, Safe, "diff(1): --from-file=FILE1, --to-file=FILE2", "diff --to-file=/etc/passwd README.md"),
    e("ls", Rule("-R together with -L"), FollowsLinks, OUTSIDE, Safe, "ls(1): -L, --dereference; -R, --recursive", "ls -R -L"),
    e("md5sum/sha1sum/sha224sum/sha256sum/sha384sum/sha512sum/b2sum/cksum", Flags(&["-c", "--check"]), ReadsOutside, OUTSIDE, Safe, "sha256sum(1): -c, --check: read checksums (and file names) from the FILEs", "sha256sum -c notes/a.txt"),
    e("strings", Rule("@FILE operand: options read from FILE"), ReadsOutside, OUTSIDE, Safe, "strings(1): @file: read command-line options from file", "strings @notes/a.txt"),
    e("date", Flags(&["-s", "--set"]), Network, NOT_READ_ONLY, Safe, "date(1): -s, --set=STRING: set time described by STRING", "date -s 2020-01-01"),
    e("date", Rule("-f, --file / -r, --reference FILE: paths"), ReadsOutside, INSIDE, Safe, "date(1): -f, --file=DATEFILE; -r, --reference=FILE", "date -r /etc/passwd"),
    e("uniq", Rule("a second operand (OUTPUT)"), WritesFiles, NOT_READ_ONLY, Safe, "uniq(1): uniq [OPTION]... [INPUT [OUTPUT]]", "uniq README.md out.txt"),
    // Programs kept off both lists.
    e("less/more", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "less(1): !command runs a shell command; LESSOPEN runs an input preprocessor", "less README.md"),
    e("tar", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "tar(1): --to-command, -I/--use-compress-program, --checkpoint-action=exec; and it writes files", "tar -tf x.tar"),
    e("awk/gawk/mawk", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "awk(1): system(), \"cmd\" | getline, print > file", "awk 'BEGIN { print 1 }'"),
    e("sed", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "sed(1): the e command runs a shell command; w writes a file; -i edits in place", "sed -n p README.md"),
    e("xargs", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "xargs(1): runs COMMAND with arguments read from input", "xargs cat"),
    e("fd/fdfind", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "fd(1): -x, --exec and -X, --exec-batch run a command per result", "fd x"),
    e("sdiff/diff3", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "sdiff(1), diff3(1): --diff-program=PROGRAM; sdiff writes merged output (-o)", "sdiff README.md notes/a.txt"),
    e("env/printenv", Rule("the program"), RunsProgram, NOT_LISTED, Safe, "env(1): runs COMMAND in a changed environment, or prints the environment", "env"),
    // make
    e("make/gmake", Rule("NAME=VALUE operands (=, :=, ::=, +=, ?=, !=) and operands with `$`: command-line make code"), RunsProgram, OPTION, Restricted, "GNU make manual 9.5 Overriding Variables (a NAME=VALUE argument is make code) and 8.13 The shell Function", "make 'X:=$(shell id)' all"),
    e("make/gmake", Rule("SHELL=PROGRAM operand"), RunsProgram, OPTION, Restricted, "GNU make manual 5.3.2 Choosing the Shell: recipes run with the program in SHELL", "make SHELL=./build.sh test"),
    e("make/gmake", Flags(&["--eval", "-E"]), RunsProgram, OPTION, Restricted, "GNU make manual 9.8 Options Summary: -E string, --eval=string: evaluate string as makefile syntax", "make --eval 'x:;@id' x"),
    e("make/gmake", Rule("-f FILE, -C DIR, -I DIR: paths"), ReadsOutside, INSIDE, Restricted, "make(1): -f file, -C dir, -I dir", "make -f /tmp/Makefile"),
    e("make/gmake", Rule("targets: the workspace Makefile's recipes"), RunsProgram, PROJECT, Restricted, "make(1): runs the recipes of the makefile in the working directory", "make test"),
    // git
    e("git", Rule("-c NAME=VALUE, --config-env (core.pager, core.fsmonitor, alias.x=!cmd …)"), RunsProgram, OPTION, Restricted, "git(1): -c <name>=<value>: pass a configuration parameter", "git -c core.fsmonitor=./build.sh status"),
    e("git", Rule("--exec-path=DIR"), RunsProgram, OPTION, Restricted, "git(1): --exec-path[=<path>]: where the core git programs are", "git --exec-path=src status"),
    e("git", Rule("-p, --paginate"), RunsProgram, OPTION, Restricted, "git(1): -p, --paginate: pipe all output into less (or $PAGER)", "git -p log"),
    e("git", Rule("-C, --git-dir, --work-tree: paths"), ReadsOutside, INSIDE, Restricted, "git(1): -C <path>, --git-dir=<path>, --work-tree=<path>", "git -C / status"),
    e("git", Flags(&["--ext-diff"]), RunsProgram, OPTION, Restricted, "git-diff(1): --ext-diff: allow an external diff helper to be executed", "git diff --ext-diff"),
    e("git", Flags(&["--textconv"]), RunsProgram, OPTION, Restricted, "git-cat-file(1), git-blame(1), git-log(1): --textconv: run the configured textconv filter", "git cat-file --textconv HEAD:README.md"),
    e("git", Flags(&["--filters"]), RunsProgram, OPTION, Restricted, "git-cat-file(1): --filters: run the configured filters (smudge, eol)", "git cat-file --filters HEAD:README.md"),
    e("git", Flags(&["-O", "--open-files-in-pager"]), RunsProgram, OPTION, Restricted, "git-grep(1): -O[<pager>]: open the matching files in the pager", "git grep -O x"),
    e("git", Flags(&["--output"]), WritesFiles, OPTION, Restricted, "git-diff(1), git-log(1): --output=<file>: output to a specific file", "git diff --output=out.patch"),
    e("git", Flags(&["--gpg-sign", "--show-signature"]), RunsProgram, OPTION, Restricted, "git-commit(1): -S, --gpg-sign; git-log(1): --show-signature: run gpg.program", "git log --show-signature"),
    e("git commit", Flags(&["-S"]), RunsProgram, OPTION, Restricted, "git-commit(1): -S[<keyid>], --gpg-sign: GPG-sign the commit with gpg.program", "git commit -S -m x"),
    e("git tag", Flags(&["-s", "-u", "-v", "--sign", "--local-user", "--verify"]), RunsProgram, OPTION, Restricted, "git-tag(1): -s, --sign; -u <key-id>; -v, --verify: run gpg.program", "git tag -s v1 -m x"),
    e("git commit/git tag", Flags(&["-e"]), RunsProgram, OPTION, Restricted, "git-commit(1), git-tag(1): -e, --edit: open core.editor", "git commit -e -m x"),
    e("git", Flags(&["--edit", "--edit-description"]), RunsProgram, OPTION, Restricted, "git-commit(1): --edit; git-branch(1): --edit-description: open core.editor", "git branch --edit-description"),
    e("git", Flags(&["--upload-pack", "--receive-pack", "--exec"]), RunsProgram, OPTION, Restricted, "git-fetch(1), git-push(1): --upload-pack, --receive-pack, --exec=<program>", "git log --upload-pack=./build.sh"),
    e("git", Rule("hooks, diff.external, filters, fsmonitor in the repository's own configuration"), RunsProgram, PROJECT, Restricted, "githooks(5), gitattributes(5), git-config(1): configured by the repository itself", "git status"),
    e("git", Rule("push, pull, fetch, clone, remote, config, credential …"), Network, SUBCOMMAND, Restricted, "git(1): subcommands that use the network or change configuration", "git push origin main"),
    // cargo
    e("cargo", Rule("+TOOLCHAIN"), RunsProgram, OPTION, Restricted, "cargo(1): +toolchain: run another rustup toolchain", "cargo +nightly build"),
    e("cargo", Flags(&["--config"]), RunsProgram, OPTION, Restricted, "cargo(1): --config KEY=VALUE (target.runner, build.rustc-wrapper name programs)", "cargo build --config 'target.x.runner=\"sh\"'"),
    e("cargo", Flags(&["-Z"]), RunsProgram, OPTION, Restricted, "cargo(1): -Z FLAG: unstable nightly-only flags", "cargo build -Z unstable-options"),
    e("cargo", Flags(&["--open"]), RunsProgram, OPTION, Restricted, "cargo-doc(1): --open: open the docs in a browser", "cargo doc --open"),
    e("cargo", Flags(&["--registry", "--index"]), Network, OPTION, Restricted, "cargo(1): --registry, --index: talk to a registry", "cargo build --registry x"),
    e("cargo clippy", Rule("arguments after -- other than lint levels (-A -W -D -F, --cap-lints)"), RunsProgram, OPTION, Restricted, "cargo-clippy: arguments after -- go to clippy-driver, which passes them to rustc (-C linker=PROGRAM)", "cargo clippy -- -C linker=./build.sh"),
    e("cargo", Rule("--manifest-path, --target-dir: paths"), ReadsOutside, INSIDE, Restricted, "cargo-build(1): --manifest-path PATH, --target-dir DIR", "cargo build --manifest-path /tmp/Cargo.toml"),
    e("cargo", Rule("build scripts, proc macros, tests, benches, the built binary"), RunsProgram, PROJECT, Restricted, "cargo-build(1), cargo-test(1): build.rs runs before the build", "cargo test"),
    e("cargo", Rule("install, publish, new, add, update …"), Network, SUBCOMMAND, Restricted, "cargo(1): subcommands that install, publish or change dependencies", "cargo install ripgrep"),
    // npm
    e("npm", Rule("--script-shell and every config option not on npm's short list (--shell, --node-options, --userconfig, -c …)"), RunsProgram, OPTION, Restricted, "npm-config(7): script-shell, shell, node-options, userconfig, call", "npm run build --script-shell=./build.sh"),
    e("npm", Rule("--node-options=OPTIONS"), LoadsCode, OPTION, Restricted, "npm-config(7): node-options: passed to node for every script (--require)", "npm test --node-options=--require=./app.js"),
    e("npm", Rule("install, ci, exec, update: package install scripts and downloads"), RunsProgram, SUBCOMMAND, Restricted, "npm-install(1): runs the packages' install scripts", "npm install left-pad"),
    e("npm", Rule("test, run, start: the scripts of the workspace's package.json"), RunsProgram, PROJECT, Restricted, "npm-run-script(1)", "npm test"),
    // pip
    e("pip/pip3", Flags(&["--python"]), RunsProgram, OPTION, Restricted, "pip --help: --python <python>: run pip with the specified Python interpreter", "pip list --python python3"),
    e("pip/pip3", Rule("install, download, wheel: run setup.py and build backends"), RunsProgram, SUBCOMMAND, Restricted, "pip-install: builds source distributions by running their build backend", "pip install requests"),
    // pytest
    e("pytest/py.test", Rule("-p NAME (not -p no:NAME)"), LoadsCode, OPTION, Restricted, "pytest --help: -p name: early-load given plugin module name or entry point", "pytest -p evil tests"),
    e("pytest/py.test", Flags(&["-o", "--override-ini"]), LoadsCode, OPTION, Restricted, "pytest --help: -o, --override-ini: override ini options (addopts, cache_dir, pythonpath …)", "pytest -o addopts=-pevil tests"),
    e("pytest/py.test", Flags(&["--pyargs"]), LoadsCode, OPTION, Restricted, "pytest --help: --pyargs: interpret all arguments as Python packages", "pytest --pyargs antigravity"),
    e("pytest/py.test", Flags(&["--pdbcls"]), LoadsCode, OPTION, Restricted, "pytest --help: --pdbcls=modulename:classname", "pytest --pdbcls=evil:Pdb tests"),
    e("pytest/py.test", Flags(&["--pastebin"]), Network, OPTION, Restricted, "pytest --help: --pastebin=mode: send failed|all info to bpaste.net", "pytest --pastebin=all"),
    e("pytest/py.test", Rule("-W ACTION::CATEGORY with a dotted category"), LoadsCode, OPTION, Restricted, "pytest --help: -W PYTHONWARNINGS; the category's module is imported", "pytest -W error::evil.Warning tests"),
    e("pytest/py.test", Rule("--junitxml, --log-file, --basetemp, --debug=FILE, --rootdir, --confcutdir, -c: paths"), WritesFiles, INSIDE, Restricted, "pytest --help: --junit-xml=path, --log-file, --basetemp=dir (removed if it exists)", "pytest --junitxml=/tmp/r.xml"),
    e("pytest/py.test", Rule("--cov-report TYPE:DEST (pytest-cov): DEST is a path"), WritesFiles, INSIDE, Restricted, "pytest-cov: --cov-report=html:DIR writes the report into DIR", "pytest --cov-report=html:/tmp/cov tests"),
    e("pytest/py.test", Rule("test files and conftest.py of the workspace"), LoadsCode, PROJECT, Restricted, "pytest: collects test_*.py and conftest.py", "pytest tests"),
    // python
    e("python/python3", Rule("-c CODE, - (stdin), -i"), RunsProgram, OPTION, Restricted, "python(1): -c command; - reads stdin; -i inspects interactively", "python3 -c 'print(1)'"),
    e("python/python3", Rule("-m MODULE other than pytest and unittest"), LoadsCode, OPTION, Restricted, "python(1): -m module-name: run a library module as a script", "python3 -m http.server"),
    e("python/python3", Rule("-m unittest NAME: NAME must be a workspace module or file"), LoadsCode, OPTION, Restricted, "python -m unittest -h: a module, class or method name is imported", "python3 -m unittest antigravity"),
    e("python/python3", Rule("-W ACTION::CATEGORY with a dotted category"), LoadsCode, OPTION, Restricted, "python(1): -W arg; the warnings docs: a dotted category is imported", "python3 -W ignore::evil.Warning tests/test_app.py"),
    e("python/python3", Rule("-X OPTION other than dev, utf8, importtime, faulthandler, tracemalloc, warn_default_encoding, no_debug_ranges, int_max_str_digits, frozen_modules"), WritesFiles, OPTION, Restricted, "python3 --help-xoptions: -X pycache_prefix=PATH writes .pyc there; -X presite=MOD imports MOD", "python3 -X pycache_prefix=/tmp tests/test_app.py"),
    e("python/python3", Rule("a script file inside the workspace"), RunsProgram, PROJECT, Restricted, "python(1): python script", "python3 tests/test_app.py"),
    // node
    e("node/nodejs", Rule("-e, -p, --eval, --print, -i, -"), RunsProgram, OPTION, Restricted, "node(1): -e, --eval script; -p, --print script", "node -e 'process.exit(1)'"),
    e("node/nodejs", Rule("-r, --require, --import, --loader"), LoadsCode, OPTION, Restricted, "node(1): -r, --require module; --import=module; --loader", "node --import=./app.js app.js"),
    e("node/nodejs", Rule("--test-reporter=MODULE other than spec, tap, dot, junit, lcov"), LoadsCode, OPTION, Restricted, "node --help: --test-reporter: a built-in reporter or a module specifier", "node --test --test-reporter=./app.js"),
    e("node/nodejs", Rule("a script file inside the workspace"), RunsProgram, PROJECT, Restricted, "node(1): node script.js", "node app.js"),
    // sh, bash
    e("sh/bash", Rule("-c STRING, -i, -s, --rcfile, --init-file"), RunsProgram, OPTION, Restricted, "bash(1): -c string; --rcfile file; -s reads commands from stdin", "bash -c ls"),
    e("sh/bash", Rule("a script file inside the workspace"), RunsProgram, PROJECT, Restricted, "bash(1): bash file", "bash build.sh"),
];

/// Whether `entry` covers `program` (a name such as `rg`, or `git commit`).
fn covers(entry: &Entry, program: &str) -> bool {
    entry.program.split('/').any(|p| {
        program == p
            || program
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// The refusal for `option` (as typed: `-z`, or a possibly abbreviated `--search`) of
/// `program`, if the audit refuses it.
pub(super) fn refused_flag(program: &str, option: &str) -> Option<super::Refusal> {
    AUDIT.iter().filter(|e| covers(e, program)).find_map(|e| {
        let (Form::Flags(flags), Verdict::Refused(rule)) = (e.form, e.verdict) else {
            return None;
        };
        let spelled = flags.iter().find(|f| {
            if option.starts_with("--") {
                f.starts_with("--") && option.len() > 2 && f.starts_with(option)
            } else {
                **f == option
            }
        })?;
        Some(refusal(e, spelled, rule))
    })
}

/// The refusal an entry's own rule gives (for [`Form::Rule`] entries enforced in code),
/// found by its program and a word of its form.
pub(super) fn refuse(program: &str, form_starts: &str, shown: &str) -> super::Refusal {
    let entry = AUDIT.iter().find(|e| {
        covers(e, program) && matches!(e.form, Form::Rule(f) if f.starts_with(form_starts))
    });
    match entry {
        Some(e) => {
            let rule = match e.verdict {
                Verdict::Refused(rule) => rule,
                _ => rule::OPTION_NOT_ALLOWED,
            };
            refusal(e, shown, rule)
        }
        // Every caller names an entry that exists (the table test runs each one); stay
        // fail-closed if one is renamed.
        None => super::Refusal::new(
            rule::OPTION_NOT_ALLOWED,
            format!("`{program} {shown}` is not allowed"),
        ),
    }
}

fn refusal(entry: &Entry, shown: &str, rule: &'static str) -> super::Refusal {
    let program = entry.program.split('/').next().unwrap_or(entry.program);
    super::Refusal::new(
        rule,
        format!(
            "`{program} {shown}` {} ({}); this mode runs only what the command itself names",
            entry.effect.says(),
            entry.manual
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::YoloMode;
    use crate::runner::policy::tests::{rule_of, workspace};

    /// One check per entry: its example gets the entry's verdict in its mode (and, for a
    /// `safe` entry, in `restricted` mode too).
    #[test]
    fn every_audit_entry_holds() {
        let (_dir, ws) = workspace();
        let mut failures = Vec::new();
        for entry in AUDIT {
            let want = match entry.verdict {
                Verdict::Refused(rule) => Some(rule),
                Verdict::InsideOnly => Some(rule::OUTSIDE_WORKSPACE),
                Verdict::ProjectCode => None,
            };
            let modes: &[YoloMode] = match entry.mode {
                Mode::Safe => &[YoloMode::Safe, YoloMode::Restricted],
                Mode::Restricted => &[YoloMode::Restricted],
            };
            for mode in modes {
                let got = rule_of(entry.example, *mode, &ws);
                if got != want {
                    failures.push(format!(
                        "{} {:?} ({:?}): {:?} in {} mode: want {want:?}, got {got:?}",
                        entry.program,
                        entry.form,
                        entry.effect,
                        entry.example,
                        mode.as_str()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every refused spelling is refused however it is written: alone, with `=value`,
    /// and (for long options) abbreviated.
    #[test]
    fn refused_flags_are_refused_in_every_spelling() {
        for entry in AUDIT {
            let (Form::Flags(flags), Verdict::Refused(_)) = (entry.form, entry.verdict) else {
                continue;
            };
            let program = entry.program.split('/').next().unwrap_or_default();
            for flag in flags {
                let mut spellings = vec![flag.to_string(), format!("{flag}=x")];
                if flag.starts_with("--") && flag.len() > 4 {
                    spellings.push(flag[..flag.len() - 1].to_string());
                }
                for spelled in spellings {
                    let option = spelled.split('=').next().unwrap_or_default();
                    assert!(
                        refused_flag(program, option).is_some(),
                        "{program} {spelled}"
                    );
                }
            }
        }
    }

    #[test]
    fn refusals_cite_the_manual() {
        let refusal = refused_flag("rg", "--hostname-bin").expect("refused");
        assert_eq!(refusal.rule, rule::OPTION_NOT_ALLOWED);
        assert!(
            refusal.detail.contains("runs another program"),
            "{}",
            refusal.detail
        );
        assert!(refusal.detail.contains("rg 14"), "{}", refusal.detail);
        assert!(
            refused_flag("git log", "-S").is_none(),
            "-S is pickaxe in git log"
        );
        assert!(refused_flag("git commit", "-S").is_some());
    }
}
