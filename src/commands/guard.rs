//! `skillgate guard`: Claude Code's hook, answered from the trust store (`skillgate_guard`).

use crate::ExitStatus;
use crate::args::{GateArg, GuardArgs, GuardCommand, GuardInstallArgs, OnUnknownArg};
use crate::commands::scan::{build_pipeline, evaluate_loaded};
use crate::commands::store::{self, Opened, now_ms};
use anyhow::Context as _;
use skillgate_guard::decide::{self, Context, Known, Ledger, OnUnknown, Policy};
use skillgate_guard::hook::{Answer, HookInput, MAX_INPUT};
use skillgate_guard::settings::{self, Change};
use skillgate_model::Bundle;
use skillgate_model::bundle::Limits;
use skillgate_pipeline::{Pipeline, TrustError};
use skillgate_store::Location;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub fn run(db: Option<&Location>, args: &GuardArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        Some(GuardCommand::Install(a)) => install(a, true),
        Some(GuardCommand::Uninstall(a)) => install(a, false),
        None => hook(db, args),
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn install(args: &GuardInstallArgs, add: bool) -> anyhow::Result<ExitStatus> {
    debug_assert!(args.claude_code);
    let path = match (&args.settings, args.project) {
        (Some(p), _) => p.clone(),
        (None, true) => std::env::current_dir()?.join(".claude/settings.json"),
        (None, false) => home()
            .context("HOME is not set; give --settings FILE")?
            .join(".claude/settings.json"),
    };
    let change = if add {
        let program = std::env::current_exe().context("locating the skillgate binary")?;
        settings::install(&path, &program.display().to_string())?
    } else {
        settings::uninstall(&path)?
    };
    match change {
        Change::Unchanged => println!("{}: unchanged", path.display()),
        Change::Written { backup } => {
            println!(
                "{}: guard {}",
                path.display(),
                if add { "installed" } else { "removed" }
            );
            if let Some(b) = backup {
                println!("previous settings kept at {}", b.display());
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// Reads one hook call, answers it within the deadline, and prints the answer. Input it cannot
/// read is refused with exit code 2, which the agent treats as a block with the message shown.
fn hook(db: Option<&Location>, args: &GuardArgs) -> anyhow::Result<ExitStatus> {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
    {
        eprintln!("skillgate guard: cannot read the hook input ({e}); denied");
        return Ok(ExitStatus::Code(2));
    }
    let input = match HookInput::parse(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("skillgate guard: {e}; denied");
            return Ok(ExitStatus::Code(2));
        }
    };
    let session = input.hook_event_name == "SessionStart";
    let policy = Policy {
        min_tier: args.min_tier,
        on_unknown: match args.on_unknown {
            OnUnknownArg::Scan => OnUnknown::Scan,
            OnUnknownArg::Deny => OnUnknown::Deny,
        },
        program: std::env::current_exe()
            .map_or_else(|_| "skillgate".into(), |p| p.display().to_string()),
    };
    let ctx = Context {
        home: home(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let db = db.cloned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let answer = match store::open(db.as_ref(), &skillgate_pipeline::Policy::default()) {
            Ok(st) => {
                let ledger = StoreLedger {
                    st: &st,
                    pipeline: OnceLock::new(),
                };
                decide::answer(&input, &ledger, &policy, &ctx)
            }
            Err(e) => fail_closed(session, &format!("the trust store cannot be opened: {e:#}")),
        };
        let _ = tx.send(answer);
    });
    let answer = rx
        .recv_timeout(Duration::from_millis(args.timeout_ms))
        .unwrap_or_else(|_| {
            fail_closed(session, &format!("no answer within {} ms", args.timeout_ms))
        });
    if let Some(json) = answer.to_json() {
        println!("{json}");
    }
    Ok(ExitStatus::Success)
}

fn fail_closed(session: bool, why: &str) -> Answer {
    if session {
        Answer::Session {
            context: format!(
                "skillgate: {why}. Tiers are unknown this session: every skill activation and \
                 skill script will be denied until the store answers."
            ),
        }
    } else {
        Answer::deny(format!("skillgate: {why}; denied (the guard fails closed)"))
    }
}

/// The trust store behind the guard's decisions.
struct StoreLedger<'a> {
    st: &'a Opened,
    /// Built on the first unknown skill only: most calls never scan.
    pipeline: OnceLock<Result<Pipeline, String>>,
}

impl Ledger for StoreLedger<'_> {
    fn hash(&self, dir: &Path) -> Result<String, String> {
        Bundle::load(dir, &Limits::default())
            .map(|b| b.hash.to_string())
            .map_err(|e| e.to_string())
    }

    fn by_hash(&self, hash: &str) -> Result<Option<Known>, String> {
        let answer = self
            .st
            .rt
            .block_on(self.st.trust.tier_answer(hash, now_ms()))
            .map_err(|e| e.to_string())?;
        Ok(answer.filter(|a| a.known).map(|a| {
            let first_reason = a
                .why
                .as_array()
                .and_then(|r| r.first())
                .and_then(|r| r.get("reason"))
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string();
            let why = match (&a.capped_by, &a.capped) {
                (Some(link), _) => format!("capped by `{}`: {}", link.name, link.reason),
                (None, Some(capped)) => capped.clone(),
                (None, None) => first_reason,
            };
            Known {
                hash: a.skill.hash.clone(),
                name: a.skill.name.clone(),
                tier: a.effective_tier,
                why,
            }
        }))
    }

    fn knows_name(&self, name: &str) -> Result<bool, String> {
        match self.st.rt.block_on(self.st.trust.resolve(name)) {
            Ok(_) => Ok(true),
            Err(TrustError::Unknown(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn scan(&self, dir: &Path) -> Result<Known, String> {
        let pipeline = self
            .pipeline
            .get_or_init(|| {
                build_pipeline(
                    &[GateArg::G1, GateArg::G2, GateArg::G4],
                    skillgate_pipeline::Policy::default(),
                    None,
                    Some(self.st),
                    &Default::default(),
                )
                .map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let bundle = Bundle::load(dir, pipeline.limits()).map_err(|e| e.to_string())?;
        let (report, stored) =
            evaluate_loaded(pipeline, self.st, &pipeline.engine(), &bundle, dir, true);
        if let Some(e) = stored {
            return Err(format!("the scan could not be recorded: {e}"));
        }
        let hash = report.hash.clone().ok_or("the scan produced no hash")?;
        self.by_hash(&hash)?
            .ok_or_else(|| format!("{hash} was scanned but the store does not answer for it"))
    }
}
