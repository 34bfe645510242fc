//! The WASI runner: a skill's Python runs as WebAssembly (CPython 3.12 compiled to WASI) inside
//! wasmtime, where the host sees every call the guest makes.
//!
//! What it adds to the native runner: file calls read from the guest's own arguments, and the
//! interpreter's PEP 578 audit events — intent with its arguments, including network and
//! process intents that WASI cannot fulfil (`urllib.Request` with a canary in its body is
//! exfiltration intent). What it cannot do: WASI has no network, no processes, no C extensions,
//! and a script can tell it is in WASI. A clean WASI run is extra evidence, never a clean bill.
//!
//! Isolation is wasmtime's: the guest reaches only its preopens — the skill read-only at
//! `/skill`, a scratch directory at `/tmp`, a fake HOME with honeytokens read-only at
//! `/home/user` — with an epoch deadline, a memory limit and capped stdout/stderr.

mod host;
pub mod runtime;

use crate::canary::{Honeytoken, Matcher, Placement, plant};
use crate::evidence::{Evidence, RunnerKind, StepOutcome};
use crate::plan::Plan;
use crate::profile::Profile;
use crate::recorder::{self, Recorder, WrittenRoot};
use host::Host;
use serde::Serialize;
use skillgate_model::bundle::Bundle;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{Linker, Store, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

pub use host::SHADOWED;
pub use runtime::{LoadStats, Python, RuntimeError};

/// Checks the logging wrappers against the interpreter's imports (see [`host::verify_abi`]).
pub fn verify_abi(python: &Python) -> Result<(), String> {
    host::verify_abi(&python.engine, &python.module)
}

/// The prelude run before the skill's code (audit hook, stand-ins for requests and
/// os.system).
pub const PRELUDE: &str = include_str!("prelude.py");

const SKILL: &str = "/skill";
const SCRATCH: &str = "/tmp";
const HOME: &str = "/home/user";

/// What the WASI runner executes for one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonStep {
    /// The plan step's label, with what was taken from it.
    pub label: String,
    pub job: PythonJob,
}

/// A script from the skill (`path` under `/skill`) or a code block, with its `sys.argv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PythonJob {
    File { path: String, argv: Vec<String> },
    Code { code: String, argv: Vec<String> },
}

/// The plan's Python: `python3 -c CODE`, `python3 script.py ARGS`, and simple `python3 …`
/// command lines inside shell steps (no pipes or redirections: those need a shell, so the
/// native runner's).
pub fn python_steps(plan: &Plan, bundle: &Bundle) -> Vec<PythonStep> {
    let mut steps = Vec::new();
    for step in &plan.steps {
        let argv = &step.argv;
        match argv.first().map(String::as_str) {
            Some("python3" | "python") => {
                if let Some(job) = python_job(&argv[1..], bundle) {
                    steps.push(PythonStep {
                        label: step.label.clone(),
                        job,
                    });
                }
            }
            Some("bash") if argv.get(1).map(String::as_str) == Some("-c") => {
                let script = argv.get(2).map(String::as_str).unwrap_or("");
                for line in script.lines() {
                    let Ok(words) = shell_words::split(line.trim()) else {
                        continue;
                    };
                    let simple = !words
                        .iter()
                        .any(|w| ["|", "||", "&&", ";", ">", ">>", "<", "&"].contains(&w.as_str()));
                    let is_python = words
                        .first()
                        .is_some_and(|w| w == "python" || w == "python3");
                    if simple
                        && is_python
                        && let Some(job) = python_job(&words[1..], bundle)
                    {
                        steps.push(PythonStep {
                            label: format!("{}: {}", step.label, line.trim()),
                            job,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    steps
}

fn python_job(args: &[String], bundle: &Bundle) -> Option<PythonJob> {
    // Interpreter options that take no value are skipped; anything else is not ours to
    // interpret.
    let mut rest = args
        .iter()
        .skip_while(|a| ["-u", "-B", "-E", "-s", "-S", "-I", "-O"].contains(&a.as_str()));
    let first = rest.next()?;
    if first == "-c" {
        let code = rest.next()?.clone();
        let mut argv = vec!["-c".to_string()];
        argv.extend(rest.cloned());
        return Some(PythonJob::Code { code, argv });
    }
    if first.starts_with('-') {
        return None;
    }
    let rel = first.trim_start_matches("./");
    bundle.file(rel)?;
    let path = format!("{SKILL}/{rel}");
    let mut argv = vec![path.clone()];
    argv.extend(rest.cloned());
    Some(PythonJob::File { path, argv })
}

/// Runs Python steps in wasmtime and returns the same evidence the native runner does.
#[derive(Debug, Clone)]
pub struct WasiRunner {
    profile: Profile,
}

impl WasiRunner {
    pub fn new(profile: Profile) -> Self {
        Self { profile }
    }

    /// Runs `steps` with the process's interpreter ([`runtime::python`]); a runtime that is
    /// missing or does not match its hash is an error, never a silent skip.
    pub fn run(&self, bundle: &Bundle, steps: &[PythonStep]) -> Result<Evidence, WasiError> {
        let python = runtime::python()?;
        self.run_with(&python, bundle, steps)
    }

    pub fn run_with(
        &self,
        python: &Python,
        bundle: &Bundle,
        steps: &[PythonStep],
    ) -> Result<Evidence, WasiError> {
        let start = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("skillgate-wasi-")
            .tempdir()
            .map_err(WasiError::Prepare)?;
        let (skill, scratch, home, audit) = (
            dir.path().join("skill"),
            dir.path().join("tmp"),
            dir.path().join("home"),
            dir.path().join("audit"),
        );
        crate::materialise(bundle, &skill).map_err(WasiError::Prepare)?;
        for d in [&scratch, &home, &audit] {
            std::fs::create_dir_all(d).map_err(WasiError::Prepare)?;
        }

        let mut evidence = Evidence {
            runner: RunnerKind::Wasi,
            ..Evidence::default()
        };
        let mut rng = rand::thread_rng();
        let tokens: Vec<Honeytoken> = self
            .profile
            .honeytokens
            .plant
            .iter()
            .filter_map(|id| Honeytoken::generate(id, &mut rng))
            .collect();
        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), HOME.into()),
            ("USER".into(), "user".into()),
            ("TMPDIR".into(), SCRATCH.into()),
            ("PWD".into(), SKILL.into()),
            ("SKILL_DIR".into(), SKILL.into()),
            ("CLAUDE_SKILL_DIR".into(), SKILL.into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        let mut token_files = Vec::new();
        for token in &tokens {
            let (host_path, guest_path) = match &token.placement {
                Placement::Env(var) => {
                    env.push((var.clone(), token.content.clone()));
                    continue;
                }
                Placement::Home(rel) => (home.join(rel), format!("{HOME}/{rel}")),
                Placement::Work(rel) => (skill.join(rel), format!("{SKILL}/{rel}")),
            };
            match plant(&host_path, &token.content) {
                Ok(()) => token_files.push((token.id.clone(), guest_path)),
                Err(e) => evidence
                    .errors
                    .push(format!("cannot plant {}: {e}", token.id)),
            }
        }
        for (rel, content) in crate::canary::DECOY_HOME_FILES {
            let _ = plant(&home.join(rel), content);
        }
        evidence.honeytokens = tokens.iter().map(|t| t.id.clone()).collect();

        let recorder = Arc::new(Recorder::new(start, Matcher::new(&tokens)));
        let mut linker: Linker<Host> = Linker::new(&python.engine);
        host::link(&mut linker).map_err(|e| WasiError::Link(format!("{e:#}")))?;
        let preopens = [
            (skill.as_path(), SKILL, FsPerms::ReadOnly),
            (scratch.as_path(), SCRATCH, FsPerms::ReadWrite),
            (home.as_path(), HOME, FsPerms::ReadOnly),
            (audit.as_path(), host::AUDIT_DIR, FsPerms::ReadWrite),
        ];
        let deadline_total =
            start + std::time::Duration::from_millis(self.profile.limits.total_timeout_ms);
        for (index, step) in steps.iter().enumerate() {
            if Instant::now() >= deadline_total {
                evidence.errors.push(format!(
                    "the run's time limit ended before WASI step {} ({})",
                    index + 1,
                    step.label
                ));
                break;
            }
            recorder.set_step(index);
            let outcome = self.run_step(
                python,
                &linker,
                &recorder,
                &preopens,
                &env,
                &token_files,
                step,
            );
            evidence.steps.push(outcome);
        }
        recorder.set_step(recorder::NO_STEP);
        recorder::record_written_files(
            &recorder,
            &[WrittenRoot {
                dir: scratch.clone(),
                shown_as: SCRATCH.into(),
                original: None,
            }],
            &[],
        );
        let (events, dropped) = recorder.take();
        evidence.events = events;
        if dropped > 0 {
            evidence
                .errors
                .push(format!("{dropped} events dropped over the per-run cap"));
        }
        evidence.duration_ms = start.elapsed().as_millis() as u64;
        Ok(evidence)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        python: &Python,
        linker: &Linker<Host>,
        recorder: &Arc<Recorder>,
        preopens: &[(&Path, &str, FsPerms)],
        env: &[(String, String)],
        token_files: &[(String, String)],
        step: &PythonStep,
    ) -> StepOutcome {
        let started = Instant::now();
        let limits = &self.profile.limits;
        let argv_shown = match &step.job {
            PythonJob::File { argv, .. } => {
                let mut a = vec!["python3".to_string()];
                a.extend(argv.iter().cloned());
                a
            }
            PythonJob::Code { argv, code } => {
                let mut a = vec!["python3".to_string(), "-c".into(), code.clone()];
                a.extend(argv.iter().skip(1).cloned());
                a
            }
        };
        let mut outcome = StepOutcome::new(format!("wasi: {}", step.label), argv_shown);
        let job = serde_json::to_string(&step.job).expect("a job always serialises");
        // The job is a JSON object literal, which is also a valid Python literal only after
        // quoting: pass it as a Python string.
        let job_literal = serde_json::to_string(&job).expect("a string serialises");
        let program = PRELUDE.replace("__SKILLGATE_JOB__", &job_literal);

        let stdout = MemoryOutputPipe::new(limits.output_bytes);
        let stderr = MemoryOutputPipe::new(limits.output_bytes);
        let mut builder = WasiCtxBuilder::new();
        builder
            .args(&["python", "-I", "-B", "-c", &program])
            .envs(env)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for (host_dir, guest, perms) in preopens {
            if let Err(e) = builder.preopened_dir(host_dir, *guest, *perms) {
                outcome.error = Some(format!("cannot preopen {guest}: {e:#}"));
                return outcome;
            }
        }
        let wasi = builder.build_p1();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size((limits.memory_mb as usize) << 20)
            .instances(4)
            .trap_on_grow_failure(true)
            .build();
        let guest_preopens: Vec<&str> = preopens.iter().map(|(_, g, _)| *g).collect();
        let host = Host::new(
            wasi,
            store_limits,
            recorder.clone(),
            &guest_preopens,
            token_files.to_vec(),
        );
        let mut store = Store::new(&python.engine, host);
        store.limiter(|h| &mut h.limits);
        let ticks = limits.step_timeout_ms / runtime::EPOCH_TICK.as_millis() as u64;
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();

        let result = linker
            .instantiate(&mut store, &python.module)
            .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
            .and_then(|start| start.call(&mut store, ()));
        match result {
            Ok(()) => outcome.exit_code = Some(0),
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    outcome.exit_code = Some(exit.0);
                } else if e
                    .downcast_ref::<wasmtime::Trap>()
                    .is_some_and(|t| *t == wasmtime::Trap::Interrupt)
                {
                    outcome.timed_out = true;
                } else {
                    // A trap (out of memory, stack overflow) is how this script ended, not a
                    // sandbox failure.
                    outcome.stderr = format!("trap: {e:#}\n");
                }
            }
        }
        let (dropped, opened) = store.data().audit_summary();
        if !opened {
            outcome.error = Some(
                "the audit prelude did not start (the interpreter failed before the script)".into(),
            );
        } else if dropped > 0 {
            outcome.stderr.push_str(&format!(
                "[skillgate: {dropped} audit events over the cap]\n"
            ));
        }
        let (out, err) = (stdout.contents(), stderr.contents());
        outcome.stdout = crate::recorder::output_text(&out);
        outcome.stdout_bytes = out.len() as u64;
        outcome.stderr.push_str(&crate::recorder::output_text(&err));
        outcome.stderr_bytes = outcome.stderr.len() as u64;
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        outcome
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WasiError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot prepare the WASI run: {0}")]
    Prepare(std::io::Error),
    #[error("cannot link the WASI imports: {0}")]
    Link(String),
}
