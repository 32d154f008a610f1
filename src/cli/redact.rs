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
    /// Read and write one JSON object {"text": …} per line, in order (a blank
    /// input line gives a blank output line).
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
        // An outer buffer whose emptiness says "the next read may block".
        let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        let mut line = String::new();
        for n in 1.. {
            line.clear();
            if input.read_line(&mut line).context("cannot read stdin")? == 0 {
                break;
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                // One output line per input line, so callers can zip them.
                out.write_all(b"\n")?;
            } else {
                let parsed: Line = serde_json::from_str(text)
                    .with_context(|| format!("line {n}: expected {{\"text\": \"…\"}}"))?;
                let redacted = redactor.redact(&parsed.text);
                serde_json::to_writer(&mut out, &serde_json::json!({ "text": redacted.text }))?;
                out.write_all(b"\n")?;
            }
            // Answer each line before waiting for the next, so a caller can
            // drive the filter one line at a time; batch input stays buffered.
            if input.buffer().is_empty() {
                out.flush()?;
            }
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
