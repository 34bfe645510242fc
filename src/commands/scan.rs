//! `skillgate scan`: discover skills, evaluate them in parallel, print, and set the exit code.

use crate::ExitStatus;
use crate::args::{FailOn, Format, GateArg, ScanArgs};
use crate::printer;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use skillgate_model::bundle::{Candidate, discover};
use skillgate_model::{Decision, Gate, Severity};
use skillgate_pipeline::{Pipeline, Policy, SkillReport};
use skillgate_static::{AdvisoryDb, StaticGate};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

pub fn build_pipeline(
    gates: &[GateArg],
    policy: Option<&std::path::Path>,
    osv: Option<&std::path::Path>,
) -> anyhow::Result<Pipeline> {
    let policy = match policy {
        Some(p) => Policy::from_toml(
            &std::fs::read_to_string(p)
                .with_context(|| format!("reading policy {}", p.display()))?,
        )?,
        None => Policy::default(),
    };
    let mut db = AdvisoryDb::default();
    if let Some(p) = osv {
        let (n, bad) = db.load_path(p)?;
        eprintln!(
            "loaded {n} advisories from {} ({} records unreadable)",
            p.display(),
            bad.len()
        );
    }
    let g1 = StaticGate::new(db).context("compiling the embedded rules")?;
    let gates: BTreeSet<Gate> = gates
        .iter()
        .map(|g| match g {
            GateArg::G1 => Gate::G1,
            GateArg::G2 => Gate::G2,
            GateArg::G3 => Gate::G3,
            GateArg::G4 => Gate::G4,
        })
        .collect();
    Ok(Pipeline::new(g1, policy, gates))
}

pub fn run(args: &ScanArgs) -> anyhow::Result<ExitStatus> {
    if let Some(j) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build_global()
            .ok();
    }
    let pipeline = build_pipeline(&args.gates, args.policy.as_deref(), args.osv.as_deref())?;
    let mut candidates: Vec<Candidate> = Vec::new();
    for p in &args.paths {
        if !p.exists() {
            anyhow::bail!("{} does not exist", p.display());
        }
        candidates.extend(discover(p));
    }
    let progress = if std::io::stderr().is_terminal() && candidates.len() > 1 {
        let pb = ProgressBar::new(candidates.len() as u64);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} skills {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut out: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    };
    let streaming = args.format == Format::Jsonl;
    let sink = Mutex::new(&mut out);
    let mut reports: Vec<SkillReport> = candidates
        .par_iter()
        .map(|c| {
            let report = pipeline.evaluate(c.path());
            if streaming {
                let mut w = sink
                    .lock()
                    .expect("no writer panics while holding the lock");
                let _ = writeln!(w, "{}", serde_json::to_string(&report).unwrap_or_default());
                let _ = w.flush();
            }
            progress.inc(1);
            report
        })
        .collect();
    progress.finish_and_clear();
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    match args.format {
        Format::Jsonl => {}
        Format::Json => printer::json(&mut out, &reports, pipeline.policy())?,
        Format::Sarif => printer::sarif(&mut out, &reports, pipeline.static_gate())?,
        Format::Text => printer::text(
            &mut out,
            &reports,
            std::io::stdout().is_terminal() && args.output.is_none(),
        )?,
    }
    out.flush()?;
    Ok(exit_status(&reports, args.fail_on))
}

fn exit_status(reports: &[SkillReport], fail_on: FailOn) -> ExitStatus {
    let threshold = match fail_on {
        FailOn::Never => return ExitStatus::Success,
        FailOn::Reject => None,
        FailOn::Info => Some(Severity::Info),
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
    };
    let rejected = reports.iter().any(|r| r.decision == Decision::Reject);
    let over = threshold.is_some_and(|t| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .any(|f| f.severity >= t)
    });
    if rejected || over {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}
