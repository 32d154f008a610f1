//! Arbitrary command text under each YOLO mode, in a small workspace with a
//! few files and a symlink out of it: `evaluate` never panics, and what it
//! accepts has the shape its mode promises.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcp_bridge::domain::YoloMode;
use mcp_bridge::runner::policy::evaluate;

struct Workspace {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

static WORKSPACE: LazyLock<Workspace> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(path.join("src/nested")).expect("dirs");
    std::fs::write(path.join("README.md"), "hello").expect("file");
    std::fs::write(path.join("src/main.py"), "print(1)").expect("file");
    std::fs::write(path.join("run.sh"), "echo hi").expect("file");
    let _ = std::os::unix::fs::symlink("/etc", path.join("outside"));
    Workspace { _dir: dir, path }
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(command) = std::str::from_utf8(rest) else {
        return;
    };
    let mode = match selector % 3 {
        0 => YoloMode::Safe,
        1 => YoloMode::Restricted,
        _ => YoloMode::Yolo,
    };
    match evaluate(command, mode, &WORKSPACE.path) {
        Ok(plan) => {
            assert!(!plan.argv.is_empty(), "an accepted command runs nothing");
            assert_eq!(
                plan.via_shell,
                mode == YoloMode::Yolo,
                "shell use must follow the mode"
            );
        }
        Err(refusal) => assert!(!refusal.detail.is_empty(), "a refusal must say why"),
    }
});
