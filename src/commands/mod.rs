//! One module per subcommand.

mod bench;
mod rules;
mod scan;

use crate::ExitStatus;
use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Rules { command } => rules::run(&command),
        Command::Bench(args) => bench::run(&args),
    }
}
