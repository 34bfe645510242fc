//! The store's own guarantees: schema on open, per-transaction commits, append-only history.

use skillgate_store::{HistoryRow, SkillRow, Store};

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
    let store = Store::open_in_memory().await.unwrap();
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
    let store = Store::open_in_memory().await.unwrap();
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
