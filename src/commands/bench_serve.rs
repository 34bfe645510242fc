//! `skillgate bench --serve N PATH`: the trust service measured over loopback HTTP, with the
//! server (this binary, `serve`) and the client (this process) sharing the machine's cores.

use super::bench::{fill_synthetic, synthetic_hash};
use crate::ExitStatus;
use skillgate_pipeline::Policy;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A `skillgate serve` child, killed on drop.
struct ServerProcess {
    child: Child,
    base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(db: &Path, args: &[&str]) -> anyhow::Result<ServerProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(std::env::current_exe()?)
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("the server did not start")
}

fn create_key(db: &Path, role: &str) -> anyhow::Result<String> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--db")
        .arg(db)
        .args([
            "keys", "api", "create", "--role", role, "--name", "bench", "--json",
        ])
        .output()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["key"].as_str().unwrap_or_default().to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

pub fn run(path: &Path, n: usize, lookups_only: bool) -> anyhow::Result<ExitStatus> {
    // One client thread: the server has the other core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "machine: {} cores; client (this process) and server (`skillgate serve`) share them",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    lookups(&rt, n)?;
    if !lookups_only {
        uploads(&rt, path)?;
    }
    Ok(ExitStatus::Success)
}

/// Tier lookups by hash with keep-alive, 64 connections, for ten seconds.
fn lookups(rt: &tokio::runtime::Runtime, n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("tiers.db");
    let fill = Instant::now();
    {
        let st = super::store::open(
            Some(&skillgate_store::Location::Sqlite(db.clone())),
            &Policy::default(),
        )?;
        fill_synthetic(&st, n)?;
    }
    println!(
        "store: {n} skills, filled in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let key = create_key(&db, "agent")?;
    let server = start_server(&db, &["--gates", "g1,g2,g4", "--rate-limit", "0"])?;
    // Every skill of the store in turn (each answer read from the store), then a hot set of
    // 1,000 skills asked over and over (answers served from the one-second tier cache).
    for spread in [n, 1_000.min(n)] {
        lookup_run(rt, &server.base, &key, spread)?;
    }
    drop(server);
    Ok(())
}

fn lookup_run(rt: &tokio::runtime::Runtime, base: &str, key: &str, n: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let connections: usize = std::env::var("SKILLGATE_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let run_for = Duration::from_secs(10);
    let base = Arc::new(base.to_string());
    let key = Arc::new(key.to_string());
    let (latencies, errors) = rt.block_on(async {
        // Warm up: connections opened, pages cached.
        for i in 0..200 {
            let _ = client
                .get(format!("{base}/v1/skills/{}", synthetic_hash(i % n)))
                .bearer_auth(key.as_str())
                .send()
                .await;
        }
        let deadline = Instant::now() + run_for;
        let mut tasks = Vec::new();
        for c in 0..connections {
            let client = client.clone();
            let base = base.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    i = (i + 104_729) % n;
                    let t = Instant::now();
                    let r = client
                        .get(format!("{base}/v1/skills/{}", synthetic_hash(i)))
                        .bearer_auth(key.as_str())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((l, e)) = t.await {
                all.extend(l);
                errors += e;
            }
        }
        (all, errors)
    });
    let mut latencies = latencies;
    latencies.sort();
    println!(
        "tier lookups over HTTP across {n} skills (keep-alive, {connections} connections, {} s): {} ok, {errors} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        run_for.as_secs(),
        latencies.len(),
        latencies.len() as f64 / run_for.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

fn zip_dir(dir: &Path, salt: Option<usize>) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default();
        let top = dir
            .file_name()
            .map_or_else(|| "skill".into(), |n| n.to_string_lossy().to_string());
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(dir)?
                .to_string_lossy()
                .to_string();
            zip.start_file(format!("{top}/{rel}"), options)?;
            zip.write_all(&std::fs::read(entry.path())?)?;
            if let (Some(salt), "SKILL.md") = (salt, rel.as_str()) {
                write!(zip, "\n<!-- upload {salt} -->\n")?;
            }
        }
        zip.finish()?;
    }
    Ok(out.into_inner())
}

/// Upload-to-verdict latency of a small skill with all gates, then uploads/s for every skill
/// under `path`, 8 clients at once.
fn uploads(rt: &tokio::runtime::Runtime, path: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("uploads.db");
    let key = create_key(&db, "uploader")?;
    let server = start_server(&db, &["--rate-limit", "0", "--queue-limit", "512"])?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let small = tempfile::tempdir()?;
    let skill = small.path().join("word-count");
    std::fs::create_dir_all(skill.join("scripts"))?;
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: word-count\ndescription: Counts the words of a text file. Use when the user asks how long a document is.\nallowed-tools: Bash(python3:*), Read\n---\n\n# Word count\n\n```bash\npython3 scripts/count.py README.md\n```\n",
    )?;
    std::fs::write(
        skill.join("scripts/count.py"),
        "import sys\nprint(len(open(sys.argv[1]).read().split()) if len(sys.argv) > 1 else 0)\n",
    )?;
    let base = server.base.clone();
    let mut single = Vec::new();
    for i in 0..10 {
        // A fresh subject each time, so nothing is served from the store.
        let bytes = zip_dir(&skill, Some(i))?;
        let t = Instant::now();
        let ok = rt.block_on(async {
            let r = client
                .post(format!("{base}/v1/scans?wait=300"))
                .bearer_auth(&key)
                .body(bytes)
                .send()
                .await?;
            anyhow::Ok(r.status() == 200)
        })?;
        if ok {
            single.push(t.elapsed());
        }
    }
    single.sort();
    println!(
        "upload to verdict, small benign skill, all gates: {} uploads, p50 {:.0} ms, p95 {:.0} ms",
        single.len(),
        percentile(&single, 0.50),
        percentile(&single, 0.95)
    );
    let mut skills: Vec<PathBuf> = skillgate_model::bundle::discover(path)
        .iter()
        .map(|c| c.path().to_path_buf())
        .filter(|p| p.is_dir())
        .collect();
    skills.sort();
    let archives: Vec<Vec<u8>> = skills
        .iter()
        .filter_map(|d| zip_dir(d, None).ok())
        .collect();
    let total = archives.len();
    let queue = Arc::new(std::sync::Mutex::new(archives));
    let started = Instant::now();
    let verdicts = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let queue = queue.clone();
            let client = client.clone();
            let base = base.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = 0usize;
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).ok().flatten();
                    let Some(bytes) = next else { break };
                    let r = client
                        .post(format!("{base}/v1/scans?wait=600"))
                        .bearer_auth(&key)
                        .body(bytes)
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        done += 1;
                    }
                }
                done
            }));
        }
        let mut done = 0;
        for t in tasks {
            done += t.await.unwrap_or(0);
        }
        done
    });
    let took = started.elapsed();
    println!(
        "uploads of {} ({total} skills zipped, all gates, 8 clients, 2 scan workers): {verdicts} verdicts in {:.1} s, {:.2} uploads/s",
        path.display(),
        took.as_secs_f64(),
        verdicts as f64 / took.as_secs_f64()
    );
    Ok(())
}
