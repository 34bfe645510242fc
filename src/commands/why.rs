//! `skillgate why SKILL`: the appeal's first step. For a stored verdict: each reason, every
//! finding with the rule's documentation and the exact text that fired, and what would change
//! the decision.

use crate::ExitStatus;
use crate::commands::store::{self, now_ms, when};
use serde_json::{Value, json};
use skillgate_pipeline::{Policy, TrustError};
use skillgate_store::Location;

pub fn why(db: Option<&Location>, query: &str, json_out: bool) -> anyhow::Result<ExitStatus> {
    let st = store::open(db, &Policy::default())?;
    let resolved = match st.rt.block_on(st.trust.resolve(query)) {
        Ok(r) => r,
        Err(TrustError::Unknown(_)) => {
            println!("{query}: not in the trust store (scan it first)");
            return Ok(ExitStatus::Failure);
        }
        Err(e) => return Err(e.into()),
    };
    let hash = resolved.skill.hash.clone();
    let store = st.trust.store();
    let Some(verdict) = st.rt.block_on(store.latest_verdict(&hash))? else {
        println!("{hash}: known, but no verdict is on record");
        return Ok(ExitStatus::Failure);
    };
    let findings = st.rt.block_on(store.findings(verdict.scan_id))?;
    let answer = st.rt.block_on(st.trust.tier_answer(&hash, now_ms()))?;
    let registry = skillgate_pipeline::registry()?;
    let reasons: Value = serde_json::from_str(&verdict.reasons).unwrap_or(Value::Null);

    let mut explained = Vec::new();
    for f in &findings {
        let doc = registry.explain(&f.code);
        explained.push(json!({
            "code": f.code,
            "gate": f.gate,
            "severity": f.severity,
            "confidence": f.confidence,
            "message": f.message,
            "file": f.file,
            "line": f.line,
            "fired_on": f.evidence,
            "rule": doc.as_ref().map(|d| json!({
                "slug": d.slug,
                "summary": d.summary,
                "docs": d.docs,
                "fix": d.help,
            })),
        }));
    }
    let rejected = verdict.decision == "reject";
    let mut changes = vec![
        "fix what the findings name, then `skillgate scan <folder>`: changed content is a new \
         subject, judged afresh"
            .to_string(),
        format!(
            "if a finding is wrong: `skillgate rescan {hash}` re-judges the stored skill with the \
             current rules and policy, and records any change of tier"
        ),
        format!(
            "a reviewer records a semantic review: `skillgate review {hash} --approve|--reject --by \
             WHO --note …`{}",
            if rejected {
                " (an approval does not lift a rejection by the scan; it counts toward T3)"
            } else {
                ""
            }
        ),
        "a reviewer can accept one finding with a waiver in `.skillgate/waivers.toml`, bound to \
         this content, the finding's fingerprint (in the JSON report) and the policy; a critical \
         finding needs two reviewers"
            .to_string(),
        "a policy can turn a rule off or change its severity: `[rules]` in the policy file, or \
         `--select`/`--ignore` (recorded in the policy hash)"
            .to_string(),
    ];
    if let Some(a) = &answer
        && let Some(link) = &a.capped_by
    {
        changes.insert(
            0,
            format!(
                "its effective tier is capped by `{}` ({}): raise or replace that skill",
                link.name, link.reason
            ),
        );
    }
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "skill": resolved.skill,
                "decision": verdict.decision,
                "tier_at_scan": verdict.tier,
                "tier_now": answer.as_ref().and_then(|a| a.tier),
                "effective_tier": answer.as_ref().and_then(|a| a.effective_tier),
                "policy": verdict.policy_hash,
                "scanned_at": verdict.created_at,
                "reasons": reasons,
                "findings": explained,
                "what_would_change_it": changes,
            }))?
        );
        return Ok(ExitStatus::Success);
    }
    println!(
        "skill      {} {}",
        resolved.skill.name.as_deref().unwrap_or("(unnamed)"),
        hash
    );
    println!(
        "verdict    {}{} (scanned {}, policy {})",
        verdict.decision,
        verdict
            .tier
            .as_deref()
            .map_or(String::new(), |t| format!(" {t}")),
        when(verdict.created_at),
        verdict.policy_hash
    );
    if let Some(a) = &answer {
        println!(
            "now        {} (effective {})",
            a.tier.map_or("none".into(), |t| t.to_string()),
            a.effective_tier.map_or("none".into(), |t| t.to_string())
        );
    }
    println!("\nreasons");
    for r in reasons.as_array().into_iter().flatten() {
        println!(
            "  - [{} {}] {}",
            r["gate"].as_str().unwrap_or("--"),
            r["code"].as_str().unwrap_or(""),
            r["reason"].as_str().unwrap_or("")
        );
    }
    println!("\nfindings ({})", findings.len());
    for (f, e) in findings.iter().zip(&explained) {
        let at = match (&f.file, f.line) {
            (Some(file), Some(line)) => format!(" at {file}:{line}"),
            (Some(file), None) => format!(" in {file}"),
            _ => String::new(),
        };
        println!(
            "  {} {} ({}, {} confidence){at}",
            f.code,
            e["rule"]["slug"].as_str().unwrap_or(""),
            f.severity,
            f.confidence
        );
        println!("      {}", f.message);
        if let Some(ev) = &f.evidence {
            println!("      fired on: {ev}");
        }
        if let Some(summary) = e["rule"]["summary"].as_str() {
            println!(
                "      rule: {summary} (`skillgate rules explain {}`)",
                f.code
            );
        }
        if let Some(fix) = e["rule"]["fix"].as_str() {
            println!("      fix: {fix}");
        }
    }
    println!("\nwhat would change the decision");
    for c in &changes {
        println!("  - {c}");
    }
    Ok(ExitStatus::Success)
}
