//! The `safe` mode list: read-only programs and, per program, the options that would
//! write, run other programs, follow symbolic links out of a recursive walk, or read
//! file names from a file (which a static check cannot see).
//!
//! Listed programs (all run directly, never through a shell):
//! `ls cat head tail wc grep egrep fgrep rg find pwd stat file diff cmp tree du df sort
//! uniq cut nl tac rev fold fmt column expand unexpand od hexdump strings comm join paste
//! tr md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum base64 base32
//! realpath readlink which date echo printf basename dirname seq expr true false sleep
//! numfmt whoami id uname nproc arch`.
//!
//! Never in `safe`: `env`/`printenv`/`set`/`export` (they print or change the
//! environment), shells and interpreters, `awk`/`sed`/`xargs` (they run code or write
//! files), editors and pagers, anything that writes, deletes or uses the network.

use std::path::Path;

use super::args::{self, Spec, listed};
use super::simple::{self, Program};
use super::{Refusal, audit, rule};

const FOLLOWS: &str =
    "follows symbolic links while walking directories, which can leave the workspace";

use Operands::{Paths, Pattern, Text};

/// How a listed program's operands are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// Each may name a file: it must resolve inside the workspace.
    Paths,
    /// Text only (`echo`, `basename` …): not checked, nothing is opened.
    Text,
    /// The first is a pattern unless `-e`/`-f` gave one; the rest are paths.
    Pattern,
}

/// The `safe` list: programs (space-separated), their short options that take a value,
/// their long options that take the next word as their value, the options whose value
/// is free text rather than a path, and how their operands are treated. The options
/// they must never get are in `audit`.
#[rustfmt::skip]
const PROGRAMS: &[(&str, &str, &str, &str, Operands)] = &[
    ("cat wc rev realpath readlink which comm", "", "", "--output-delimiter", Paths),
    ("md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum", "la", "", "", Paths),
    ("echo printf basename dirname seq expr true false sleep numfmt whoami id uname nproc arch pwd tr", "", "", "", Text),
    ("ls", "ITw", "--ignore --hide --format --sort --time-style --block-size --tabsize --width --quoting-style --indicator-style --time", "-I --ignore --hide --time-style --format --sort", Paths),
    ("head tail", "ncs", "--lines --bytes --pid --sleep-interval --max-unchanged-stats", "", Paths),
    ("grep egrep fgrep", "efmABCdD", "--regexp --file --max-count --after-context --before-context --context --directories --devices --include --exclude --exclude-from --exclude-dir --label --binary-files --group-separator", "-e --regexp --include --exclude --exclude-dir --label --group-separator -d -D --directories --devices --binary-files", Pattern),
    ("rg", "efgjmtTABCMErd", "--regexp --file --glob --iglob --type --type-not --type-add --type-clear --max-count --max-depth --threads --replace --after-context --before-context --context --encoding --max-columns --max-filesize --ignore-file --path-separator --sort --sortr --colors --context-separator --field-match-separator --field-context-separator --pre-glob --engine --dfa-size-limit --regex-size-limit", "-e --regexp -g --glob --iglob -t -T --type --type-not --type-add --type-clear -r --replace --pre-glob --sort --sortr --colors --context-separator --field-match-separator --field-context-separator --path-separator -E --encoding --engine", Pattern),
    ("stat", "c", "--format --printf", "-c --format --printf", Paths),
    ("file", "eFfmP", "--exclude --exclude-quiet --separator --files-from --magic-file --parameter", "-e -F -P --exclude --exclude-quiet --separator --parameter", Paths),
    ("diff", "CUFIxXSDLW", "--label --ifdef --exclude --exclude-from --ignore-matching-lines --show-function-line --starting-file --from-file --to-file --tabsize --width --horizon-lines --line-format --old-line-format --new-line-format --unchanged-line-format --old-group-format --new-group-format --unchanged-group-format --changed-group-format --palette", "-F -I -x -S -D -L --label --ifdef --exclude --ignore-matching-lines --show-function-line --starting-file --line-format --old-line-format --new-line-format --unchanged-line-format --old-group-format --new-group-format --unchanged-group-format --changed-group-format --palette", Paths),
    ("cmp", "in", "", "", Paths),
    ("tree", "LPIoHT", "--filelimit --timefmt --charset --sort", "-P -I -H -T --timefmt --charset --sort", Paths),
    ("du", "BdtX", "--block-size --max-depth --threshold --exclude --exclude-from --time-style", "-B -t --block-size --threshold --exclude --time-style", Paths),
    ("df", "Btx", "--block-size --type --exclude-type", "-B -t -x --block-size --type --exclude-type --output", Paths),
    ("sort", "kotST", "--key --output --field-separator --buffer-size --temporary-directory --parallel --random-source --compress-program --sort --batch-size", "-k --key -t --field-separator -S --buffer-size --parallel --sort --batch-size", Paths),
    ("uniq", "fsw", "--skip-fields --skip-chars --check-chars", "", Paths),
    ("cut", "bcfd", "--bytes --characters --fields --delimiter --output-delimiter", "-b -c -f -d --bytes --characters --fields --delimiter --output-delimiter", Paths),
    // The union of these programs' value-taking short options. Their values (separators,
    // widths, counts) are still path-checked: a letter that is a plain flag in one of
    // them must not let the next operand go unchecked.
    ("nl tac fold fmt column expand unexpand paste join od hexdump strings base64 base32", "abdefghijlnoprstvwxACEHNRST12", "--separator --delimiters --output-separator --table-columns --width --tabs", "", Paths),
    ("date", "dfrs", "--date --file --reference --set", "-d --date", Paths),
];

/// The spec of a listed program, or `None` when it is not in `safe`.
fn spec(name: &str) -> Option<(Spec, Operands)> {
    PROGRAMS.iter().find(|p| listed(p.0, name)).map(
        |&(_, short_values, long_values, text, operands)| {
            let spec = Spec {
                short_values,
                long_values,
                text,
            };
            (spec, operands)
        },
    )
}

/// Checks a command in `safe` mode.
pub(super) fn check(argv: &[String], workspace: &Path) -> Result<(), Refusal> {
    let Some(argv0) = argv.first() else {
        return Err(Refusal::new(rule::EMPTY_COMMAND, "the command is empty"));
    };
    match simple::program(argv0, workspace, false)? {
        Program::Named(name) => check_named(&name, argv, workspace, false),
        Program::Script(_) => Err(Refusal::new(
            rule::PROGRAM_NOT_ALLOWED,
            "safe mode does not run workspace programs",
        )),
    }
}

/// Checks `argv`, whose program is `name`, against the `safe` list; `in_restricted`
/// only changes what a refusal suggests.
pub(super) fn check_named(
    name: &str,
    argv: &[String],
    workspace: &Path,
    in_restricted: bool,
) -> Result<(), Refusal> {
    let args = argv.get(1..).unwrap_or_default();
    if name == "find" {
        return find(args, workspace);
    }
    let Some((spec, operands)) = spec(name) else {
        return Err(not_listed(name, in_restricted));
    };
    if operands == Operands::Text {
        return Ok(());
    }
    // binutils expands every `@FILE` argument into the options in FILE.
    if name == "strings"
        && let Some(file) = args.iter().find(|a| a.starts_with('@'))
    {
        return Err(audit::refuse("strings", "@FILE", file));
    }
    let parsed = args::parse(name, args, &spec, workspace)?;
    let mut files = parsed.operands.as_slice();
    match name {
        "ls" if parsed.saw(&["-R", "--recursive"]) && parsed.saw(&["-L", "--dereference"]) => {
            return Err(Refusal::new(
                rule::OUTSIDE_WORKSPACE,
                format!("`ls -R -L` {FOLLOWS}"),
            ));
        }
        "diff" if parsed.saw(&["-r", "--recursive"]) && !parsed.saw(&["--no-dereference"]) => {
            return Err(Refusal::new(
                rule::OUTSIDE_WORKSPACE,
                format!("`diff -r` {FOLLOWS}; add --no-dereference"),
            ));
        }
        "uniq" if files.len() > 1 => {
            return Err(Refusal::new(
                rule::NOT_READ_ONLY,
                "`uniq IN OUT` writes its second operand; give one input file",
            ));
        }
        _ => {}
    }
    let pattern_given = parsed.saw(&["-e", "-f", "--regexp", "--file", "--files", "--type-list"]);
    if operands == Operands::Pattern && !pattern_given && !files.is_empty() {
        files = &files[1..];
    }
    args::check_operands(workspace, files)
}

/// `find`: start paths must be inside; actions that delete, run programs or write files,
/// and symlink following, are refused.
fn find(args: &[String], workspace: &Path) -> Result<(), Refusal> {
    /// Tests whose value is a file to compare with.
    const FILE_VALUED: &str = "-newer -anewer -cnewer -samefile";
    let mut in_expression = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if let Some(refusal) = audit::refused_flag("find", arg) {
            return Err(refusal);
        }
        if !in_expression {
            match arg {
                "-H" | "-P" => continue,
                "-D" => {
                    i += 1;
                    continue;
                }
                _ if arg.starts_with("-O") => continue,
                _ if arg.starts_with('-') || arg == "(" || arg == "!" => in_expression = true,
                _ => {
                    args::check_path(workspace, arg)?;
                    continue;
                }
            }
        }
        if listed(FILE_VALUED, arg) || (arg.starts_with("-newer") && arg.len() == 8) {
            if let Some(value) = args.get(i) {
                args::check_path(workspace, value)?;
            }
            i += 1;
        } else if i < args.len() && takes_value(arg) {
            // Skip the value so a pattern such as `-name -delete` is not read as an action.
            i += 1;
        }
    }
    Ok(())
}

/// `find` primaries whose next word is a value (a pattern, number, format …).
fn takes_value(primary: &str) -> bool {
    listed(
        "-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -type -xtype -size -perm -user -group -uid -gid -mtime -mmin -atime -amin -ctime -cmin -maxdepth -mindepth -links -inum -printf -fstype -used -context -regextype",
        primary,
    )
}

/// The refusal for a program not on the list, with the reason when it is a known kind.
fn not_listed(name: &str, in_restricted: bool) -> Refusal {
    let mode = if in_restricted { "restricted" } else { "safe" };
    let why = match name {
        "env" | "printenv" | "set" | "export" | "declare" | "typeset" | "compgen" => {
            "prints or changes the environment".to_string()
        }
        "git" | "cargo" | "npm" | "pip" | "pip3" | "pytest" | "make" | "python" | "python3"
        | "node" => {
            "runs project code or changes the repository; it is available in restricted mode"
                .to_string()
        }
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "fish" | "perl" | "ruby" | "php" | "lua"
        | "awk" | "gawk" | "mawk" | "sed" | "xargs" | "eval" | "exec" | "command" | "nice"
        | "timeout" | "nohup" | "watch" | "busybox" | "time" | "strace" | "nodejs" => {
            "runs other programs or code".to_string()
        }
        "vi" | "vim" | "nvim" | "nano" | "emacs" | "ed" | "less" | "more" | "man" | "top" => {
            "is interactive or an editor".to_string()
        }
        "rm" | "mv" | "cp" | "touch" | "mkdir" | "rmdir" | "ln" | "chmod" | "chown" | "tee"
        | "dd" | "truncate" | "install" | "patch" | "tar" | "unzip" | "zip" | "gzip" | "gunzip"
        | "shred" => "writes or deletes files".to_string(),
        "curl" | "wget" | "ssh" | "scp" | "rsync" | "nc" | "ncat" | "netcat" | "ftp" => {
            "uses the network".to_string()
        }
        _ => format!("is not on the {mode}-mode list"),
    };
    let suggestion = if in_restricted {
        "use yolo mode for anything else"
    } else {
        "safe mode runs read-only programs such as ls, cat, grep, rg, find, head, tail, wc, diff, stat, tree, du; ask for restricted or yolo mode for more"
    };
    Refusal::new(
        rule::PROGRAM_NOT_ALLOWED,
        format!("`{name}` {why} and is not allowed in {mode} mode; {suggestion}"),
    )
}
