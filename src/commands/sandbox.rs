//! `skillgate sandbox run`: G3 alone, with its whole timeline.

use crate::ExitStatus;
use crate::args::SandboxCommand;
use anyhow::Context;
use skillgate_model::bundle::{Bundle, Limits};
use skillgate_model::{GateStatus, SkillDocument};
use skillgate_sandbox::evidence::{Event, EventKind};
use std::io::Write;

pub fn run(command: &SandboxCommand) -> anyhow::Result<ExitStatus> {
    let args = match command {
        SandboxCommand::Run(args) => args,
        SandboxCommand::Runtime { json } => return runtime(*json),
    };
    let bundle = Bundle::load(&args.path, &Limits::default())
        .with_context(|| format!("loading {}", args.path.display()))?;
    let doc = SkillDocument::parse(&bundle.skill_md_file().bytes);
    let sandbox = super::scan::sandbox(args.profile.as_deref(), args.runner)?;
    let observation = sandbox.observe(&bundle, &doc);
    // What the run revealed is read by G1, as in a scan; the bundle's own G1 findings are not
    // subtracted here, so this shows everything the run-time content holds.
    let g1 = skillgate_static::StaticGate::new(Default::default())
        .context("compiling the embedded rules")?;
    let report = skillgate_pipeline::reveal(
        &g1,
        &observation,
        &bundle,
        &[],
        &sandbox.profile().filesystem.home,
    );
    let skillgate_sandbox::Observation {
        plan,
        python,
        evidence,
        coverage,
        ..
    } = observation;
    if let Some(path) = &args.events {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for event in &evidence.events {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    if args.json {
        let value = serde_json::json!({
            "plan": plan,
            "wasi_steps": python,
            "evidence": evidence,
            "coverage": coverage,
            "report": report,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("plan ({} steps):", plan.steps.len());
        for (i, step) in plan.steps.iter().enumerate() {
            println!("  [{i}] {}", step.label);
        }
        for (i, step) in python.iter().enumerate() {
            println!("  [wasi {i}] {}", step.label);
        }
        for not_run in &plan.not_run {
            println!("  not run: {not_run}");
        }
        println!("timeline:");
        for event in &evidence.events {
            println!("  {}", line(event));
        }
        println!("steps:");
        for (i, s) in evidence.steps.iter().enumerate() {
            let end = match (s.exit_code, s.signal, &s.error) {
                (_, _, Some(e)) => format!("did not start: {e}"),
                (Some(c), _, _) => format!("exit {c}"),
                (_, Some(sig), _) => format!("signal {sig}"),
                _ => "?".into(),
            };
            let timeout = if s.timed_out { ", time limit" } else { "" };
            println!(
                "  [{i}] {} — {end}{timeout} ({} ms)",
                s.label, s.duration_ms
            );
        }
        for gap in coverage.not_exercised() {
            println!(
                "  not exercised: {}: {}",
                gap.label,
                gap.why_not.as_deref().unwrap_or("")
            );
        }
        println!(
            "G3 {}: {}",
            report.status,
            report.note.as_deref().unwrap_or("")
        );
        for f in &report.findings {
            println!("  {} {} {}", f.code, f.severity, f.message);
        }
    }
    Ok(if report.status == GateStatus::Fail {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn line(event: &Event) -> String {
    let step = event.step.map(|s| format!("[{s}]")).unwrap_or_default();
    let what = match &event.kind {
        EventKind::StepStarted { label, .. } => format!("start {label}"),
        EventKind::StepEnded {
            exit_code,
            signal,
            timed_out,
            ..
        } => format!("end exit={exit_code:?} signal={signal:?} timed_out={timed_out}"),
        EventKind::LingeringKilled { count, commands } => {
            format!("killed {count} lingering: {}", commands.join(" | "))
        }
        EventKind::FileOpen { path, write, .. } => {
            format!("open{} {path}", if *write { " (write)" } else { "" })
        }
        EventKind::FileUnlink { path } => format!("unlink {path}"),
        EventKind::FileRename { from, to } => format!("rename {from} -> {to}"),
        EventKind::Exec { path, argv } => format!("exec {path}: {}", argv.join(" ")),
        EventKind::Connect { dst } => format!("connect {dst}"),
        EventKind::Bind { addr } => format!("bind {addr}"),
        EventKind::Send { dst, bytes, sample } => format!(
            "send {bytes} B{} {sample}",
            dst.as_ref().map(|d| format!(" to {d}")).unwrap_or_default()
        ),
        EventKind::DnsQuery {
            name,
            qtype,
            answer,
        } => format!(
            "dns {qtype} {name}{}",
            answer
                .as_ref()
                .map(|a| format!(" -> {a}"))
                .unwrap_or_default()
        ),
        EventKind::HttpRequest {
            method,
            host,
            target,
            body,
            ..
        } => format!(
            "http {method} {}{target} body={body}",
            host.as_deref().unwrap_or("?")
        ),
        EventKind::TlsClientHello { dst, sni } => {
            format!("tls {dst} sni={}", sni.as_deref().unwrap_or("-"))
        }
        EventKind::RawPayload { dst, bytes, sample } => {
            format!("data {bytes} B to {dst}: {sample}")
        }
        EventKind::HoneytokenOpened { honeytoken, path } => {
            format!("honeytoken {honeytoken} opened: {path}")
        }
        EventKind::FileWritten { path, bytes, .. } => format!("wrote {path} ({bytes} B)"),
        EventKind::Audit { event, args } => format!(
            "audit {event} {}",
            skillgate_model::finding::clip(args, 300)
        ),
        EventKind::Tamper { what } => format!("TAMPER {what}"),
    };
    let canaries: Vec<String> = event
        .canaries
        .iter()
        .map(|c| format!("{} ({}, {})", c.honeytoken, c.transform, c.place))
        .collect();
    let hit = if canaries.is_empty() {
        String::new()
    } else {
        format!("   <== CANARY {}", canaries.join(", "))
    };
    let text = format!(
        "+{:>5}ms {step:<4} {:<8} {what}{hit}",
        event.t_ms,
        format!("{:?}", event.source).to_lowercase()
    );
    skillgate_model::finding::clip(&text, 400)
}

/// `sandbox runtime`: the WASI interpreter, made ready the way every run makes it ready.
fn runtime(json: bool) -> anyhow::Result<ExitStatus> {
    use skillgate_sandbox::wasi::{self, runtime};
    let python = runtime::python()?;
    wasi::verify_abi(&python).map_err(anyhow::Error::msg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&python.stats)?);
    } else {
        let stats = &python.stats;
        println!("interpreter: {}", stats.wasm_path);
        println!(
            "  {}SHA-256 {} verified in {:.1} ms",
            if stats.fetched {
                format!("fetched ({}), ", runtime::PACKAGE)
            } else {
                String::new()
            },
            runtime::SHA256,
            stats.verify_ms
        );
        println!(
            "  compiled module: {} ({} in {:.1} ms)",
            stats.compiled_path,
            if stats.cache_hit {
                "cached, deserialised"
            } else {
                "compiled and cached"
            },
            stats.module_ms
        );
        println!(
            "  wasmtime {}; logged imports: {}",
            runtime::WASMTIME_VERSION,
            wasi::SHADOWED.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}
