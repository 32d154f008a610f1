//! Asking the human at the terminal: a line of input after a prompt, and a
//! secret with echo turned off (the operator passphrase), restoring the
//! terminal's settings afterwards whatever happens.

use std::io::{BufRead, IsTerminal, Write};

/// Whether stdin is a terminal (a person, or at least a pty, not a pipe).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Prints `prompt` (our own text) and reads one line, without its line end.
/// An empty answer at end of input.
pub fn ask(prompt: &str) -> String {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    drop(out);
    read_line()
}

fn read_line() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim_end_matches(['\r', '\n']).to_owned()
}

/// Restores the saved terminal settings when dropped.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    /// Turns echo off on stdin (which must be a terminal).
    fn new() -> std::io::Result<Self> {
        // SAFETY: termios is a plain C struct for which all-zero bytes are
        // valid; tcgetattr fills it for descriptor 0, which stays open.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        quiet.c_lflag |= libc::ICANON;
        // SAFETY: as above; `quiet` is a valid termios derived from `saved`.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same descriptor.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Prints `prompt` and reads a secret line with echo off; the newline the
/// human typed is echoed afterwards so the next output starts on its own line.
///
/// # Errors
/// When stdin's terminal settings cannot be read or changed.
pub fn ask_secret(prompt: &str) -> std::io::Result<String> {
    let mut out = std::io::stdout().lock();
    let answer = {
        // Echo goes off before the prompt appears, so nothing typed in
        // answer to it is ever shown.
        let _quiet = EchoOff::new()?;
        write!(out, "{prompt}")?;
        out.flush()?;
        read_line()
    };
    writeln!(out)?;
    out.flush()?;
    Ok(answer)
}
