//! A scripted stand-in for an agent CLI's model: `tests/support/stand_in_model.py`
//! run on a free loopback port, with what it recorded read back for the test.
//!
//! A script is a list of turns, each `{"tool": NAME, "args": {…}}` (the model
//! calls that tool) or `{"text": "…"}` (the model answers and the CLI ends);
//! `${N.field}` in an argument is `field` of the JSON the CLI handed back for
//! the N-th tool call. What the CLI sent after each call is in
//! [`StandIn::exchanges`].

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::util::EVENT_TIMEOUT;

/// The APIs the stand-in speaks.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    /// Anthropic Messages (Claude Code).
    Anthropic,
    /// OpenAI Responses (Codex).
    OpenAi,
    /// Gemini `generateContent` / `streamGenerateContent` (Gemini CLI).
    Gemini,
}

impl Api {
    fn arg(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::OpenAi => "openai",
            Api::Gemini => "gemini",
        }
    }
}

/// A running stand-in model; stopped when dropped.
pub struct StandIn {
    child: Child,
    url: String,
    record: PathBuf,
}

impl StandIn {
    /// Starts a stand-in for `api` playing `turns`, recording into `dir`.
    pub fn start(dir: &std::path::Path, api: Api, turns: &Value) -> StandIn {
        let record = dir.join(format!("stand-in-{}", api.arg()));
        std::fs::create_dir_all(&record).expect("record dir");
        let script = record.join("script.json");
        std::fs::write(&script, serde_json::json!({"turns": turns}).to_string())
            .expect("write script");
        let mut child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/stand_in_model.py"
            ))
            .args(["--api", api.arg(), "--script"])
            .arg(&script)
            .arg("--record")
            .arg(&record)
            // Ends with the test process: its stdin is a pipe this side holds.
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the stand-in model (python3)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(EVENT_TIMEOUT)
            .expect("the stand-in model prints its address");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("odd first line from the stand-in: {line:?}"))
            .to_owned();
        StandIn { child, url, record }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lines(&self, file: &str) -> Vec<Value> {
        std::fs::read_to_string(self.record.join(file))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("recorded JSON"))
            .collect()
    }

    /// One record per scripted request: `turn`, `answer`, `tool_results`
    /// (`{name, text, is_error}` handed back so far, in order), `declared`
    /// (`{name, parameters}` of every tool the CLI offered), or `error`.
    pub fn exchanges(&self) -> Vec<Value> {
        self.lines("exchanges.jsonl")
    }

    /// Every request received (`method`, `path`, `body`).
    pub fn requests(&self) -> Vec<Value> {
        self.lines("requests.jsonl")
    }

    /// The exchange that answered `turn` last (a CLI may retry a request).
    pub fn turn(&self, turn: usize) -> Value {
        let exchanges = self.exchanges();
        for e in &exchanges {
            assert!(
                e.get("error").is_none(),
                "the stand-in's script failed: {e}"
            );
        }
        exchanges
            .into_iter()
            .rev()
            .find(|e| e["turn"] == turn)
            .unwrap_or_else(|| {
                panic!(
                    "the CLI never asked the model for turn {turn}; requests: {:#?}",
                    self.requests()
                        .iter()
                        .map(|r| &r["path"])
                        .collect::<Vec<_>>()
                )
            })
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
