//! `skillgate scan`: discover skills, evaluate them in parallel, print, and set the exit code.

use crate::ExitStatus;
use crate::args::{FailOn, Format, GateArg, SandboxArgs, ScanArgs};
use crate::commands::store::{self, Opened, now_ms};
use crate::printer;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use skillgate_intent::llm::{AnswerCache, LlmConfig, LlmJudge};
use skillgate_model::Bundle;
use skillgate_model::bundle::{Candidate, discover};
use skillgate_model::{Decision, Gate, Severity};
use skillgate_pipeline::{Pipeline, Policy, SkillReport};
use skillgate_sandbox::{Profile, RunnerCommand, Runners, Sandbox};
use skillgate_static::{AdvisoryDb, StaticGate};
use skillgate_store::Location;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// LLM judge answers cached in the trust store, by content hash, model and prompt version.
struct StoreAnswerCache {
    handle: tokio::runtime::Handle,
    store: skillgate_store::Store,
}

impl AnswerCache for StoreAnswerCache {
    fn get(&self, hash: &str, model: &str, prompt_version: &str) -> Option<String> {
        self.handle
            .block_on(self.store.judge_answer(hash, model, prompt_version))
            .ok()
            .flatten()
    }

    fn put(&self, hash: &str, model: &str, prompt_version: &str, answer: &str) {
        let stored = self.handle.block_on(self.store.put_judge_answer(
            hash,
            model,
            prompt_version,
            answer,
            now_ms(),
        ));
        if let Err(e) = stored {
            eprintln!("warning: LLM judge answer for {hash} not cached: {e}");
        }
    }
}

pub fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    Ok(match path {
        Some(p) => {
            let mut policy = Policy::from_toml(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("reading policy {}", p.display()))?,
            )
            .with_context(|| format!("policy {}", p.display()))?;
            // Custom rule folders are named relative to the policy file.
            if policy.rules.paths.iter().any(|d| d.is_relative()) {
                let base = p.parent().unwrap_or(Path::new("."));
                let paths: Vec<_> = std::mem::take(&mut policy.rules.paths)
                    .into_iter()
                    .map(|d| if d.is_relative() { base.join(d) } else { d })
                    .collect();
                policy = policy.with_rules(&[], &[], &paths)?;
            }
            policy
        }
        None => Policy::default(),
    })
}

/// Builds the pipeline: advisories from the store (`db import-osv`) and from `--osv`.
pub fn build_pipeline(
    gates: &[GateArg],
    policy: Policy,
    osv: Option<&Path>,
    store: Option<&Opened>,
    sandbox_args: &SandboxArgs,
) -> anyhow::Result<Pipeline> {
    let mut db = AdvisoryDb::default();
    if let Some(st) = store {
        let records = st.rt.block_on(st.trust.store().advisories())?;
        for record in &records {
            match serde_json::from_str(record) {
                Ok(a) => db.insert(a),
                Err(e) => eprintln!("warning: skipping a stored advisory: {e}"),
            }
        }
    }
    if let Some(p) = osv {
        let (n, bad) = db.load_path(p)?;
        eprintln!(
            "loaded {n} advisories from {} ({} records unreadable)",
            p.display(),
            bad.len()
        );
    }
    let (g1, refused) = StaticGate::with_custom_rules(db, &policy.rules.paths)
        .context("compiling the embedded rules")?;
    for r in &refused {
        eprintln!("warning: custom rule {} refused: {}", r.file, r.why);
    }
    let gates: BTreeSet<Gate> = gates
        .iter()
        .map(|g| match g {
            GateArg::G1 => Gate::G1,
            GateArg::G2 => Gate::G2,
            GateArg::G3 => Gate::G3,
            GateArg::G4 => Gate::G4,
        })
        .collect();
    let g3 = gates.contains(&Gate::G3);
    let pipeline = Pipeline::new(g1, policy, gates);
    if !g3 {
        return Ok(pipeline);
    }
    Ok(pipeline.with_sandbox(sandbox(
        sandbox_args.sandbox_profile.as_deref(),
        sandbox_args.sandbox_runner,
    )?))
}

/// The waiver file given, or `.skillgate/waivers.toml` when it exists. A file that cannot be
/// used stops the scan: a waiver read wrongly would admit what nobody accepted.
fn load_waivers(
    path: Option<&Path>,
) -> anyhow::Result<Option<skillgate_pipeline::waivers::Waivers>> {
    let default = Path::new(".skillgate/waivers.toml");
    let path = match path {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading waivers {}", path.display()))?;
    Ok(Some(skillgate_pipeline::waivers::Waivers::parse(
        &text,
        &path.display().to_string(),
    )?))
}

/// One line per waiver: what became of it. A waiver whose skill was never seen is stale; one
/// seen but matching nothing is unused; each is also said on stderr.
fn summarise_waivers(
    waivers: &skillgate_pipeline::waivers::Waivers,
    statuses: &[(usize, skillgate_pipeline::waivers::Status)],
) -> serde_json::Value {
    use skillgate_pipeline::waivers::Status;
    let mut out = Vec::new();
    for (i, e) in waivers.entries().iter().enumerate() {
        let mine: Vec<&Status> = statuses
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, s)| s)
            .collect();
        let status = if mine.is_empty() {
            Status::Stale
        } else if mine.contains(&&Status::Applied) {
            Status::Applied
        } else {
            mine[0].clone()
        };
        if status != Status::Applied {
            eprintln!(
                "waiver {} ({} on {}): {}",
                i + 1,
                e.rule,
                e.skill,
                match &status {
                    Status::Stale => "stale: no scanned skill has that content (changed, or not scanned); not applied".to_string(),
                    Status::Unused => "unused: the skill never triggered that rule on that text".to_string(),
                    Status::Expired => format!("expired on {}; not applied", e.expires.as_deref().unwrap_or("?")),
                    Status::OtherPolicy => "bound to another policy; not applied".to_string(),
                    Status::Refused(why) => format!("refused: {why}"),
                    Status::Applied => unreachable!(),
                }
            );
        }
        let mut v = serde_json::to_value(e).unwrap_or_default();
        v["index"] = serde_json::json!(i + 1);
        v["outcome"] = serde_json::to_value(&status).unwrap_or_default();
        out.push(v);
    }
    serde_json::Value::Array(out)
}

/// G3's sandbox: this binary as the runner, the bundled analysis profile unless one is given.
pub fn sandbox(profile: Option<&Path>, runners: Runners) -> anyhow::Result<Sandbox> {
    let profile = match profile {
        Some(p) => Profile::load(p)?,
        None => Profile::analysis(),
    };
    let runner = RunnerCommand::current_exe().context("locating the skillgate binary")?;
    Ok(Sandbox::new(runner, profile).with_runners(runners))
}

/// Evaluates one skill; with a store, serves an identical earlier scan from it or records this
/// one (in its own transaction). A failed store write is returned beside the report.
pub fn evaluate(
    pipeline: &Pipeline,
    store: Option<&Opened>,
    engine: &str,
    path: &Path,
    use_cache: bool,
) -> (SkillReport, Option<String>) {
    let Some(st) = store else {
        return (pipeline.evaluate(path), None);
    };
    match Bundle::load(path, pipeline.limits()) {
        Ok(bundle) => evaluate_loaded(pipeline, st, engine, &bundle, path, use_cache),
        Err(e) => (
            SkillReport::unreadable(path, &e.to_string(), pipeline.policy()),
            None,
        ),
    }
}

/// [`evaluate`] for a bundle the caller has already loaded.
pub fn evaluate_loaded(
    pipeline: &Pipeline,
    st: &Opened,
    engine: &str,
    bundle: &Bundle,
    path: &Path,
    use_cache: bool,
) -> (SkillReport, Option<String>) {
    let hash = bundle.hash.to_string();
    let started = now_ms();
    if use_cache {
        let cached = st.rt.block_on(st.trust.store().cached_report(
            &hash,
            engine,
            pipeline.policy().hash(),
        ));
        match cached {
            Ok(Some(json)) => {
                if let Ok(mut report) = serde_json::from_str::<SkillReport>(&json) {
                    report.cached = true;
                    report.path = path.display().to_string();
                    return (report, None);
                }
            }
            Ok(None) => {}
            Err(e) => return (pipeline.evaluate_bundle(bundle), Some(e.to_string())),
        }
    }
    let report = pipeline.evaluate_bundle(bundle);
    let stored = st
        .rt
        .block_on(st.trust.record_scan(&report, engine, started, now_ms()));
    (report, stored.err().map(|e| e.to_string()))
}

/// Skills judged at once when `--jobs` is not given: one per core, or four per core with G3,
/// whose runs mostly wait (on a step's time limit, on a capture server, on a sleeping script)
/// rather than compute.
pub fn default_jobs(gates: &[GateArg]) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    if gates.contains(&GateArg::G3) {
        cores * 4
    } else {
        cores
    }
}

pub fn run(args: &ScanArgs, db: Option<&Location>) -> anyhow::Result<ExitStatus> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or_else(|| default_jobs(&args.gates)))
        .build_global()
        .ok();
    let policy = load_policy(args.policy.as_deref())?.with_rules(
        &args.select,
        &args.ignore,
        &args.rules_dirs,
    )?;
    let store = if args.no_store {
        None
    } else {
        Some(store::open(db, &policy)?)
    };
    let mut pipeline = build_pipeline(
        &args.gates,
        policy,
        args.osv.as_deref(),
        store.as_ref(),
        &args.sandbox,
    )?;
    if let Some(url) = &args.llm.llm_url {
        let cache = store.as_ref().map(|st| {
            Arc::new(StoreAnswerCache {
                handle: st.rt.handle().clone(),
                store: st.trust.store().clone(),
            }) as Arc<dyn AnswerCache>
        });
        let config = LlmConfig {
            url: url.clone(),
            model: args.llm.llm_model.clone(),
            api_key: args.llm.llm_api_key.clone(),
            timeout: std::time::Duration::from_secs(args.llm.llm_timeout),
            retries: args.llm.llm_retries,
        };
        pipeline = pipeline.with_llm_judge(Box::new(LlmJudge::new(config, cache)));
    }
    let engine = pipeline.engine();
    let waivers = load_waivers(args.waivers.as_deref())?;
    let today = skillgate_pipeline::waivers::today();
    let waiver_statuses: Mutex<Vec<(usize, skillgate_pipeline::waivers::Status)>> =
        Mutex::new(Vec::new());
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
    let store_failures = AtomicUsize::new(0);
    let mut reports: Vec<SkillReport> = candidates
        .par_iter()
        .map(|c| {
            let (mut report, store_error) =
                evaluate(&pipeline, store.as_ref(), &engine, c.path(), true);
            if let Some(w) = &waivers {
                let statuses = w.apply(&mut report, pipeline.policy(), today);
                waiver_statuses
                    .lock()
                    .expect("no panics while holding the lock")
                    .extend(statuses);
            }
            if let Some(e) = store_error {
                store_failures.fetch_add(1, Ordering::Relaxed);
                progress.suspend(|| {
                    eprintln!("error: {}: not stored: {e}", c.path().display());
                });
            }
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
    let waiver_summary = waivers.as_ref().map(|w| {
        summarise_waivers(
            w,
            &waiver_statuses
                .into_inner()
                .expect("no panics while holding the lock"),
        )
    });
    match args.format {
        Format::Jsonl => {}
        Format::Json => printer::json_with(
            &mut out,
            &reports,
            pipeline.policy(),
            waiver_summary.clone(),
        )?,
        Format::Sarif => printer::sarif(&mut out, &reports, pipeline.static_gate())?,
        Format::Text => printer::text(
            &mut out,
            &reports,
            std::io::stdout().is_terminal() && args.output.is_none(),
        )?,
    }
    out.flush()?;
    if let Some(st) = store {
        st.rt.block_on(st.trust.store().clone().close());
    }
    let failures = store_failures.into_inner();
    if failures > 0 {
        eprintln!("error: {failures} verdicts could not be stored");
        return Ok(ExitStatus::Error);
    }
    Ok(exit_status(&reports, args.fail_on))
}

pub fn exit_status(reports: &[SkillReport], fail_on: FailOn) -> ExitStatus {
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
