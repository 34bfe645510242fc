//! The guard's decisions. Each one rests on the content hash of the installed folder and on what
//! the trust store holds for that hash; nothing a skill's own text says is read here.

use crate::hook::{Answer, HookInput, Permission};
use crate::locate::{self, Roots};
use skillgate_model::Tier;
use std::path::{Path, PathBuf};

/// What the store says about one content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub hash: String,
    pub name: Option<String>,
    /// The tier an agent may use: the effective tier along what the skill composes. `None`
    /// when it, or something it composes, is rejected or revoked.
    pub tier: Option<Tier>,
    /// The verdict's first reason, or what caps the tier.
    pub why: String,
}

/// The trust store as the guard sees it. Every method may fail; the guard then denies.
pub trait Ledger {
    /// The content hash of the skill folder `dir`, as `skillgate scan` computes it.
    fn hash(&self, dir: &Path) -> Result<String, String>;
    fn by_hash(&self, hash: &str) -> Result<Option<Known>, String>;
    /// Whether a skill of this name is on record under some content hash.
    fn knows_name(&self, name: &str) -> Result<bool, String>;
    /// Scans the folder now with G1, G2 and G4, records the verdict, and answers it.
    fn scan(&self, dir: &Path) -> Result<Known, String>;
}

/// What to do with a skill the store does not know (or knows under another hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnknown {
    /// Scan it at once (G1, G2, G4: at most T1 until G3 and review), then decide.
    Scan,
    Deny,
}

/// The guard's settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Activation below this tier is denied (a rejected skill always is).
    pub min_tier: Tier,
    pub on_unknown: OnUnknown,
    /// The `skillgate` program a script is rewritten to run under.
    pub program: String,
}

/// Where the guard looks for things on this machine.
#[derive(Debug, Clone)]
pub struct Context {
    pub home: Option<PathBuf>,
    /// The agent's project directory when the hook input does not give one.
    pub cwd: PathBuf,
}

/// One skill folder's standing, and what the guard noticed on the way.
struct Standing {
    known: Known,
    note: Option<&'static str>,
}

fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

fn label(dir: &Path, known: Option<&Known>) -> String {
    let name = known
        .and_then(|k| k.name.clone())
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "?".into());
    format!("`{}`", clean(&name, 64))
}

fn standing(ledger: &dyn Ledger, policy: &Policy, dir: &Path) -> Result<Standing, String> {
    let hash = ledger.hash(dir)?;
    if let Some(known) = ledger.by_hash(&hash)? {
        return Ok(Standing { known, note: None });
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let note = if ledger.knows_name(&name)? {
        "its content changed since it was scanned, so it is unknown again"
    } else {
        "it was never scanned"
    };
    match policy.on_unknown {
        OnUnknown::Deny => Err(format!(
            "skill {} is not in the trust store ({note}); scan it with `skillgate scan {}`",
            label(dir, None),
            dir.display()
        )),
        OnUnknown::Scan => Ok(Standing {
            known: ledger.scan(dir)?,
            note: Some(note),
        }),
    }
}

fn describe(dir: &Path, s: &Standing) -> String {
    let tier = s
        .known
        .tier
        .map_or("rejected".to_string(), |t| t.to_string());
    let mut out = format!(
        "skill {} is {tier} ({})",
        label(dir, Some(&s.known)),
        clean(&s.known.why, 240)
    );
    if let Some(note) = s.note {
        out.push_str(&format!("; {note}, and was scanned just now"));
    }
    out
}

/// The guard's answer to one hook call.
pub fn answer(input: &HookInput, ledger: &dyn Ledger, policy: &Policy, ctx: &Context) -> Answer {
    let cwd = input
        .cwd
        .as_deref()
        .map_or_else(|| ctx.cwd.clone(), PathBuf::from);
    let roots = Roots::claude_code(ctx.home.as_deref(), Some(&cwd));
    match input.hook_event_name.as_str() {
        "PreToolUse" => match input.tool_name.as_deref() {
            Some("Skill") => {
                let Some(name) = ["skill", "command", "name"]
                    .into_iter()
                    .find_map(|k| input.tool_str(k))
                else {
                    return Answer::deny("skillgate: the Skill call names no skill");
                };
                match roots.find(name.trim_start_matches('/')) {
                    Some(dir) => activate(ledger, policy, &dir),
                    None => Answer::deny(format!(
                        "skillgate: skill `{}` is not in any skills folder this guard knows, so \
                         its content cannot be checked",
                        clean(name, 64)
                    )),
                }
            }
            Some("Read") => {
                let Some(path) = input.tool_str("file_path") else {
                    return Answer::PassThrough;
                };
                let path = locate::absolute(path, &cwd, ctx.home.as_deref());
                let is_skill_md = path
                    .file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("SKILL.md"));
                match path.parent() {
                    Some(dir) if is_skill_md && path.is_file() => activate(ledger, policy, dir),
                    _ => Answer::PassThrough,
                }
            }
            Some("Bash") => match input.tool_str("command") {
                Some(command) => script(ledger, policy, command, &cwd, ctx),
                None => Answer::PassThrough,
            },
            _ => Answer::PassThrough,
        },
        "SessionStart" => session(ledger, &roots),
        _ => Answer::PassThrough,
    }
}

fn activate(ledger: &dyn Ledger, policy: &Policy, dir: &Path) -> Answer {
    let s = match standing(ledger, policy, dir) {
        Ok(s) => s,
        Err(why) => return Answer::deny(format!("skillgate: {why}")),
    };
    match s.known.tier {
        Some(t) if t >= policy.min_tier => Answer::Tool {
            permission: Permission::Allow,
            reason: format!(
                "skillgate: {}; {}",
                describe(dir, &s),
                match t {
                    Tier::T1 => "instructions only: use no tools on its behalf",
                    Tier::T2 => "read-only tools; its scripts never run",
                    Tier::T3 => "its declared tools; its scripts run only under `skillgate run`",
                    Tier::T4 => "its full declared capabilities",
                }
            ),
            updated_input: None,
        },
        Some(_) => Answer::deny(format!(
            "skillgate: {}, below the minimum {} this agent activates; a reviewer can raise it \
             (`skillgate review {} --approve`)",
            describe(dir, &s),
            policy.min_tier,
            s.known.hash
        )),
        None => Answer::deny(format!(
            "skillgate: {}; it must not be activated. See `skillgate tier {}`",
            describe(dir, &s),
            s.known.hash
        )),
    }
}

fn script(
    ledger: &dyn Ledger,
    policy: &Policy,
    command: &str,
    cwd: &Path,
    ctx: &Context,
) -> Answer {
    let targets = locate::targets(command, cwd, ctx.home.as_deref());
    if let Some(path) = targets.escapes.first() {
        return Answer::deny(format!(
            "skillgate: `{}` is inside a skill folder but leads outside it through a symlink",
            clean(path, 200)
        ));
    }
    match targets.skills.as_slice() {
        [] if targets.skill_dir_variable => Answer::deny(
            "skillgate: the command runs something under $CLAUDE_SKILL_DIR, and the guard cannot \
             tell which skill; use the skill folder's path",
        ),
        [] => Answer::PassThrough,
        [dir] => {
            let s = match standing(ledger, policy, dir) {
                Ok(s) => s,
                Err(why) => return Answer::deny(format!("skillgate: {why}")),
            };
            match s.known.tier {
                Some(t) if t >= Tier::T3 => {
                    let rewritten = format!(
                        "{} run {} -- bash -c {}",
                        shell_words::quote(&policy.program),
                        shell_words::quote(&dir.display().to_string()),
                        shell_words::quote(command)
                    );
                    Answer::Tool {
                        permission: Permission::Allow,
                        reason: format!(
                            "skillgate: {}; its script runs inside the {t} runtime sandbox",
                            describe(dir, &s)
                        ),
                        updated_input: Some(serde_json::json!({ "command": rewritten })),
                    }
                }
                _ => Answer::deny(format!(
                    "skillgate: {}; scripts of T1 and T2 skills never run",
                    describe(dir, &s)
                )),
            }
        }
        many => Answer::deny(format!(
            "skillgate: one command reaches into {} skill folders; run each skill's script on its \
             own so each runs under its own tier",
            many.len()
        )),
    }
}

fn session(ledger: &dyn Ledger, roots: &Roots) -> Answer {
    let (installed, left_out) = roots.installed();
    if installed.is_empty() {
        return Answer::PassThrough;
    }
    let mut lines = vec![format!(
        "skillgate: {} installed skills. Activate only those with a tier; a skill marked \
         UNKNOWN or CHANGED is scanned (at most T1) when activated.",
        installed.len()
    )];
    for skill in &installed {
        let name = clean(&skill.name, 64);
        let state = match ledger.hash(&skill.dir) {
            Err(e) => format!("UNREADABLE ({})", clean(&e, 120)),
            Ok(hash) => match ledger.by_hash(&hash) {
                Err(e) => format!("UNKNOWN (store: {})", clean(&e, 120)),
                Ok(Some(k)) => k.tier.map_or("REJECTED".to_string(), |t| t.to_string()),
                Ok(None) => match ledger.knows_name(&skill.name) {
                    Ok(true) => "CHANGED since it was scanned: treated as unknown".to_string(),
                    _ => "UNKNOWN: never scanned".to_string(),
                },
            },
        };
        lines.push(format!("- {name} ({}): {state}", skill.scope));
    }
    if left_out > 0 {
        lines.push(format!("- and {left_out} more, not listed"));
    }
    Answer::Session {
        context: lines.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A store held in memory: hash by folder name, tier by hash.
    struct Fake {
        tiers: HashMap<String, Option<Tier>>,
        names: Vec<String>,
        fail: bool,
    }

    impl Ledger for Fake {
        fn hash(&self, dir: &Path) -> Result<String, String> {
            let text = std::fs::read_to_string(dir.join("SKILL.md")).map_err(|e| e.to_string())?;
            Ok(format!("h-{}", text.trim()))
        }
        fn by_hash(&self, hash: &str) -> Result<Option<Known>, String> {
            if self.fail {
                return Err("database is locked".into());
            }
            Ok(self.tiers.get(hash).map(|t| Known {
                hash: hash.into(),
                name: None,
                tier: *t,
                why: "scanned".into(),
            }))
        }
        fn knows_name(&self, name: &str) -> Result<bool, String> {
            Ok(self.names.iter().any(|n| n == name))
        }
        fn scan(&self, dir: &Path) -> Result<Known, String> {
            Ok(Known {
                hash: self.hash(dir)?,
                name: None,
                tier: Some(Tier::T1),
                why: "scanned now".into(),
            })
        }
    }

    fn setup(skills: &[(&str, &str)]) -> (tempfile::TempDir, Context) {
        let home = tempfile::tempdir().unwrap();
        for (name, content) in skills {
            let d = home.path().join(".claude/skills").join(name);
            std::fs::create_dir_all(d.join("scripts")).unwrap();
            std::fs::write(d.join("SKILL.md"), content).unwrap();
            std::fs::write(d.join("scripts/run.sh"), "echo hi\n").unwrap();
        }
        let ctx = Context {
            home: Some(home.path().to_path_buf()),
            cwd: PathBuf::from("/"),
        };
        (home, ctx)
    }

    fn policy() -> Policy {
        Policy {
            min_tier: Tier::T2,
            on_unknown: OnUnknown::Scan,
            program: "/usr/bin/skillgate".into(),
        }
    }

    fn call(event: &str, tool: &str, input: serde_json::Value) -> HookInput {
        HookInput {
            hook_event_name: event.into(),
            cwd: None,
            tool_name: Some(tool.into()),
            tool_input: Some(input),
        }
    }

    fn permission(a: &Answer) -> Option<Permission> {
        match a {
            Answer::Tool { permission, .. } => Some(*permission),
            _ => None,
        }
    }

    #[test]
    fn decisions_follow_the_tier_of_the_hash() {
        let (home, ctx) = setup(&[("good", "g"), ("bad", "b"), ("low", "l")]);
        let fake = Fake {
            tiers: HashMap::from([
                ("h-g".into(), Some(Tier::T3)),
                ("h-b".into(), None),
                ("h-l".into(), Some(Tier::T1)),
            ]),
            names: vec![],
            fail: false,
        };
        let p = policy();
        let skill = |n: &str| call("PreToolUse", "Skill", serde_json::json!({ "skill": n }));
        assert_eq!(
            permission(&answer(&skill("good"), &fake, &p, &ctx)),
            Some(Permission::Allow)
        );
        assert_eq!(
            permission(&answer(&skill("bad"), &fake, &p, &ctx)),
            Some(Permission::Deny)
        );
        assert_eq!(
            permission(&answer(&skill("low"), &fake, &p, &ctx)),
            Some(Permission::Deny)
        );
        assert_eq!(
            permission(&answer(&skill("none"), &fake, &p, &ctx)),
            Some(Permission::Deny)
        );

        let bash = |dir: &str| {
            call(
                "PreToolUse",
                "Bash",
                serde_json::json!({ "command": format!("bash {}/.claude/skills/{dir}/scripts/run.sh", home.path().display()) }),
            )
        };
        match answer(&bash("good"), &fake, &p, &ctx) {
            Answer::Tool {
                permission: Permission::Allow,
                updated_input: Some(u),
                ..
            } => {
                let c = u["command"].as_str().unwrap();
                assert!(c.starts_with("/usr/bin/skillgate run "), "{c}");
                assert!(c.contains(" -- bash -c "), "{c}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            permission(&answer(&bash("low"), &fake, &p, &ctx)),
            Some(Permission::Deny)
        );
        assert_eq!(
            answer(
                &call("PreToolUse", "Bash", serde_json::json!({"command": "ls /"})),
                &fake,
                &p,
                &ctx
            ),
            Answer::PassThrough
        );
        assert_eq!(
            answer(
                &call("PostToolUse", "Bash", serde_json::json!({})),
                &fake,
                &p,
                &ctx
            ),
            Answer::PassThrough
        );
    }

    #[test]
    fn a_store_that_fails_denies() {
        let (_home, ctx) = setup(&[("good", "g")]);
        let fake = Fake {
            tiers: HashMap::new(),
            names: vec![],
            fail: true,
        };
        let a = answer(
            &call(
                "PreToolUse",
                "Skill",
                serde_json::json!({ "skill": "good" }),
            ),
            &fake,
            &policy(),
            &ctx,
        );
        assert_eq!(permission(&a), Some(Permission::Deny), "{a:?}");
    }

    #[test]
    fn session_start_flags_unknown_and_changed_skills() {
        let (_home, ctx) = setup(&[("good", "g"), ("moved", "m2"), ("fresh", "f")]);
        let fake = Fake {
            tiers: HashMap::from([("h-g".into(), Some(Tier::T3))]),
            names: vec!["moved".into()],
            fail: false,
        };
        let input = HookInput {
            hook_event_name: "SessionStart".into(),
            cwd: None,
            tool_name: None,
            tool_input: None,
        };
        let Answer::Session { context } = answer(&input, &fake, &policy(), &ctx) else {
            panic!()
        };
        assert!(context.contains("- good (user): T3"), "{context}");
        assert!(context.contains("- moved (user): CHANGED"), "{context}");
        assert!(context.contains("- fresh (user): UNKNOWN"), "{context}");
    }
}
