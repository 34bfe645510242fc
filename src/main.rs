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
    /// A code passed through: `skillgate run` exits with its command's.
    Code(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
            ExitStatus::Code(c) => ExitCode::from(c),
        }
    }
}

fn main() -> ExitCode {
    // The G3 runner must start single-threaded: it is this binary, re-executed, and it takes
    // over before anything else runs.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(skillgate_sandbox::native::RUNNER_ARG))
    {
        let code = skillgate_sandbox::native::runner_main();
        return ExitCode::from(u8::try_from(code).unwrap_or(2));
    }
    let args = args::Cli::parse();
    match commands::run(args) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitStatus::Error.into()
        }
    }
}
