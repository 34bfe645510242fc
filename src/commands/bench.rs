//! `skillgate bench`: throughput and peak memory of loading, parsing and G1 over a corpus.

use crate::ExitStatus;
use crate::args::{BenchArgs, GateArg};
use rayon::prelude::*;
use skillgate_model::SkillDocument;
use skillgate_model::bundle::{Bundle, Limits, discover};
use std::time::Instant;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitStatus> {
    if let Some(j) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build_global()
            .ok();
    }
    let pipeline = super::scan::build_pipeline(&[GateArg::G1], None, None)?;
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let start = Instant::now();
    let candidates = discover(&args.path);
    let discovered = start.elapsed();
    let limits = Limits::default();
    let t = Instant::now();
    let (ok, findings): (usize, usize) = candidates
        .par_iter()
        .map(|c| match Bundle::load(c.path(), &limits) {
            Ok(b) => {
                let doc = SkillDocument::parse(&b.skill_md_file().bytes);
                if args.load_only {
                    std::hint::black_box(&doc);
                    (1, 0)
                } else {
                    (1, pipeline.static_gate().scan(&b, &doc).findings.len())
                }
            }
            Err(_) => (0, 0),
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let elapsed = t.elapsed();
    let n = candidates.len();
    println!(
        "skills discovered: {n} in {:.1} ms",
        discovered.as_secs_f64() * 1e3
    );
    println!("loaded: {ok}, findings: {findings}");
    println!(
        "mode: {}",
        if args.load_only {
            "load + parse"
        } else {
            "load + parse + G1"
        }
    );
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "time: {:.3} s, {:.0} skills/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    if let Some(peak) = peak_rss_mib() {
        println!("peak RSS: {peak:.1} MiB (before the run: {rss_before:.1} MiB)");
    }
    Ok(ExitStatus::Success)
}
