//! The store's own guarantees: schema on open, per-transaction commits, append-only history,
//! the service's jobs and keys, and the audit queue's leases. Every test that is not about a
//! SQLite file runs on each backend `testing::stores` gives (PostgreSQL when configured).

use skillgate_store::testing::stores;
use skillgate_store::{
    ApiKeyRow, AuditRow, AuditSkillRow, HistoryRow, JobRow, JobState, LeaseTerms, SkillRow, Store,
};

fn skill(hash: &str) -> SkillRow {
    SkillRow {
        hash: hash.into(),
        name: Some("demo".into()),
        version: None,
        publisher: None,
        source: "corpus/demo".into(),
        allowed_tools: Some("Read Bash(git diff:*)".into()),
        first_seen: 1,
    }
}

fn row(hash: &str, to: &str) -> HistoryRow {
    HistoryRow {
        id: 0,
        skill_hash: hash.into(),
        from_state: None,
        to_state: to.into(),
        reason: "scan".into(),
        actor: "test".into(),
        evidence: "{}".into(),
        created_at: 2,
    }
}

#[tokio::test]
async fn history_cannot_be_updated_or_deleted() {
    for store in stores("history_append_only").await {
        history_cannot_be_updated_or_deleted_on(store).await;
    }
}

async fn history_cannot_be_updated_or_deleted_on(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.ensure_skill(&skill("sha256:aa")).await.unwrap();
    tx.append_history(&row("sha256:aa", "T2")).await.unwrap();
    tx.commit().await.unwrap();

    for sql in [
        "UPDATE tier_history SET to_state = 'T4'",
        "DELETE FROM tier_history",
    ] {
        let mut tx = store.begin().await.unwrap();
        let err = tx.raw_execute_for_tests(sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(store.history("sha256:aa").await.unwrap().len(), 1);
}

#[tokio::test]
async fn file_store_survives_reopen_and_uncommitted_work_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/sg.db");
    {
        let store = Store::open(&path).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.ensure_skill(&skill("sha256:bb")).await.unwrap();
        tx.append_history(&row("sha256:bb", "T1")).await.unwrap();
        tx.commit().await.unwrap();
        // Begun, written, never committed: as if the process died here.
        let mut tx = store.begin().await.unwrap();
        tx.ensure_skill(&skill("sha256:cc")).await.unwrap();
        drop(tx);
        store.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    assert!(store.skill("sha256:bb").await.unwrap().is_some());
    assert!(store.skill("sha256:cc").await.unwrap().is_none());
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.skills, counts.history), (1, 1));
}

#[tokio::test]
async fn same_hash_keeps_its_first_sighting() {
    for store in stores("first_sighting").await {
        same_hash_keeps_its_first_sighting_on(store).await;
    }
}

async fn same_hash_keeps_its_first_sighting_on(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.ensure_skill(&skill("sha256:dd")).await.unwrap();
    let mut renamed = skill("sha256:dd");
    renamed.name = Some("other".into());
    tx.ensure_skill(&renamed).await.unwrap();
    tx.commit().await.unwrap();
    let s = store.skill("sha256:dd").await.unwrap().unwrap();
    assert_eq!(s.name.as_deref(), Some("demo"));
    assert_eq!(
        store
            .skills_by_hash_prefix("sha256:d", 5)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .skills_by_hash_prefix("sha256:%", 5)
            .await
            .unwrap()
            .len(),
        0
    );
}

/// Scanners started together on a fresh file all open it: one of them switches the file to WAL,
/// which SQLite refuses at once (no busy wait) to anyone else doing the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_opens_of_a_fresh_file_all_succeed() {
    for _ in 0..50 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let opens: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { Store::open(&path).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().expect("the store opens");
            let mut tx = store.begin().await.unwrap();
            assert!(tx.latest_verdict("sha256:none").await.unwrap().is_none());
        }
    }
}

#[tokio::test]
async fn jobs_and_keys_round_trip() {
    for store in stores("jobs_and_keys").await {
        let job = JobRow {
            id: "j1".into(),
            upload_hash: "u".into(),
            archive_path: "/tmp/x".into(),
            state: JobState::Queued,
            skill_hash: None,
            report: None,
            error: None,
            actor: "market".into(),
            created_at: 1,
            updated_at: 1,
        };
        store.insert_job(&job).await.unwrap();
        assert_eq!(store.unfinished_jobs().await.unwrap().len(), 1);
        assert!(store.finished_job_for_upload("u").await.unwrap().is_none());
        store
            .update_job("j1", JobState::Done, Some("sha256:a"), Some("{}"), None, 2)
            .await
            .unwrap();
        let done = store.finished_job_for_upload("u").await.unwrap().unwrap();
        assert_eq!(
            (done.state, done.report.as_deref()),
            (JobState::Done, Some("{}"))
        );
        assert!(store.unfinished_jobs().await.unwrap().is_empty());

        let key = ApiKeyRow {
            id: "k1".into(),
            name: "agent-1".into(),
            role: "agent".into(),
            key_hash: "h".into(),
            created_at: 1,
            expires_at: None,
            revoked_at: None,
        };
        store.insert_api_key(&key).await.unwrap();
        assert_eq!(store.api_key_by_hash("h").await.unwrap(), Some(key));
        assert!(store.revoke_api_key("k1", 5).await.unwrap());
        assert!(!store.revoke_api_key("k1", 6).await.unwrap());
        let revoked = store.api_key_by_hash("h").await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(5));
    }
}

fn audit(id: &str, at: i64) -> AuditRow {
    AuditRow {
        id: id.into(),
        engine: "engine-1".into(),
        policy_hash: "policy-1".into(),
        roots: "[\"/corpus\"]".into(),
        created_at: at,
    }
}

fn found(path: &str, hash: Option<&str>) -> AuditSkillRow {
    AuditSkillRow {
        audit_id: String::new(),
        path: path.into(),
        skill_hash: hash.map(Into::into),
        error: hash.is_none().then(|| "SKILL.md is missing".into()),
    }
}

fn terms(owner: &str, max_attempts: i64) -> LeaseTerms {
    LeaseTerms {
        owner: owner.into(),
        lease_ms: 1_000,
        max_attempts,
    }
}

/// Stores a verdict for `hash` under the audit's engine and policy, finishing `job` in the
/// same transaction as a worker does; returns whether the lease was still ours.
async fn judge(store: &Store, hash: &str, job: i64, owner: &str, now: i64) -> bool {
    let mut tx = store.begin().await.unwrap();
    if !tx.finish_job(job, owner, now).await.unwrap() {
        return false;
    }
    tx.ensure_skill(&skill(hash)).await.unwrap();
    let scan = skillgate_store::ScanRow {
        skill_hash: hash.into(),
        tool_version: "0".into(),
        engine: "engine-1".into(),
        policy_hash: "policy-1".into(),
        started_at: now,
        finished_at: now,
        report: format!("{{\"hash\":\"{hash}\"}}"),
    };
    let verdict = skillgate_store::VerdictRow {
        scan_id: 0,
        skill_hash: hash.into(),
        decision: "admit".into(),
        tier: Some("T2".into()),
        worst: "info".into(),
        reasons: "[]".into(),
        policy_hash: "policy-1".into(),
        created_at: now,
    };
    tx.insert_scan(&scan, &[], &[], &verdict).await.unwrap();
    tx.commit().await.unwrap();
    true
}

#[tokio::test]
async fn audit_queues_each_hash_once_and_skips_what_is_judged() {
    for store in stores("audit_dedupe").await {
        let skills = [
            found("/c/a", Some("sha256:a")),
            found("/c/a-copy", Some("sha256:a")),
            found("/c/b", Some("sha256:b")),
            found("/c/broken", None),
        ];
        let first = store.submit_audit(&audit("a1", 10), &skills).await.unwrap();
        assert_eq!(
            (
                first.skills,
                first.unreadable,
                first.queued,
                first.already_queued
            ),
            (4, 1, 2, 0)
        );
        // Judge `a`; a second submission queues nothing: `a` is judged, `b` already queued.
        let leased = store
            .lease_jobs("engine-1", "policy-1", &terms("w1", 3), 1, 20)
            .await
            .unwrap();
        assert_eq!(leased.len(), 1);
        assert_eq!(leased[0].skill_hash, "sha256:a");
        assert!(judge(&store, "sha256:a", leased[0].id, "w1", 21).await);
        let second = store.submit_audit(&audit("a2", 30), &skills).await.unwrap();
        assert_eq!(
            (second.queued, second.already_judged, second.already_queued),
            (0, 1, 1)
        );
        let a1 = store.audit("a1").await.unwrap().unwrap();
        let progress = store.audit_progress(&a1, 40).await.unwrap();
        assert_eq!(
            (progress.skills, progress.unreadable, progress.hashes),
            (4, 1, 2)
        );
        assert_eq!((progress.queued, progress.done), (1, 1));
        let entries = store.audit_entries(&a1).await.unwrap();
        assert_eq!(entries.len(), 4);
        let broken = entries.iter().find(|e| e.path == "/c/broken").unwrap();
        assert!(broken.error.is_some() && broken.report.is_none());
        let a = entries.iter().find(|e| e.path == "/c/a-copy").unwrap();
        assert_eq!(a.job_state.as_deref(), Some("done"));
        assert!(a.report.as_deref().unwrap().contains("sha256:a"));
        assert_eq!(store.latest_audit().await.unwrap().unwrap().id, "a2");
    }
}

#[tokio::test]
async fn an_expired_lease_is_leased_again_and_the_late_worker_cannot_finish() {
    for store in stores("audit_lease_expiry").await {
        store
            .submit_audit(&audit("a", 0), &[found("/c/a", Some("sha256:a"))])
            .await
            .unwrap();
        let dead = store
            .lease_jobs("engine-1", "policy-1", &terms("dead", 3), 4, 100)
            .await
            .unwrap();
        assert_eq!(dead.len(), 1);
        // Leased: nobody else gets it while the lease runs.
        let none = store
            .lease_jobs("engine-1", "policy-1", &terms("w2", 3), 4, 500)
            .await
            .unwrap();
        assert!(none.is_empty());
        // Another engine's worker never takes it.
        let other = store
            .lease_jobs("engine-2", "policy-1", &terms("w3", 3), 4, 5_000)
            .await
            .unwrap();
        assert!(other.is_empty());
        // The lease (1 s) ran out: the job goes to the next worker, as attempt 2.
        let taken = store
            .lease_jobs("engine-1", "policy-1", &terms("w2", 3), 4, 5_000)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(
            (taken[0].attempts, taken[0].lease_owner.as_deref()),
            (2, Some("w2"))
        );
        assert!(taken[0].error.as_deref().unwrap().contains("dead"));
        // The first worker wakes up: its verdict is refused, so the job gets exactly one.
        assert!(!judge(&store, "sha256:a", dead[0].id, "dead", 5_100).await);
        assert!(judge(&store, "sha256:a", taken[0].id, "w2", 5_200).await);
        assert_eq!(store.counts().await.unwrap().scans, 1);
        assert_eq!(store.open_jobs("engine-1", "policy-1").await.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_failed_with_its_reason() {
    for store in stores("audit_max_attempts").await {
        store
            .submit_audit(&audit("a", 0), &[found("/c/a", Some("sha256:a"))])
            .await
            .unwrap();
        let t = terms("w", 2);
        let mut now = 10;
        for attempt in 1..=2 {
            let jobs = store
                .lease_jobs("engine-1", "policy-1", &t, 1, now)
                .await
                .unwrap();
            assert_eq!(jobs.len(), 1, "attempt {attempt}");
            assert!(
                store
                    .job_attempt_failed(jobs[0].id, &t, "bundle unreadable", false, 5, now)
                    .await
                    .unwrap()
            );
            // Not ready again before its back-off.
            assert!(
                store
                    .lease_jobs("engine-1", "policy-1", &t, 1, now + 1)
                    .await
                    .unwrap()
                    .is_empty()
            );
            now += 10;
        }
        let job = store.audit_job(1).await.unwrap().unwrap();
        assert_eq!(job.state, "failed");
        assert_eq!(job.error.as_deref(), Some("bundle unreadable"));
        assert_eq!(store.open_jobs("engine-1", "policy-1").await.unwrap(), 0);
        // A permanent failure ends at once; a resubmission queues a failed job again.
        let again = store
            .submit_audit(&audit("b", now), &[found("/c/a", Some("sha256:a"))])
            .await
            .unwrap();
        assert_eq!(again.queued, 1);
        let jobs = store
            .lease_jobs("engine-1", "policy-1", &t, 1, now)
            .await
            .unwrap();
        assert!(
            store
                .job_attempt_failed(jobs[0].id, &t, "content changed", true, 0, now)
                .await
                .unwrap()
        );
        assert_eq!(store.audit_job(1).await.unwrap().unwrap().state, "failed");
    }
}

/// Workers leasing at the same moment never share a job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leases_never_overlap() {
    for store in stores("audit_concurrent_leases").await {
        let skills: Vec<_> = (0..200)
            .map(|i| found(&format!("/c/{i}"), Some(&format!("sha256:{i:04}"))))
            .collect();
        store.submit_audit(&audit("a", 0), &skills).await.unwrap();
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let t = terms(&format!("w{w}"), 3);
                    let mut mine = Vec::new();
                    loop {
                        let jobs = store
                            .lease_jobs("engine-1", "policy-1", &t, 3, 100)
                            .await
                            .unwrap();
                        if jobs.is_empty() {
                            break mine;
                        }
                        mine.extend(jobs.into_iter().map(|j| j.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!((before, all.len()), (200, 200));
    }
}
