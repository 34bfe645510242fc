//! `skillgate audit submit|status|report` and `skillgate worker`: a corpus audit whose jobs
//! live in the store, so that any number of workers on any number of machines share it.
//!
//! A worker leases one job per thread, loads the skill at the path the submitter saw, checks
//! that its content is still what was queued, and commits the verdict together with the end of
//! the job. A heartbeat renews its leases; a worker that dies stops renewing, and its jobs go
//! to the others once the lease runs out.

use crate::ExitStatus;
use crate::args::{AuditCommand, EngineArgs, FailOn, Format, WorkerArgs};
use crate::commands::scan::{build_pipeline, exit_status, load_policy};
use crate::commands::store::{self, Opened, now_ms};
use crate::printer;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use skillgate_model::Bundle;
use skillgate_model::bundle::discover;
use skillgate_pipeline::{Pipeline, SkillReport};
use skillgate_store::{AuditJobRow, AuditProgress, AuditRow, AuditSkillRow, LeaseTerms, Location};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an idle worker waits before asking for work again.
const POLL: Duration = Duration::from_millis(500);
/// How long a worker keeps trying to commit a verdict while the store is unreachable.
const COMMIT_PATIENCE: Duration = Duration::from_secs(300);
/// Back-off before a failed job is tried again.
const RETRY_AFTER_MS: i64 = 2_000;

pub fn run(db: Option<&Location>, command: &AuditCommand) -> anyhow::Result<ExitStatus> {
    match command {
        AuditCommand::Submit { paths, engine } => submit(db, paths, engine),
        AuditCommand::Status { audit, json, watch } => status(db, audit.as_deref(), *json, *watch),
        AuditCommand::Report {
            audit,
            format,
            output,
            fail_on,
        } => report(db, audit.as_deref(), *format, output.as_deref(), *fail_on),
    }
}

fn open_engine(db: Option<&Location>, args: &EngineArgs) -> anyhow::Result<(Opened, Pipeline)> {
    let policy = load_policy(args.policy.as_deref())?;
    let st = store::open(db, &policy)?;
    let pipeline = build_pipeline(
        &args.gates,
        policy,
        args.osv.as_deref(),
        Some(&st),
        &args.sandbox,
    )?;
    Ok((st, pipeline))
}

fn submit(
    db: Option<&Location>,
    paths: &[PathBuf],
    args: &EngineArgs,
) -> anyhow::Result<ExitStatus> {
    let (st, pipeline) = open_engine(db, args)?;
    let mut candidates = Vec::new();
    for p in paths {
        if !p.exists() {
            anyhow::bail!("{} does not exist", p.display());
        }
        candidates.extend(discover(p));
    }
    // Workers read the skill where the submitter found it: an absolute path.
    let skills: Vec<AuditSkillRow> = candidates
        .par_iter()
        .map(|c| {
            let path = std::path::absolute(c.path()).unwrap_or_else(|_| c.path().to_path_buf());
            let (skill_hash, error) = match Bundle::load(&path, pipeline.limits()) {
                Ok(bundle) => (Some(bundle.hash.to_string()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            AuditSkillRow {
                audit_id: String::new(),
                path: path.display().to_string(),
                skill_hash,
                error,
            }
        })
        .collect();
    let now = now_ms();
    let audit = AuditRow {
        id: audit_id(now),
        engine: pipeline.engine(),
        policy_hash: pipeline.policy().hash().to_string(),
        roots: serde_json::to_string(
            &paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>(),
        )?,
        created_at: now,
    };
    let submitted = st
        .rt
        .block_on(st.trust.store().submit_audit(&audit, &skills))?;
    println!(
        "audit {}: {} skills ({} unreadable); {} jobs queued, {} already judged, {} already queued",
        audit.id,
        submitted.skills,
        submitted.unreadable,
        submitted.queued,
        submitted.already_judged,
        submitted.already_queued
    );
    println!(
        "run `skillgate worker --db {}` (same --gates/--policy) on each machine",
        st.location
    );
    Ok(ExitStatus::Success)
}

/// `YYYYMMDDTHHMMSS-xxxxxx`: sorts by time, unique enough for submissions by hand or script.
fn audit_id(now: i64) -> String {
    let stamp = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| now.to_string());
    format!("{stamp}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

fn find_audit(st: &Opened, id: Option<&str>) -> anyhow::Result<AuditRow> {
    let found = match id {
        Some(id) => st.rt.block_on(st.trust.store().audit(id))?,
        None => st.rt.block_on(st.trust.store().latest_audit())?,
    };
    found.ok_or_else(|| match id {
        Some(id) => anyhow::anyhow!("no audit {id} in {}", st.location),
        None => anyhow::anyhow!(
            "no audit in {}: run `skillgate audit submit` first",
            st.location
        ),
    })
}

/// Skills per second: over the last minute while the audit runs, else over its whole span.
fn rate(p: &AuditProgress, now: i64) -> Option<f64> {
    let recent = (p.finished_last_minute > 0)
        .then(|| {
            let span = p
                .first_finished
                .map_or(60_000, |f| (now - f).clamp(1_000, 60_000));
            p.finished_last_minute as f64 / (span as f64 / 1000.0)
        })
        .filter(|_| p.queued + p.running > 0);
    recent.or_else(|| match (p.first_finished, p.last_finished) {
        (Some(first), Some(last)) if last > first => {
            Some((p.done - 1).max(0) as f64 / ((last - first) as f64 / 1000.0))
        }
        _ => None,
    })
}

fn status_line(p: &AuditProgress, now: i64) -> String {
    let open = p.queued + p.running;
    let speed = rate(p, now);
    let eta = match speed {
        Some(r) if r > 0.0 && open > 0 => format!(", ETA {:.0} s", open as f64 / r),
        _ => String::new(),
    };
    format!(
        "queued {}  running {}  done {}  failed {}  |  {}{eta}",
        p.queued,
        p.running,
        p.done,
        p.failed,
        speed.map_or_else(
            || "rate unknown yet".to_string(),
            |r| format!("{r:.2} skills/s")
        ),
    )
}

fn status(
    db: Option<&Location>,
    id: Option<&str>,
    json: bool,
    watch: bool,
) -> anyhow::Result<ExitStatus> {
    let st = store::open(db, &skillgate_pipeline::Policy::default())?;
    let audit = find_audit(&st, id)?;
    let progress_of = || {
        st.rt
            .block_on(st.trust.store().audit_progress(&audit, now_ms()))
    };
    if watch {
        let first = progress_of()?;
        let total = (first.queued + first.running + first.done + first.failed) as u64;
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} jobs ended  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        loop {
            let p = progress_of()?;
            let line = status_line(&p, now_ms());
            bar.set_position((p.done + p.failed) as u64);
            bar.set_message(line.clone());
            if bar.is_hidden() {
                eprintln!("{line}");
            }
            if p.queued + p.running == 0 {
                break;
            }
            std::thread::sleep(Duration::from_secs(if bar.is_hidden() { 10 } else { 1 }));
        }
        bar.finish_and_clear();
    }
    let p = progress_of()?;
    let now = now_ms();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "audit": audit.id,
                "engine": audit.engine,
                "policy": audit.policy_hash,
                "progress": p,
                "skills_per_second": rate(&p, now),
            })
        );
    } else {
        println!(
            "audit {}  submitted {}",
            audit.id,
            store::when(audit.created_at)
        );
        println!(
            "skills {} ({} unreadable), {} content hashes, {} judged before this audit",
            p.skills, p.unreadable, p.hashes, p.judged_before
        );
        println!("{}", status_line(&p, now));
    }
    Ok(ExitStatus::Success)
}

fn report(
    db: Option<&Location>,
    id: Option<&str>,
    format: Format,
    output: Option<&Path>,
    fail_on: FailOn,
) -> anyhow::Result<ExitStatus> {
    let st = store::open(db, &skillgate_pipeline::Policy::default())?;
    let audit = find_audit(&st, id)?;
    let entries = st.rt.block_on(st.trust.store().audit_entries(&audit))?;
    let policy = skillgate_pipeline::Policy::default();
    let mut pending = 0;
    let reports: Vec<SkillReport> = entries
        .iter()
        .map(|e| {
            let path = Path::new(&e.path);
            if let Some(error) = &e.error {
                return SkillReport::unreadable(path, error, &policy);
            }
            if let Some(mut report) = e
                .report
                .as_deref()
                .and_then(|json| serde_json::from_str::<SkillReport>(json).ok())
            {
                report.path = e.path.clone();
                return report;
            }
            let why = match (e.job_state.as_deref(), &e.job_error) {
                (Some("failed"), Some(error)) => format!("the audit job failed: {error}"),
                (Some(state), _) => {
                    pending += 1;
                    format!("not judged yet (job {state})")
                }
                (None, _) => "no stored verdict for this engine and policy".to_string(),
            };
            SkillReport::unreadable(path, &why, &policy)
        })
        .collect();
    if pending > 0 {
        eprintln!("warning: {pending} skills are not judged yet; they are listed as errors");
    }
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    };
    match format {
        Format::Jsonl => {
            for r in &reports {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        Format::Json => printer::json(&mut out, &reports, &policy)?,
        Format::Sarif => {
            let g1 = skillgate_static::StaticGate::new(skillgate_static::AdvisoryDb::default())
                .context("compiling the embedded rules")?;
            printer::sarif(&mut out, &reports, &g1)?;
        }
        Format::Text => printer::text(
            &mut out,
            &reports,
            std::io::stdout().is_terminal() && output.is_none(),
        )?,
    }
    out.flush()?;
    Ok(exit_status(&reports, fail_on))
}

/// What one worker process has done, for its log lines.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    cached: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
}

pub fn worker(db: Option<&Location>, args: &WorkerArgs) -> anyhow::Result<ExitStatus> {
    let (st, pipeline) = open_engine(db, &args.engine)?;
    let engine = pipeline.engine();
    let policy_hash = pipeline.policy().hash().to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let terms = LeaseTerms {
        owner: format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ),
        lease_ms: i64::try_from(args.lease_secs.max(1) * 1000).unwrap_or(i64::MAX),
        max_attempts: args.max_attempts.max(1),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| crate::commands::scan::default_jobs(&args.engine.gates))
        .max(1);
    eprintln!(
        "worker {} on {}: {jobs} at once, lease {} s",
        terms.owner, st.location, args.lease_secs
    );
    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| heartbeat(&st, &terms, &stop, &tally, started));
        let runners: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    run_jobs(
                        &st,
                        &pipeline,
                        &engine,
                        &policy_hash,
                        &terms,
                        args.follow,
                        &tally,
                    )
                })
            })
            .collect();
        for r in runners {
            let _ = r.join();
        }
        stop.store(true, Ordering::Relaxed);
    });
    eprintln!(
        "worker {}: {} judged, {} already judged, {} failed, {} lost to another worker, in {:.1} s",
        terms.owner,
        tally.done.load(Ordering::Relaxed),
        tally.cached.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.lost.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    st.rt.block_on(st.trust.store().clone().close());
    Ok(ExitStatus::Success)
}

/// Renews this worker's leases every third of a lease, and says how far it has come.
fn heartbeat(st: &Opened, terms: &LeaseTerms, stop: &AtomicBool, tally: &Tally, started: Instant) {
    let every = Duration::from_millis(u64::try_from(terms.lease_ms / 3).unwrap_or(1000).max(100));
    let mut last_renewal = Instant::now();
    let mut last_report = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if last_renewal.elapsed() >= every {
            last_renewal = Instant::now();
            let renewed = st.rt.block_on(
                st.trust
                    .store()
                    .renew_leases(&terms.owner, now_ms() + terms.lease_ms),
            );
            if let Err(e) = renewed {
                eprintln!("warning: renewing leases: {e} (will retry)");
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let done = tally.done.load(Ordering::Relaxed);
            eprintln!(
                "worker {}: {done} judged, {} failed, {:.2} skills/s",
                terms.owner,
                tally.failed.load(Ordering::Relaxed),
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
}

fn run_jobs(
    st: &Opened,
    pipeline: &Pipeline,
    engine: &str,
    policy_hash: &str,
    terms: &LeaseTerms,
    follow: bool,
    tally: &Tally,
) {
    let store = st.trust.store();
    loop {
        let leased = st
            .rt
            .block_on(store.lease_jobs(engine, policy_hash, terms, 1, now_ms()));
        let job = match leased {
            Ok(mut jobs) if !jobs.is_empty() => jobs.swap_remove(0),
            Ok(_) => {
                // Nothing ready: stop once every job has ended (a running one may still come
                // back if its worker dies), unless told to wait for new submissions.
                let open = st.rt.block_on(store.open_jobs(engine, policy_hash));
                if !follow && matches!(open, Ok(0)) {
                    return;
                }
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => {
                eprintln!("warning: leasing a job: {e} (will retry)");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        run_job(st, pipeline, engine, terms, &job, tally);
    }
}

fn run_job(
    st: &Opened,
    pipeline: &Pipeline,
    engine: &str,
    terms: &LeaseTerms,
    job: &AuditJobRow,
    tally: &Tally,
) {
    let store = st.trust.store();
    let give_back = |error: String, permanent: bool| {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("error: {}: {error}", job.path);
        let result = st.rt.block_on(store.job_attempt_failed(
            job.id,
            terms,
            &error,
            permanent,
            RETRY_AFTER_MS,
            now_ms(),
        ));
        if let Err(e) = result {
            eprintln!(
                "warning: job {} not given back ({e}); its lease will run out",
                job.id
            );
        }
    };
    let path = Path::new(&job.path);
    let bundle = match Bundle::load(path, pipeline.limits()) {
        Ok(bundle) => bundle,
        Err(e) => return give_back(format!("reading the skill: {e}"), false),
    };
    let hash = bundle.hash.to_string();
    if hash != job.skill_hash {
        // The verdict would be for content nobody submitted.
        return give_back(
            format!(
                "the skill changed since it was submitted (queued {}, found {hash})",
                job.skill_hash
            ),
            true,
        );
    }
    let cached = st
        .rt
        .block_on(store.cached_report(&hash, engine, &job.policy_hash));
    if let Ok(Some(_)) = cached {
        let finished = st.rt.block_on(async {
            let mut tx = store.begin().await?;
            let mine = tx.finish_job(job.id, &terms.owner, now_ms()).await?;
            tx.commit().await?;
            Ok::<_, skillgate_store::StoreError>(mine)
        });
        if matches!(finished, Ok(true)) {
            tally.cached.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    let started = now_ms();
    let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pipeline.evaluate_bundle(&bundle)
    }));
    let Ok(mut report) = evaluated else {
        return give_back(
            "skillgate failed on this skill's content (a defect; please report it)".into(),
            false,
        );
    };
    report.path = job.path.clone();
    commit_verdict(st, engine, terms, job, &report, started, tally);
}

/// Commits the verdict with the end of its job, retrying while the store is unreachable (a
/// restarting server); gives up when the lease has gone to another worker.
fn commit_verdict(
    st: &Opened,
    engine: &str,
    terms: &LeaseTerms,
    job: &AuditJobRow,
    report: &SkillReport,
    started: i64,
    tally: &Tally,
) {
    let store = st.trust.store();
    let since = Instant::now();
    loop {
        let attempt = st.rt.block_on(async {
            let mut tx = store.begin().await?;
            let finished = now_ms();
            if !tx.finish_job(job.id, &terms.owner, finished).await? {
                return Ok(false);
            }
            st.trust
                .record_scan_in(tx, report, engine, started, finished)
                .await?;
            Ok::<_, skillgate_pipeline::TrustError>(true)
        });
        match attempt {
            Ok(true) => {
                tally.done.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(false) => {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "warning: {}: the lease went to another worker; its verdict stands, not this one",
                    job.path
                );
                return;
            }
            Err(e) if since.elapsed() < COMMIT_PATIENCE => {
                eprintln!(
                    "warning: {}: storing the verdict: {e} (will retry)",
                    job.path
                );
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                eprintln!(
                    "error: {}: verdict not stored after {} s: {e}; the job will be leased again",
                    job.path,
                    COMMIT_PATIENCE.as_secs()
                );
                return;
            }
        }
    }
}
