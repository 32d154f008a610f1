//! The end-to-end suite: one test binary, one module per area. Every test
//! drives real `mcp-bridge` processes (most of them several `serve` processes
//! sharing one database) through rmcp's client over stdio.

mod agent_clis;
mod agent_sessions;
mod arguments;
mod audit_chain;
mod audit_e2e;
mod audit_limits;
mod auth;
mod cli_manage;
mod cli_transfer;
mod client_compat;
mod clients;
mod config_cli;
mod crash;
mod delivery;
mod doctor;
mod hostile;
mod hostile_files;
mod limits;
mod limits_resource;
mod longpoll;
mod mcp_stdio;
mod props;
mod provision;
mod pty;
mod redaction_e2e;
mod schemas;
mod secrets;
mod setup;
mod stand_in;
mod stress;
mod sweep;
mod sweep_clients;
mod teams;
mod teams_cli;
mod teams_sessions;
mod terminal_safety;
mod util;
mod util_cli;
mod yolo_audit;
mod yolo_e2e;
mod yolo_sandbox;
mod yolo_table;
mod yolo_tokens;
mod yolo_util;
