//! Scan jobs: uploads persisted before they are accepted, run by a bounded pool of workers.
//!
//! A job is written to the store (`queued`) before the client hears `202`, so an accepted
//! upload survives a crash. Workers mark it `running`, evaluate it with the pipeline on a
//! blocking thread, record the scan through [`Trust::record_scan`](skillgate_pipeline::Trust)
//! and mark it `done` with the report. At start, jobs left `queued` or `running` run again; a
//! scan that was committed before the crash is found in the store by content, engine and
//! policy, and served from there: one verdict per upload, and no history row twice.

use crate::problem::Problem;
use crate::{ServerError, Service, now_ms};
use sha2::{Digest, Sha256};
use skillgate_model::Bundle;
use skillgate_pipeline::SkillReport;
use skillgate_store::{JobRow, JobState};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::{Mutex, broadcast, mpsc};

/// The queue between the API and the workers.
pub struct Queue {
    sender: mpsc::Sender<String>,
    /// Jobs accepted and not finished (queued or running), for `/metrics`.
    pub depth: AtomicI64,
    finished: broadcast::Sender<String>,
}

impl Queue {
    pub fn new(limit: usize) -> (Self, mpsc::Receiver<String>) {
        let (sender, receiver) = mpsc::channel(limit.max(1));
        let (finished, _) = broadcast::channel(1024);
        (
            Self {
                sender,
                depth: AtomicI64::new(0),
                finished,
            },
            receiver,
        )
    }

    /// Waits for a job to finish, up to `wait`; `true` if it did.
    pub async fn wait_for(&self, service: &Service, id: &str, wait: std::time::Duration) -> bool {
        let mut finished = self.finished.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match service.trust.store().job(id).await {
                Ok(Some(job)) if matches!(job.state, JobState::Done | JobState::Failed) => {
                    return true;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
            // Woken by any job finishing, and at least every half second: another server on
            // the same store may be the one that runs it.
            let tick = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
            match tokio::time::timeout_at(deadline.min(tick), finished.recv()).await {
                Ok(_) => {}
                Err(_) if tokio::time::Instant::now() >= deadline => return false,
                Err(_) => {}
            }
        }
    }
}

/// What an upload became.
pub enum Submitted {
    /// The same bytes were scanned before: the job that did it.
    Known(JobRow),
    /// A new or still-running job.
    Pending(JobRow),
}

fn new_id() -> String {
    let mut bytes = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    format!("scan_{}", hex::encode(bytes))
}

/// Accepts an upload: answers from the store when the same bytes were scanned, joins a job
/// already running for them, or persists and queues a new one. `503` past the queue limit.
pub async fn submit(service: &Service, bytes: &[u8], actor: &str) -> Result<Submitted, Problem> {
    let store = service.trust.store();
    let upload_hash = hex::encode(Sha256::digest(bytes));
    if let Some(job) = store.finished_job_for_upload(&upload_hash).await? {
        return Ok(Submitted::Known(job));
    }
    if let Some(job) = store.pending_job_for_upload(&upload_hash).await? {
        return Ok(Submitted::Pending(job));
    }
    let queue = &service.jobs;
    if queue.sender.capacity() == 0 {
        return Err(Problem::busy(
            "queue-full",
            "the scan queue is full; retry later",
            retry_after(service),
        ));
    }
    let archive = service.config.spool.join(format!("{upload_hash}.archive"));
    write_once(&archive, bytes)
        .map_err(|e| Problem::internal(format!("keeping the upload: {e}")))?;
    let now = now_ms();
    let job = JobRow {
        id: new_id(),
        upload_hash,
        archive_path: archive.display().to_string(),
        state: JobState::Queued,
        skill_hash: None,
        report: None,
        error: None,
        actor: actor.to_string(),
        created_at: now,
        updated_at: now,
    };
    store.insert_job(&job).await?;
    if queue.sender.try_send(job.id.clone()).is_err() {
        store
            .update_job(
                &job.id,
                JobState::Failed,
                None,
                None,
                Some("refused: the scan queue was full"),
                now_ms(),
            )
            .await?;
        return Err(Problem::busy(
            "queue-full",
            "the scan queue is full; retry later",
            retry_after(service),
        ));
    }
    queue.depth.fetch_add(1, Ordering::Relaxed);
    service
        .metrics
        .queue_depth
        .set(queue.depth.load(Ordering::Relaxed));
    Ok(Submitted::Pending(job))
}

/// Seconds a refused client should wait: the queue drained by the workers at a few seconds a
/// scan.
fn retry_after(service: &Service) -> u64 {
    let per_worker = service.config.queue_limit / service.config.scan_workers.max(1);
    (per_worker as u64 * 2).clamp(1, 120)
}

/// Writes the upload under its content hash, atomically: a crash leaves no half file.
fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Starts the workers, and re-queues what a previous run left unfinished.
pub async fn start_workers(
    service: Arc<Service>,
    receiver: mpsc::Receiver<String>,
) -> Result<(), ServerError> {
    let unfinished = service.trust.store().unfinished_jobs().await?;
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..service.config.scan_workers.max(1) {
        let service = service.clone();
        let receiver = receiver.clone();
        tokio::spawn(async move {
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(id) = next else { break };
                run_job(&service, &id).await;
                service.jobs.depth.fetch_sub(1, Ordering::Relaxed);
                service
                    .metrics
                    .queue_depth
                    .set(service.jobs.depth.load(Ordering::Relaxed));
                let _ = service.jobs.finished.send(id);
            }
        });
    }
    if !unfinished.is_empty() {
        tracing::info!(jobs = unfinished.len(), "re-queuing unfinished scans");
    }
    let requeue = service.clone();
    tokio::spawn(async move {
        for job in unfinished {
            requeue.jobs.depth.fetch_add(1, Ordering::Relaxed);
            if requeue.jobs.sender.send(job.id).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}

async fn run_job(service: &Arc<Service>, id: &str) {
    let store = service.trust.store();
    let job = match store.job(id).await {
        Ok(Some(job)) if matches!(job.state, JobState::Queued | JobState::Running) => job,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(job = id, error = %e, "reading a scan job");
            return;
        }
    };
    let started = std::time::Instant::now();
    if let Err(e) = store
        .update_job(id, JobState::Running, None, None, None, now_ms())
        .await
    {
        tracing::error!(job = id, error = %e, "marking a scan job running");
        return;
    }
    let outcome = scan(service, &job).await;
    let now = now_ms();
    let update = match &outcome {
        Ok(report) => {
            let json = serde_json::to_string(report).unwrap_or_default();
            service
                .metrics
                .record_scan(&report.decision.to_string(), started.elapsed());
            tracing::info!(job = id, decision = %report.decision, hash = ?report.hash,
                ms = started.elapsed().as_millis() as u64, "scanned");
            store
                .update_job(
                    id,
                    JobState::Done,
                    report.hash.as_deref(),
                    Some(&json),
                    None,
                    now,
                )
                .await
        }
        Err(why) => {
            service.metrics.record_scan("failed", started.elapsed());
            tracing::error!(job = id, error = %why, "scan failed");
            store
                .update_job(id, JobState::Failed, None, None, Some(why), now)
                .await
        }
    };
    if let Err(e) = update {
        tracing::error!(job = id, error = %e, "recording a scan job's end");
    }
}

/// The verdict on one upload: the library calls `skillgate scan` makes.
async fn scan(service: &Arc<Service>, job: &JobRow) -> Result<SkillReport, String> {
    let path = std::path::PathBuf::from(&job.archive_path);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| format!("reading the kept upload: {e}"))?;
    let pipeline = service.pipeline.clone();
    let loaded = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            Bundle::from_archive_bytes(&path, &bytes, pipeline.limits())
        })
        .await
        .map_err(|e| format!("loading the upload panicked: {e}"))?
    };
    verdict(service, &path, loaded).await
}

/// The verdict on a loaded (or unloadable) bundle, for the scan jobs and MCP's `scan_skill`:
/// a bundle that did not load is a verdict with `error` (not a skill archive, a bomb, a `../`
/// entry); an identical earlier scan (content, engine, policy) is served from the store;
/// otherwise the pipeline runs on a blocking thread and the verdict is recorded, and the tier
/// cache is emptied.
pub async fn verdict(
    service: &Arc<Service>,
    path: &Path,
    loaded: Result<Bundle, skillgate_model::bundle::BundleError>,
) -> Result<SkillReport, String> {
    let policy = service.pipeline.policy();
    let bundle = match loaded {
        Ok(bundle) => bundle,
        Err(e) => return Ok(SkillReport::unreadable(path, &e.to_string(), policy)),
    };
    let store = service.trust.store();
    let cached = store
        .cached_report(&bundle.hash.to_string(), &service.engine, policy.hash())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(mut report) =
        cached.and_then(|json| serde_json::from_str::<SkillReport>(&json).ok())
    {
        report.cached = true;
        return Ok(report);
    }
    let started = now_ms();
    let pipeline = service.pipeline.clone();
    let report = match tokio::task::spawn_blocking(move || pipeline.evaluate_bundle(&bundle)).await
    {
        Ok(report) => report,
        // A defect of ours met on this skill's content fails it, closed; nothing recorded.
        Err(e) => {
            let why = format!(
                "skillgate failed on this skill's content (a defect; please report it): {e}"
            );
            return Ok(SkillReport::unreadable(path, &why, policy));
        }
    };
    service
        .trust
        .record_scan(&report, &service.engine, started, now_ms())
        .await
        .map_err(|e| format!("recording the verdict: {e}"))?;
    service.tiers.clear();
    Ok(report)
}
