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
    /// The trust store: a SQLite file, or a PostgreSQL URL (postgres://user@host/db) that many
    /// workers share. Default: $XDG_DATA_HOME/skillgate/skillgate.db.
    #[arg(long, global = true, env = "SKILLGATE_DB", value_name = "PATH|URL")]
    pub db: Option<skillgate_store::Location>,
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
    /// Run G3 alone: execute a skill in the sandbox and print its timeline.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// A skill's tier, decision, effective allowed-tools, sandbox profile, and why.
    Tier {
        /// Name (the newest version answers) or content hash (`sha256:…` or a hex prefix).
        skill: String,
        #[arg(long)]
        json: bool,
    },
    /// Every tier change of a skill, oldest first, with its reason, actor and evidence.
    History {
        skill: String,
        #[arg(long)]
        json: bool,
    },
    /// Record an agent's report of running a skill: a clean run, or an anomaly (which demotes).
    Event(EventArgs),
    /// Record a semantic review.
    Review(ReviewArgs),
    /// Promote a skill to a tier its evidence allows.
    Promote(MoveArgs),
    /// Demote a skill to a lower tier.
    Demote(MoveArgs),
    /// Manage the ed25519 keys of vendors and publishers.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a skill's content hash with a trusted key (a vendor key certifies to T4).
    Certify {
        skill: String,
        /// File holding the hex secret key (from `keys generate`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Re-evaluate stored skills after a rules or policy change, recording tier changes.
    Rescan(RescanArgs),
    /// Serve the trust service: the HTTP API (`/v1`), `/metrics`, `/openapi.json` and MCP at
    /// `/mcp`, on loopback unless told otherwise.
    Serve(ServeArgs),
    /// Serve the MCP tools over stdio, for an agent on this machine.
    Mcp(ServiceArgs),
    /// Audit a corpus with workers sharing one store: submit, status, report.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run audit jobs from the store (`--db postgres://…` to share them across machines) until
    /// none is left, each verdict committed with its job.
    Worker(WorkerArgs),
    /// The store itself: import OSV advisories, counts, integrity.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Why a stored verdict is what it is: each reason, the rule behind each finding and the
    /// text it fired on, and what would change the decision.
    Why {
        /// Name or content hash.
        skill: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a command of an installed skill under its tier's runtime sandbox (T3, T4); T1 and T2
    /// skills, and skills changed since they were scanned, are refused. The run is recorded as a
    /// runtime event: clean, or an anomaly that demotes.
    Run(RunArgs),
    /// The agent hook: reads Claude Code's hook JSON on stdin and answers whether a skill may be
    /// activated, and under what its scripts run. `guard install --claude-code` sets it up.
    Guard(GuardArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The installed skill's folder.
    pub skill: PathBuf,
    /// The project directory the command works in (the current directory by default).
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GuardArgs {
    #[command(subcommand)]
    pub command: Option<GuardCommand>,
    /// Activation below this tier is denied (a rejected skill always is).
    #[arg(long, default_value = "T1", env = "SKILLGATE_GUARD_MIN_TIER")]
    pub min_tier: skillgate_model::Tier,
    /// A skill the store does not know (or knows under another hash): `scan` it at once with
    /// G1, G2 and G4, or `deny` it.
    #[arg(
        long,
        value_enum,
        default_value = "scan",
        env = "SKILLGATE_GUARD_ON_UNKNOWN"
    )]
    pub on_unknown: OnUnknownArg,
    /// Milliseconds the guard may take before it denies (it fails closed).
    #[arg(long, default_value_t = 20_000, env = "SKILLGATE_GUARD_TIMEOUT_MS")]
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnUnknownArg {
    Scan,
    Deny,
}

#[derive(Debug, Clone, Subcommand)]
pub enum GuardCommand {
    /// Add the guard to Claude Code's settings (backed up first; running it again changes
    /// nothing).
    Install(GuardInstallArgs),
    /// Remove the guard from Claude Code's settings, keeping every other hook.
    Uninstall(GuardInstallArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct GuardInstallArgs {
    /// Claude Code (the only agent with a hook protocol the guard speaks today).
    #[arg(long, required = true)]
    pub claude_code: bool,
    /// `~/.claude/settings.json` (the default).
    #[arg(long, conflicts_with = "project")]
    pub user: bool,
    /// `.claude/settings.json` of the current directory.
    #[arg(long)]
    pub project: bool,
    /// The settings file to change, instead of the user's or project's.
    #[arg(long, conflicts_with_all = ["user", "project"])]
    pub settings: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventKind {
    Clean,
    Anomaly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, clap::Args)]
pub struct EventArgs {
    /// Content hash or name of the skill that ran.
    pub skill: String,
    pub kind: EventKind,
    /// How bad the anomaly was (medium demotes one tier, high to T1, critical revokes).
    #[arg(long, value_enum, required_if_eq("kind", "anomaly"))]
    pub severity: Option<SeverityArg>,
    /// The capability involved (fs.read, net.egress, …).
    #[arg(long)]
    pub capability: Option<String>,
    #[arg(long, default_value = "")]
    pub detail: String,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("outcome").required(true).args(["approve", "reject"])))]
pub struct ReviewArgs {
    pub skill: String,
    #[arg(long)]
    pub approve: bool,
    #[arg(long)]
    pub reject: bool,
    /// Who reviewed.
    #[arg(long)]
    pub by: String,
    #[arg(long, default_value = "")]
    pub note: String,
    /// `human`, or `llm` for a recorded LLM-judge review.
    #[arg(long, default_value = "human")]
    pub kind: String,
}

#[derive(Debug, clap::Args)]
pub struct MoveArgs {
    pub skill: String,
    /// Target tier (T1..T4).
    #[arg(long)]
    pub to: skillgate_model::Tier,
    #[arg(long)]
    pub reason: String,
    /// Who is acting.
    #[arg(long, default_value = "operator")]
    pub by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyRoleArg {
    Vendor,
    Publisher,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key pair: the secret goes to --out (mode 0600), the public key is printed.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Trust a public key (hex) as a vendor or publisher key.
    Trust {
        public_key: String,
        #[arg(long, value_enum)]
        role: KeyRoleArg,
        #[arg(long)]
        name: String,
    },
    /// Stop trusting a key; its signatures stop counting at the next read.
    Distrust { key_id: String },
    /// Every key and whether it is trusted.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Bearer API keys of the trust service (`skillgate serve`).
    Api {
        #[command(subcommand)]
        command: ApiKeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key; its secret is printed once and only its SHA-256 is stored.
    Create {
        #[arg(long, value_enum)]
        role: ApiRoleArg,
        /// Who holds it: recorded as the actor of every change the key makes.
        #[arg(long)]
        name: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (`key_…`).
    Revoke { id: String },
    /// Every API key (never its secret).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiRoleArg {
    Uploader,
    Agent,
    Reviewer,
    Admin,
}

/// What a service or an audit scans with: the same gates, policy and sandbox as `scan`. An
/// audit's submitter and its workers must agree on these: a job names the engine and policy it
/// is for, and a worker takes only its own.
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![GateArg::G1, GateArg::G2, GateArg::G3, GateArg::G4])]
    pub gates: Vec<GateArg>,
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[arg(long, env = "SKILLGATE_OSV")]
    pub osv: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// What the service scans with, and how many scans at once.
#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Scans run at once (G3 is expensive: about one per core).
    #[arg(long, default_value_t = 2)]
    pub scan_workers: usize,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; put a TLS proxy in front to expose it.
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Uploads waiting beyond the running scans before new ones get `503` + `Retry-After`.
    #[arg(long, default_value_t = 64)]
    pub queue_limit: usize,
    /// Largest upload, in bytes.
    #[arg(long, default_value_t = 50 * 1024 * 1024)]
    pub body_limit: usize,
    /// Requests per second per API key (0: unlimited).
    #[arg(long, default_value_t = 10_000)]
    pub rate_limit: u32,
    /// Seconds a client has to send a request's headers, and its body.
    #[arg(long, default_value_t = 10)]
    pub read_timeout: u64,
    /// Seconds a keep-alive connection may sit idle (nothing in flight, no byte moved).
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Where uploads are kept (default: `uploads/` beside the store).
    #[arg(long)]
    pub spool: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RescanArgs {
    /// Rescan every stored skill.
    #[arg(long, conflicts_with = "skills")]
    pub all: bool,
    /// Names or hashes to rescan.
    pub skills: Vec<String>,
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[arg(long, env = "SKILLGATE_OSV")]
    pub osv: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Load OSV advisories (JSON/YAML files, a folder of them, or an osv.dev all.zip).
    ImportOsv { path: PathBuf },
    /// Row counts and the store's location.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// SQLite's integrity check.
    Check,
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
    /// Only these rules run: codes or prefixes, comma separated (`SK2,SK401`); added to the
    /// policy's `[rules] select`.
    #[arg(long, value_delimiter = ',')]
    pub select: Vec<String>,
    /// These rules do not run (codes or prefixes); added to the policy's `[rules] ignore`.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// A folder of custom YAML rules (codes `SKX` + three digits, the format of `rules/`); each
    /// rule's examples run at load, and a rule whose examples fail is refused. Repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules_dirs: Vec<PathBuf>,
    /// A waiver file (TOML, `[[waiver]]` entries bound to a content hash, a finding's
    /// fingerprint and the policy hash). Default: `.skillgate/waivers.toml` when it exists.
    #[arg(long)]
    pub waivers: Option<PathBuf>,
    /// OSV advisories (file, folder or all.zip) to check dependencies against.
    #[arg(long, env = "SKILLGATE_OSV")]
    pub osv: Option<PathBuf>,
    /// Skills judged at once (default: one per core; four per core with G3, whose runs mostly wait).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Do not read from or write to the trust store.
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// How G3 runs a skill.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SandboxArgs {
    /// G3's sandbox profile (TOML); the bundled `sandbox-profiles/analysis.toml` by default.
    #[arg(long, env = "SKILLGATE_SANDBOX_PROFILE")]
    pub sandbox_profile: Option<PathBuf>,
    /// G3's runners: `native` (namespaces, Landlock, seccomp), `wasi` (Python in wasmtime), or
    /// `both` (native for everything, WASI for the Python too).
    #[arg(long, env = "SKILLGATE_SANDBOX_RUNNER", default_value = "both")]
    pub sandbox_runner: skillgate_sandbox::Runners,
}

/// The optional LLM judge (G2), over any OpenAI-compatible endpoint.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmArgs {
    /// Base URL of an OpenAI-compatible API (`http://localhost:11434/v1`); enables the LLM judge.
    #[arg(long, env = "SKILLGATE_LLM_URL")]
    pub llm_url: Option<String>,
    #[arg(long, env = "SKILLGATE_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,
    #[arg(long, env = "SKILLGATE_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// Seconds to wait for one answer.
    #[arg(long, default_value_t = 60)]
    pub llm_timeout: u64,
    /// Further attempts after a failed one.
    #[arg(long, default_value_t = 2)]
    pub llm_retries: u32,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Folder of skills to load and scan.
    pub path: PathBuf,
    /// Only load and parse (no gates).
    #[arg(long)]
    pub load_only: bool,
    /// Also measure scanning into a fresh store against --no-store.
    #[arg(long)]
    pub store: bool,
    /// Measure `tier` lookups on a synthetic store of this many skills.
    #[arg(long, value_name = "SKILLS")]
    pub tier_lookups: Option<usize>,
    /// Measure the trust service over loopback HTTP: tier lookups with keep-alive on a synthetic
    /// store of this many skills (req/s, p50, p99), upload-to-verdict latency of a small skill
    /// with all gates, and uploads/s for the skills under PATH zipped, 8 clients at once
    /// (with --load-only, the lookups alone).
    #[arg(long, value_name = "SKILLS")]
    pub serve: Option<usize>,
    /// Measure a corpus audit: submit PATH to a fresh store (a new database on the PostgreSQL
    /// server `--db` names, else a temporary SQLite file), then run this many `worker`
    /// processes at once until it is done; a list (`1,2`) measures each count in turn and
    /// prints the ratio. Skills/s and per-skill p50/p95/max.
    #[arg(long, value_name = "WORKERS", value_delimiter = ',')]
    pub audit_workers: Option<Vec<usize>>,
    /// `--jobs` of each worker for --audit-workers.
    #[arg(long, default_value_t = 1)]
    pub worker_jobs: usize,
    /// `--gates` for --audit-workers.
    #[arg(long, default_value = "g1,g2,g3,g4")]
    pub audit_gates: String,
    /// Measure leasing with 1,000, 10,000 and 100,000 synthetic jobs queued (up to this many),
    /// on a fresh store as for --audit-workers.
    #[arg(long, value_name = "JOBS")]
    pub lease_queue: Option<usize>,
    /// Measure the runtime guard: `skillgate guard` decision latency (a `Skill` activation and a
    /// `Bash` script call, process start to answer, warm store) and `skillgate run` overhead
    /// against running the same command directly, this many times each. PATH is ignored.
    #[arg(long, value_name = "RUNS")]
    pub guard: Option<usize>,
    /// Measure G3: sandbox overhead (`/bin/true` inside, start to exit) and G3 time per skill
    /// with something to run, over PATH (at most this many skills).
    #[arg(long, value_name = "SKILLS")]
    pub g3: Option<usize>,
    /// Measure the WASI runner: interpreter verification, cold start (compile), warm start
    /// (cached), and this many runs of a small script; then the Python skills under PATH.
    #[arg(long, value_name = "RUNS")]
    pub wasi: Option<usize>,
    /// Write hostile-scale skills under PATH (100,000 nested parentheses, 100,000 code blocks,
    /// 50,000 vulnerable functions, 100,000 npm dependencies, 9,000 files, 200,000 inline
    /// commands, a YAML alias bomb, …) and time G1, G2 and G4 on each: what no real skill has,
    /// and an attacker can send.
    #[arg(long)]
    pub hostile: bool,
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Run a skill's scripts and commands in the G3 sandbox; print the plan, the event
    /// timeline, canary hits, the isolation layers and G3's findings.
    Run(SandboxRunArgs),
    /// Make the WASI runner's interpreter ready: fetch it with pip when missing, verify its
    /// SHA-256, compile and cache it; print where it is and how long each part took.
    Runtime {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct SandboxRunArgs {
    /// A skill folder or archive.
    pub path: PathBuf,
    /// Sandbox profile (TOML); the bundled analysis profile by default.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// `native`, `wasi` (the skill's pure Python in wasmtime) or `both`.
    #[arg(long, default_value = "both")]
    pub runner: skillgate_sandbox::Runners,
    /// Also write the timeline as JSON lines to FILE.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Print the whole evidence and G3's report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Find the skills under PATHs and queue one job per content hash not yet judged under this
    /// engine and policy. Workers read each skill at the path given here: on many machines,
    /// give a path every worker sees (a shared filesystem).
    Submit {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Queued, running, done and failed jobs, skills/s and an ETA.
    Status {
        /// The audit (default: the newest).
        #[arg(long)]
        audit: Option<String>,
        #[arg(long)]
        json: bool,
        /// Keep showing progress until every job has ended (a progress bar on a terminal).
        #[arg(long)]
        watch: bool,
    },
    /// The audit's report, as `scan` prints it. Skills not judged yet are listed with why.
    Report {
        /// The audit (default: the newest).
        #[arg(long)]
        audit: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = FailOn::Reject)]
        fail_on: FailOn,
    },
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Jobs run at once (default: one per core, four per core with G3, whose runs mostly wait).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// How long a lease lasts unless renewed; a worker renews its leases every third of it. A
    /// job whose worker died is leased again once this has passed.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
    /// A job leased this many times without a verdict ends failed.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: i64,
    /// Keep waiting for new jobs instead of stopping when none is left.
    #[arg(long)]
    pub follow: bool,
}
