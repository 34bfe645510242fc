//! The trust service: the lifecycle rules applied to the store.
//!
//! Every operation runs in one write transaction: read the current state and the evidence,
//! record what happened (scan, event, review, signature), ask [`Lifecycle::apply`], append the
//! change to history, commit. The CLI and the server call these methods and nothing lower.

use crate::keys;
use crate::lifecycle::{
    Action, Ceiling, Change, Evidence, KeyRole, Lifecycle, LifecycleError, ReviewFact, RuntimeFact,
    ScanFacts,
};
use crate::policy::Policy;
use crate::report::SkillReport;
use serde::Serialize;
use skillgate_model::{Capability, Decision, Severity, Tier, TrustState};
use skillgate_store::{
    EventRow, FindingRow, GateRow, HistoryRow, KeyRow, ReviewRow, ScanRow, SignatureRow, SkillRow,
    Store, StoreError, StoreTx, VerdictRow,
};

/// Why a trust operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("no skill in the store matches `{0}`")]
    Unknown(String),
    #[error("`{query}` matches {count} skills; give more of the hash")]
    Ambiguous { query: String, count: usize },
    #[error("key {0} is not in the trust store; `skillgate keys trust` it first")]
    UntrustedKey(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = TrustError> = std::result::Result<T, E>;

/// A skill found by name or hash.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub skill: SkillRow,
    /// How many versions carry this name (1 when looked up by hash).
    pub versions: usize,
    /// Set when a name was given: which version answered and why.
    pub note: Option<String>,
}

/// The state before and after an operation, and the history row it appended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub hash: String,
    pub before: Option<TrustState>,
    pub after: Option<TrustState>,
    pub change: Option<HistoryRow>,
}

/// A runtime report from an agent.
#[derive(Debug, Clone)]
pub enum RuntimeReport {
    Clean {
        detail: String,
    },
    Anomaly {
        severity: Severity,
        capability: Option<Capability>,
        detail: String,
    },
}

/// The answer to "what tier is this skill?" (see [`Trust::tier_answer`]).
#[derive(Debug, Clone, Serialize)]
pub struct TierAnswer {
    pub skill: SkillRow,
    pub known: bool,
    /// Set when a name was given: which version answered and why.
    pub note: Option<String>,
    pub versions: usize,
    pub state: Option<TrustState>,
    pub tier: Option<Tier>,
    pub decision: Option<Decision>,
    pub allowed_tools: AllowedToolsAnswer,
    pub sandbox_profile: &'static str,
    /// The latest verdict's reasons.
    pub why: serde_json::Value,
    pub capped: Option<String>,
    /// What the evidence supports, and what is missing for T3 and T4.
    pub ceiling: Ceiling,
    pub verified_signatures: Vec<String>,
    /// The lowest tier along the skills this one loads, invokes, requires or installs, itself
    /// included: what an agent may use when it activates this skill. `None` when a link (or
    /// the skill) is rejected or revoked.
    pub effective_tier: Option<Tier>,
    /// The linked skill that caps `effective_tier` below `tier`, and why.
    pub capped_by: Option<ChainLink>,
    /// Every skill reached through links, in the order they were reached.
    pub chain: Vec<ChainLink>,
    /// What stopped the walk early, or that a link loops back: said, never silent.
    pub chain_notes: Vec<String>,
}

/// One skill reached through composition links.
#[derive(Debug, Clone, Serialize)]
pub struct ChainLink {
    pub name: String,
    /// `requires`, `invokes` or `installs`.
    pub kind: String,
    /// The skill that links to it (its name, else its hash).
    pub from: String,
    pub known: bool,
    pub hash: Option<String>,
    /// Its tier now; an unknown skill counts as T1.
    pub tier: Option<Tier>,
    pub reason: String,
}

/// Skills a composition walk visits at most; links past it are not followed, and the answer
/// says so.
const MAX_CHAIN: usize = 256;
/// Links followed from the skill asked about, at most.
const MAX_DEPTH: usize = 16;

/// The skill's `allowed-tools`: as declared, and what its tier lets it use.
#[derive(Debug, Clone, Serialize)]
pub struct AllowedToolsAnswer {
    pub declared: Vec<String>,
    pub effective: Vec<String>,
    pub malformed: Vec<skillgate_permissions::Malformed>,
}

/// Where a skill stands, verified now.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub hash: String,
    pub state: Option<TrustState>,
    /// The tier an agent may use now: the recorded tier, capped by what the evidence supports
    /// when signatures are verified at this read.
    pub tier: Option<Tier>,
    pub decision: Option<Decision>,
    pub ceiling: Ceiling,
    /// The latest verdict's reasons.
    pub reasons: serde_json::Value,
    /// Why `tier` differs from `state`, if it does.
    pub capped: Option<String>,
    pub verified_signatures: Vec<String>,
}

/// What the store holds about one skill, as the lifecycle reads it.
struct Facts {
    evidence: Evidence,
    verdict: Option<VerdictRow>,
    /// Verified signatures: the signing key's role and id.
    signatures: Vec<(KeyRole, String)>,
}

/// The lifecycle over a store.
#[derive(Debug, Clone)]
pub struct Trust {
    store: Store,
    lifecycle: Lifecycle,
}

/// The actor recorded for scans.
const SCANNER: &str = "skillgate scan";

impl Trust {
    pub fn new(store: Store, policy: &Policy) -> Self {
        Self {
            store,
            lifecycle: Lifecycle::new(policy.promotion.clone()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// What an agent asks before it activates a skill (`tier`, `GET /v1/skills/…`, the MCP
    /// `skill_tier` tool): tier, decision, effective allowed-tools, sandbox profile, why, and
    /// what is missing for the next tier. `None` when the store does not know the skill.
    pub async fn tier_answer(&self, query: &str, now: i64) -> Result<Option<TierAnswer>> {
        let found = match self.resolve(query).await {
            Ok(found) => found,
            Err(TrustError::Unknown(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let standing = self.standing(&found.skill.hash, now).await?;
        let declared =
            skillgate_permissions::parse(found.skill.allowed_tools.as_deref().unwrap_or(""));
        let (chain, chain_notes) = self.chain(&found.skill, now).await?;
        // Rejected (no tier) is below T1: `None` sorts first.
        let capped_by = chain
            .iter()
            .filter(|l| l.tier < standing.tier)
            .min_by_key(|l| l.tier)
            .cloned();
        let effective_tier = capped_by.as_ref().map_or(standing.tier, |l| l.tier);
        // What the agent may use is what the weakest link may: trust does not leak through
        // composition.
        let effective = skillgate_permissions::effective(&declared.grants, effective_tier);
        let texts = |g: &[skillgate_permissions::Grant]| g.iter().map(|g| g.text()).collect();
        Ok(Some(TierAnswer {
            effective_tier,
            capped_by,
            chain,
            chain_notes,
            known: true,
            note: found.note,
            versions: found.versions,
            state: standing.state,
            tier: standing.tier,
            decision: standing.decision,
            allowed_tools: AllowedToolsAnswer {
                declared: texts(&declared.grants),
                effective: texts(&effective),
                malformed: declared.malformed,
            },
            sandbox_profile: skillgate_permissions::sandbox_profile(effective_tier),
            why: standing.reasons,
            capped: standing.capped,
            ceiling: standing.ceiling,
            verified_signatures: standing.verified_signatures,
            skill: found.skill,
        }))
    }

    /// The skills `skill` reaches through its links, breadth first, each once: a name the
    /// store does not know counts as T1, a link back to a skill already reached is a cycle
    /// (reported, not followed), and the walk stops at [`MAX_CHAIN`] skills or
    /// [`MAX_DEPTH`] links.
    pub async fn chain(&self, skill: &SkillRow, now: i64) -> Result<(Vec<ChainLink>, Vec<String>)> {
        let mut chain = Vec::new();
        let mut notes = Vec::new();
        let mut seen = std::collections::BTreeSet::from([skill.hash.clone()]);
        let mut queue = std::collections::VecDeque::from([(skill.clone(), 0usize)]);
        while let Some((from, depth)) = queue.pop_front() {
            let from_label = from.name.clone().unwrap_or_else(|| from.hash.clone());
            for (name, kind) in self.store.links_of(&from.hash).await? {
                if chain.len() >= MAX_CHAIN {
                    notes.push(format!(
                        "more than {MAX_CHAIN} linked skills: the rest were not followed"
                    ));
                    return Ok((chain, notes));
                }
                let Some(target) = self.store.skills_by_name(&name).await?.into_iter().next()
                else {
                    chain.push(ChainLink {
                        reason: format!("`{from_label}` {kind} `{name}`, which skillgate has never scanned: it counts as T1"),
                        name,
                        kind,
                        from: from_label.clone(),
                        known: false,
                        hash: None,
                        tier: Some(Tier::T1),
                    });
                    continue;
                };
                if !seen.insert(target.hash.clone()) {
                    notes.push(format!(
                        "`{from_label}` {kind} `{name}`, which is already in the chain: a cycle, not followed again"
                    ));
                    continue;
                }
                let standing = self.standing(&target.hash, now).await?;
                chain.push(ChainLink {
                    reason: format!(
                        "`{from_label}` {kind} `{name}`, which is {}",
                        standing
                            .tier
                            .map_or("rejected or revoked".to_string(), |t| format!("at {t}"))
                    ),
                    name,
                    kind,
                    from: from_label.clone(),
                    known: true,
                    hash: Some(target.hash.clone()),
                    tier: standing.tier,
                });
                if depth + 1 < MAX_DEPTH {
                    queue.push_back((target, depth + 1));
                } else {
                    notes.push(format!("links deeper than {MAX_DEPTH} were not followed"));
                }
            }
        }
        Ok((chain, notes))
    }

    /// The plain answer for a skill the store does not know.
    pub fn unknown_answer(query: &str) -> serde_json::Value {
        serde_json::json!({"skill": query, "known": false, "tier": null,
            "why": ["not scanned; no tier: scan it first"]})
    }

    /// Finds a skill by content hash (`sha256:…`, or a unique hex prefix of 8+ digits) or by
    /// name (the newest version answers).
    pub async fn resolve(&self, query: &str) -> Result<Resolved> {
        let hexpart = query.strip_prefix("sha256:").unwrap_or(query);
        let looks_like_hash = query.starts_with("sha256:")
            || (hexpart.len() >= 8 && hexpart.chars().all(|c| c.is_ascii_hexdigit()));
        if looks_like_hash {
            let prefix = format!("sha256:{}", hexpart.to_ascii_lowercase());
            let mut found = self.store.skills_by_hash_prefix(&prefix, 2).await?;
            return match found.len() {
                0 => Err(TrustError::Unknown(query.to_string())),
                1 => Ok(Resolved {
                    skill: found.remove(0),
                    versions: 1,
                    note: None,
                }),
                count => Err(TrustError::Ambiguous {
                    query: query.to_string(),
                    count,
                }),
            };
        }
        let mut versions = self.store.skills_by_name(query).await?;
        if versions.is_empty() {
            return Err(TrustError::Unknown(query.to_string()));
        }
        let count = versions.len();
        let skill = versions.remove(0);
        let note = Some(if count == 1 {
            format!("the only version named `{query}`")
        } else {
            format!(
                "the newest of {count} versions named `{query}` (first seen last); older versions \
                 are separate subjects, ask by hash"
            )
        });
        Ok(Resolved {
            skill,
            versions: count,
            note,
        })
    }

    async fn evidence(&self, tx: &mut StoreTx, hash: &str) -> Result<Evidence> {
        Ok(self.facts(tx, hash).await?.evidence)
    }

    /// Everything on record about a skill, read in one transaction.
    async fn facts(&self, tx: &mut StoreTx, hash: &str) -> Result<Facts> {
        let verdict = tx.latest_verdict(hash).await?;
        let scan = match &verdict {
            Some(v) => Some(scan_facts(v)?),
            None => None,
        };
        let reviews = tx
            .reviews(hash)
            .await?
            .iter()
            .map(|r| ReviewFact {
                approved: r.approved,
                at: r.created_at,
            })
            .collect();
        let mut runtime = Vec::new();
        for e in tx.events(hash).await? {
            runtime.push(match e.kind.as_str() {
                "clean" => RuntimeFact::Clean { at: e.created_at },
                _ => RuntimeFact::Anomaly {
                    severity: parse_severity(e.severity.as_deref())?,
                    at: e.created_at,
                },
            });
        }
        let keys = tx.keys().await?;
        let signatures = verified_roles(&keys, &tx.signatures(hash).await?);
        Ok(Facts {
            evidence: Evidence {
                scan,
                reviews,
                runtime,
                verified_signatures: signatures.iter().map(|(role, _)| *role).collect(),
            },
            verdict,
            signatures,
        })
    }

    /// Applies `action` inside `tx` (whose records of the action are already written), appends
    /// the change if any, and commits.
    async fn settle(
        &self,
        tx: StoreTx,
        hash: &str,
        action: Action,
        actor: &str,
        now: i64,
    ) -> Result<Outcome> {
        self.settle_with_reason(tx, hash, action, actor, "", now)
            .await
    }

    /// As [`Self::settle`], with the operator's own words appended to the recorded reason.
    async fn settle_with_reason(
        &self,
        mut tx: StoreTx,
        hash: &str,
        action: Action,
        actor: &str,
        operator_reason: &str,
        now: i64,
    ) -> Result<Outcome> {
        tx.lock_skill(hash).await?;
        let before = match tx.current_state(hash).await? {
            Some(row) => Some(parse_state(&row.to_state)?),
            None => None,
        };
        let ev = self.evidence(&mut tx, hash).await?;
        let change = self.lifecycle.apply(before, action, &ev, now)?;
        let row = match change {
            Some(Change { to, reason }) => {
                let evidence = evidence_json(&self.lifecycle, &ev, now, action);
                let mut row = HistoryRow {
                    id: 0,
                    skill_hash: hash.to_string(),
                    from_state: before.map(|s| s.to_string()),
                    to_state: to.to_string(),
                    reason: if operator_reason.is_empty() {
                        reason
                    } else {
                        format!("{reason}: {operator_reason}")
                    },
                    actor: actor.to_string(),
                    evidence,
                    created_at: now,
                };
                row.id = tx.append_history(&row).await?;
                Some(row)
            }
            None => None,
        };
        tx.commit().await?;
        let after = match &row {
            Some(r) => Some(parse_state(&r.to_state)?),
            None => before,
        };
        Ok(Outcome {
            hash: hash.to_string(),
            before,
            after,
            change: row,
        })
    }

    async fn require_skill(&self, tx: &mut StoreTx, hash: &str) -> Result<SkillRow> {
        tx.skill(hash)
            .await?
            .ok_or_else(|| TrustError::Unknown(hash.to_string()))
    }

    /// Stores one scan (skill, report, gates, findings, verdict) and its effect on the tier, in
    /// one transaction. A report without a hash (unreadable bundle) has nothing to key on and
    /// is not stored.
    pub async fn record_scan(
        &self,
        report: &SkillReport,
        engine: &str,
        started_at: i64,
        finished_at: i64,
    ) -> Result<Option<Outcome>> {
        if report.hash.is_none() {
            return Ok(None);
        }
        let tx = self.store.begin().await?;
        self.record_scan_in(tx, report, engine, started_at, finished_at)
            .await
    }

    /// [`Self::record_scan`] inside a transaction the caller began (and may already have
    /// written to: an audit worker ends the scan's job in it), committed here.
    pub async fn record_scan_in(
        &self,
        tx: StoreTx,
        report: &SkillReport,
        engine: &str,
        started_at: i64,
        finished_at: i64,
    ) -> Result<Option<Outcome>> {
        let outcome = self
            .record_one(tx, report, engine, started_at, finished_at)
            .await?;
        // Each carried skill is a skill of its own in the store, so its tier can be asked and a
        // later demotion of it reaches its carrier through the `bundles` link.
        let mut carried: Vec<&SkillReport> = report.nested.iter().collect();
        while let Some(inner) = carried.pop() {
            carried.extend(inner.nested.iter());
            let tx = self.store.begin().await?;
            self.record_one(tx, inner, engine, started_at, finished_at)
                .await?;
        }
        Ok(outcome)
    }

    async fn record_one(
        &self,
        mut tx: StoreTx,
        report: &SkillReport,
        engine: &str,
        started_at: i64,
        finished_at: i64,
    ) -> Result<Option<Outcome>> {
        let Some(hash) = report.hash.clone() else {
            return Ok(None);
        };
        tx.ensure_skill(&SkillRow {
            hash: hash.clone(),
            name: report.name.clone(),
            version: report.version.clone(),
            publisher: None,
            source: report.path.clone(),
            allowed_tools: report.allowed_tools.clone(),
            first_seen: started_at,
        })
        .await?;
        let links: Vec<(&str, &str)> = report
            .links
            .iter()
            .map(|l| (l.name.as_str(), l.kind.as_str()))
            .collect();
        tx.record_links(&hash, &links).await?;
        let gates: Vec<GateRow> = report
            .gates
            .iter()
            .map(|(gate, g)| GateRow {
                gate: gate.clone(),
                status: g.status.to_string(),
                note: g.note.clone(),
                capabilities: serde_json::to_string(&g.capabilities).unwrap_or_default(),
            })
            .collect();
        let findings: Vec<FindingRow> = report
            .findings
            .iter()
            .map(|f| FindingRow {
                gate: f.gate.to_string(),
                code: f.code.clone(),
                severity: f.severity.to_string(),
                confidence: f.confidence.to_string(),
                category: f.category.clone(),
                message: f.message.clone(),
                file: f.file.clone(),
                line: f.line.map(i64::from),
                evidence: f.evidence.clone(),
            })
            .collect();
        let worst = report
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let verdict = VerdictRow {
            scan_id: 0,
            skill_hash: hash.clone(),
            decision: report.decision.to_string(),
            tier: report.tier.map(|t| t.to_string()),
            worst: worst.to_string(),
            reasons: serde_json::to_string(&report.reasons).unwrap_or_default(),
            policy_hash: report.policy.clone(),
            created_at: finished_at,
        };
        let scan = ScanRow {
            skill_hash: hash.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            engine: engine.to_string(),
            policy_hash: report.policy.clone(),
            started_at,
            finished_at,
            report: serde_json::to_string(report).unwrap_or_default(),
        };
        tx.insert_scan(&scan, &gates, &findings, &verdict).await?;
        let facts = scan_facts(&verdict)?;
        self.settle(tx, &hash, Action::Scan(facts), SCANNER, finished_at)
            .await
            .map(Some)
    }

    /// Records an agent's runtime report; an anomaly may demote or revoke. `actor` is who
    /// reported it (an API key's name; the CLI says `runtime report`).
    pub async fn event(
        &self,
        hash: &str,
        report: &RuntimeReport,
        actor: &str,
        now: i64,
    ) -> Result<Outcome> {
        let mut tx = self.store.begin().await?;
        self.require_skill(&mut tx, hash).await?;
        let (row, action) = match report {
            RuntimeReport::Clean { detail } => (
                EventRow {
                    id: 0,
                    skill_hash: hash.to_string(),
                    kind: "clean".into(),
                    severity: None,
                    capability: None,
                    detail: detail.clone(),
                    created_at: now,
                },
                Action::Clean,
            ),
            RuntimeReport::Anomaly {
                severity,
                capability,
                detail,
            } => (
                EventRow {
                    id: 0,
                    skill_hash: hash.to_string(),
                    kind: "anomaly".into(),
                    severity: Some(severity.to_string()),
                    capability: capability.map(|c| c.to_string()),
                    detail: detail.clone(),
                    created_at: now,
                },
                Action::Anomaly(*severity),
            ),
        };
        tx.append_event(&row).await?;
        // The history row carries what was seen (a refused destination, a write), not only its
        // severity: it is the evidence of the demotion.
        let seen = match report {
            RuntimeReport::Anomaly { detail, .. } => detail.as_str(),
            RuntimeReport::Clean { .. } => "",
        };
        self.settle_with_reason(tx, hash, action, actor, seen, now)
            .await
    }

    /// Records a semantic review by a human (`kind = "human"`) or the LLM judge (`"llm"`).
    pub async fn review(
        &self,
        hash: &str,
        approved: bool,
        reviewer: &str,
        kind: &str,
        note: &str,
        now: i64,
    ) -> Result<Outcome> {
        let mut tx = self.store.begin().await?;
        self.require_skill(&mut tx, hash).await?;
        tx.append_review(&ReviewRow {
            id: 0,
            skill_hash: hash.to_string(),
            approved,
            reviewer: reviewer.to_string(),
            kind: kind.to_string(),
            note: note.to_string(),
            created_at: now,
        })
        .await?;
        self.settle(
            tx,
            hash,
            Action::Review { approved },
            &format!("review by {reviewer}"),
            now,
        )
        .await
    }

    /// Promotes to `target` if the evidence allows it; the error says what is missing.
    pub async fn promote(
        &self,
        hash: &str,
        target: Tier,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Outcome> {
        self.move_tier(hash, Action::Promote(target), actor, reason, now)
            .await
    }

    pub async fn demote(
        &self,
        hash: &str,
        target: Tier,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Outcome> {
        self.move_tier(hash, Action::Demote(target), actor, reason, now)
            .await
    }

    async fn move_tier(
        &self,
        hash: &str,
        action: Action,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Outcome> {
        let mut tx = self.store.begin().await?;
        self.require_skill(&mut tx, hash).await?;
        self.settle_with_reason(tx, hash, action, actor, reason, now)
            .await
    }

    /// Adds a public key to the trust store (or re-trusts it).
    pub async fn trust_key(
        &self,
        public_hex: &str,
        role: KeyRole,
        label: &str,
        now: i64,
    ) -> Result<String> {
        let key = keys::public_key_from_hex(public_hex)?;
        let id = keys::key_id(&key);
        let mut tx = self.store.begin().await?;
        tx.append_key(&KeyRow {
            key_id: id.clone(),
            public_key: hex::encode(key.as_bytes()),
            role: role.as_str().into(),
            label: label.into(),
            trusted: true,
            created_at: now,
        })
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Withdraws trust from a key; its signatures stop counting at the next read.
    pub async fn distrust_key(&self, key_id: &str, now: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let current = tx
            .keys()
            .await?
            .into_iter()
            .find(|k| k.key_id == key_id)
            .ok_or_else(|| TrustError::UntrustedKey(key_id.to_string()))?;
        tx.append_key(&KeyRow {
            trusted: false,
            created_at: now,
            ..current
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the skill's content hash with `key`, which must be trusted, and promotes to T4 when
    /// the evidence then allows it.
    pub async fn certify(
        &self,
        hash: &str,
        key: &ed25519_dalek::SigningKey,
        now: i64,
    ) -> Result<Outcome> {
        let id = keys::key_id(&key.verifying_key());
        let mut tx = self.store.begin().await?;
        self.require_skill(&mut tx, hash).await?;
        let trusted = tx
            .keys()
            .await?
            .into_iter()
            .find(|k| k.key_id == id && k.trusted)
            .ok_or_else(|| TrustError::UntrustedKey(id.clone()))?;
        tx.append_signature(&SignatureRow {
            id: 0,
            skill_hash: hash.to_string(),
            key_id: id.clone(),
            signature: keys::sign(key, hash),
            created_at: now,
        })
        .await?;
        self.settle(
            tx,
            hash,
            Action::Certified,
            &format!("{} key {} ({})", trusted.role, id, trusted.label),
            now,
        )
        .await
    }

    /// Where a skill stands, with every signature verified at this read.
    pub async fn standing(&self, hash: &str, now: i64) -> Result<Standing> {
        let mut tx = self.store.begin_read().await?;
        let state = match tx.current_state(hash).await? {
            Some(row) => Some(parse_state(&row.to_state)?),
            None => None,
        };
        let Facts {
            evidence: ev,
            verdict,
            signatures,
        } = self.facts(&mut tx, hash).await?;
        drop(tx);
        let ceiling = self.lifecycle.ceiling(&ev, now);
        let (tier, capped) = match state.and_then(TrustState::tier) {
            Some(t) if t > Tier::T2 && t > ceiling.tier => {
                let to = ceiling.tier.max(Tier::T2);
                let missing = if t == Tier::T4 {
                    &ceiling.missing_for_t4
                } else {
                    &ceiling.missing_for_t3
                };
                (
                    Some(to),
                    Some(format!(
                        "recorded {t}, served as {to}: {}",
                        missing.join("; ")
                    )),
                )
            }
            t => (t, None),
        };
        Ok(Standing {
            hash: hash.to_string(),
            state,
            tier,
            decision: match verdict.as_ref().map(|v| v.decision.as_str()) {
                Some("reject") => Some(Decision::Reject),
                Some(_) => Some(Decision::Admit),
                None => None,
            },
            ceiling,
            reasons: verdict
                .and_then(|v| serde_json::from_str(&v.reasons).ok())
                .unwrap_or(serde_json::Value::Null),
            capped,
            verified_signatures: signatures
                .into_iter()
                .map(|(role, id)| format!("{} {id}", role.as_str()))
                .collect(),
        })
    }
}

/// Signatures that verify against a currently trusted key, with that key's role.
fn verified_roles(keys: &[KeyRow], sigs: &[SignatureRow]) -> Vec<(KeyRole, String)> {
    let mut out = Vec::new();
    for sig in sigs {
        let Some(key) = keys.iter().find(|k| k.key_id == sig.key_id && k.trusted) else {
            continue;
        };
        let (Some(role), Ok(public)) = (
            KeyRole::parse(&key.role),
            keys::public_key_from_hex(&key.public_key),
        ) else {
            continue;
        };
        if keys::verify(&public, &sig.skill_hash, &sig.signature) {
            out.push((role, key.key_id.clone()));
        }
    }
    out
}

fn parse_state(s: &str) -> Result<TrustState> {
    s.parse()
        .map_err(|_| TrustError::Corrupt(format!("unknown state `{s}` in tier_history")))
}

fn parse_severity(s: Option<&str>) -> Result<Severity> {
    s.unwrap_or("info")
        .parse()
        .map_err(|_| TrustError::Corrupt(format!("unknown severity {s:?}")))
}

fn scan_facts(v: &VerdictRow) -> Result<ScanFacts> {
    let state = if v.decision == "reject" {
        TrustState::Rejected
    } else {
        parse_state(v.tier.as_deref().unwrap_or("T1"))?
    };
    Ok(ScanFacts {
        state,
        worst: parse_severity(Some(&v.worst))?,
    })
}

fn evidence_json(lifecycle: &Lifecycle, ev: &Evidence, now: i64, action: Action) -> String {
    let ceiling = lifecycle.ceiling(ev, now);
    let clean = ev
        .runtime
        .iter()
        .filter(|r| matches!(r, RuntimeFact::Clean { .. }))
        .count();
    let anomalies = ev.runtime.len() - clean;
    serde_json::json!({
        "action": format!("{action:?}"),
        "scan": ev.scan.map(|s| serde_json::json!({"state": s.state, "worst": s.worst})),
        "reviews": ev.reviews.len(),
        "latest_review_approved": ev.reviews.last().map(|r| r.approved),
        "clean_runs": clean,
        "anomalies": anomalies,
        "verified_signatures": ev.verified_signatures,
        "ceiling": ceiling.tier,
    })
    .to_string()
}
