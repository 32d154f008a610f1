//! The server's configuration file (which may hold the HTTP token or a
//! PostgreSQL password) is kept from approved commands like its data
//! directory: a workspace holding it is refused, and where a bind of the
//! sandbox would show it (an `extra_ro_binds` toolchain directory, `/usr`)
//! commands find `/dev/null` in its place. Before, `cat` printed it.

use serde_json::json;

use crate::util::*;
use crate::yolo_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_file_is_out_of_every_commands_reach() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-config");
    let tools = workspace(&env, "tools");
    std::fs::write(tools.join("visible.txt"), "a tool\n").expect("write");
    let marker = format!("marker-{}", random_hex(12));
    let config = tools.join("bridge.toml");
    let text = format!(
        "# {marker}\n[yolo]\nextra_ro_binds = [{:?}]\n",
        tools.display().to_string()
    );
    std::fs::write(&config, text).expect("write config");
    let file = ("MCP_BRIDGE_CONFIG", config.to_str().expect("utf-8 path"));
    let s = env.server_with(&[YOLO_ON, file]).await;
    let conv = Conv::create(&s).await;

    let refused = enable(&s, &conv, "yolo", &tools, json!({})).await;
    let why = tool_error(&refused, "invalid_argument")["message"].to_string();
    assert!(why.contains("configuration file"), "{why}");

    let ws = workspace(&env, "ws");
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;
    let command = format!("cat {0}/visible.txt {0}/bridge.toml", tools.display());
    let body = run(&env, &s, &conv, &command).await;
    // The bind works (the control); the configuration is masked by
    // `/dev/null`, which reads empty, or cannot be opened where the
    // sandbox's mounts refuse device nodes.
    assert_eq!(body["stdout"], "a tool\n", "{body}");
    assert!(!body.to_string().contains(&marker), "{body}");
}

/// The configuration given as a symlink (as a TLS key under certbot's `live/`
/// is): the hidden paths are resolved again at each run, so once the link is
/// re-pointed into a confirmed workspace, commands there are refused under a
/// rule of their own, not as a swapped workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_configuration_is_followed_to_its_new_target() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-config-link");
    let (conf, ws) = (workspace(&env, "conf"), workspace(&env, "ws"));
    let (first, link) = (conf.join("bridge-1.toml"), conf.join("bridge.toml"));
    std::fs::write(&first, "[yolo]\n").expect("write config");
    std::os::unix::fs::symlink(&first, &link).expect("symlink");
    let file = ("MCP_BRIDGE_CONFIG", link.to_str().expect("utf-8 path"));
    let s = env.server_with(&[YOLO_ON, file]).await;
    let conv = Conv::create(&s).await;
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;
    assert_eq!(run(&env, &s, &conv, "echo ok").await["stdout"], "ok\n");

    let second = ws.join("bridge-2.toml");
    std::fs::write(&second, "[yolo]\n").expect("write config");
    std::fs::remove_file(&link).expect("rm link");
    std::os::unix::fs::symlink(&second, &link).expect("re-point");
    let token = approved(&env, &s, &conv, "cat bridge-2.toml").await;
    let args = json!({"approval_token": token});
    let result = execute(&s, &conv, "a", "cat bridge-2.toml", args).await;
    let why = refusal(&result, "command_refused");
    assert!(why.contains("workspace-holds-hidden"), "{why}");
    assert!(why.contains("keeps from commands"), "{why}");
}

/// A server's hidden paths hold for every server of its host: an HTTP
/// server's TLS key, which a stdio server on the same database was never
/// told of, is masked in that server's commands once the HTTP server has
/// started (before, a command could read it). The run before it is the control.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_servers_tls_key_is_masked_too() {
    if bwrap_missing() {
        return;
    }
    let env = TestEnv::new("yolo-other-key");
    let tools = workspace(&env, "tools");
    crate::http_hostile::self_signed(&tools, "other");
    let key = std::fs::read_to_string(tools.join("key.pem")).expect("key");
    let config = env.dir.join("bridge.toml");
    let text = format!(
        "[yolo]\nextra_ro_binds = [{:?}]\n",
        tools.display().to_string()
    );
    std::fs::write(&config, text).expect("write config");
    let file = ("MCP_BRIDGE_CONFIG", config.to_str().expect("utf-8 path"));
    let s = env.server_with(&[YOLO_ON, file]).await;
    let conv = Conv::create(&s).await;
    let ws = workspace(&env, "ws");
    activate(&env, &s, &conv, "yolo", &ws, json!({})).await;
    // Its size, not its text, which redaction would hide from the agent
    // (not from an encoding command).
    let command = format!("wc -c < {}/key.pem", tools.display());
    let size = format!("{}\n", key.len());
    let before = run(&env, &s, &conv, &command).await;
    assert_eq!(before["stdout"], size.as_str(), "the control: {before}");

    let (cert, key_file) = (tools.join("cert.pem"), tools.join("key.pem"));
    let args = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key_file.to_str().expect("utf-8"),
    ];
    let token = [("MCP_BRIDGE_HTTP_TOKEN", "shared-token-0123456789abcdef")];
    let http = crate::util_http::HttpServer::start(&env, &args, &token).await;
    let after = run(&env, &s, &conv, &command).await;
    assert_ne!(after["stdout"], size.as_str(), "{after}");
    // A workspace holding it is refused as well.
    let refused = enable(&s, &conv, "yolo", &tools, json!({})).await;
    let why = tool_error(&refused, "invalid_argument")["message"].to_string();
    assert!(why.contains("keeps from commands"), "{why}");
    let (status, stderr) = http.terminate().await;
    assert!(status.success(), "{stderr}");
}
