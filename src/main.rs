//! The `mcp-bridge` binary: parse the command line, run it, map the outcome to
//! an exit code (0 success, 1 refused or nothing found, 2 error).

use std::process::ExitCode;

fn main() -> ExitCode {
    mcp_bridge::cli::main()
}
