//! The `skillgate` command line: argument parsing, printing and exit codes. Everything else
//! lives in the library crates under `crates/`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod printer;

use clap::Parser;
use std::process::ExitCode;

/// Exit statuses, as ruff and cargo-deny use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above the threshold.
    Success,
    /// Findings at or above the threshold, or a rejected skill.
    Failure,
    /// skillgate itself failed.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

fn main() -> ExitCode {
    let args = args::Cli::parse();
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Error.into()
        }
    }
}
