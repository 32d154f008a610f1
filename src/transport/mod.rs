//! Transports that carry the MCP server: stdio now (HTTP in its own issue),
//! and the one shutdown signal they all honour.

pub mod guard;
pub mod shutdown;
pub mod stdio;
pub mod written;
