//! `mcp-bridge redact`: the redaction engine as a filter, stdin to stdout.

use std::io::{BufRead, BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::ConfigArgs;
use crate::redact::Redactor;

/// Arguments of `redact`.
#[derive(Debug, Args)]
pub struct RedactArgs {
    /// Read and write one JSON object {"text": …} per line, in order.
    #[arg(long)]
    jsonl: bool,
    /// Print the kinds of secret the engine redacts, with their placeholders.
    #[arg(long, conflicts_with = "jsonl")]
    list: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(serde::Deserialize)]
struct Line {
    text: String,
}

/// Filters stdin to stdout.
///
/// # Errors
/// Unreadable input, a line that is not `{"text": …}` in `--jsonl` mode, or a bad configuration.
pub fn run(args: RedactArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let redactor = Redactor::new(&config.redaction)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.list {
        let kinds = redactor.kinds();
        let width = kinds.iter().map(|k| k.name.len()).max().unwrap_or(0);
        for k in kinds {
            writeln!(
                out,
                "{:width$}  {:32}  {}",
                k.name, k.placeholder, k.description
            )?;
        }
    } else if args.jsonl {
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("cannot read stdin")?;
            if line.trim().is_empty() {
                continue;
            }
            let input: Line = serde_json::from_str(&line)
                .with_context(|| format!("line {}: expected {{\"text\": \"…\"}}", n + 1))?;
            let redacted = redactor.redact(&input.text);
            serde_json::to_writer(&mut out, &serde_json::json!({ "text": redacted.text }))?;
            out.write_all(b"\n")?;
        }
    } else {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
        let text = String::from_utf8_lossy(&bytes);
        out.write_all(redactor.redact(&text).text.as_bytes())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
