//! Arbitrary text as the configuration file, and arbitrary `MCP_BRIDGE_*`
//! variables after a NUL byte (`NAME=value` per line): `Config::load`
//! returns a configuration or an error that says something, never panics.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcp_bridge::config::Config;

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().expect("temp dir"));

fuzz_target!(|data: &[u8]| {
    let (file, vars) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let vars: Vec<(String, String)> = String::from_utf8_lossy(vars)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("MCP_BRIDGE_{k}"), v.to_owned()))
        .collect();
    let path = DIR.path().join("config.toml");
    std::fs::write(&path, file).expect("write config");
    if let Err(e) = Config::load(Some(&path), vars) {
        assert!(!e.to_string().is_empty());
    }
});
