//! The native runner: a fresh process that builds the sandbox around itself and runs a skill's
//! steps inside it.
//!
//! ```text
//! runner (starts single-threaded; drops root to nobody)
//!   1. unshare user+net+mount+pid namespaces; uid_map "0 <uid> 1"
//!   2. fork the PID namespace's init (dies with the runner, taking every payload with it)
//!   3. loopback up + AnyIP route; MPTCP off
//!   4. tmpfs over /tmp /run /var/tmp /dev/shm /home; skill read-only; working copy; fake HOME
//!   5. honeytokens planted; capture servers and fake DNS started; inotify on honeytokens
//!   6. per step: fork → setsid, nested userns (uid 1000), rlimits, no_new_privs, Landlock,
//!      seccomp listener → exec; a supervisor thread logs every notified syscall
//!   7. after the steps: scratch diff, canary matching, the evidence as JSON on stdout
//! ```
//!
//! It reads a [`Job`] as JSON on stdin and writes [`Evidence`] as JSON on stdout. Every failure
//! becomes an entry in `Evidence::errors`; it never panics on hostile input.

mod capture;
pub mod forward;
pub mod mounts;
mod namespace;
mod seccomp;
mod step;

pub use capture::{FETCHED_MARKER, client_hello_sni};
pub use seccomp::filter as seccomp_filter;

use crate::canary::{Honeytoken, Matcher, Placement, plant};
use crate::evidence::{EventKind, Evidence, Source};
use crate::plan::Step;
use crate::profile::Profile;
use crate::recorder::{self, Recorder, WrittenRoot};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the runner is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Host directory holding the skill's files, readable by the runner.
    pub skill_dir: PathBuf,
    pub profile: Profile,
    pub steps: Vec<Step>,
    /// Set for `skillgate run`: the steps work in the user's project, not in a working copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeJob>,
}

/// A command of an admitted skill, run where the user works.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeJob {
    /// The project directory: the command's working directory, and the only place besides
    /// `scratch_dir` it may write to (when `project_writable`).
    pub project_dir: PathBuf,
    pub project_writable: bool,
    /// A private folder for TMPDIR and HOME, writable by the runner.
    pub scratch_dir: PathBuf,
    /// Addresses to use for declared names instead of the host's resolver (`name` → IP), as
    /// `curl --resolve` does.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub resolve: std::collections::BTreeMap<String, String>,
}

/// The hidden command-line argument that turns a binary into the runner.
pub const RUNNER_ARG: &str = "__sandbox-runner";

/// Entry point of the runner process. Call it before any thread starts.
pub fn runner_main() -> i32 {
    let start = Instant::now();
    let mut input = Vec::new();
    let evidence = match std::io::stdin().take(64 << 20).read_to_end(&mut input) {
        Err(e) => failed(format!("cannot read the job: {e}")),
        Ok(_) => match serde_json::from_slice::<Job>(&input) {
            Err(e) => failed(format!("malformed job: {e}")),
            Ok(job) => run(&job, start),
        },
    };
    emit(&evidence)
}

fn emit(evidence: &Evidence) -> i32 {
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, evidence) {
        Ok(()) => {
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            0
        }
        Err(_) => 2,
    }
}

fn failed(why: String) -> Evidence {
    Evidence {
        errors: vec![why],
        ..Evidence::default()
    }
}

fn run(job: &Job, start: Instant) -> Evidence {
    let mut evidence = Evidence::default();
    let layers = &mut evidence.layers;
    layers.kernel = namespace::kernel_release();
    layers.landlock_abi = namespace::landlock_abi();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0
        && let Err(e) = namespace::drop_root(namespace::UNPRIVILEGED_UID)
    {
        evidence
            .errors
            .push(format!("cannot drop root before sandboxing: {e}"));
        return evidence;
    }
    // SAFETY: getuid cannot fail.
    layers.host_uid = unsafe { libc::getuid() };
    if layers.landlock_abi == 0 {
        evidence.errors.push(
            "Landlock is not available in this kernel; scripts were not run without it".into(),
        );
        return evidence;
    }
    // At run time a profile that does not capture (T4) keeps the host's network.
    let host_network = job.runtime.is_some() && !job.profile.network.capture;
    // Declared domains at T3 are reached through a helper left on the host's network; it must
    // be forked before the namespaces are entered.
    let forwarder = match &job.runtime {
        Some(runtime) if !host_network && !job.profile.network.allow.is_empty() => {
            match forward::Forwarder::spawn(
                job.profile.network.allow.clone(),
                runtime.resolve.clone(),
            ) {
                Ok(f) => Some(Arc::new(f)),
                Err(e) => {
                    evidence.errors.push(format!(
                        "cannot start the helper that reaches declared domains: {e}"
                    ));
                    return evidence;
                }
            }
        }
        _ => None,
    };
    if let Err(e) = namespace::enter(host_network) {
        evidence.errors.push(format!(
            "cannot create user, network, mount and PID namespaces (unprivileged user namespaces \
             disabled?): {e}"
        ));
        return evidence;
    }
    layers.user_namespace = true;
    layers.network_namespace = true;
    layers.mount_namespace = true;
    // A process that unshared its PID namespace cannot start threads, so the runner forks:
    // the child is PID 1 of the new namespace and does the work; this process only waits.
    // When the child ends, or dies with this process (PDEATHSIG), the kernel kills every
    // process left in the namespace: no payload outlives the run.
    // SAFETY: single-threaded here; the child continues as an ordinary process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        evidence.errors.push(format!(
            "cannot fork into the PID namespace: {}",
            std::io::Error::last_os_error()
        ));
        return evidence;
    }
    if pid > 0 {
        let mut status = 0;
        // SAFETY: waitpid writes the status int.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            3
        };
        std::process::exit(code);
    }
    // The parent is outside this PID namespace (getppid() is 0 here), so its death cannot be
    // checked by pid; it is blocked in waitpid, and PDEATHSIG covers it from here on.
    // SAFETY: prctl takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    evidence.layers.pid_namespace = true;
    match &job.runtime {
        Some(runtime) => {
            run_at_runtime(job, runtime, host_network, forwarder, start, &mut evidence)
        }
        None => run_in_namespaces(job, start, &mut evidence),
    }
    evidence.duration_ms = start.elapsed().as_millis() as u64;
    std::process::exit(emit(&evidence));
}

fn run_in_namespaces(job: &Job, start: Instant, evidence: &mut Evidence) {
    let profile = &job.profile;
    let network = match namespace::network_up() {
        Ok(()) => true,
        Err(e) => {
            evidence
                .errors
                .push(format!("cannot set up the capture network: {e}"));
            false
        }
    };
    evidence.layers.mptcp_disabled = namespace::disable_mptcp();
    let view = match mounts::build(
        &job.skill_dir,
        profile.limits.scratch_mb,
        &profile.filesystem.home,
    ) {
        Ok(v) => v,
        Err(e) => {
            evidence
                .errors
                .push(format!("cannot build the sandbox's filesystem: {e}"));
            return;
        }
    };
    // A /proc of the new PID namespace: the supervisor's pids are numbered in it, and the
    // payload sees no host process.
    if let Err(e) = mounts::proc() {
        evidence.errors.push(format!("cannot mount /proc: {e}"));
        return;
    }

    let mut rng = rand::thread_rng();
    let tokens: Vec<Honeytoken> = profile
        .honeytokens
        .plant
        .iter()
        .filter_map(|id| Honeytoken::generate(id, &mut rng))
        .collect();
    let mut env: Vec<(String, String)> = profile
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut token_files = Vec::new();
    for token in &tokens {
        let path = match &token.placement {
            Placement::Env(var) => {
                env.push((var.clone(), token.content.clone()));
                continue;
            }
            Placement::Home(rel) => view.home.join(rel),
            Placement::Work(rel) => Path::new(mounts::WORK).join(rel),
        };
        if let Err(e) = plant(&path, &token.content) {
            evidence
                .errors
                .push(format!("cannot plant {}: {e}", token.id));
            continue;
        }
        token_files.push((
            token.id.clone(),
            path.display().to_string(),
            token.content.clone(),
        ));
    }
    for (rel, content) in crate::canary::DECOY_HOME_FILES {
        let _ = plant(&view.home.join(rel), content);
    }
    evidence.honeytokens = tokens.iter().map(|t| t.id.clone()).collect();
    let path = shims(&profile.environment);
    if let Some((_, value)) = env.iter_mut().find(|(k, _)| k == "PATH") {
        *value = format!("{value}:{path}");
    }
    let home = view.home.display().to_string();
    env.push(("PYTHONPATH".to_string(), PYTHON_STAND_IN_DIR.to_string()));
    env.push(("BASH_ENV".to_string(), BASH_ENV_FILE.to_string()));
    env.extend([
        ("HOME".to_string(), home.clone()),
        ("TMPDIR".to_string(), mounts::SCRATCH.to_string()),
        ("PWD".to_string(), mounts::WORK.to_string()),
        ("SKILL_DIR".to_string(), mounts::WORK.to_string()),
        ("CLAUDE_SKILL_DIR".to_string(), mounts::WORK.to_string()),
    ]);

    let recorder = Arc::new(Recorder::new(start, Matcher::new(&tokens)));
    let capture = match capture::Capture::start(
        recorder.clone(),
        &profile.network.tcp_ports,
        profile.network.capture_bytes,
    ) {
        Ok(c) => c,
        Err(e) => {
            evidence
                .errors
                .push(format!("cannot start the capture servers: {e}"));
            return;
        }
    };
    evidence.layers.network_capture = network;
    let inotify = Inotify::watch(&token_files);

    let landlock = match landlock_ruleset(profile, &home) {
        Ok(fd) => fd,
        Err(e) => {
            evidence
                .errors
                .push(format!("cannot build the Landlock ruleset: {e}"));
            return;
        }
    };
    let confinement = step::Confinement {
        landlock,
        filter: seccomp::filter(),
        env,
        cwd: mounts::WORK.to_string(),
        runtime: false,
    };
    let supervisor = Arc::new(seccomp::Supervisor {
        recorder: recorder.clone(),
        capture: capture.clone(),
        honeytokens: token_files
            .iter()
            .map(|(id, path, _)| (id.clone(), path.clone()))
            .collect(),
        refuse_connections: false,
    });

    let total_deadline = start + Duration::from_millis(profile.limits.total_timeout_ms);
    let mut any_started = false;
    for (i, s) in job.steps.iter().enumerate() {
        if Instant::now() >= total_deadline {
            evidence.errors.push(format!(
                "the run's time limit ended before step {} ({})",
                i + 1,
                s.label
            ));
            break;
        }
        if s.probe
            && let Some(bare) = evidence.steps.last()
            && bare.argv.get(..2) == s.argv.get(..2)
            && bare.timed_out
        {
            // The bare run already ran until it was stopped (served, waited, or worked to the
            // limit): the script's code was exercised, and the same script with `--help` is
            // most often the same wait again. Probes count for no coverage, so leaving this one
            // out hides nothing coverage promised; the note says it was left out.
            evidence.steps.push(crate::evidence::StepOutcome {
                error: Some(format!("not run: {PROBE_AFTER_STOPPED_RUN}")),
                ..crate::evidence::StepOutcome::new(s.label.clone(), s.argv.clone())
            });
            continue;
        }
        recorder.set_step(i);
        recorder.record(
            Source::Runner,
            None,
            EventKind::StepStarted {
                label: s.label.clone(),
                argv: s.argv.clone(),
            },
            &[],
        );
        let deadline = (Instant::now() + Duration::from_millis(profile.limits.step_timeout_ms))
            .min(total_deadline);
        let (outcome, lingering) = step::run(
            s,
            &confinement,
            &profile.limits,
            deadline,
            supervisor.clone(),
        );
        if outcome.error.is_none() {
            any_started = true;
        }
        if !lingering.is_empty() {
            recorder.record(
                Source::Runner,
                None,
                EventKind::LingeringKilled {
                    count: lingering.len(),
                    commands: lingering,
                },
                &[],
            );
        }
        if let Some(inotify) = &inotify {
            for id in inotify.opened() {
                let path = token_files
                    .iter()
                    .find(|(t, _, _)| *t == id)
                    .map(|(_, p, _)| p.clone())
                    .unwrap_or_default();
                recorder.record(
                    Source::Inotify,
                    None,
                    EventKind::HoneytokenOpened {
                        honeytoken: id,
                        path,
                    },
                    &[],
                );
            }
        }
        recorder.record(
            Source::Runner,
            None,
            EventKind::StepEnded {
                label: s.label.clone(),
                exit_code: outcome.exit_code,
                signal: outcome.signal,
                timed_out: outcome.timed_out,
            },
            // What a step prints the agent reads: a secret in it is exposed (SK916).
            &[
                (outcome.stdout.as_bytes(), "stdout"),
                (outcome.stderr.as_bytes(), "stderr"),
            ],
        );
        evidence.steps.push(outcome);
    }
    // Every step started means every layer was applied: pre_exec fails the spawn otherwise.
    if any_started {
        evidence.layers.nested_user_namespace = true;
        evidence.layers.no_new_privs = true;
        evidence.layers.landlock_enforced = true;
        evidence.layers.seccomp_notify = true;
    }
    capture.wait_idle(Duration::from_millis(1500));
    recorder.set_step(recorder::NO_STEP);
    scratch_diff(&recorder, &token_files);
    let (events, dropped) = recorder.take();
    if dropped > 0 {
        evidence.errors.push(format!(
            "{dropped} events beyond the timeline's limit were dropped"
        ));
    }
    evidence.events = events;
}

/// `skillgate run`: the command works in the user's project under the runtime profile. The
/// host's filesystem stays in view, and Landlock decides what is reachable: the system's
/// read-only folders, the skill (a private copy of the bytes that were checked), the project
/// (writable only when the skill's tools write), and a private scratch folder for TMPDIR and
/// HOME. The user's real home is not reachable. At T3 every connection is logged; one to a
/// declared domain is carried out by the helper (see [`forward`]), any other is refused. At T4
/// connections go out on the host's network.
fn run_at_runtime(
    job: &Job,
    runtime: &RuntimeJob,
    host_network: bool,
    forwarder: Option<Arc<forward::Forwarder>>,
    start: Instant,
    evidence: &mut Evidence,
) {
    let profile = &job.profile;
    if !host_network {
        if let Err(e) = namespace::network_up() {
            evidence
                .errors
                .push(format!("cannot set up the sandbox's network: {e}"));
            return;
        }
        evidence.layers.mptcp_disabled = namespace::disable_mptcp();
    }
    if let Err(e) = mounts::proc() {
        evidence.errors.push(format!("cannot mount /proc: {e}"));
        return;
    }
    let recorder = Arc::new(Recorder::new(start, Matcher::new(&[])));
    let capture = if host_network {
        capture::Capture::idle(recorder.clone(), profile.network.capture_bytes)
    } else {
        // The fake DNS names what a connection is for; a listener starts only for a declared
        // name, and carries it out through the helper.
        match capture::Capture::start_forwarding(
            recorder.clone(),
            profile.network.capture_bytes,
            forwarder,
        ) {
            Ok(c) => c,
            Err(e) => {
                evidence
                    .errors
                    .push(format!("cannot start the sandbox's DNS: {e}"));
                return;
            }
        }
    };
    evidence.layers.network_capture = !host_network;
    let home = runtime.scratch_dir.join("home");
    if let Err(e) = std::fs::create_dir_all(&home) {
        evidence
            .errors
            .push(format!("cannot create the run's HOME: {e}"));
        return;
    }
    let project = runtime.project_dir.display().to_string();
    let skill = job.skill_dir.display().to_string();
    let scratch = runtime.scratch_dir.display().to_string();
    let mut env: Vec<(String, String)> = profile
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.extend([
        ("HOME".to_string(), home.display().to_string()),
        ("TMPDIR".to_string(), scratch.clone()),
        ("PWD".to_string(), project.clone()),
        ("SKILL_DIR".to_string(), skill.clone()),
        ("CLAUDE_SKILL_DIR".to_string(), skill.clone()),
    ]);
    let mut read = existing(&profile.filesystem.read_only);
    read.push(skill.clone());
    let mut write = existing(&profile.filesystem.read_write);
    write.push(scratch.clone());
    if runtime.project_writable {
        write.push(project.clone());
    } else {
        read.push(project.clone());
    }
    let landlock = landlock_rules(&read, &write);
    let landlock = match landlock {
        Ok(fd) => fd,
        Err(e) => {
            evidence
                .errors
                .push(format!("cannot build the Landlock ruleset: {e}"));
            return;
        }
    };
    let confinement = step::Confinement {
        landlock,
        filter: seccomp::filter(),
        env,
        cwd: project,
        runtime: true,
    };
    let supervisor = Arc::new(seccomp::Supervisor {
        recorder: recorder.clone(),
        capture: capture.clone(),
        honeytokens: Vec::new(),
        refuse_connections: true,
    });
    let deadline = start + Duration::from_millis(profile.limits.total_timeout_ms);
    for (i, s) in job.steps.iter().enumerate() {
        recorder.set_step(i);
        recorder.record(
            Source::Runner,
            None,
            EventKind::StepStarted {
                label: s.label.clone(),
                argv: s.argv.clone(),
            },
            &[],
        );
        let step_deadline =
            (Instant::now() + Duration::from_millis(profile.limits.step_timeout_ms)).min(deadline);
        let (outcome, lingering) = step::run(
            s,
            &confinement,
            &profile.limits,
            step_deadline,
            supervisor.clone(),
        );
        if !lingering.is_empty() {
            recorder.record(
                Source::Runner,
                None,
                EventKind::LingeringKilled {
                    count: lingering.len(),
                    commands: lingering,
                },
                &[],
            );
        }
        recorder.record(
            Source::Runner,
            None,
            EventKind::StepEnded {
                label: s.label.clone(),
                exit_code: outcome.exit_code,
                signal: outcome.signal,
                timed_out: outcome.timed_out,
            },
            &[],
        );
        if outcome.error.is_none() {
            evidence.layers.nested_user_namespace = true;
            evidence.layers.no_new_privs = true;
            evidence.layers.landlock_enforced = true;
            evidence.layers.seccomp_notify = true;
        }
        evidence.steps.push(outcome);
    }
    recorder.set_step(recorder::NO_STEP);
    let (events, dropped) = recorder.take();
    if dropped > 0 {
        evidence.errors.push(format!(
            "{dropped} events beyond the timeline's limit were dropped"
        ));
    }
    evidence.events = events;
}

/// Why a `--help` probe was left out (G3's note counts them by this text).
pub const PROBE_AFTER_STOPPED_RUN: &str = "the bare run already ran until it was stopped";

/// Commands skills call that a minimal host may lack. A shim stands in only when the real
/// command is missing, and does what matters for observation: a name lookup goes to the fake
/// DNS, a crontab install tries to write the cron table, `python` is Python 3.
const SHIMS: &[(&str, &str)] = &[
    ("python", "exec python3 \"$@\""),
    ("pip", "exec python3 -m pip \"$@\""),
    ("pip3", "exec python3 -m pip \"$@\""),
    (
        "nslookup",
        "for a in \"$@\"; do case \"$a\" in -*) ;; *) getent ahosts \"$a\" ;; esac; done",
    ),
    (
        "dig",
        "for a in \"$@\"; do case \"$a\" in -*|+*|@*) ;; *) getent ahosts \"$a\" ;; esac; done",
    ),
    (
        "host",
        "for a in \"$@\"; do case \"$a\" in -*) ;; *) getent ahosts \"$a\" ;; esac; done",
    ),
    (
        "crontab",
        "case \"$1\" in -l) exit 1 ;; -r) exit 0 ;; esac; cat \"${1:--}\" > /var/spool/cron/crontabs/user",
    ),
];

/// Third-party command-line tools a skill's commands call and the sandbox lacks: each stand-in
/// says so on stderr and succeeds, so the rest of the skill's command lines run (their argv
/// is in the exec log either way). `sudo` runs its command without privilege.
const TOOL_STAND_INS: &[&str] = &[
    "aws",
    "gh",
    "gcloud",
    "az",
    "kubectl",
    "docker",
    "podman",
    "terraform",
    "helm",
    "nmap",
    "brew",
    "op",
    "vercel",
    "netlify",
    "heroku",
    "fly",
    "wrangler",
    "firebase",
    "supabase",
    "stripe",
    "doctl",
    "ansible",
    "ansible-playbook",
    "psql",
    "mysql",
    "redis-cli",
    "ffmpeg",
    "pandoc",
    "convert",
    "magick",
    "git",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "tsc",
    "eslint",
    "prettier",
    "jest",
    "vitest",
    "make",
    "mvn",
    "gradle",
    "jq",
    "uv",
    "pipx",
    "poetry",
];

/// Any other command a shell step names that the sandbox lacks is stood in for the same way,
/// through bash's `command_not_found_handle` (loaded with `BASH_ENV`) — but never an
/// interpreter: the code it would have run is the skill's, and a step that could not run it
/// did not exercise it.
const BASH_ENV: &str = r#"command_not_found_handle() {
  case "$1" in
    node|nodejs|deno|bun|ruby|perl|php|python2|lua|Rscript|java|go|cargo|rustc|dotnet|pwsh|powershell|osascript|swift|kotlin|scala|elixir|julia)
      printf 'bash: %s: command not found
' "$1" >&2; return 127 ;;
  esac
  /tmp/bin/skillgate-stand-in "$@"
}
"#;
pub const BASH_ENV_FILE: &str = "/tmp/bin/skillgate-bash-env";
const SUDO_STAND_IN: &str = "while [ $# -gt 0 ]; do case \"$1\" in -u|-g|-C|-p|-h|-U|-r|-t) shift 2 ;; --) shift; break ;; -*) shift ;; *) break ;; esac; done; exec \"$@\"";

/// Python modules the machine lacks, stood in for (see `stand_ins.py`).
const PYTHON_STAND_INS: &str = include_str!("stand_ins.py");
pub const PYTHON_STAND_IN_DIR: &str = "/tmp/bin/python-stand-ins";

pub const SHIM_DIR: &str = "/tmp/bin";

fn write_shim(name: &str, body: &str) {
    let file = Path::new(SHIM_DIR).join(name);
    if std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).is_ok() {
        let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755));
    }
}

fn shims(environment: &std::collections::BTreeMap<String, String>) -> String {
    let path = environment.get("PATH").cloned().unwrap_or_default();
    if std::fs::create_dir_all(SHIM_DIR).is_err() {
        return String::new();
    }
    for (name, body) in SHIMS {
        let present = path
            .split(':')
            .any(|dir| Path::new(dir).join(name).exists());
        if present {
            continue;
        }
        write_shim(name, body);
    }
    let stand_in = |name: &str| {
        format!("echo \"[skillgate: stand-in for {name}, which the sandbox lacks]\" >&2; exit 0")
    };
    for name in TOOL_STAND_INS {
        if !path
            .split(':')
            .any(|dir| Path::new(dir).join(name).exists())
        {
            write_shim(name, &stand_in(name));
        }
    }
    if !path
        .split(':')
        .any(|dir| Path::new(dir).join("sudo").exists())
    {
        write_shim("sudo", SUDO_STAND_IN);
    }
    write_shim(
        "skillgate-stand-in",
        "echo \"[skillgate: stand-in for $1, which the sandbox lacks]\" >&2; exit 0",
    );
    let _ = std::fs::write(BASH_ENV_FILE, BASH_ENV);
    if std::fs::create_dir_all(PYTHON_STAND_IN_DIR).is_ok() {
        let _ = std::fs::write(
            Path::new(PYTHON_STAND_IN_DIR).join("sitecustomize.py"),
            PYTHON_STAND_INS,
        );
    }
    SHIM_DIR.to_string()
}

/// Read (and execute) on the system and the skill, write on the working copy, TMPDIR and the
/// profile's writable paths; nothing else. Abstract Unix sockets and signals are scoped to the
/// sandbox. TCP is left to the network namespace, so the payload's connects succeed and are
/// seen.
/// The profile's paths that exist on this host: Landlock cannot name a missing one.
fn existing(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| Path::new(p).exists())
        .cloned()
        .collect()
}

/// G3's ruleset: the profile's paths, the skill read-only, the working copy and scratch
/// writable.
fn landlock_ruleset(profile: &Profile, home: &str) -> Result<OwnedFd, String> {
    let mut read = existing(&profile.filesystem.read_only);
    read.extend([
        mounts::SKILL.to_string(),
        home.to_string(),
        SHIM_DIR.to_string(),
    ]);
    let mut write = existing(&profile.filesystem.read_write);
    write.extend([mounts::WORK.to_string(), mounts::SCRATCH.to_string()]);
    landlock_rules(&read, &write)
}

/// A Landlock ruleset handling every filesystem access: `read` beneath the first paths,
/// everything beneath `write`, nothing elsewhere.
fn landlock_rules(read: &[String], write: &[String]) -> Result<OwnedFd, String> {
    use landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
        Scope, path_beneath_rules,
    };
    let abi = ABI::V6;
    let ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(read, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(write, AccessFs::from_all(abi))))
        .map_err(|e| e.to_string())?;
    Option::<OwnedFd>::from(ruleset).ok_or_else(|| "Landlock is not supported".to_string())
}

/// Files left in the working copy and TMPDIR: new or changed ones are what the payload wrote.
fn scratch_diff(recorder: &Recorder, token_files: &[(String, String, String)]) {
    let skip: Vec<(String, Vec<u8>)> = token_files
        .iter()
        .map(|(_, path, content)| (path.clone(), content.clone().into_bytes()))
        .collect();
    recorder::record_written_files(
        recorder,
        &[
            WrittenRoot {
                dir: PathBuf::from(mounts::WORK),
                shown_as: mounts::WORK.to_string(),
                original: Some(PathBuf::from(mounts::SKILL)),
            },
            WrittenRoot {
                dir: PathBuf::from(mounts::SCRATCH),
                shown_as: mounts::SCRATCH.to_string(),
                original: None,
            },
        ],
        &skip,
    );
}

/// inotify on the honeytoken files: opens the kernel saw, whatever the syscall log claims.
struct Inotify {
    fd: OwnedFd,
    watches: Vec<(i32, String)>,
}

impl Inotify {
    fn watch(files: &[(String, String, String)]) -> Option<Self> {
        // SAFETY: plain syscall; the fd is owned below.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: raw is a fresh fd.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut watches = Vec::new();
        for (id, path, _) in files {
            let Ok(c) = std::ffi::CString::new(path.as_str()) else {
                continue;
            };
            // SAFETY: c is a valid C string.
            let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_OPEN) };
            if wd >= 0 {
                watches.push((wd, id.clone()));
            }
        }
        Some(Self { fd, watches })
    }

    /// Honeytokens opened since the last call.
    fn opened(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: buf is a valid buffer of the given length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let mut at = 0usize;
            let n = n as usize;
            while at + 16 <= n {
                let wd = i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or_default());
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap_or_default())
                    as usize;
                if let Some((_, id)) = self.watches.iter().find(|(w, _)| *w == wd)
                    && !out.contains(id)
                {
                    out.push(id.clone());
                }
                at += 16 + len;
            }
        }
        out
    }
}
