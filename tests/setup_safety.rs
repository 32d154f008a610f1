//! `mcp-bridge setup` against what else may be in or around a client's file,
//! each case found by an acceptance run: another server that happens to be
//! called `bridge`, several setups at once on one file, CRLF line endings,
//! and a project file that is a symlink leading out of the project.

use serde_json::{Value, json};

use crate::setup::{Homes, exe, read_json, read_toml};

/// Another server named `bridge` (here with a secret in its `env`) used to be
/// overwritten: its command and its env were gone. Now setup refuses, names
/// the file and points to `--name`; an entry that is this bridge is still
/// updated, keeping the `env` the user added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_leaves_another_server_named_bridge_alone() {
    let h = Homes::new("setup-foreign-entry");
    let secret = "sk-live-do-not-lose-me";
    let claude = h.home.join(".claude.json");
    let codex = h.home.join(".codex/config.toml");
    let gemini = h.home.join(".gemini/settings.json");
    std::fs::create_dir_all(codex.parent().unwrap()).unwrap();
    std::fs::create_dir_all(gemini.parent().unwrap()).unwrap();
    let foreign = json!({"mcpServers": {"bridge": {
        "command": "npx", "args": ["-y", "@acme/bridge-server"], "env": {"ACME_TOKEN": secret}
    }}});
    std::fs::write(&claude, foreign.to_string()).unwrap();
    std::fs::write(
        &codex,
        format!(
            "[mcp_servers.bridge]\ncommand = \"npx\"\nargs = [\"-y\", \"@acme/bridge-server\"]\nenv = {{ ACME_TOKEN = \"{secret}\" }}\n"
        ),
    )
    .unwrap();
    // A remote server of that name: no command at all.
    std::fs::write(
        &gemini,
        r#"{"mcpServers": {"bridge": {"httpUrl": "https://acme.example/mcp"}}}"#,
    )
    .unwrap();
    let before = h.snapshot();
    for (client, path) in [
        ("claude-code", &claude),
        ("codex", &codex),
        ("gemini", &gemini),
    ] {
        for extra in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["setup", client];
            args.extend_from_slice(extra);
            let line = h.run(&args).await.fails(2, "not this bridge");
            assert!(line.contains(&path.display().to_string()), "{line}");
            assert!(line.contains("--name"), "{line}");
            assert!(!line.contains(secret), "{line}");
        }
    }
    assert_eq!(
        h.snapshot(),
        before,
        "nothing written, no lock or temp file"
    );

    // Under another name the bridge goes beside it.
    h.run(&["setup", "codex", "--name", "mcp-bridge"])
        .await
        .ok();
    let v = read_toml(&codex);
    assert_eq!(v["mcp_servers"]["bridge"]["env"]["ACME_TOKEN"], secret);
    assert_eq!(v["mcp_servers"]["mcp-bridge"]["command"], exe());

    // An entry that is this bridge (an older binary) is updated; its env stays.
    let ours = json!({"mcpServers": {"bridge": {
        "type": "stdio", "command": "/old/place/mcp-bridge", "args": ["serve"],
        "env": {"MCP_BRIDGE_LOG": "debug"}
    }}});
    std::fs::write(&claude, ours.to_string()).unwrap();
    h.run(&["setup", "claude-code"]).await.ok();
    let v = read_json(&claude);
    assert_eq!(v["mcpServers"]["bridge"]["command"], exe());
    assert_eq!(
        v["mcpServers"]["bridge"]["env"],
        json!({"MCP_BRIDGE_LOG": "debug"})
    );
    // So is one started through the wheel's launcher.
    let wheel = json!({"mcpServers": {"bridge": {"command": "uvx", "args": ["mcp-multiagent-bridge", "serve"]}}});
    std::fs::write(&gemini, wheel.to_string()).unwrap();
    h.run(&["setup", "gemini"]).await.ok();
    assert_eq!(read_json(&gemini)["mcpServers"]["bridge"]["command"], exe());
}

/// Concurrent setups on one file used to lose each other's entries: each
/// read the old text and renamed its own version over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_setups_on_one_file_all_land() {
    let h = Homes::new("setup-concurrent");
    let claude = h.home.join(".claude.json");
    std::fs::write(&claude, "{\"numStartups\": 3}").unwrap();
    const RUNS: usize = 16;
    let names: Vec<String> = (0..RUNS).map(|i| format!("bridge-{i}")).collect();
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            let mut cmd = h.command(&["setup", "claude-code", "--name", name]);
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v = read_json(&claude);
    let servers = v["mcpServers"].as_object().unwrap();
    for name in &names {
        assert!(servers.contains_key(name), "{name} lost: {v}");
    }
    assert_eq!(v["numStartups"], 3);
    let left: Vec<_> = std::fs::read_dir(&h.home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [".claude.json"], "no lock or temp file is left");
}

/// A Codex config.toml saved with CRLF came back with LF line endings (and
/// a JSON file got LF lines among its CRLF ones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_keeps_crlf_line_endings() {
    let h = Homes::new("setup-crlf");
    let codex = h.home.join(".codex/config.toml");
    let gemini = h.home.join(".gemini/settings.json");
    let claude = h.home.join(".claude.json");
    for path in [&codex, &gemini] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    }
    let files = [
        (
            "codex",
            &codex,
            "# mine\r\nmodel = \"gpt-5\"\r\n\r\n[mcp_servers.docs]\r\ncommand = \"docs\"\r\n",
        ),
        (
            "gemini",
            &gemini,
            "{\r\n  // mine\r\n  \"mcpServers\": {\r\n    \"docs\": { \"command\": \"docs\" }\r\n  }\r\n}\r\n",
        ),
        ("claude-code", &claude, "{\r\n  \"numStartups\": 1\r\n}\r\n"),
    ];
    for (client, path, text) in files {
        std::fs::write(path, text).unwrap();
        h.run(&["setup", client]).await.ok();
        let after = std::fs::read_to_string(path).unwrap();
        assert!(after.contains(&exe()), "{client}: {after:?}");
        assert_eq!(
            after.matches('\n').count(),
            after.matches("\r\n").count(),
            "{client}: every line ends in CRLF: {after:?}"
        );
        let kept = text.split("\r\n").nth(1).unwrap();
        assert!(after.contains(kept), "{after:?}");
        let again = h.run(&["setup", client]).await.ok();
        assert!(again.contains("already configured"), "{client}: {again}");
    }
    let v: Value = read_toml(&codex);
    assert_eq!(v["mcp_servers"]["docs"]["command"], "docs");
}

/// A project's `.mcp.json` that was a dangling symlink was written through,
/// creating a file outside the project. Now a link that dangles or leads out
/// of the project is refused; one to a file inside the project is written
/// through, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_files_never_reach_outside_the_project_through_a_symlink() {
    let h = Homes::new("setup-project-links");
    let outside = h.env.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let mcp = h.project.join(".mcp.json");
    let project = ["--scope", "project"];
    let setup = |client: &'static str| {
        let mut args = vec!["setup", client];
        args.extend_from_slice(&project);
        args
    };

    // Dangling, to a place outside.
    let target = outside.join("planted.json");
    std::os::unix::fs::symlink(&target, &mcp).unwrap();
    let before = h.snapshot();
    let line = h
        .run(&setup("claude-code"))
        .await
        .fails(2, "does not exist");
    assert!(line.contains(".mcp.json is a symlink"), "{line}");
    assert!(!target.exists(), "nothing created outside the project");
    // Dangling, to a place inside: refused all the same (it would be created).
    std::fs::remove_file(&mcp).unwrap();
    std::os::unix::fs::symlink("conf/mcp.json", &mcp).unwrap();
    h.run(&setup("claude-code"))
        .await
        .fails(2, "does not exist");
    assert!(!h.project.join("conf").exists());

    // Live, to a file outside.
    std::fs::remove_file(&mcp).unwrap();
    std::fs::write(&target, "{}").unwrap();
    std::os::unix::fs::symlink(&target, &mcp).unwrap();
    h.run(&setup("claude-code"))
        .await
        .fails(2, "outside the project");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}");
    // A directory on the way that leads outside (`.codex` -> elsewhere).
    std::os::unix::fs::symlink(&outside, h.project.join(".codex")).unwrap();
    h.run(&setup("codex")).await.fails(2, "outside the project");
    assert!(!outside.join("config.toml").exists());
    // Dry runs refuse too.
    let mut dry = setup("claude-code");
    dry.push("--dry-run");
    h.run(&dry).await.fails(2, "outside the project");
    let _ = before;

    // Live, to a file inside the project: written through, the link kept.
    std::fs::remove_file(&mcp).unwrap();
    let inside = h.project.join("conf/mcp.json");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::write(&inside, "{}").unwrap();
    std::os::unix::fs::symlink("conf/mcp.json", &mcp).unwrap();
    h.run(&setup("claude-code")).await.ok();
    assert!(
        std::fs::symlink_metadata(&mcp)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(read_json(&inside)["mcpServers"]["bridge"]["command"], exe());
}

/// A lock sidecar (`..mcp.json.mcp-bridge.lock`) that a cloned repository
/// ships as a symlink was followed: setup created a file wherever the link
/// led, and then spun forever at full CPU, its lock never on the file the
/// path names. Now it is refused at once, naming it, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_lock_file_is_refused_promptly() {
    let h = Homes::new("setup-lock-symlink");
    let outside = h.env.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let target = outside.join("planted");
    let lock = h.project.join("..mcp.json.mcp-bridge.lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();

    let mut cmd =
        tokio::process::Command::from(h.command(&["setup", "claude-code", "--scope", "project"]));
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().unwrap();
    // Dropped (and so killed) on a timeout: a hang fails the test, not the run.
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("setup did not finish within 20 s (spinning on the lock?)")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("is a symlink"), "{stderr}");
    assert!(
        stderr.contains(&lock.display().to_string()),
        "names the lock file: {stderr}"
    );
    assert!(!target.exists(), "nothing created at the link's target");
    assert!(
        std::fs::symlink_metadata(&lock)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is left for the user to remove"
    );
    assert!(!h.project.join(".mcp.json").exists(), "nothing written");
}
