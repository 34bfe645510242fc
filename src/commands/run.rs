//! `skillgate run SKILL -- CMD…`: a command of an installed skill, under its tier's runtime
//! sandbox, with what the sandbox saw recorded as a runtime event.
//!
//! The sandbox is the witness: no self-report is needed. A connection refused, a write outside
//! the project refused, are anomalies the lifecycle demotes on (actor `runtime`); a run with
//! neither is a clean run, which counts toward promotion.

use crate::ExitStatus;
use crate::args::RunArgs;
use crate::commands::store::{self, now_ms};
use anyhow::Context as _;
use skillgate_model::bundle::Limits;
use skillgate_model::{Bundle, Capability, Severity, Tier};
use skillgate_pipeline::{RuntimeReport, TrustError};
use skillgate_sandbox::evidence::{EventKind, Evidence};
use skillgate_sandbox::profile::Profile;
use skillgate_sandbox::{RunnerCommand, Sandbox};
use skillgate_store::Location;
use std::io::Write;
use std::path::Path;

/// Exit codes of `run` itself, as shells use them: refused (126), could not confine (125).
const REFUSED: u8 = 126;
const NOT_CONFINED: u8 = 125;

/// Tools whose grant lets a skill write the project.
const WRITERS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit", "Bash"];

fn refuse(why: &str) -> anyhow::Result<ExitStatus> {
    eprintln!("skillgate run: refused: {why}");
    Ok(ExitStatus::Code(REFUSED))
}

pub fn run(db: Option<&Location>, args: &RunArgs) -> anyhow::Result<ExitStatus> {
    let installed = args
        .skill
        .canonicalize()
        .with_context(|| format!("cannot find the skill folder {}", args.skill.display()))?;
    // These bytes are what runs: the sandbox gets a private copy of them, so the folder can
    // change after this line without effect.
    let bundle = match Bundle::load(&installed, &Limits::default()) {
        Ok(b) => b,
        Err(e) => return refuse(&format!("cannot read the skill: {e}")),
    };
    let hash = bundle.hash.to_string();
    let st = store::open(db, &skillgate_pipeline::Policy::default())?;
    let Some(answer) = st
        .rt
        .block_on(st.trust.tier_answer(&hash, now_ms()))?
        .filter(|a| a.known)
    else {
        let name = installed
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let changed = match st.rt.block_on(st.trust.resolve(&name)) {
            Ok(_) => true,
            Err(TrustError::Unknown(_)) => false,
            Err(e) => return Err(e.into()),
        };
        return refuse(&format!(
            "`{name}` ({hash}) {}; it runs as unknown, T1, whose scripts never run. Scan it: \
             `skillgate scan {}`",
            if changed {
                "changed since it was scanned (its content hash is not the one on record)"
            } else {
                "is not in the trust store"
            },
            installed.display()
        ));
    };
    let name = answer.skill.name.clone().unwrap_or_else(|| hash.clone());
    let tier = answer.effective_tier;
    if !matches!(tier, Some(Tier::T3 | Tier::T4)) {
        let capped = answer
            .capped_by
            .as_ref()
            .map_or(String::new(), |l| format!(", capped by `{}`", l.name));
        return refuse(&format!(
            "`{name}` is {}{capped}; only T3 and T4 skills run scripts",
            tier.map_or("rejected".into(), |t| t.to_string())
        ));
    }
    let Some(mut profile) = Profile::runtime(answer.sandbox_profile) else {
        return refuse(&format!(
            "no runtime profile `{}` for `{name}`",
            answer.sandbox_profile
        ));
    };
    let effective = &answer.allowed_tools.effective;
    let writable = effective.iter().any(|grant| {
        let tool = grant.split('(').next().unwrap_or("").trim();
        WRITERS.contains(&tool) && (tool != "Bash" || !grant.contains('('))
    });
    let declared_domains: Vec<String> = effective
        .iter()
        .filter_map(|g| g.split("domain:").nth(1))
        .map(|d| {
            d.trim_end_matches(')')
                .trim()
                .trim_start_matches("*.")
                .to_ascii_lowercase()
        })
        .collect();
    profile.network.allow = declared_domains.clone();
    // `name=ip,…`: where a declared name is reached instead of through the host's resolver.
    let resolve = std::env::var("SKILLGATE_RUN_RESOLVE")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, ip)| (n.trim().to_ascii_lowercase(), ip.trim().to_string()))
        .collect();
    let project = match &args.project {
        Some(p) => p.clone(),
        None => std::env::current_dir()?,
    }
    .canonicalize()
    .context("cannot find the project directory")?;

    let runner = RunnerCommand::current_exe().context("locating the skillgate binary")?;
    let sandbox = Sandbox::new(runner, profile);
    let evidence = match sandbox.run_command(
        &bundle,
        &installed,
        &args.command,
        &project,
        writable,
        resolve,
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("skillgate run: the sandbox could not run: {e}; nothing ran");
            return Ok(ExitStatus::Code(NOT_CONFINED));
        }
    };
    let Some(step) = evidence.steps.first().filter(|s| s.error.is_none()) else {
        let why = evidence
            .steps
            .first()
            .and_then(|s| s.error.clone())
            .into_iter()
            .chain(evidence.errors.iter().cloned())
            .collect::<Vec<_>>()
            .join("; ");
        eprintln!(
            "skillgate run: the command did not start inside the sandbox: {why}; nothing ran unconfined"
        );
        return Ok(ExitStatus::Code(NOT_CONFINED));
    };
    // The bytes as printed; the text form (control characters blanked) only if they are missing.
    let raw = step.raw.as_ref().map(|r| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        (
            b64.decode(&r.stdout).unwrap_or_default(),
            b64.decode(&r.stderr).unwrap_or_default(),
        )
    });
    let (out, err) = raw.unwrap_or_else(|| {
        (
            step.stdout.clone().into_bytes(),
            step.stderr.clone().into_bytes(),
        )
    });
    std::io::stdout().write_all(&out)?;
    std::io::stderr().write_all(&err)?;
    if step.stdout_bytes > out.len() as u64 || step.stderr_bytes > err.len() as u64 {
        eprintln!(
            "skillgate run: output past {} bytes per stream was not kept",
            out.len().max(err.len())
        );
    }

    // Programs the skill may start: `None` when its shell grant is unscoped.
    let programs: Option<Vec<String>> = if effective.iter().any(|g| g.trim() == "Bash") {
        None
    } else {
        Some(
            effective
                .iter()
                .filter_map(|g| g.strip_prefix("Bash(")?.strip_suffix(')'))
                .filter_map(skillgate_permissions::tools::bash_program)
                .map(basename)
                .collect(),
        )
    };
    let seen = judge(
        &evidence,
        &project,
        &declared_domains,
        programs.as_deref(),
        args.command.first().map(String::as_str),
    );
    let report = match seen.worst() {
        Some((severity, capability)) => RuntimeReport::Anomaly {
            severity,
            capability: Some(capability),
            detail: seen.detail(&args.command),
        },
        None => RuntimeReport::Clean {
            detail: format!("skillgate run: `{}`", args.command.join(" ")),
        },
    };
    let outcome = st
        .rt
        .block_on(st.trust.event(&hash, &report, "runtime", now_ms()));
    match (&report, outcome) {
        (
            RuntimeReport::Anomaly {
                severity, detail, ..
            },
            Ok(o),
        ) => eprintln!(
            "skillgate run: anomaly ({severity}) recorded for `{name}`: {detail}; tier now {}",
            o.after.map_or("none".into(), |t| t.to_string())
        ),
        (_, Err(e)) => eprintln!("skillgate run: the run could not be recorded: {e}"),
        _ => {}
    }
    Ok(ExitStatus::Code(if step.timed_out {
        124
    } else if let Some(sig) = step.signal {
        (128 + sig).clamp(0, 255) as u8
    } else {
        step.exit_code.unwrap_or(1).clamp(0, 255) as u8
    }))
}

/// What the sandbox saw that the tier does not allow.
#[derive(Default)]
struct Seen {
    refused_network: Vec<String>,
    refused_writes: Vec<String>,
    undeclared_programs: Vec<String>,
}

impl Seen {
    fn worst(&self) -> Option<(Severity, Capability)> {
        if !self.refused_network.is_empty() {
            Some((Severity::High, Capability::NetEgress))
        } else if !self.refused_writes.is_empty() {
            Some((Severity::Medium, Capability::FsWrite))
        } else if !self.undeclared_programs.is_empty() {
            Some((Severity::Medium, Capability::ProcExec))
        } else {
            None
        }
    }

    fn detail(&self, command: &[String]) -> String {
        let mut parts = Vec::new();
        if !self.refused_network.is_empty() {
            parts.push(format!(
                "blocked connection to an undeclared destination: {}",
                self.refused_network.join(", ")
            ));
        }
        if !self.refused_writes.is_empty() {
            parts.push(format!(
                "write outside its scope refused: {}",
                self.refused_writes.join(", ")
            ));
        }
        if !self.undeclared_programs.is_empty() {
            parts.push(format!(
                "started programs its allowed-tools do not name: {}",
                self.undeclared_programs.join(", ")
            ));
        }
        let mut detail = format!(
            "skillgate run `{}`: {}",
            command.join(" "),
            parts.join("; ")
        );
        if detail.len() > 2000 {
            let mut cut = 2000;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push('…');
        }
        detail
    }
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Whether `program` is one of `declared`, allowing a version suffix (`python3.11`).
fn is_declared_program(program: &str, declared: &[String]) -> bool {
    declared.iter().any(|d| {
        program
            .strip_prefix(d.as_str())
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
    })
}

fn judge(
    evidence: &Evidence,
    project: &Path,
    declared: &[String],
    programs: Option<&[String]>,
    command: Option<&str>,
) -> Seen {
    let mut seen = Seen::default();
    let command = command.map(basename).unwrap_or_default();
    let is_declared = |host: &str| skillgate_sandbox::native::forward::allowed(host, declared);
    let push = |list: &mut Vec<String>, item: String| {
        if !list.contains(&item) && list.len() < 16 {
            list.push(item);
        }
    };
    for event in &evidence.events {
        match &event.kind {
            EventKind::Connect { dst } if dst.proto != "unix" && !is_loopback(&dst.ip) => {
                // Name lookups go to the sandbox's own resolver; what follows them is judged.
                if dst.port == 53 {
                    continue;
                }
                let host = dst.hostname.clone().unwrap_or_else(|| dst.ip.clone());
                if !is_declared(&host) {
                    push(&mut seen.refused_network, format!("{host}:{}", dst.port));
                }
            }
            EventKind::DnsQuery {
                name, answer: None, ..
            } if !is_declared(name) => {
                push(
                    &mut seen.refused_network,
                    format!("{} (name lookup refused)", name.trim_end_matches('.')),
                );
            }
            EventKind::Exec { path, .. } => {
                let program = basename(path);
                if let Some(declared) = programs
                    && program != command
                    && !is_declared_program(&program, declared)
                {
                    push(&mut seen.undeclared_programs, program);
                }
            }
            EventKind::FileOpen {
                path, write: true, ..
            } => {
                let p = Path::new(path);
                let allowed = p.starts_with(project)
                    || p.starts_with("/dev")
                    || p.starts_with("/proc")
                    || p.starts_with(std::env::temp_dir());
                if !allowed {
                    push(&mut seen.refused_writes, path.clone());
                }
            }
            _ => {}
        }
    }
    seen
}
