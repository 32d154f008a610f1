//! Human output for the management commands: aligned tables, absolute and
//! relative times, colour on a terminal, a progress bar on stderr, and JSON
//! for `--json`. Formatting only; calls nothing.
//!
//! Text that agents wrote (message content, roles, notes, paths, commands)
//! can hold escape sequences, bidi overrides and invisible characters. It
//! reaches a human only through [`line`] or [`block`] (a [`Shown`], whose
//! characters [`crate::display`] made visible) or a table [`Cell`] (which
//! does the same to its text), and every human-facing stream is a
//! [`Screen`], which escapes whatever control still reaches it except the
//! colour codes [`Style`] itself writes — so a forgotten call costs at most
//! a line break, never the terminal. JSON goes through
//! [`crate::display::json_safe`]: the same value, safe bytes.

use std::borrow::Cow;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use super::screen::Screen;
use crate::display::{self, Lines};
use crate::domain::Timestamp;

/// A colour or emphasis for a piece of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Headers.
    Bold,
    /// Secondary information.
    Dim,
    /// Expired, denied, failed.
    Red,
    /// Healthy, ok.
    Green,
    /// Needs attention (unread messages, waiting).
    Yellow,
    /// Identifiers.
    Cyan,
}

impl Color {
    pub(super) const ALL: [Color; 6] = [
        Color::Bold,
        Color::Dim,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Cyan,
    ];

    pub(super) const fn code(self) -> &'static str {
        match self {
            Color::Bold => "1",
            Color::Dim => "2",
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Cyan => "36",
        }
    }
}

/// Whether to colour stdout: only on a terminal, and never with `NO_COLOR` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub(super) color: bool,
}

impl Style {
    /// Colour if stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// `text` in `color` (unchanged without colour).
    pub fn paint(&self, text: &str, color: Color) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", color.code())
        } else {
            text.to_owned()
        }
    }
}

/// One table cell: its text, made visible-safe as one line, and an optional
/// colour (padding ignores the colour).
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: line(&text.into()).to_string(),
            color: None,
        }
    }

    /// A coloured cell.
    pub fn colored(text: impl Into<String>, color: Color) -> Self {
        Self {
            color: Some(color),
            ..Self::plain(text)
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::plain(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::plain(text)
    }
}

/// A table with a header row, columns padded to their widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Writes the table; the last column is not padded.
    ///
    /// # Errors
    /// When `out` fails.
    pub fn write(&self, out: &mut dyn Write, style: Style) -> std::io::Result<()> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(&cell.text));
            }
        }
        let header: Vec<Cell> = self
            .headers
            .iter()
            .map(|h| Cell::colored(h.as_str(), Color::Bold))
            .collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                let text = match cell.color {
                    Some(c) => style.paint(&cell.text, c),
                    None => cell.text.clone(),
                };
                line.push_str(&text);
                if i + 1 < columns.min(row.len()) {
                    line.push_str(&" ".repeat(widths[i] - width(&cell.text) + 2));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Display width of `text`, counting each character as one column.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// `2026-01-02 10:47:56 UTC`.
pub fn absolute(at: Timestamp) -> String {
    match jiff::Timestamp::from_microsecond(at.as_micros()) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => "invalid time".to_owned(),
    }
}

/// A span in words: `12 s`, `3 min`, `2 h 10 min`, `3 d 4 h`.
pub fn span(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => {
            let minutes = (seconds % 3600) / 60;
            if minutes == 0 {
                format!("{} h", seconds / 3600)
            } else {
                format!("{} h {minutes} min", seconds / 3600)
            }
        }
        _ => {
            let hours = (seconds % 86_400) / 3600;
            if hours == 0 {
                format!("{} d", seconds / 86_400)
            } else {
                format!("{} d {hours} h", seconds / 86_400)
            }
        }
    }
}

/// `3 min ago`, `in 2 h 10 min`, or `just now`, seen from `now`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let micros = now.micros_since(at);
    let seconds = micros.unsigned_abs() / 1_000_000;
    if seconds == 0 {
        "just now".to_owned()
    } else if micros > 0 {
        format!("{} ago", span(seconds))
    } else {
        format!("in {}", span(seconds))
    }
}

/// `2026-01-02 10:47:56 UTC (3 min ago)`.
pub fn when(at: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", absolute(at), relative(at, now))
}

/// A size in bytes, KiB, MiB or GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Agent-controlled text made visible-safe for a terminal; its `Display`
/// writes the escaped form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<'a>(Cow<'a, str>);

impl Shown<'_> {
    /// The escaped text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A single-line field an agent controls (a role, a note, a path, a
/// command, an error that echoes stored text): every control character,
/// newline included, and every invisible or bidi character becomes a
/// visible escape such as `\x1b` or `\u{202e}`.
pub fn line(text: &str) -> Shown<'_> {
    Shown(display::visible(text, Lines::One))
}

/// A multi-line text an agent controls (a message body): as [`line`], but
/// newlines and tabs are kept.
pub fn block(text: &str) -> Shown<'_> {
    Shown(display::visible(text, Lines::Many))
}

/// Standard output as a [`Screen`], buffered; colour codes pass when
/// [`Style::detect`] would colour.
pub fn screen() -> std::io::BufWriter<Screen<std::io::StdoutLock<'static>>> {
    let colour = Style::detect().color;
    std::io::BufWriter::new(Screen::new(std::io::stdout().lock(), colour))
}

/// Prints `mcp-bridge: TEXT` on stderr as one visible-safe line: errors can
/// echo what an agent or a file supplied (a path, a name, a value).
pub fn error_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "mcp-bridge: {}", line(text));
}

/// Shortens one line to `max` characters, marking the cut with `…`.
pub fn truncate(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let kept: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Writes `value` as pretty JSON and a newline.
///
/// # Errors
/// When `out` fails.
pub fn write_json(out: &mut dyn Write, value: &serde_json::Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    out.write_all(display::json_safe(&text).as_bytes())?;
    out.write_all(b"\n")
}

/// Databases at least this large get a progress bar (on a terminal).
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#[derive(Debug)]
pub struct ProgressBar {
    label: String,
    state: Mutex<(Option<Instant>, u64)>,
}

impl ProgressBar {
    /// A bar for `label`, or `None` when stderr is not a terminal or the
    /// work (`size` bytes) is too small to need one.
    pub fn for_size(label: &str, size: u64) -> Option<Self> {
        (std::io::stderr().is_terminal() && size >= PROGRESS_MIN_BYTES).then(|| Self {
            label: label.to_owned(),
            state: Mutex::new((None, u64::MAX)),
        })
    }

    /// Redraws for `done` of `total` units (at most ten times a second).
    pub fn update(&self, done: u64, total: u64) {
        const WIDTH: u64 = 30;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let due = state
            .0
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if !(due || percent == 100) || state.1 == percent {
            return;
        }
        *state = (Some(Instant::now()), percent);
        let filled = (percent * WIDTH / 100) as usize;
        let bar = format!(
            "{}{}",
            "#".repeat(filled),
            "-".repeat(WIDTH as usize - filled)
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{} [{bar}] {percent:>3}%", self.label);
        let _ = err.flush();
    }

    /// Clears the bar's line.
    pub fn finish(&self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        let now = Timestamp::from_micros(1_700_000_000_000_000);
        let ago = |s: i64| relative(now.plus_micros(-s * 1_000_000), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(12), "12 s ago");
        assert_eq!(ago(185), "3 min ago");
        assert_eq!(ago(7_800), "2 h 10 min ago");
        assert_eq!(ago(3 * 86_400 + 4 * 3600), "3 d 4 h ago");
        assert_eq!(ago(-7_800), "in 2 h 10 min");
        assert_eq!(ago(-3600), "in 1 h");
        assert_eq!(absolute(now), "2023-11-14 22:13:20 UTC");
        assert_eq!(when(now, now), "2023-11-14 22:13:20 UTC (just now)");
    }

    #[test]
    fn tables_align_and_colour_does_not_shift_columns() {
        let mut t = Table::new(&["ID", "NAME", "N"]);
        t.row(vec![
            "1".into(),
            Cell::colored("alpha", Color::Red),
            "x".into(),
        ]);
        t.row(vec!["22".into(), "b".into(), "yy".into()]);
        let mut plain = Vec::new();
        t.write(&mut plain, Style { color: false }).unwrap();
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "ID  NAME   N\n1   alpha  x\n22  b      yy\n"
        );
        let mut coloured = Vec::new();
        t.write(&mut coloured, Style { color: true }).unwrap();
        let text = String::from_utf8(coloured).unwrap();
        assert!(text.contains("\x1b[31malpha\x1b[0m  x"), "{text:?}");
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(
            block("a\x1b[2Jb\tc\nd\u{7}").as_str(),
            "a\\x1b[2Jb\tc\nd\\x07"
        );
        assert_eq!(line("a\nb\u{202e}").to_string(), "a\\x0ab\\u{202e}");
        assert_eq!(Cell::plain("x\ny").text, "x\\x0ay");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
