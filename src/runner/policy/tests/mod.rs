//! Tests of the whole policy through `evaluate`: the verdict table, paths and symbolic
//! links in a temporary workspace, quoting, plans, and a no-panic property test.

mod table;

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tempfile::TempDir;

use super::{Plan, Refusal, evaluate, rule};
use crate::domain::YoloMode;

/// A workspace with a few files and links:
/// `src/{main,lib}.rs`, `README.md`, `Cargo.toml`, `build.sh`, `app.js`,
/// `tests/test_app.py`, `notes/a.txt`, `link_out -> /etc`, `link_in -> src`,
/// `dangling -> /nonexistent/x`, `.bridge/secret`.
pub(super) fn workspace() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical temp dir");
    for (path, body) in [
        ("src/main.rs", "fn main() {}\n"),
        ("src/lib.rs", "\n"),
        ("README.md", "# readme\n"),
        ("Cargo.toml", "[package]\n"),
        ("build.sh", "#!/bin/sh\necho built\n"),
        ("app.js", "console.log(1)\n"),
        ("tests/test_app.py", "def test_x():\n    pass\n"),
        ("notes/a.txt", "a,b\n"),
        (".bridge/secret", "key\n"),
    ] {
        let file = root.join(path);
        fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        fs::write(&file, body).expect("write");
    }
    std::os::unix::fs::symlink("/etc", root.join("link_out")).expect("symlink");
    std::os::unix::fs::symlink(root.join("src"), root.join("link_in")).expect("symlink");
    std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).expect("symlink");
    (dir, root)
}

fn run(command: &str, mode: YoloMode, ws: &Path) -> Result<Plan, Refusal> {
    evaluate(command, mode, ws)
}

pub(super) fn rule_of(command: &str, mode: YoloMode, ws: &Path) -> Option<&'static str> {
    run(command, mode, ws).err().map(|r| r.rule)
}

#[test]
fn safe_plans_run_words_without_a_shell() {
    let (_dir, ws) = workspace();
    let plan = run("echo 'a;b' \"c d\" e\\ f", YoloMode::Safe, &ws).expect("allowed");
    assert_eq!(plan.argv, ["echo", "a;b", "c d", "e f"]);
    assert!(!plan.via_shell);
    let plan = run("wc -l src/*.rs", YoloMode::Safe, &ws).expect("allowed");
    assert_eq!(plan.argv, ["wc", "-l", "src/lib.rs", "src/main.rs"]);
    let plan = run("ls *.nothing", YoloMode::Safe, &ws).expect("allowed");
    assert_eq!(
        plan.argv,
        ["ls", "*.nothing"],
        "an unmatched glob stands for itself"
    );
    let plan = run("ls '*'", YoloMode::Safe, &ws).expect("allowed");
    assert_eq!(plan.argv, ["ls", "*"], "a quoted glob is not expanded");
    let plan = run("ls -a", YoloMode::Safe, &ws).expect("allowed");
    assert_eq!(plan.argv, ["ls", "-a"]);
}

#[test]
fn yolo_plans_go_through_sh() {
    let (_dir, ws) = workspace();
    let command = "cargo build 2>&1 | tail -n 5; echo $?";
    let plan = run(command, YoloMode::Yolo, &ws).expect("allowed");
    assert_eq!(plan.argv, ["sh", "-c", command]);
    assert!(plan.via_shell);
}

#[test]
fn quoting_edge_cases() {
    let (_dir, ws) = workspace();
    for ok in [
        "echo 'a;b'",
        "echo 'a && b' \"c || d\" 'e | f' '$(id)' '`id`' '>' '<' '#'",
        "echo \"\\$HOME\" '$HOME' \\$HOME",
        "echo 'it'\"'\"'s'",
        "echo ''",
        "grep -e 'a{1,2}' README.md",
        "echo \"a\\\"b\"",
    ] {
        assert!(
            run(ok, YoloMode::Safe, &ws).is_ok(),
            "{ok}: {:?}",
            run(ok, YoloMode::Safe, &ws)
        );
    }
    for (bad, want) in [
        ("echo \"$HOME\"", rule::VARIABLE_EXPANSION),
        ("echo \"$(id)\"", rule::SUBSTITUTION),
        ("echo a\\", rule::UNPARSEABLE),
        ("echo \"a", rule::UNPARSEABLE),
        ("echo 'a", rule::UNPARSEABLE),
        ("echo $'\\x72m'", rule::VARIABLE_EXPANSION),
        ("echo ${HOME:-/}", rule::VARIABLE_EXPANSION),
        ("echo $((1+2))", rule::SUBSTITUTION),
    ] {
        assert_eq!(rule_of(bad, YoloMode::Safe, &ws), Some(want), "{bad}");
    }
}

#[test]
fn paths_and_links_must_stay_inside() {
    let (_dir, ws) = workspace();
    let inside = ws.display().to_string();
    for ok in [
        "cat src/main.rs".to_string(),
        format!("cat {inside}/README.md"),
        "cat link_in/main.rs".to_string(),
        "cat src/../README.md".to_string(),
        "ls does/not/exist".to_string(),
        "ls link_in/*.rs".to_string(),
    ] {
        assert!(
            run(&ok, YoloMode::Safe, &ws).is_ok(),
            "{ok}: {:?}",
            run(&ok, YoloMode::Safe, &ws)
        );
    }
    for bad in [
        "cat link_out/passwd".to_string(),
        "ls link_out".to_string(),
        "cat dangling".to_string(),
        "cat ..".to_string(),
        "cat src/../../x".to_string(),
        format!("cat {inside}/../x"),
        "cat /etc/hostname".to_string(),
        "ls link_out/*".to_string(),
        "ls ../*".to_string(),
        "cat /etc/host*".to_string(),
        "grep -f /etc/passwd x README.md".to_string(),
        "grep -f/etc/passwd x".to_string(),
        "grep --file=../x y".to_string(),
        "sort -k1 ../x".to_string(),
        "wc --files0-from=list".to_string(),
        "find link_out -name x".to_string(),
        "cat ~/x".to_string(),
        "du -L .".to_string(),
        "diff -r src ../other".to_string(),
    ] {
        assert_eq!(
            rule_of(&bad, YoloMode::Safe, &ws),
            Some(rule::OUTSIDE_WORKSPACE),
            "{bad}"
        );
        assert_eq!(
            rule_of(&bad, YoloMode::Restricted, &ws),
            Some(rule::OUTSIDE_WORKSPACE),
            "{bad}"
        );
    }
    assert_eq!(
        rule_of("python3 ../x.py", YoloMode::Restricted, &ws),
        Some(rule::OUTSIDE_WORKSPACE)
    );
    assert_eq!(
        rule_of("git -C / status", YoloMode::Restricted, &ws),
        Some(rule::OUTSIDE_WORKSPACE)
    );
    assert_eq!(
        rule_of(
            "cargo build --manifest-path /tmp/Cargo.toml",
            YoloMode::Restricted,
            &ws
        ),
        Some(rule::OUTSIDE_WORKSPACE)
    );
    assert_eq!(
        rule_of("./dangling", YoloMode::Restricted, &ws),
        Some(rule::OUTSIDE_WORKSPACE)
    );
    assert_eq!(
        rule_of("./link_out/hostname", YoloMode::Restricted, &ws),
        Some(rule::OUTSIDE_WORKSPACE)
    );
}

#[test]
fn globs_are_bounded() {
    let (_dir, ws) = workspace();
    let many = ws.join("many");
    fs::create_dir(&many).expect("mkdir");
    for i in 0..=super::paths::MAX_GLOB_MATCHES {
        fs::write(many.join(format!("f{i}")), "").expect("write");
    }
    assert_eq!(
        rule_of("ls many/*", YoloMode::Safe, &ws),
        Some(rule::GLOB_TOO_BROAD)
    );
    assert_eq!(
        rule_of("l? src", YoloMode::Safe, &ws),
        Some(rule::PROGRAM_NOT_ALLOWED)
    );
}

#[test]
fn refusals_name_their_rule() {
    let (_dir, ws) = workspace();
    let refusal = run("sudo id", YoloMode::Yolo, &ws).expect_err("refused");
    let text = refusal.to_string();
    assert!(
        text.starts_with("refused (rule privilege-escalation): "),
        "{text}"
    );
    assert!(text.contains("sudo"), "{text}");
    let refusal = run("ls; id", YoloMode::Safe, &ws).expect_err("refused");
    assert!(refusal.detail.contains("`;`"), "{}", refusal.detail);
    let long = "a".repeat(super::MAX_COMMAND_BYTES + 1);
    assert_eq!(rule_of(&long, YoloMode::Yolo, &ws), Some(rule::TOO_LONG));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let (_dir, ws) = workspace();
    let deep = "$(".repeat(2000) + &")".repeat(2000);
    let nested = "sh -c \"".to_string() + &"sh -c '".repeat(30);
    let wrappers = "nice ".repeat(3000) + "sudo id";
    let evals = "eval ".repeat(1000) + "sudo id";
    assert_eq!(rule_of(&deep, YoloMode::Yolo, &ws), Some(rule::UNPARSEABLE));
    assert_eq!(
        rule_of(&wrappers, YoloMode::Yolo, &ws),
        Some(rule::PRIVILEGE_ESCALATION)
    );
    // Safe and restricted mode refuse these before any nesting is looked at.
    for mode in [YoloMode::Safe, YoloMode::Restricted, YoloMode::Yolo] {
        for command in [&deep, &nested, &wrappers, &evals] {
            assert!(run(command, mode, &ws).is_err(), "{}", mode.as_str());
        }
    }
}

/// Characters that matter to the tokenizer, plus a few ordinary ones.
const ALPHABET: &[char] = &[
    'a', ' ', '\'', '"', '\\', '$', '(', ')', '{', '}', '`', ';', '&', '|', '<', '>', '*', '~',
    '#', '\n', '/', '.', '-', '=', '!', '[', 'é',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn evaluate_never_panics(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..48)) {
        let (_dir, ws) = workspace_cached();
        let command: String = chars.into_iter().collect();
        for mode in [YoloMode::Safe, YoloMode::Restricted, YoloMode::Yolo] {
            let _ = evaluate(&command, mode, &ws);
        }
    }

    #[test]
    fn evaluate_never_panics_on_any_text(command in "\\PC{0,64}") {
        let (_dir, ws) = workspace_cached();
        for mode in [YoloMode::Safe, YoloMode::Restricted, YoloMode::Yolo] {
            let _ = evaluate(&command, mode, &ws);
        }
    }

    #[test]
    fn known_words_in_any_order_never_panic(words in prop::collection::vec(prop::sample::select(WORDS), 0..12)) {
        let (_dir, ws) = workspace_cached();
        let command = words.join(" ");
        for mode in [YoloMode::Safe, YoloMode::Restricted, YoloMode::Yolo] {
            let _ = evaluate(&command, mode, &ws);
        }
    }
}

/// Shell words the checks give meaning to, for the word-level property test.
const WORDS: &[&str] = &[
    "rm",
    "-rf",
    "/",
    "~",
    "$HOME",
    "sudo",
    "sh",
    "-c",
    "'ls'",
    "|",
    ";",
    "&&",
    "find",
    ".",
    "-delete",
    "-exec",
    "\\;",
    "{}",
    "curl",
    "x",
    ">",
    "/dev/sda",
    "eval",
    "f()",
    "{",
    "}",
    "&",
    "(",
    ")",
    "xargs",
    "env",
    "dd",
    "of=/dev/sda",
    "cd",
    "..",
    "*",
    "<<EOF",
    "EOF",
    "\n",
    "git",
    "cargo",
    "python3",
    "-m",
    "npm",
    "$(",
    "`",
    "\"",
    "bash",
    "<(",
    "watch",
    "timeout",
];

/// One workspace shared by the property-test cases (creating one per case is slow).
fn workspace_cached() -> (std::sync::Arc<TempDir>, PathBuf) {
    use std::sync::{Arc, OnceLock};
    static SHARED: OnceLock<(Arc<TempDir>, PathBuf)> = OnceLock::new();
    let (dir, path) = SHARED.get_or_init(|| {
        let (dir, path) = workspace();
        (Arc::new(dir), path)
    });
    (Arc::clone(dir), path.clone())
}

#[test]
fn every_short_string_is_handled() {
    // Exhaustive over a small alphabet: all strings up to 4 characters.
    const SMALL: &[char] = &[
        'a', ' ', '\'', '"', '\\', '$', '(', ')', '`', ';', '|', '>', '{', '}',
    ];
    let (_dir, ws) = workspace_cached();
    let mut current = vec![String::new()];
    for _ in 0..4 {
        let mut next = Vec::with_capacity(current.len() * SMALL.len());
        for prefix in &current {
            for c in SMALL {
                let mut s = prefix.clone();
                s.push(*c);
                for mode in [YoloMode::Safe, YoloMode::Restricted, YoloMode::Yolo] {
                    if let Err(refusal) = evaluate(&s, mode, &ws) {
                        assert!(
                            !refusal.detail.is_empty() && !refusal.rule.is_empty(),
                            "{s:?}"
                        );
                    }
                }
                next.push(s);
            }
        }
        current = next;
    }
}

#[test]
fn a_workspace_reached_through_a_link_still_works() {
    let (_dir, ws) = workspace();
    let other = tempfile::tempdir().expect("temp dir");
    let via = other.path().join("ws");
    std::os::unix::fs::symlink(&ws, &via).expect("symlink");
    assert!(run("cat link_in/main.rs", YoloMode::Safe, &via).is_ok());
    assert_eq!(
        rule_of("cat link_out/passwd", YoloMode::Safe, &via),
        Some(rule::OUTSIDE_WORKSPACE)
    );
    let missing = other.path().join("missing");
    assert_eq!(
        rule_of("ls", YoloMode::Safe, &missing),
        Some(rule::OUTSIDE_WORKSPACE)
    );
}
