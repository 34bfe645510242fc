//! Command-line arguments.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "skillgate",
    version,
    about = "Decides whether an agent skill may be trusted, and how far"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan skills (folders, archives, or folders of many skills) and print verdicts.
    Scan(ScanArgs),
    /// List the rules or explain one.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Measure load + parse and G1 throughput over a corpus (skills/s, peak memory).
    Bench(BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule with its code, severity and summary.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A rule's documentation: what it does, why it is risky, examples.
    Explain { code: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Never,
    Reject,
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub enum GateArg {
    G1,
    G2,
    G3,
    G4,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Skill folders, archives, or folders to search for skills.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a skill is rejected or a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Reject)]
    pub fail_on: FailOn,
    /// Gates to run (comma separated); the others are reported as skipped.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![GateArg::G1, GateArg::G2, GateArg::G3, GateArg::G4])]
    pub gates: Vec<GateArg>,
    /// A TOML verdict policy replacing the built-in one.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// OSV advisories (file, folder or all.zip) to check dependencies against.
    #[arg(long, env = "SKILLGATE_OSV")]
    pub osv: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Folder of skills to load and scan.
    pub path: PathBuf,
    /// Only load and parse (no gates).
    #[arg(long)]
    pub load_only: bool,
    #[arg(long, short)]
    pub jobs: Option<usize>,
}
