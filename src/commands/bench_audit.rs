//! `skillgate bench --audit-workers N,… PATH` and `skillgate bench --lease-queue N`: a corpus
//! audit end to end with real worker processes, and the cost of leasing as the queue grows.
//!
//! Each measurement gets a fresh store: a new database on the PostgreSQL server `--db` names
//! (its role needs `CREATEDB`), else a temporary SQLite file.

use crate::ExitStatus;
use crate::commands::store::now_ms;
use anyhow::Context;
use skillgate_store::{LeaseTerms, Location, Store};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fresh_location(
    rt: &tokio::runtime::Runtime,
    db: Option<&Location>,
    dir: &Path,
    label: &str,
) -> anyhow::Result<Location> {
    Ok(match db {
        Some(Location::Postgres(admin)) => {
            let name = format!(
                "skillgate_bench_{label}_{}_{:06x}",
                now_ms(),
                rand::random::<u32>() & 0xff_ffff
            );
            rt.block_on(Store::create_postgres_database(admin, &name))?
        }
        _ => Location::Sqlite(dir.join(format!("{label}.db"))),
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Submits `path` and runs `workers` worker processes (each `--jobs jobs`) until the queue is
/// empty; prints skills/s and per-skill p50/p95/max, once per worker count.
pub fn audit_workers(
    path: &Path,
    db: Option<&Location>,
    counts: &[usize],
    jobs: usize,
    gates: &str,
) -> anyhow::Result<ExitStatus> {
    let exe = std::env::current_exe().context("locating the skillgate binary")?;
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let mut first_rate = None;
    for (run, &workers) in counts.iter().enumerate() {
        let location = fresh_location(&rt, db, dir.path(), &format!("audit{run}"))?;
        let url = location.to_arg();
        let submitted = Command::new(&exe)
            .args(["audit", "submit", "--gates", gates])
            .arg(path)
            .env("SKILLGATE_DB", &url)
            .stderr(Stdio::inherit())
            .output()?;
        anyhow::ensure!(submitted.status.success(), "audit submit failed");
        let started = Instant::now();
        let children: Vec<_> = (0..workers)
            .map(|_| {
                Command::new(&exe)
                    .args(["worker", "--gates", gates, "--jobs", &jobs.to_string()])
                    .env("SKILLGATE_DB", &url)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        for mut child in children {
            anyhow::ensure!(child.wait()?.success(), "a worker failed");
        }
        let elapsed = started.elapsed().as_secs_f64();
        let store = rt.block_on(Store::connect(&location))?;
        let mut per_skill: Vec<f64> = rt
            .block_on(store.scan_durations())?
            .into_iter()
            .map(|ms| ms as f64 / 1000.0)
            .collect();
        per_skill.sort_by(f64::total_cmp);
        let audit = rt
            .block_on(store.latest_audit())?
            .context("the audit is missing")?;
        let progress = rt.block_on(store.audit_progress(&audit, now_ms()))?;
        rt.block_on(store.close());
        let rate = progress.done as f64 / elapsed;
        let ratio = first_rate.map_or(String::new(), |r: f64| format!("  ({:.2}x)", rate / r));
        first_rate.get_or_insert(rate);
        println!(
            "{workers} worker(s) x {jobs} job(s), gates {gates}, {} store: {} judged, {} failed in {elapsed:.1} s \
             = {rate:.2} skills/s{ratio}; per skill p50 {:.2} s, p95 {:.2} s, max {:.2} s",
            match location {
                Location::Sqlite(_) => "SQLite",
                Location::Postgres(_) => "PostgreSQL",
            },
            progress.done,
            progress.failed,
            percentile(&per_skill, 0.50),
            percentile(&per_skill, 0.95),
            percentile(&per_skill, 1.0),
        );
    }
    Ok(ExitStatus::Success)
}

/// Lease latency with 1,000, 10,000 and 100,000 jobs queued (up to `max`): each lease takes
/// one job and ends it, as a worker does.
pub fn lease_queue(db: Option<&Location>, max: usize) -> anyhow::Result<ExitStatus> {
    const LEASES: usize = 300;
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let location = fresh_location(&rt, db, dir.path(), "lease")?;
    let store = rt.block_on(Store::connect(&location))?;
    let terms = LeaseTerms {
        owner: "bench".into(),
        lease_ms: 60_000,
        max_attempts: 3,
    };
    let mut queued = 0;
    let mut made = 0;
    for size in [1_000, 10_000, 100_000]
        .into_iter()
        .filter(|&s| s <= max.max(1_000))
    {
        let add = size - queued;
        rt.block_on(store.queue_synthetic_jobs(
            "bench-engine",
            "bench-policy",
            made,
            add,
            now_ms(),
        ))?;
        made += add;
        let mut times = Vec::with_capacity(LEASES);
        for _ in 0..LEASES {
            let start = Instant::now();
            let jobs =
                rt.block_on(store.lease_jobs("bench-engine", "bench-policy", &terms, 1, now_ms()))?;
            times.push(start.elapsed());
            let job = jobs.first().context("the queue ran dry")?;
            rt.block_on(async {
                let mut tx = store.begin().await?;
                tx.finish_job(job.id, &terms.owner, now_ms()).await?;
                tx.commit().await
            })?;
        }
        queued = size - LEASES;
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{} store, {size:>7} queued: lease p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({LEASES} leases)",
            match location {
                Location::Sqlite(_) => "SQLite",
                Location::Postgres(_) => "PostgreSQL",
            },
            ms(times[LEASES / 2]),
            ms(times[LEASES * 99 / 100]),
            ms(times[LEASES - 1]),
        );
    }
    rt.block_on(store.close());
    Ok(ExitStatus::Success)
}
