//! A separate test target for the management-CLI tests while tests/tests.rs is
//! being written: it links the shared helpers and the CLI modules only. Once
//! tests.rs declares `mod util_cli; mod cli_manage;`, delete this file and its
//! `[[test]]` entry in Cargo.toml.

mod cli_manage;
#[allow(dead_code)]
mod util;
mod util_cli;
