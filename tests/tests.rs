//! The end-to-end suite: one test binary, one module per area. Every test
//! drives real `mcp-bridge` processes (most of them several `serve` processes
//! sharing one database) through rmcp's client over stdio.

mod arguments;
mod audit_e2e;
mod auth;
mod cli_manage;
mod cli_transfer;
mod config_cli;
mod limits;
mod longpoll;
mod mcp_stdio;
mod pty;
mod redaction_e2e;
mod schemas;
mod stderr_e2e;
mod util;
mod util_cli;
mod yolo_e2e;
mod yolo_sandbox;
mod yolo_table;
mod yolo_tokens;
mod yolo_util;
