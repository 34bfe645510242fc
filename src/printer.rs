//! Output formats: compiler-style text, JSON (the stable contract), SARIF 2.1.0.

use serde_json::json;
use skillgate_model::{Decision, Finding, Severity};
use skillgate_pipeline::{Policy, SkillReport};
use skillgate_static::StaticGate;
use std::collections::BTreeMap;
use std::io::Write;

pub fn json(out: &mut dyn Write, reports: &[SkillReport], policy: &Policy) -> anyhow::Result<()> {
    json_with(out, reports, policy, None)
}

/// Each finding's fingerprint, which a waiver names it by, added beside it.
fn with_fingerprints(report: &SkillReport) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(report)?;
    let mark = |list: &mut serde_json::Value, findings: &[Finding]| {
        if let Some(items) = list.as_array_mut() {
            for (item, f) in items.iter_mut().zip(findings) {
                item["fingerprint"] = json!(f.fingerprint());
            }
        }
    };
    mark(&mut v["findings"], &report.findings);
    for (name, g) in &report.gates {
        mark(&mut v["gates"][name]["findings"], &g.findings);
    }
    if let Some(items) = v["nested"].as_array_mut() {
        for (item, inner) in items.iter_mut().zip(&report.nested) {
            *item = with_fingerprints(inner)?;
        }
    }
    Ok(v)
}

/// The JSON document, with what became of each waiver when a waiver file was read.
pub fn json_with(
    out: &mut dyn Write,
    reports: &[SkillReport],
    policy: &Policy,
    waivers: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let skills = reports
        .iter()
        .map(with_fingerprints)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut doc = json!({
        "skillgate": env!("CARGO_PKG_VERSION"),
        "policy": policy.hash(),
        "skills": skills,
    });
    if let Some(rules) = policy_rules(policy)? {
        doc["policy_rules"] = rules;
    }
    if let Some(w) = waivers {
        doc["waivers"] = w;
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

/// The policy's rule selection as the report states it: what was asked, and every rule that
/// therefore did not run, so a reader sees which checks were off. `None` for the default.
pub fn policy_rules(policy: &Policy) -> anyhow::Result<Option<serde_json::Value>> {
    if policy.rules.is_default() {
        return Ok(None);
    }
    let registry = skillgate_pipeline::registry()?;
    let off: Vec<String> = registry
        .docs()
        .into_iter()
        .map(|d| d.code)
        .filter(|code| !policy.selector().enabled(code))
        .collect();
    let mut rules = serde_json::to_value(&policy.rules)?;
    rules["off"] = json!(off);
    Ok(Some(rules))
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn location(r: &SkillReport, f: &Finding) -> String {
    let base = std::path::Path::new(&r.path);
    let file = f
        .file
        .as_deref()
        .map(|p| base.join(p).display().to_string())
        .unwrap_or_else(|| r.path.clone());
    match (f.line, f.column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file,
    }
}

pub fn text(out: &mut dyn Write, reports: &[SkillReport], color: bool) -> anyhow::Result<()> {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let (mut rejected, mut t1, mut errors) = (0, 0, 0);
    for r in reports {
        for f in r.findings.iter().filter(|f| f.severity >= Severity::Low) {
            let sev = label(f.severity);
            let head = format!("{sev}[{}]", f.code);
            let head = match f.severity {
                Severity::Critical | Severity::High => paint("1;31", &head),
                Severity::Medium => paint("1;33", &head),
                _ => paint("1;36", &head),
            };
            writeln!(
                out,
                "{head}: {} ({}, {} confidence)",
                f.message, f.severity, f.confidence
            )?;
            writeln!(out, "  --> {}", location(r, f))?;
            if let (Some(line), Some(snippet)) = (f.line, f.snippet.as_deref()) {
                let width = line.to_string().len();
                writeln!(out, "{:width$} |", "")?;
                writeln!(out, "{line} | {snippet}")?;
                writeln!(out, "{:width$} |", "")?;
            } else if let Some(ev) = &f.evidence {
                writeln!(out, "   = evidence: {ev}")?;
            }
            if let Some(help) = &f.help {
                writeln!(out, "   = help: {help}")?;
            }
            writeln!(out)?;
        }
        let verdict = match (r.decision, r.tier) {
            (Decision::Reject, _) => {
                rejected += 1;
                paint("1;31", "REJECT")
            }
            (Decision::Admit, Some(t)) => {
                if t == skillgate_model::Tier::T1 {
                    t1 += 1;
                }
                paint("1;32", &format!("ADMIT {t}"))
            }
            (Decision::Admit, None) => paint("1;32", "ADMIT"),
        };
        let name = r.name.as_deref().unwrap_or("?");
        writeln!(
            out,
            "{verdict} {name} {} {}",
            r.path,
            r.hash.as_deref().unwrap_or("")
        )?;
        if let Some(e) = &r.error {
            errors += 1;
            writeln!(out, "  error: {e}")?;
        }
        for reason in r.reasons.iter().take(6) {
            let gate = reason
                .gate
                .map(|g| g.to_string())
                .unwrap_or_else(|| "--".into());
            let code = reason.code.as_deref().unwrap_or("");
            writeln!(out, "  {gate} {code} {}", reason.reason)?;
        }
        for inner in &r.nested {
            let verdict = match (inner.decision, inner.tier) {
                (Decision::Reject, _) => "REJECT".to_string(),
                (Decision::Admit, Some(t)) => format!("ADMIT {t}"),
                (Decision::Admit, None) => "ADMIT".to_string(),
            };
            let how = if inner.composed {
                "installed or loaded by this skill"
            } else {
                "carried, never installed or loaded"
            };
            writeln!(
                out,
                "  bundled skill: {verdict} {} {} ({how}; {} findings)",
                inner.name.as_deref().unwrap_or("?"),
                inner.path,
                inner.findings.len()
            )?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} skills: {rejected} rejected, {} admitted ({t1} at T1), {errors} unreadable",
        reports.len(),
        reports.len() - rejected
    )?;
    Ok(())
}

/// SARIF 2.1.0 for GitHub code scanning: one run, the rules that fired with their help text,
/// one result per finding with a physical location.
pub fn sarif(
    out: &mut dyn Write,
    reports: &[SkillReport],
    gate: &StaticGate,
) -> anyhow::Result<()> {
    let docs: BTreeMap<String, _> = gate
        .registry()
        .docs()
        .into_iter()
        .map(|d| (d.code.clone(), d))
        .collect();
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for r in reports {
        if let Some(e) = &r.error {
            notifications
                .push(json!({"level": "error", "message": {"text": format!("{}: {e}", r.path)}}));
        }
        for f in &r.findings {
            let index = *used.entry(f.code.clone()).or_insert_with(|| {
                let d = docs.get(&f.code);
                let summary = d.map_or(f.message.clone(), |d| d.summary.clone());
                let help = d.map_or(String::new(), |d| d.docs.clone());
                rules.push(json!({
                    "id": f.code,
                    "name": d.map_or(f.code.clone(), |d| d.slug.clone()),
                    "shortDescription": {"text": summary},
                    "fullDescription": {"text": summary},
                    "help": {"text": help, "markdown": help},
                    "defaultConfiguration": {"level": label(d.map_or(f.severity, |d| d.severity))},
                    "properties": {"tags": ["security", f.category], "security-severity": security_severity(f.severity)},
                }));
                rules.len() - 1
            });
            let base = std::path::Path::new(&r.path);
            let uri = f
                .file
                .as_deref()
                .map_or_else(|| r.path.clone(), |p| base.join(p).display().to_string());
            let mut physical = json!({"artifactLocation": {"uri": uri.trim_start_matches("./")}});
            if let Some(line) = f.line {
                physical["region"] =
                    json!({"startLine": line, "startColumn": f.column.unwrap_or(1)});
            }
            results.push(json!({
                "ruleId": f.code,
                "ruleIndex": index,
                "level": label(f.severity),
                "message": {"text": format!("{} [{}]", f.message, r.name.as_deref().unwrap_or(&r.path))},
                "locations": [{"physicalLocation": physical}],
                "properties": {"severity": f.severity, "confidence": f.confidence, "skill": r.path, "decision": r.decision},
            }));
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "skillgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/skillgate/skillgate",
                "rules": rules,
            }},
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}
