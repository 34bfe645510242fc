//! One module per subcommand.

mod audit;
mod bench;
mod bench_audit;
mod bench_serve;
mod guard;
mod lifecycle;
mod rules;
mod run;
mod sandbox;
mod scan;
mod serve;
mod store;
mod why;

use crate::ExitStatus;
use crate::args::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let db = cli.db.as_ref();
    match cli.command {
        Command::Scan(args) => scan::run(&args, db),
        Command::Rules { command } => rules::run(&command),
        Command::Bench(args) => bench::run(&args, db),
        Command::Sandbox { command } => sandbox::run(&command),
        Command::Tier { skill, json } => lifecycle::tier(db, &skill, json),
        Command::History { skill, json } => lifecycle::history(db, &skill, json),
        Command::Event(args) => lifecycle::event(db, &args),
        Command::Review(args) => lifecycle::review(db, &args),
        Command::Promote(args) => lifecycle::promote(db, &args, true),
        Command::Demote(args) => lifecycle::promote(db, &args, false),
        Command::Keys { command } => lifecycle::keys_command(db, &command),
        Command::Certify { skill, key } => lifecycle::certify(db, &skill, &key),
        Command::Rescan(args) => lifecycle::rescan(db, &args),
        Command::Db { command } => lifecycle::db_command(db, &command),
        Command::Serve(args) => serve::serve(db, &args),
        Command::Mcp(args) => serve::mcp(db, &args),
        Command::Audit { command } => audit::run(db, &command),
        Command::Worker(args) => audit::worker(db, &args),
        Command::Run(args) => run::run(db, &args),
        Command::Why { skill, json } => why::why(db, &skill, json),
        Command::Guard(args) => guard::run(db, &args),
    }
}
