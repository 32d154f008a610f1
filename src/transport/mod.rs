//! Transports that carry the MCP server: stdio and streamable HTTP,
//! and the one shutdown signal they all honour.

pub mod guard;
pub mod http;
pub mod lines;
pub mod shutdown;
pub mod stdio;
pub mod unique_keys;
pub mod written;
