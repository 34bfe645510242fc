//! G3, the behavioural gate: run a skill's scripts and the commands its SKILL.md gives, in a
//! sandbox, record every side effect, and prove exfiltration with canaries.
//!
//! The pieces, in the order a run uses them:
//! - [`plan`]: what to execute — code blocks, inline commands, bundled scripts with their
//!   arguments, else with none and with `--help`.
//! - [`profile`]: limits, paths, honeytokens and capture, as data (`sandbox-profiles/`).
//! - [`native`]: the runner process — user, network, mount and PID namespaces, a nested user
//!   namespace for the payload, Landlock, seccomp with a logging supervisor, capture servers
//!   with a fake DNS, honeytokens in a fake HOME.
//! - [`canary`]: honeytokens and the matcher that finds them through encodings.
//! - [`evidence`]: the timeline and summary the runner returns.
//! - [`findings`]: evidence turned into G3's report (SK9xx).
//!
//! The runner must be a fresh single-threaded process, so [`Sandbox`] starts it as a separate
//! command (the `skillgate` binary re-executes itself with a hidden argument).

#![allow(unsafe_code)] // namespaces, seccomp and Landlock are syscalls; each use says why it is sound

pub mod arguments;
pub mod canary;
pub mod coverage;
pub mod evidence;
pub mod findings;
pub mod native;
pub mod plan;
pub mod profile;
pub mod recorder;
pub mod revealed;
pub mod wasi;

pub use coverage::Coverage;
pub use evidence::Evidence;
pub use findings::RULES;
pub use plan::{Plan, Step};
pub use profile::Profile;

use skillgate_model::bundle::Bundle;
use skillgate_model::{Gate, GateReport, SkillDocument};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot prepare the skill for the sandbox: {0}")]
    Materialise(std::io::Error),
    #[error("cannot start the sandbox runner {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the sandbox runner did not finish within {0} s and was killed")]
    Timeout(u64),
    #[error("the sandbox runner failed: {0}")]
    Runner(String),
}

/// How to start the runner process.
#[derive(Debug, Clone)]
pub struct RunnerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Start the runner as this uid and gid (root only): how tests show the sandbox works for
    /// an unprivileged caller.
    pub user: Option<u32>,
}

impl RunnerCommand {
    /// The running binary, re-executed as the runner (it must call
    /// [`native::runner_main`] when it sees [`native::RUNNER_ARG`]).
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec![native::RUNNER_ARG.into()],
            user: None,
        })
    }
}

/// Which runners G3 uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Runners {
    /// Everything in the plan, natively.
    Native,
    /// Only the plan's pure Python, in WASI; anything else is reported as not run.
    Wasi,
    /// The native runner for the whole plan, then the WASI runner for its Python (default).
    #[default]
    Both,
}

impl std::str::FromStr for Runners {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(Self::Native),
            "wasi" => Ok(Self::Wasi),
            "both" => Ok(Self::Both),
            other => Err(format!("unknown runner `{other}` (native, wasi, both)")),
        }
    }
}

/// One skill's G3 run: what was planned, what each runner saw, and the report.
#[derive(Debug, Clone)]
pub struct Observation {
    pub plan: Plan,
    pub python: Vec<wasi::PythonStep>,
    pub evidence: Evidence,
    /// Which planned steps exercised their code.
    pub coverage: Coverage,
    pub report: GateReport,
}

/// G3: plans, runs and judges.
#[derive(Debug, Clone)]
pub struct Sandbox {
    runner: RunnerCommand,
    profile: Profile,
    runners: Runners,
}

impl Sandbox {
    pub fn new(runner: RunnerCommand, profile: Profile) -> Self {
        Self {
            runner,
            profile,
            runners: Runners::default(),
        }
    }

    pub fn with_runners(mut self, runners: Runners) -> Self {
        self.runners = runners;
        self
    }

    pub fn runners(&self) -> Runners {
        self.runners
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// What G3 would run for this skill.
    pub fn plan(&self, bundle: &Bundle, doc: &SkillDocument) -> Plan {
        plan::plan(bundle, doc, self.profile.limits.max_steps)
    }

    /// G3's report: pass when there is nothing to execute, findings from the run otherwise,
    /// inconclusive (with the reason) whenever the sandbox could not do its whole job.
    pub fn check(&self, bundle: &Bundle, doc: &SkillDocument) -> GateReport {
        self.observe(bundle, doc).report
    }

    /// Plans, runs the selected runners, and judges.
    pub fn observe(&self, bundle: &Bundle, doc: &SkillDocument) -> Observation {
        let mut plan = self.plan(bundle, doc);
        let python = match self.runners {
            Runners::Native => Vec::new(),
            Runners::Wasi | Runners::Both => wasi::python_steps(&plan, bundle),
        };
        let observation = |plan, evidence, report| Observation {
            plan,
            python: python.clone(),
            evidence,
            coverage: Coverage::default(),
            report,
        };
        if plan.is_empty() {
            return observation(plan, Evidence::default(), nothing_to_execute());
        }
        let runnable = match self.runners {
            Runners::Wasi => !python.is_empty(),
            _ => !plan.steps.is_empty(),
        };
        if !runnable {
            let mut why: Vec<String> = (!plan.not_run.is_empty())
                .then(|| plan.not_run_summary())
                .into_iter()
                .collect();
            if self.runners == Runners::Wasi {
                why.push("no pure-Python step for the WASI runner".into());
            }
            let report = GateReport::inconclusive(
                Gate::G3,
                format!("nothing G3 can run: {}", why.join("; ")),
            );
            return observation(plan, Evidence::default(), report);
        }
        let mut evidence = Evidence::default();
        let mut runner_names = Vec::new();
        let mut coverage = Coverage::default();
        if self.runners != Runners::Wasi {
            runner_names.push("native sandbox");
            match self.run(bundle, &plan) {
                Ok(native) => {
                    coverage = coverage::measure(&plan, &native.steps, &native.events, bundle);
                    evidence = native;
                    self.follow_up(bundle, &mut plan, &mut evidence);
                }
                Err(e) => {
                    let report = GateReport::inconclusive(Gate::G3, e.to_string());
                    return observation(plan, evidence, report);
                }
            }
        } else {
            evidence.runner = evidence::RunnerKind::Wasi;
            // Steps the WASI runner does not cover did not run at all.
            for step in &plan.steps {
                if !python.iter().any(|p| p.label.starts_with(&step.label)) {
                    plan.not_run.push(format!(
                        "{}: not pure Python (WASI runner only)",
                        step.label
                    ));
                }
            }
        }
        let mut to_run = python.clone();
        if self.runners == Runners::Both {
            let (needed, seen) = wasi_needed(to_run, &plan, &evidence, &coverage, bundle);
            to_run = needed;
            if seen > 0 {
                evidence.notes.push(format!(
                    "WASI runner skipped for {seen} Python steps the native run exercised to \
                     their end, in a bundle with no code made at run time and no network library"
                ));
            }
        }
        if !to_run.is_empty() {
            runner_names.push("WASI");
            match wasi::WasiRunner::new(self.profile.clone()).run(bundle, &to_run) {
                Ok(wasi) => {
                    if self.runners == Runners::Wasi {
                        coverage = wasi_coverage(&plan, &wasi, bundle);
                    }
                    evidence.merge(wasi)
                }
                Err(e) => evidence.errors.push(format!("WASI runner: {e}")),
            }
        }
        let report = findings::report(
            bundle,
            &plan,
            &evidence,
            &runner_names.join(" + "),
            &coverage,
        );
        Observation {
            coverage,
            ..observation(plan, evidence, report)
        }
    }

    /// Scripts a run wrote and nothing ran (a dropper's second stage, left for the agent to
    /// run later) are run in a follow-up job of their own, with the skill and what earlier runs
    /// wrote in place; what those write is followed in turn, up to [`FOLLOW_UP_DEPTH`]. Past it
    /// the scripts left are named as not run. Follow-up steps add evidence; they are not
    /// counted in coverage.
    fn follow_up(&self, bundle: &Bundle, plan: &mut Plan, evidence: &mut Evidence) {
        let mut written: Vec<(String, String)> = Vec::new();
        let mut depth = 0;
        loop {
            let pending = unrun_written_scripts(evidence, &written);
            if pending.is_empty() {
                return;
            }
            if depth == FOLLOW_UP_DEPTH {
                for (path, _) in pending {
                    plan.not_run.push(format!(
                        "{path}: written by a follow-up run at depth {FOLLOW_UP_DEPTH}, the limit"
                    ));
                }
                return;
            }
            depth += 1;
            let mut steps = Vec::new();
            for (path, text) in pending {
                let rel = follow_up_path(&path);
                let Ok(interpreter) = plan::interpreter_for(&rel, text.as_bytes()) else {
                    continue;
                };
                steps.push(Step {
                    label: format!("follow-up {depth}: {path}"),
                    argv: vec![interpreter.into(), rel.clone()],
                    probe: true,
                });
                written.push((path, text));
            }
            if steps.is_empty() {
                return;
            }
            match self.run_follow_up(bundle, &written, steps) {
                Ok(more) => evidence.merge(more),
                Err(e) => {
                    evidence.errors.push(format!("follow-up run: {e}"));
                    return;
                }
            }
        }
    }

    fn run_follow_up(
        &self,
        bundle: &Bundle,
        written: &[(String, String)],
        steps: Vec<Step>,
    ) -> Result<Evidence, SandboxError> {
        let (dir, skill_dir) = working_copy(bundle)?;
        for (path, text) in written {
            let rel = follow_up_path(path);
            let target = skill_dir.join(&rel);
            if !target.starts_with(&skill_dir) {
                continue;
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(SandboxError::Materialise)?;
                let mut d = parent;
                while d != skill_dir && d.starts_with(&skill_dir) {
                    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))
                        .map_err(SandboxError::Materialise)?;
                    d = d.parent().unwrap_or(&skill_dir);
                }
            }
            std::fs::write(&target, text).map_err(SandboxError::Materialise)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .map_err(SandboxError::Materialise)?;
        }
        let job = native::Job {
            skill_dir,
            profile: self.profile.clone(),
            steps,
            runtime: None,
        };
        let evidence = self.run_job(&job);
        drop(dir);
        evidence
    }

    /// Runs `plan` in the runner and returns what it observed.
    pub fn run(&self, bundle: &Bundle, plan: &Plan) -> Result<Evidence, SandboxError> {
        let (_dir, skill_dir) = working_copy(bundle)?;
        write_samples(plan, &skill_dir).map_err(SandboxError::Materialise)?;
        let job = native::Job {
            skill_dir,
            profile: self.profile.clone(),
            steps: plan.steps.clone(),
            runtime: None,
        };
        self.run_job(&job)
    }

    /// `skillgate run`: runs `argv` in `project` under this (runtime) profile, with the skill
    /// at a private copy of `bundle`'s bytes: the bytes that were hashed are the bytes that
    /// run, whatever happens to the installed folder meanwhile. Words of `argv` naming the
    /// installed folder (`installed`) are pointed at the copy.
    pub fn run_command(
        &self,
        bundle: &Bundle,
        installed: &Path,
        argv: &[String],
        project: &Path,
        project_writable: bool,
        resolve: std::collections::BTreeMap<String, String>,
    ) -> Result<Evidence, SandboxError> {
        let (dir, skill_dir) = working_copy(bundle)?;
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).map_err(SandboxError::Materialise)?;
        // The runner may run as `nobody` (when started as root): it must be able to write here.
        std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o777))
            .map_err(SandboxError::Materialise)?;
        let installed = installed.display().to_string();
        let copy = skill_dir.display().to_string();
        let argv = argv
            .iter()
            .map(|a| {
                if installed.is_empty() {
                    a.clone()
                } else {
                    a.replace(&installed, &copy)
                }
            })
            .collect();
        let job = native::Job {
            skill_dir,
            profile: self.profile.clone(),
            steps: vec![plan::Step {
                label: "run".into(),
                argv,
                probe: false,
            }],
            runtime: Some(native::RuntimeJob {
                project_dir: project.to_path_buf(),
                project_writable,
                scratch_dir: scratch,
                resolve,
            }),
        };
        let evidence = self.run_job(&job);
        drop(dir);
        evidence
    }

    /// Runs a prepared job (the skill already on disk).
    pub fn run_job(&self, job: &native::Job) -> Result<Evidence, SandboxError> {
        let mut command = Command::new(&self.runner.program);
        if let Some(id) = self.runner.user {
            use std::os::unix::process::CommandExt;
            command.uid(id).gid(id);
        }
        let mut child = command
            .args(&self.runner.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SandboxError::Spawn {
                program: self.runner.program.display().to_string(),
                source,
            })?;
        let input = serde_json::to_vec(job).expect("a job always serialises");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&input);
        }
        let stdout = child.stdout.take().map(|mut s| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = (&mut s).take(256 << 20).read_to_end(&mut out);
                out
            })
        });
        let stderr = child.stderr.take().map(|mut s| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = (&mut s).take(64 << 10).read_to_end(&mut out);
                out
            })
        });
        let limit = Duration::from_millis(self.profile.limits.total_timeout_ms + 20_000);
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SandboxError::Timeout(limit.as_secs()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(SandboxError::Runner(e.to_string())),
            }
        };
        let out = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
        let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        serde_json::from_slice::<Evidence>(&out).map_err(|e| {
            SandboxError::Runner(format!(
                "{status}; unreadable evidence ({e}); stderr: {}",
                String::from_utf8_lossy(&err).trim()
            ))
        })
    }
}

/// A fresh temporary folder holding the bundle at `skill/`, readable by anyone (the runner
/// drops root to `nobody`). The folder lives as long as the returned guard.
fn working_copy(bundle: &Bundle) -> Result<(tempfile::TempDir, PathBuf), SandboxError> {
    let dir = tempfile::Builder::new()
        .prefix("skillgate-g3-")
        .tempdir()
        .map_err(SandboxError::Materialise)?;
    let skill_dir = dir.path().join("skill");
    materialise(bundle, &skill_dir).map_err(SandboxError::Materialise)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(SandboxError::Materialise)?;
    Ok((dir, skill_dir))
}

/// How many generations of run-written scripts G3 follows.
pub const FOLLOW_UP_DEPTH: usize = 2;

/// Where a written file goes in a follow-up's working copy: files of the working copy keep
/// their place; files elsewhere (TMPDIR) go under `.skillgate-written/`.
fn follow_up_path(path: &str) -> String {
    let clean = |p: &str| {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .collect::<Vec<_>>()
            .join("/")
    };
    match path.strip_prefix(&format!("{}/", native::mounts::WORK)) {
        Some(rel) => clean(rel),
        None => format!(".skillgate-written/{}", clean(path)),
    }
}

/// Scripts (by name or shebang) a run wrote that no exec and no step ran, not yet followed.
fn unrun_written_scripts(
    evidence: &Evidence,
    followed: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for event in &evidence.events {
        let evidence::EventKind::FileWritten { path, text, .. } = &event.kind else {
            continue;
        };
        let name = path.rsplit('/').next().unwrap_or(path);
        let script =
            text.starts_with("#!") || [".sh", ".bash", ".py"].iter().any(|e| name.ends_with(e));
        if !script
            || text.trim().is_empty()
            || path.contains(arguments::SAMPLE_DIR)
            || followed.iter().any(|(p, t)| p == path || t == text)
            || out.iter().any(|(p, _): &(String, String)| p == path)
        {
            continue;
        }
        let ran = evidence.events.iter().any(|e| match &e.kind {
            evidence::EventKind::Exec { argv, path: exe } => {
                exe.ends_with(name)
                    || argv
                        .iter()
                        .any(|a| a.rsplit('/').next() == Some(name) || a.contains(path.as_str()))
            }
            _ => false,
        }) || evidence
            .steps
            .iter()
            .any(|s| s.argv.iter().any(|a| a.contains(name)));
        if !ran {
            out.push((path.clone(), text.clone()));
        }
        if out.len() >= 8 {
            break;
        }
    }
    out
}

/// Coverage of a plan by the WASI runner alone: a plan step counts as exercised when one of
/// the Python steps taken from it was.
fn wasi_coverage(plan: &Plan, wasi: &Evidence, bundle: &Bundle) -> Coverage {
    let aligned: Vec<evidence::StepOutcome> = plan
        .steps
        .iter()
        .map(|step| {
            let mine: Vec<&evidence::StepOutcome> = wasi
                .steps
                .iter()
                .filter(|o| {
                    o.label
                        .trim_start_matches("wasi: ")
                        .starts_with(&step.label)
                })
                .collect();
            mine.iter()
                .find(|o| coverage::not_exercised(step, o, &[], usize::MAX).is_none())
                .or(mine.first())
                .map(|o| (*o).clone())
                .unwrap_or_else(|| evidence::StepOutcome {
                    error: Some("not pure Python (WASI runner only)".into()),
                    ..evidence::StepOutcome::new(step.label.clone(), step.argv.clone())
                })
        })
        .collect();
    coverage::measure(plan, &aligned, &wasi.events, bundle)
}

/// G3's report for a skill whose [`Plan`] is empty: there is nothing to observe, so nothing
/// was left unobserved.
pub fn nothing_to_execute() -> GateReport {
    GateReport {
        status: skillgate_model::GateStatus::Pass,
        ..GateReport::skipped(
            Gate::G3,
            "nothing to execute: no scripts, no shell or Python blocks, no commands",
        )
    }
}

/// Writes the sample inputs a plan's steps name: the sample folder when a step uses it, and
/// a sample under each missing input file's own name (plain names only, never over a file
/// of the skill).
fn write_samples(plan: &Plan, root: &Path) -> std::io::Result<()> {
    let uses_folder = plan
        .steps
        .iter()
        .any(|s| s.argv.iter().any(|a| a.contains(arguments::SAMPLE_DIR)));
    if uses_folder {
        let dir = root.join(arguments::SAMPLE_DIR);
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        for (name, bytes) in arguments::SAMPLES {
            std::fs::write(dir.join(name), bytes)?;
        }
    }
    for name in &plan.samples {
        let target = root.join(name);
        let plain = Path::new(name).components().count() == 1
            && matches!(
                Path::new(name).components().next(),
                Some(Component::Normal(_))
            );
        if !plain || target.exists() {
            continue;
        }
        if let Some(bytes) = arguments::sample_for_file_name(name) {
            std::fs::write(&target, bytes)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

/// Writes the bundle's files under `root`: directories 0755, scripts 0755, others 0644.
/// Paths were checked when the bundle was loaded; they are checked again here because this
/// is where a bad one would do harm.
pub fn materialise(bundle: &Bundle, root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
    for file in bundle
        .files
        .iter()
        .filter(|f| !f.in_archive && !f.too_large)
    {
        let rel = Path::new(&file.path);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            continue;
        }
        let target = root.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
            let mut dir = parent;
            while dir != root && dir.starts_with(root) {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
                dir = dir.parent().unwrap_or(root);
            }
        }
        std::fs::write(&target, &file.bytes)?;
        let executable = file.bytes.starts_with(b"#!")
            || file.path.ends_with(".sh")
            || file.path.ends_with(".py");
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Python the WASI runner still has to see after the native run, and how many steps it may
/// skip. What WASI adds to a native run is what its hooks see before the kernel does: the code
/// a script makes while it runs (`exec`, `compile`, `marshal`, an import by computed name), and
/// the arguments of a network call before TLS hides them from the capture servers (a canary in
/// an HTTPS request body); and a second try at steps the native run did not carry to their
/// end. A step the native run exercised to a normal exit, in a bundle whose Python does neither,
/// has nothing more to show.
fn wasi_needed(
    python: Vec<wasi::PythonStep>,
    plan: &Plan,
    evidence: &Evidence,
    coverage: &Coverage,
    bundle: &Bundle,
) -> (Vec<wasi::PythonStep>, usize) {
    if hidden_from_native(bundle, &python) {
        return (python, 0);
    }
    let seen_to_end = |label: &str| {
        plan.steps.iter().enumerate().any(|(i, step)| {
            label.starts_with(&step.label)
                && coverage
                    .steps
                    .get(i)
                    .is_some_and(|c| c.label == step.label && c.exercised)
                && evidence
                    .steps
                    .get(i)
                    .is_some_and(|o| !o.timed_out && o.error.is_none() && o.signal.is_none())
        })
    };
    let before = python.len();
    let needed: Vec<_> = python
        .into_iter()
        .filter(|p| !seen_to_end(&p.label))
        .collect();
    let skipped = before - needed.len();
    (needed, skipped)
}

/// Whether anything the bundle holds or a step runs can make code at run time (the constructs
/// through which a decoded or downloaded payload becomes code, however it was hidden) or talk
/// to the network through a library whose requests TLS would hide from the native capture.
fn hidden_from_native(bundle: &Bundle, python: &[wasi::PythonStep]) -> bool {
    static MAKES_CODE: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(
            r"\b(?:requests|urllib3?|http\.client|httpx|aiohttp|socket|ssl|smtplib|ftplib|websockets?|paramiko|boto3|pycurl|grpc)\b|\b(?:exec|eval|compile|__import__|execfile)\s*\(|\b(?:importlib|marshal|pickle|dill|cloudpickle|runpy|ctypes|cffi|types\.(?:CodeType|FunctionType)|code\.InteractiveInterpreter|zipimport)\b|getattr\s*\(\s*__builtins__|__builtins__\s*\[",
        )
        .expect("valid regex")
    });
    let in_steps = python.iter().any(|p| match &p.job {
        wasi::PythonJob::Code { code, .. } => MAKES_CODE.is_match(code.as_bytes()),
        wasi::PythonJob::File { .. } => false,
    });
    // Every file, not only `.py`: a script may load code from a data file or a module with no
    // extension.
    in_steps || bundle.files.iter().any(|f| MAKES_CODE.is_match(&f.bytes))
}
