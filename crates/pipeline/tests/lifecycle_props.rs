//! Property tests of the trust lifecycle, driven through the real service and a real (in-memory)
//! SQLite store: random sequences of scans, runtime reports, reviews, signatures, promotions and
//! demotions, checking after every step that
//!
//! - history only grows, and rows once written never change;
//! - no skill reaches T3 or T4 without the evidence the policy requires at that moment;
//! - a runtime anomaly never raises a tier;
//! - a revoked skill stays revoked until a review.

use proptest::prelude::*;
use skillgate_model::{Confidence, Decision, Finding, Gate, Severity, Tier, TrustState};
use skillgate_pipeline::lifecycle::KeyRole;
use skillgate_pipeline::{Policy, RuntimeReport, SkillReport, Trust, keys};
use skillgate_store::Store;
use std::collections::BTreeMap;

const HASH: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
const DAY: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone)]
enum Op {
    Scan(Option<Tier>, Severity),
    Clean,
    Anomaly(Severity),
    Review(bool),
    Certify(KeyRole),
    Distrust(KeyRole),
    Promote(Tier),
    Demote(Tier),
    Wait(i64),
}

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Info),
        Just(Severity::Low),
        Just(Severity::Medium),
        Just(Severity::High),
        Just(Severity::Critical),
    ]
}

fn tier() -> impl Strategy<Value = Tier> {
    prop_oneof![
        Just(Tier::T1),
        Just(Tier::T2),
        Just(Tier::T3),
        Just(Tier::T4)
    ]
}

fn role() -> impl Strategy<Value = KeyRole> {
    prop_oneof![Just(KeyRole::Vendor), Just(KeyRole::Publisher)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (prop_oneof![Just(None), Just(Some(Tier::T1)), Just(Some(Tier::T2))], severity())
            .prop_map(|(t, s)| Op::Scan(t, s)),
        6 => Just(Op::Clean),
        2 => severity().prop_map(Op::Anomaly),
        2 => any::<bool>().prop_map(Op::Review),
        1 => role().prop_map(Op::Certify),
        1 => role().prop_map(Op::Distrust),
        2 => tier().prop_map(Op::Promote),
        1 => tier().prop_map(Op::Demote),
        2 => (0i64..4).prop_map(|d| Op::Wait(d * DAY)),
    ]
}

fn report(tier: Option<Tier>, worst: Severity) -> SkillReport {
    let finding = Finding::new("SK999", Gate::G1, worst, Confidence::High, "test", "m");
    SkillReport {
        path: "prop/skill".into(),
        name: Some("prop-skill".into()),
        hash: Some(HASH.into()),
        decision: if tier.is_some() {
            Decision::Admit
        } else {
            Decision::Reject
        },
        tier,
        reasons: vec![],
        gates: BTreeMap::new(),
        findings: vec![finding],
        error: None,
        policy: Policy::default().hash().into(),
        files: 1,
        version: None,
        allowed_tools: None,
        cached: false,
        links: Vec::new(),
        links_left_out: 0,
        nested: Vec::new(),
        nested_left_out: 0,
        composed: false,
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let policy = Policy::default();
    let trust = Trust::new(Store::open_in_memory().await.unwrap(), &policy);
    let vendor = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let publisher = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    for (key, role) in [(&vendor, KeyRole::Vendor), (&publisher, KeyRole::Publisher)] {
        let public = hex::encode(key.verifying_key().as_bytes());
        trust.trust_key(&public, role, "prop", 0).await.unwrap();
    }
    let mut now = 1_000;
    let mut seen = Vec::new();
    trust
        .record_scan(&report(Some(Tier::T2), Severity::Low), "e", now, now)
        .await
        .unwrap();
    for op in ops {
        now += 1_000;
        let before = trust.standing(HASH, now).await.unwrap().state;
        let result = match &op {
            Op::Scan(t, s) => trust
                .record_scan(&report(*t, *s), "e", now, now)
                .await
                .map(|_| ()),
            Op::Clean => trust
                .event(
                    HASH,
                    &RuntimeReport::Clean {
                        detail: String::new(),
                    },
                    "agent",
                    now,
                )
                .await
                .map(|_| ()),
            Op::Anomaly(severity) => {
                let report = RuntimeReport::Anomaly {
                    severity: *severity,
                    capability: None,
                    detail: String::new(),
                };
                trust.event(HASH, &report, "agent", now).await.map(|_| ())
            }
            Op::Review(approved) => trust
                .review(HASH, *approved, "prop", "human", "", now)
                .await
                .map(|_| ()),
            Op::Certify(role) => {
                let key = if *role == KeyRole::Vendor {
                    &vendor
                } else {
                    &publisher
                };
                trust.certify(HASH, key, now).await.map(|_| ())
            }
            Op::Distrust(role) => {
                let key = if *role == KeyRole::Vendor {
                    &vendor
                } else {
                    &publisher
                };
                trust
                    .distrust_key(&keys::key_id(&key.verifying_key()), now)
                    .await
            }
            Op::Promote(t) => trust.promote(HASH, *t, "prop", "", now).await.map(|_| ()),
            Op::Demote(t) => trust.demote(HASH, *t, "prop", "", now).await.map(|_| ()),
            Op::Wait(ms) => {
                now += ms;
                Ok(())
            }
        };
        // Refusals (promotion without evidence, certify with a distrusted key) are expected;
        // anything else is a bug.
        if let Err(e) = &result {
            let refused = matches!(
                e,
                skillgate_pipeline::TrustError::Lifecycle(_)
                    | skillgate_pipeline::TrustError::UntrustedKey(_)
            );
            prop_assert!(refused, "{op:?} failed: {e}");
        }
        let history = trust.store().history(HASH).await.unwrap();
        prop_assert!(history.len() >= seen.len(), "history shrank after {op:?}");
        prop_assert_eq!(
            &history[..seen.len()],
            &seen[..],
            "history rewritten by {:?}",
            op
        );
        let standing = trust.standing(HASH, now).await.unwrap();
        let after = standing.state;
        if history.len() > seen.len() {
            let new = history.last().unwrap();
            if let Some(tier) = after.and_then(TrustState::tier)
                && tier > Tier::T2
            {
                prop_assert!(
                    standing.ceiling.tier >= tier,
                    "{op:?} reached {tier} with ceiling {:?}",
                    standing.ceiling
                );
            }
            if matches!(op, Op::Anomaly(_)) {
                prop_assert!(after <= before, "anomaly raised {before:?} to {after:?}");
            }
            if before == Some(TrustState::Revoked) {
                prop_assert!(
                    matches!(op, Op::Review(_)),
                    "{op:?} lifted a revocation: {new:?}"
                );
            }
        }
        seen = history;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_invariants_hold(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}

/// The way to T4 end to end: clean scan, review, clean runs over a week or a publisher
/// signature, a vendor certification — and it falls back when the vendor key is distrusted.
#[tokio::test]
async fn promotion_path_and_verification_on_read() {
    let policy = Policy::default();
    let trust = Trust::new(Store::open_in_memory().await.unwrap(), &policy);
    trust
        .record_scan(&report(Some(Tier::T2), Severity::Low), "e", 0, 0)
        .await
        .unwrap();
    assert!(trust.promote(HASH, Tier::T3, "op", "", 1).await.is_err());
    trust
        .review(HASH, true, "alice", "human", "read it", 2)
        .await
        .unwrap();
    for i in 0..20 {
        let clean = RuntimeReport::Clean {
            detail: String::new(),
        };
        trust.event(HASH, &clean, "agent", 10 + i).await.unwrap();
    }
    assert!(trust.promote(HASH, Tier::T3, "op", "", 100).await.is_err());
    let out = trust
        .promote(HASH, Tier::T3, "op", "week passed", 8 * DAY)
        .await
        .unwrap();
    assert_eq!(out.after, Some(TrustState::Admitted(Tier::T3)));

    let vendor = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let id = trust
        .trust_key(
            &hex::encode(vendor.verifying_key().as_bytes()),
            KeyRole::Vendor,
            "acme",
            9 * DAY,
        )
        .await
        .unwrap();
    let out = trust.certify(HASH, &vendor, 9 * DAY).await.unwrap();
    assert_eq!(out.after, Some(TrustState::Admitted(Tier::T4)));
    assert_eq!(
        trust.standing(HASH, 9 * DAY).await.unwrap().tier,
        Some(Tier::T4)
    );

    trust.distrust_key(&id, 10 * DAY).await.unwrap();
    let standing = trust.standing(HASH, 10 * DAY).await.unwrap();
    assert_eq!(standing.state, Some(TrustState::Admitted(Tier::T4)));
    assert_eq!(standing.tier, Some(Tier::T3), "{:?}", standing.capped);

    let critical = RuntimeReport::Anomaly {
        severity: Severity::Critical,
        capability: None,
        detail: "sent ~/.aws out".into(),
    };
    let out = trust
        .event(HASH, &critical, "agent", 11 * DAY)
        .await
        .unwrap();
    assert_eq!(out.after, Some(TrustState::Revoked));
    let rescan = trust
        .record_scan(
            &report(Some(Tier::T2), Severity::Low),
            "e",
            12 * DAY,
            12 * DAY,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rescan.after, Some(TrustState::Revoked));
    let history = trust.store().history(HASH).await.unwrap();
    let states: Vec<_> = history.iter().map(|h| h.to_state.as_str()).collect();
    assert_eq!(states, ["T2", "T3", "T4", "revoked"]);
    // The operator's reason is part of the recorded row, not only of the reply.
    assert!(
        history[1].reason.ends_with("week passed"),
        "{:?}",
        history[1]
    );
}
