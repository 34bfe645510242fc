//! The lifecycle commands over the trust store: tier, history, event, review, promote, demote,
//! keys, certify, rescan, db.

use crate::ExitStatus;
use crate::args::{
    DbCommand, EventArgs, EventKind, GateArg, KeyRoleArg, KeysCommand, MoveArgs, RescanArgs,
    ReviewArgs, SeverityArg,
};
use crate::commands::scan::{build_pipeline, evaluate_loaded, load_policy};
use crate::commands::store::{self, Opened, now_ms, when};
use anyhow::Context;
use skillgate_model::{Capability, Severity};
use skillgate_pipeline::lifecycle::KeyRole;
use skillgate_pipeline::{Outcome, Policy, Resolved, RuntimeReport, TrustError, keys};
use skillgate_store::Location;
use std::io::Write;
use std::path::Path;

fn open(db: Option<&Location>) -> anyhow::Result<Opened> {
    store::open(db, &Policy::default())
}

/// Resolves a name or hash; an unknown skill is a plain answer, not an error trace.
fn resolve(st: &Opened, query: &str) -> anyhow::Result<Option<Resolved>> {
    match st.rt.block_on(st.trust.resolve(query)) {
        Ok(r) => Ok(Some(r)),
        Err(TrustError::Unknown(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn unknown(query: &str, json: bool) -> anyhow::Result<ExitStatus> {
    if json {
        println!("{}", skillgate_pipeline::Trust::unknown_answer(query));
    } else {
        println!("{query}: not in the trust store (scan it first; unknown skills get no tier)");
    }
    Ok(ExitStatus::Failure)
}

pub fn tier(db: Option<&Location>, query: &str, json: bool) -> anyhow::Result<ExitStatus> {
    let st = open(db)?;
    let Some(answer) = st.rt.block_on(st.trust.tier_answer(query, now_ms()))? else {
        return unknown(query, json);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitStatus::Success);
    }
    let s = &answer.skill;
    println!(
        "skill      {} {}",
        s.name.as_deref().unwrap_or("(unnamed)"),
        s.hash
    );
    if let Some(note) = &answer.note {
        println!("           {note}");
    }
    println!(
        "state      {} (decision: {})",
        answer.state.map_or("none".into(), |s| s.to_string()),
        answer.decision.map_or("none".into(), |d| d.to_string())
    );
    println!(
        "tier       {}",
        answer.tier.map_or("none".into(), |t| t.to_string())
    );
    if let Some(c) = &answer.capped {
        println!("           {c}");
    }
    if !answer.chain.is_empty() {
        println!(
            "composed   {}{}",
            answer
                .effective_tier
                .map_or("none".into(), |t| t.to_string()),
            answer
                .capped_by
                .as_ref()
                .map_or(String::new(), |l| format!(", capped by `{}`", l.name))
        );
        for link in &answer.chain {
            println!("link       {}", link.reason);
        }
    }
    for note in &answer.chain_notes {
        println!("           {note}");
    }
    println!("declared   {}", answer.allowed_tools.declared.join(" "));
    println!("effective  {}", answer.allowed_tools.effective.join(" "));
    println!("sandbox    {}", answer.sandbox_profile);
    if let Some(reasons) = answer.why.as_array() {
        for r in reasons {
            println!(
                "why        [{}] {}",
                r["gate"].as_str().unwrap_or("-"),
                r["reason"].as_str().unwrap_or("")
            );
        }
    }
    for m in &answer.ceiling.missing_for_t3 {
        println!("for T3     {m}");
    }
    for m in &answer.ceiling.missing_for_t4 {
        println!("for T4     {m}");
    }
    Ok(ExitStatus::Success)
}

pub fn history(db: Option<&Location>, query: &str, json: bool) -> anyhow::Result<ExitStatus> {
    let st = open(db)?;
    let Some(found) = resolve(&st, query)? else {
        return unknown(query, json);
    };
    let rows = st
        .rt
        .block_on(st.trust.store().history(&found.skill.hash))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitStatus::Success);
    }
    println!(
        "{} {}",
        found.skill.name.as_deref().unwrap_or("(unnamed)"),
        found.skill.hash
    );
    for r in rows {
        println!(
            "{}  {:>8} -> {:<8} {} (by {})",
            when(r.created_at),
            r.from_state.as_deref().unwrap_or("-"),
            r.to_state,
            r.reason,
            r.actor
        );
    }
    Ok(ExitStatus::Success)
}

fn print_outcome(out: &Outcome) {
    match &out.change {
        Some(row) => println!(
            "{}: {} -> {} ({})",
            out.hash,
            row.from_state.as_deref().unwrap_or("-"),
            row.to_state,
            row.reason
        ),
        None => println!(
            "{}: recorded; state stays {}",
            out.hash,
            out.after.map_or("none".into(), |s| s.to_string())
        ),
    }
}

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}

/// Runs a store operation on a resolved skill, printing its outcome; an unknown skill or a
/// refused transition is a clear one-line answer with exit status 1.
fn act(
    db: Option<&Location>,
    query: &str,
    op: impl AsyncFnOnce(&Opened, &str) -> Result<Outcome, TrustError>,
) -> anyhow::Result<ExitStatus> {
    let st = open(db)?;
    let Some(found) = resolve(&st, query)? else {
        return unknown(query, false);
    };
    match st.rt.block_on(op(&st, &found.skill.hash)) {
        Ok(out) => {
            print_outcome(&out);
            Ok(ExitStatus::Success)
        }
        Err(TrustError::Lifecycle(e)) => {
            eprintln!("refused: {e}");
            Ok(ExitStatus::Failure)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn event(db: Option<&Location>, args: &EventArgs) -> anyhow::Result<ExitStatus> {
    let capability = args
        .capability
        .as_deref()
        .map(str::parse::<Capability>)
        .transpose()?;
    let report = match args.kind {
        EventKind::Clean => RuntimeReport::Clean {
            detail: args.detail.clone(),
        },
        EventKind::Anomaly => RuntimeReport::Anomaly {
            severity: severity(args.severity.unwrap_or(SeverityArg::Medium)),
            capability,
            detail: args.detail.clone(),
        },
    };
    act(db, &args.skill, async |st, hash| {
        st.trust
            .event(hash, &report, "runtime report", now_ms())
            .await
    })
}

pub fn review(db: Option<&Location>, args: &ReviewArgs) -> anyhow::Result<ExitStatus> {
    if args.kind != "human" && args.kind != "llm" {
        anyhow::bail!("--kind must be `human` or `llm`");
    }
    act(db, &args.skill, async |st, hash| {
        st.trust
            .review(
                hash,
                args.approve,
                &args.by,
                &args.kind,
                &args.note,
                now_ms(),
            )
            .await
    })
}

pub fn promote(db: Option<&Location>, args: &MoveArgs, up: bool) -> anyhow::Result<ExitStatus> {
    act(db, &args.skill, async |st, hash| {
        if up {
            st.trust
                .promote(hash, args.to, &args.by, &args.reason, now_ms())
                .await
        } else {
            st.trust
                .demote(hash, args.to, &args.by, &args.reason, now_ms())
                .await
        }
    })
}

pub fn certify(db: Option<&Location>, query: &str, key: &Path) -> anyhow::Result<ExitStatus> {
    let secret = std::fs::read_to_string(key)
        .with_context(|| format!("reading the secret key {}", key.display()))?;
    let key = keys::signing_key_from_hex(&secret)?;
    act(db, query, async |st, hash| {
        st.trust.certify(hash, &key, now_ms()).await
    })
}

pub fn keys_command(db: Option<&Location>, command: &KeysCommand) -> anyhow::Result<ExitStatus> {
    match command {
        KeysCommand::Generate { out } => {
            if out.exists() {
                anyhow::bail!("{} exists; not overwriting a key", out.display());
            }
            let key = keys::generate();
            write_secret(out, &hex::encode(key.to_bytes()))?;
            let public = key.verifying_key();
            println!("public key {}", hex::encode(public.as_bytes()));
            println!("key id     {}", keys::key_id(&public));
            println!("secret key written to {} (mode 0600)", out.display());
        }
        KeysCommand::Trust {
            public_key,
            role,
            name,
        } => {
            let st = open(db)?;
            let role = match role {
                KeyRoleArg::Vendor => KeyRole::Vendor,
                KeyRoleArg::Publisher => KeyRole::Publisher,
            };
            let id = st
                .rt
                .block_on(st.trust.trust_key(public_key, role, name, now_ms()))?;
            println!("trusted {} key {id} ({name})", role.as_str());
        }
        KeysCommand::Distrust { key_id } => {
            let st = open(db)?;
            st.rt.block_on(st.trust.distrust_key(key_id, now_ms()))?;
            println!("key {key_id} is no longer trusted");
        }
        KeysCommand::Api { command } => return crate::commands::serve::api_keys(db, command),
        KeysCommand::List { json } => {
            let st = open(db)?;
            let keys = st.rt.block_on(st.trust.store().keys())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for k in keys {
                    println!(
                        "{}  {:<9} {:<9} {}  {}",
                        k.key_id,
                        k.role,
                        if k.trusted { "trusted" } else { "distrusted" },
                        k.label,
                        k.public_key
                    );
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}

pub fn rescan(db: Option<&Location>, args: &RescanArgs) -> anyhow::Result<ExitStatus> {
    let policy = load_policy(args.policy.as_deref())?;
    let st = store::open(db, &policy)?;
    let skills = if args.all {
        st.rt.block_on(st.trust.store().all_skills())?
    } else {
        if args.skills.is_empty() {
            anyhow::bail!("name skills to rescan, or pass --all");
        }
        let mut out = Vec::new();
        for q in &args.skills {
            match resolve(&st, q)? {
                Some(r) => out.push(r.skill),
                None => eprintln!("{q}: not in the trust store"),
            }
        }
        out
    };
    let all_gates = [GateArg::G1, GateArg::G2, GateArg::G3, GateArg::G4];
    let pipeline = build_pipeline(
        &all_gates,
        policy,
        args.osv.as_deref(),
        Some(&st),
        &Default::default(),
    )?;
    let engine = pipeline.engine();
    let mut changes = Vec::new();
    let mut problems = 0;
    for skill in &skills {
        let path = Path::new(&skill.source);
        let bundle = match skillgate_model::Bundle::load(path, pipeline.limits()) {
            Ok(b) if b.hash.to_string() != skill.hash => {
                eprintln!(
                    "{}: {} now holds different content ({}); that is a new subject, scan it",
                    skill.hash, skill.source, b.hash
                );
                problems += 1;
                continue;
            }
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: cannot load {}: {e}", skill.hash, skill.source);
                problems += 1;
                continue;
            }
        };
        let before = st.rt.block_on(st.trust.store().history(&skill.hash))?.len();
        let (report, err) = evaluate_loaded(&pipeline, &st, &engine, &bundle, path, false);
        if let Some(e) = err {
            eprintln!("{}: not stored: {e}", skill.hash);
            problems += 1;
            continue;
        }
        let history = st.rt.block_on(st.trust.store().history(&skill.hash))?;
        for row in &history[before..] {
            changes.push(serde_json::json!({
                "hash": skill.hash, "name": report.name,
                "from": row.from_state, "to": row.to_state, "reason": row.reason,
            }));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"rescanned": skills.len(), "changes": changes, "problems": problems})
        );
    } else {
        for c in &changes {
            println!(
                "{} {}: {} -> {} ({})",
                c["name"].as_str().unwrap_or("(unnamed)"),
                c["hash"].as_str().unwrap_or(""),
                c["from"].as_str().unwrap_or("-"),
                c["to"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or("")
            );
        }
        println!(
            "rescanned {} skills: {} tier changes, {problems} could not be rescanned",
            skills.len(),
            changes.len()
        );
    }
    Ok(if problems > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

pub fn db_command(db: Option<&Location>, command: &DbCommand) -> anyhow::Result<ExitStatus> {
    let st = open(db)?;
    match command {
        DbCommand::ImportOsv { path } => {
            let mut advisories = skillgate_static::AdvisoryDb::default();
            let (n, bad) = advisories.load_path(path)?;
            let now = now_ms();
            let imported = st.rt.block_on(async {
                let mut tx = st.trust.store().begin().await?;
                let mut count = 0usize;
                for a in advisories.all() {
                    let key = format!("{}:{:?}:{}", a.id, a.ecosystem, a.name);
                    let record = serde_json::to_string(a).unwrap_or_default();
                    tx.put_advisory(&key, &format!("{:?}", a.ecosystem), &a.name, &record, now)
                        .await?;
                    count += 1;
                }
                tx.commit().await?;
                Ok::<_, skillgate_store::StoreError>(count)
            })?;
            println!(
                "imported {imported} advisory entries from {n} records in {} ({} unreadable) into {}",
                path.display(),
                bad.len(),
                st.location
            );
            for (file, why) in bad.iter().take(5) {
                eprintln!("  unreadable: {file}: {why}");
            }
        }
        DbCommand::Stats { json } => {
            let counts = st.rt.block_on(st.trust.store().counts())?;
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"store": st.location.to_string(), "counts": counts})
                );
            } else {
                println!("store      {}", st.location);
                println!("skills     {}", counts.skills);
                println!("scans      {}", counts.scans);
                println!("findings   {}", counts.findings);
                println!("history    {}", counts.history);
                println!("events     {}", counts.events);
                println!("advisories {}", counts.advisories);
            }
        }
        DbCommand::Check => {
            let result = st.rt.block_on(st.trust.store().integrity_check())?;
            println!("{result}");
            if result != "ok" {
                return Ok(ExitStatus::Failure);
            }
        }
    }
    Ok(ExitStatus::Success)
}
