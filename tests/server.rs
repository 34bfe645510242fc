//! The trust service end to end: the real `skillgate serve` on a loopback port, driven over
//! HTTP by a real client; hostile uploads and clients; a SIGKILL mid-scan; two servers on one
//! store.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn skillgate(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skillgate"));
    c.env("SKILLGATE_DB", db);
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
    port: u16,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Self {
        Self::start_on(db, free_port(), extra)
    }

    fn start_on(db: &Path, port: u16, extra: &[&str]) -> Self {
        let child = skillgate(db)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client().get(server.url("/healthz")).send()
                && r.status() == 200
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not come up on port {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn healthy(&self) -> bool {
        client()
            .get(self.url("/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .is_ok_and(|r| r.status() == 200)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .unwrap()
}

fn create_key(db: &Path, role: &str, name: &str) -> (String, String) {
    let out = skillgate(db)
        .args([
            "keys", "api", "create", "--role", role, "--name", name, "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder zipped with its name as the top folder.
fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let top = dir.file_name().unwrap().to_string_lossy().to_string();
        let options = zip::write::SimpleFileOptions::default();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                zip.start_file(format!("{top}/{rel}"), options).unwrap();
                zip.write_all(&std::fs::read(&p).unwrap()).unwrap();
            }
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn zip_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn get(server: &Server, key: &str, path: &str) -> reqwest::blocking::Response {
    client()
        .get(server.url(path))
        .bearer_auth(key)
        .send()
        .unwrap()
}

fn post_json(server: &Server, key: &str, path: &str, body: &Value) -> reqwest::blocking::Response {
    client()
        .post(server.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .unwrap()
}

fn upload(server: &Server, key: &str, bytes: Vec<u8>, wait: u64) -> reqwest::blocking::Response {
    client()
        .post(server.url(&format!("/v1/scans?wait={wait}")))
        .bearer_auth(key)
        .header("content-type", "application/zip")
        .body(bytes)
        .send()
        .unwrap()
}

const STATIC: &[&str] = &["--gates", "g1,g2,g4"];

#[test]
fn marketplace_and_agent_flows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (_, uploader) = create_key(&db, "uploader", "market");
    let (_, agent) = create_key(&db, "agent", "agent-1");
    let (revoked_id, revoked) = create_key(&db, "agent", "old-agent");
    // All four gates: a skill G3 has run can be admitted above T1.
    let server = Server::start(&db, &["--sandbox-runner", "native"]);

    // A malicious archive is rejected.
    let malicious = zip_dir(&repo().join("corpus/malicious/aws-creds-curl"));
    let r = upload(&server, &uploader, malicious.clone(), 60);
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_some());
    let report: Value = r.json().unwrap();
    assert_eq!(report["decision"], "reject", "{report}");

    // The same bytes again are answered from the store.
    let again: Value = upload(&server, &uploader, malicious, 0).json().unwrap();
    assert_eq!(again["decision"], "reject");
    assert_eq!(again["hash"], report["hash"]);

    // A benign one, as a multipart form, is admitted with a tier.
    let benign = zip_dir(&repo().join("corpus/benign/api-client"));
    let form = reqwest::blocking::multipart::Form::new().part(
        "archive",
        reqwest::blocking::multipart::Part::bytes(benign).file_name("api-client.zip"),
    );
    let r = client()
        .post(server.url("/v1/scans?wait=60"))
        .bearer_auth(&uploader)
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let admitted: Value = r.json().unwrap();
    assert_eq!(admitted["decision"], "admit", "{admitted}");
    let hash = admitted["hash"].as_str().unwrap().to_string();
    assert_eq!(admitted["tier"], "T2", "{admitted}");

    // An agent asks the tier, by hash and by name.
    let tier: Value = get(&server, &agent, &format!("/v1/skills/{hash}"))
        .json()
        .unwrap();
    assert_eq!(tier["known"], true);
    assert_eq!(tier["tier"], admitted["tier"]);
    // Composition trust over HTTP: the effective tier is answered beside the skill's own.
    assert_eq!(tier["effective_tier"], admitted["tier"], "{tier}");
    assert!(tier["capped_by"].is_null(), "{tier}");
    assert!(tier["allowed_tools"]["effective"].is_array());
    assert!(tier["sandbox_profile"].is_string());
    let name = admitted["name"].as_str().unwrap();
    let by_name = get(&server, &agent, &format!("/v1/skills?name={name}"));
    assert_eq!(by_name.status(), 200);

    // ... and reports a high anomaly: T1, with history naming the key.
    let r = post_json(
        &server,
        &agent,
        &format!("/v1/skills/{hash}/events"),
        &json!({"kind": "anomaly", "severity": "high", "capability": "net.egress",
            "detail": "connected to 203.0.113.9"}),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let tier: Value = get(&server, &agent, &format!("/v1/skills/{hash}"))
        .json()
        .unwrap();
    assert_eq!(tier["tier"], "T1");
    let history: Value = get(&server, &agent, &format!("/v1/skills/{hash}/history"))
        .json()
        .unwrap();
    let actors: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap())
        .collect();
    assert!(actors.contains(&"agent-1"), "{history}");

    // An agent key may not upload; no key, an unknown key and a revoked key are refused.
    let r = upload(&server, &agent, b"x".to_vec(), 0);
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let r = client()
        .get(server.url(&format!("/v1/skills/{hash}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = get(&server, "sg_0000", &format!("/v1/skills/{hash}"));
    assert_eq!(r.status(), 401);
    let out = skillgate(&db)
        .args(["keys", "api", "revoke", &revoked_id])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&server, &revoked, &format!("/v1/skills/{hash}"));
    assert_eq!(r.status(), 401);

    // Malformed JSON and unknown fields get 400, naming the field.
    let r = client()
        .post(server.url(&format!("/v1/skills/{hash}/events")))
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post_json(
        &server,
        &agent,
        &format!("/v1/skills/{hash}/events"),
        &json!({"kind": "clean", "detial": "typo"}),
    );
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().unwrap();
    assert_eq!(problem["field"], "detial", "{problem}");

    // An unknown skill is a plain 404.
    let r = get(&server, &agent, "/v1/skills?name=never-scanned");
    assert_eq!(r.status(), 404);

    // Health, metrics, the OpenAPI document.
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("skillgate_scans_total"), "{metrics}");
    assert!(metrics.contains("skillgate_queue_depth"));
    let openapi: Value = client()
        .get(server.url("/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(openapi["paths"]["/v1/scans"].is_object(), "{openapi}");
}

#[test]
fn hostile_uploads_get_a_verdict_with_an_error_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (_, uploader) = create_key(&db, "uploader", "market");
    let mut args = STATIC.to_vec();
    args.extend(["--body-limit", "1000000"]);
    let server = Server::start(&db, &args);

    // Over the body limit: 413 before the body is read, and healthy.
    let mut raw = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        raw,
        "POST /v1/scans HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {uploader}\r\nContent-Length: 2000000\r\n\r\n"
    )
    .unwrap();
    let _ = raw.write_all(&[b'A'; 65536]);
    let mut answer = [0u8; 256];
    let n = raw.read(&mut answer).unwrap();
    let status_line = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    // A chunked upload that grows past the limit is cut off too.
    let r = client()
        .post(server.url("/v1/scans"))
        .bearer_auth(&uploader)
        .body(reqwest::blocking::Body::new(
            std::io::repeat(b'A').take(2_000_000),
        ))
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert!(server.healthy());

    let skill_md: &[u8] = b"---\nname: x\ndescription: y\n---\n# x\n";
    let bomb = zip_entries(&[
        ("x/SKILL.md", skill_md),
        ("x/big.txt", &vec![0u8; 200_000_000]),
    ]);
    let escape = zip_entries(&[
        ("x/SKILL.md", skill_md),
        ("x/../../../escaped-by-upload.txt", b"pwned"),
    ]);
    let mut symlink = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut symlink);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("x/SKILL.md", options).unwrap();
        zip.write_all(skill_md).unwrap();
        zip.add_symlink("x/link", "/etc/passwd", options).unwrap();
        zip.finish().unwrap();
    }
    let not_an_archive = b"this is not an archive at all".to_vec();
    // The verdicts `scan` gives: a bomb and a non-archive are unreadable (`error`, rejected);
    // a `../` entry is refused on load and rejected (SK513); a link out is not followed and
    // holds the skill at T1 (SK512: monorepos link shared files).
    for (what, bytes, code) in [
        ("zip bomb", bomb, None),
        ("../ entry", escape, Some("SK513")),
        ("symlink out", symlink.into_inner(), Some("SK512")),
        ("not an archive", not_an_archive, None),
    ] {
        let r = upload(&server, &uploader, bytes, 60);
        assert_eq!(r.status(), 200, "{what}");
        let report: Value = r.json().unwrap();
        match code {
            None => {
                assert_eq!(report["decision"], "reject", "{what}: {report}");
                assert!(report["error"].is_string(), "{what}: {report}");
            }
            Some(code) => {
                let codes: Vec<&str> = report["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|f| f["code"].as_str())
                    .collect();
                assert!(codes.contains(&code), "{what}: {report}");
                assert!(
                    report["tier"].is_null() || report["tier"] == "T1",
                    "{what}: {report}"
                );
            }
        }
        assert!(server.healthy(), "{what}");
    }
    // Nothing was written outside the store's folder.
    for d in [dir.path().to_path_buf(), dir.path().join("uploads")] {
        for up in [
            d.join("escaped-by-upload.txt"),
            d.parent().unwrap().join("escaped-by-upload.txt"),
        ] {
            assert!(!up.exists(), "{}", up.display());
        }
    }
}

#[test]
fn slow_and_idle_clients_are_timed_out_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut args = STATIC.to_vec();
    args.extend(["--read-timeout", "2", "--idle-timeout", "2"]);
    let server = Server::start(&db, &args);

    // A client sending a byte a second is cut off.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in b"POST /v1/scans HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa" {
        if slow.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {
                closed = true; // an error response, then close
                break;
            }
            Err(_) => {}
        }
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    assert!(closed, "a client sending a byte a second was not timed out");
    assert!(started.elapsed() < Duration::from_secs(15));

    // A thousand idle connections: others are still answered, and the idle ones are closed.
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", server.port)).ok())
        .collect();
    assert!(idle.len() >= 900, "only {} connections opened", idle.len());
    let asked = Instant::now();
    assert!(server.healthy());
    assert!(asked.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(4));
    let mut still_open = 0;
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut buf = [0u8; 64];
        if let Err(e) = c.read(&mut buf)
            && matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle connections were not timed out");
    assert!(server.healthy());
}

/// Twenty of our benign samples, zipped.
fn twenty_skills() -> Vec<Vec<u8>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("corpus/benign"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().take(20).map(|d| zip_dir(d)).collect()
}

fn sqlite_count(db: &Path, hash: &str) -> (usize, usize) {
    let history: Value = serde_json::from_slice(
        &skillgate(db)
            .args(["history", hash, "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let rows = history.as_array().unwrap();
    let mut distinct: Vec<String> = rows
        .iter()
        .map(|r| format!("{}>{}:{}", r["from_state"], r["to_state"], r["reason"]))
        .collect();
    distinct.sort();
    distinct.dedup();
    (rows.len(), distinct.len())
}

#[test]
fn a_sigkill_mid_scan_loses_no_accepted_upload_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (_, uploader) = create_key(&db, "uploader", "market");
    let port = free_port();
    // All four gates, one worker: scans take long enough to be caught mid-way.
    let args = ["--scan-workers", "1", "--sandbox-runner", "native"];
    let server = Server::start_on(&db, port, &args);
    let mut ids = Vec::new();
    for bytes in twenty_skills() {
        let r = upload(&server, &uploader, bytes, 0);
        assert!(r.status() == 202 || r.status() == 200, "{}", r.status());
        ids.push(
            r.headers()["skillgate-scan-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    // Let a few finish, then kill it while the rest are queued or running.
    std::thread::sleep(Duration::from_secs(1));
    let unfinished = ids
        .iter()
        .filter(|id| {
            let job: Value = get(&server, &uploader, &format!("/v1/scans/{id}"))
                .json()
                .unwrap();
            job["state"] != "done"
        })
        .count();
    server.kill();
    assert!(
        unfinished > 0,
        "every scan finished before the kill: nothing was tested"
    );
    let server = Server::start_on(&db, port, &args);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut hashes = Vec::new();
    for id in &ids {
        loop {
            let job: Value = get(&server, &uploader, &format!("/v1/scans/{id}"))
                .json()
                .unwrap();
            if job["state"] == "done" {
                hashes.push(job["skill_hash"].as_str().unwrap().to_string());
                break;
            }
            assert_ne!(job["state"], "failed", "{job}");
            assert!(Instant::now() < deadline, "{id} never finished: {job}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let stats: Value = serde_json::from_slice(
        &skillgate(&db)
            .args(["db", "stats", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    hashes.sort();
    hashes.dedup();
    assert_eq!(
        stats["counts"]["scans"],
        hashes.len(),
        "one verdict per upload: {stats}"
    );
    for hash in &hashes {
        let (rows, distinct) = sqlite_count(&db, hash);
        assert!(rows >= 1);
        assert_eq!(rows, distinct, "{hash}: duplicate history rows");
    }
}

#[test]
fn two_servers_share_one_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (_, uploader) = create_key(&db, "uploader", "market");
    let a = Server::start(&db, STATIC);
    let b = Server::start(&db, STATIC);
    let skills = twenty_skills();
    std::thread::scope(|scope| {
        let handles: Vec<_> = skills
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let server = if i % 2 == 0 { &a } else { &b };
                let key = uploader.clone();
                scope.spawn(move || {
                    let r = upload(server, &key, bytes, 60);
                    let status = r.status();
                    let body = r.text().unwrap();
                    assert_eq!(status, 200, "{body}");
                    assert!(!body.contains("database is locked"), "{body}");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert!(a.healthy() && b.healthy());
}

#[test]
fn a_full_queue_and_a_rate_limited_key_are_refused_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (_, uploader) = create_key(&db, "uploader", "market");
    let (_, agent) = create_key(&db, "agent", "agent-1");
    // One worker, one waiting slot, all gates: the third distinct upload finds the queue full.
    let server = Server::start(
        &db,
        &[
            "--scan-workers",
            "1",
            "--queue-limit",
            "1",
            "--rate-limit",
            "5",
            "--sandbox-runner",
            "native",
        ],
    );
    let mut refused = None;
    for bytes in twenty_skills().into_iter().take(8) {
        let r = upload(&server, &uploader, bytes, 0);
        if r.status() == 503 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status(), 202);
    }
    let r = refused.expect("eight uploads into a queue of one were all accepted");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let problem: Value = r.json().unwrap();
    assert!(
        problem["type"].as_str().unwrap().ends_with("queue-full"),
        "{problem}"
    );

    // Five requests a second per key (bursts of ten): a flood gets 429 with Retry-After, and
    // another key is still served.
    let mut limited = false;
    for _ in 0..40 {
        let r = get(&server, &agent, "/v1/skills?name=x");
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
            limited = true;
            break;
        }
    }
    assert!(limited, "40 requests at once were never rate-limited");
    let r = get(&server, &uploader, "/v1/skills?name=x");
    assert_eq!(
        r.status(),
        404,
        "another key is not limited by this one's flood"
    );
    assert!(server.healthy());
}
