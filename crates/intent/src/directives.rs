//! Directives weighed against the stated purpose: instructions injected into a legitimate skill.
//!
//! | code  | what it says |
//! |-------|--------------|
//! | SK743 | a directive sends sensitive data (keys, `.env`, history, the conversation…) to a party the purpose never names |
//! | SK744 | a directive destroys the user's data or weakens permissions, and the purpose does not explain it |
//! | SK745 | a directive covertly alters the user's content (renames people, inserts promotion, slants, removes) |
//! | SK746 | a standing directive ("after any task…") that has nothing to do with the purpose |
//! | SK747 | a standing directive runs a bundled script, and that script does something dangerous |
//!
//! The directives come from [`skillgate_instructions`]: negated, quoted, example and heading text
//! never gets here. A skill whose purpose is the action (a backup skill backing up to the server
//! it names, a cleanup skill deleting build output) is judged by its purpose.

use crate::{Document, JudgeInput};
use regex::Regex;
use skillgate_instructions::{ActionClass, Destination, Directive, Reader};
use skillgate_model::remote_source::RemoteSource;
use skillgate_model::{Capability, Confidence, Finding, Gate, KillChainStage, Severity, party};
use std::sync::LazyLock;

/// Words that make an alteration covert: it is hidden, or it serves somebody else.
static COVERT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:silently|quietly|secretly|covertly|subtly|subtle|discreetly|without\s+(?:telling|mentioning|flagging|noting|informing|asking)|do\s+not\s+(?:mention|tell|flag|note|highlight|track)|don't\s+(?:mention|tell|flag|note|highlight|track)|never\s+(?:mention|tell|flag)|leave\s+(?:it|this|that)\s+out|outside\s+(?:of\s+)?tracked\s+changes|so\s+(?:that\s+)?(?:no\s+one|nobody|the\s+user\s+(?:does\s+not|doesn't|won't))|hide|affiliate|referral|sponsor\w*|promot\w*|in\s+favou?r\s+of|play\s+down|downplay|slant|positive\s+light|negative\s+light)\b")
        .expect("valid regex")
});
static CONSENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:confirm|ask)\s+(?:with\s+)?(?:the\s+user|intent|first|before|them)|\bafter\s+(?:the\s+user\s+)?(?:approv|confirm)\w*|\bwith\s+(?:the\s+user'?s?\s+)?(?:explicit\s+)?(?:approval|permission|consent)|\bonly\s+(?:if|when)\s+the\s+user\s+(?:asks|confirms|approves)")
        .expect("valid regex")
});
static NO_CONSENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bno\s+need\s+to\s+(?:ask|confirm)|\bwithout\s+(?:asking|confirm\w*|approval|permission|consent)|\b(?:don't|do\s+not|never)\s+(?:ask|confirm)")
        .expect("valid regex")
});

/// Code that destroys data outright.
static DESTRUCTIVE_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bdrop\s+(?:table|database|schema)\b|\btruncate\s+table\b|\bdelete\s+from\s+\w+\s*;|\brm\s+-\w*[rf]\w*\s|\bshred\b|\bdd\s+if=[^\n]*of=/dev/")
        .expect("valid regex")
});

/// The user's home, personal folders or the root: no purpose explains deleting them.
static HOME_SCOPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[\s'\x22])~/?(?:\*|\s|$|['\x22])|~/(?:desktop|documents|downloads|pictures|photos|music|videos)\b|\$\{?home\}?/?(?:\*|\s|$|['\x22])|\brm\s+-\w*r\w*\s+/(?:\*|\s|$)")
        .expect("valid regex")
});

/// Scope that makes a deletion the user's loss, not housekeeping: their home and personal
/// folders, the root, or every item of their data.
static USER_SCOPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)~/?(?:\*|\s|$)|~/(?:desktop|documents|downloads|pictures|photos|music|videos)\b|\$home\b|\$\{home\}|\brm\s+-\w*r\w*\s+/(?:\*|\s|$)|\b(?:the\s+)?user'?s\s+(?:files|documents|home|data|folders?|notes|photos)|\b(?:all|every|each)\s+(?:of\s+)?(?:the\s+)?(?:user'?s\s+|their\s+)?(?:files?|documents?|data|events?|emails?|messages?|contacts?|tables?|records?|rows?|notes?|photos?|repositor(?:y|ies))\b|\bdrop\s+(?:table|database|schema)\b|\b(?:entire|whole)\s+(?:home|disk|drive|database|repository|project|calendar|inbox|mailbox)")
        .expect("valid regex")
});
static HOUSEKEEPING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:temp(?:orary)?|tmp|cache[sd]?|build|dist|artifacts?|node_modules|__pycache__|\.pyc|scratch|intermediate|generated|stale|old\s+(?:logs?|backups?)|logs?|lock\s*files?|duplicates?|draft)\b")
        .expect("valid regex")
});
static MASS_RECIPIENTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:all|every|each)\s+(?:of\s+the\s+(?:user'?s\s+)?)?(?:contacts?|recipients?|users?|address(?:es)?|people\s+in|(?:e-?mail\s+)?address(?:es)?)")
        .expect("valid regex")
});
/// Code that requests an address many times: a loop of twenty or more, or without end, around
/// a request.
static REPEATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)range\(\s*\d{2,}|\{\d+\.\.\d{2,}\}|\bseq\s+(?:\d+\s+)?\d{2,}|while\s+(?:true|:|1)\b|for\s*\(\s*\w+\s*=\s*0\s*;\s*\w+\s*<\s*\d{2,}")
        .expect("valid regex")
});
static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:requests\.\w+|urlopen|curl|wget|fetch\(|http\.get|httpx\.\w+|ab\s+-n|hey\s+-n)",
    )
    .expect("valid regex")
});

static SCRIPT_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\./)?\b((?:[\w.-]+/)*[\w.-]+\.(?:sh|bash|py|js|mjs|ts|rb|pl|ps1))\b")
        .expect("valid regex")
});

/// Where a directive sits, for a finding's location.
struct Located<'a> {
    path: &'a str,
    directive: &'a Directive,
}

fn quote(text: &str) -> String {
    let clipped: String = text.chars().take(160).collect();
    if clipped.len() < text.len() {
        format!("\"{clipped}…\"")
    } else {
        format!("\"{clipped}\"")
    }
}

fn finding(
    code: &str,
    severity: Severity,
    stage: KillChainStage,
    at: &Located<'_>,
    message: String,
    help: &str,
) -> Finding {
    let mut f = Finding::new(
        code,
        Gate::G2,
        severity,
        Confidence::High,
        "intent",
        message,
    )
    .with_stage(stage)
    .with_help(help)
    .at(at.path, Some(at.directive.line), None);
    f.evidence = Some(at.directive.text.chars().take(240).collect());
    f
}

/// The party a destination names, and whether the stated purpose names it too. A host off the
/// public internet is the operator's own, and named by being there.
fn destination_named(d: &Destination, purpose: &str, credentials: &[String]) -> bool {
    let url = match d {
        Destination::Url(u) => u.clone(),
        Destination::Email(e) => format!("https://{}", e.rsplit('@').next().unwrap_or(e)),
        Destination::Host(h) => format!("https://{h}"),
        Destination::Unnamed(_) => return false,
    };
    // An address that is not one (`https://${HOST}`) names nobody to accuse.
    let Some(source) = RemoteSource::parse(&url).filter(|s| s.host.contains('.')) else {
        return true;
    };
    source.is_local()
        || source.named_in(purpose).is_some()
        || credentials
            .iter()
            .any(|c| party::sent_to_own_service(c, &source.host))
}

static ENV_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b[A-Z][A-Z0-9]*_(?:[A-Z0-9]+_)*(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)\b",
    )
    .expect("valid regex")
});

fn describe(d: &Destination) -> String {
    match d {
        Destination::Url(u) => u.clone(),
        Destination::Email(e) => e.clone(),
        Destination::Host(h) => h.clone(),
        Destination::Unnamed(p) => format!("\"{p}\""),
    }
}

/// What the judge needs besides the directives.
pub struct Context<'a> {
    pub purpose: &'a str,
    pub dual_use: bool,
    pub explains_delete: bool,
    pub explains_privilege: bool,
}

/// SK743–SK747 over every prose document of the skill.
pub fn judge(reader: &Reader, input: &JudgeInput<'_>, cx: &Context<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let skill_md = Document {
        path: "SKILL.md".into(),
        text: input.body.into(),
        first_line: input.body_line,
    };
    for doc in std::iter::once(&skill_md).chain(input.documents.iter()) {
        let directives = reader.directives(&doc.text, doc.first_line);
        out.extend(exfiltration_by_group(&doc.path, &directives, cx));
        for directive in &directives {
            let at = Located {
                path: &doc.path,
                directive,
            };
            out.extend(judge_one(&at, input, cx));
        }
        // One finding per code is enough to say what the skill does; the rest repeat it.
        if out.len() > 64 {
            break;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|f| seen.insert(f.code.clone()));
    out
}

/// Whether a directive may be held against the skill at all: a step for the user in a
/// product's interface, or an untriggered step of a declared security skill (its tables of what
/// to look for), tells the agent nothing of its own.
fn counts(d: &Directive, cx: &Context<'_>) -> bool {
    !(d.to_user || (cx.dual_use && d.trigger.is_none()))
}

/// SK743: within one group of directives (one paragraph, or the steps under one triggered
/// heading or introduction), sensitive data collected or named and sent to a destination the
/// purpose never names. Collection in one step and the upload in the next are one act.
fn exfiltration_by_group(path: &str, directives: &[Directive], cx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let groups: std::collections::BTreeSet<u32> = directives.iter().map(|d| d.group).collect();
    for group in groups {
        let members: Vec<&Directive> = directives
            .iter()
            .filter(|d| d.group == group && counts(d, cx))
            .collect();
        let sensitive: Vec<&str> = members
            .iter()
            .filter(|d| {
                d.has(ActionClass::Collect)
                    || d.has(ActionClass::Transmit)
                    || d.has(ActionClass::Reveal)
            })
            .flat_map(|d| d.sensitive_objects().map(|o| o.words.as_str()))
            .collect();
        if sensitive.is_empty() {
            continue;
        }
        let credentials: Vec<String> = members
            .iter()
            .flat_map(|d| ENV_NAME.find_iter(&d.text).map(|m| m.as_str().to_string()))
            .collect();
        let sender = members.iter().find_map(|d| {
            if !d.has(ActionClass::Transmit) {
                return None;
            }
            let unnamed = d
                .destinations
                .iter()
                .find(|dest| !destination_named(dest, cx.purpose, &credentials))?;
            Some((*d, unnamed))
        });
        let Some((d, destination)) = sender else {
            continue;
        };
        let mut objects = sensitive.clone();
        objects.sort_unstable();
        objects.dedup();
        let at = Located { path, directive: d };
        out.push(
            finding(
                "SK743",
                Severity::Critical,
                KillChainStage::Exfiltration,
                &at,
                format!(
                    "a directive{} sends {} to {}, a party the stated purpose never names: {}",
                    trigger_note(d),
                    objects.join(", "),
                    describe(destination),
                    quote(&d.text)
                ),
                "Remove the instruction. If the skill must send this data, name the service in \
                 the description and say what is sent.",
            )
            .with_capability(Capability::NetEgress),
        );
    }
    out
}

fn judge_one(at: &Located<'_>, input: &JudgeInput<'_>, cx: &Context<'_>) -> Vec<Finding> {
    let d = at.directive;
    let mut out = Vec::new();
    if !counts(d, cx) {
        return out;
    }
    let with_code = format!("{}\n{}", d.text, d.code.as_deref().unwrap_or(""));
    // A cleanup purpose explains deleting what the skill's own work leaves behind; nothing
    // explains deleting the user's home folders or every record they have.
    let housekeeping = HOUSEKEEPING.is_match(&d.text);
    // A cleanup purpose may empty caches under `~`; not as a standing order on every task.
    let users_data = (HOME_SCOPE.is_match(&with_code)
        && (d.trigger.is_some() || !cx.explains_delete))
        || (USER_SCOPE.is_match(&with_code) && !(cx.explains_delete && housekeeping))
        || (d.trigger.is_some()
            && !cx.explains_delete
            && !housekeeping
            && d.objects.iter().any(|o| {
                ["documents", "calendar", "contacts", "emails", "database"].contains(&o.id.as_str())
            }));
    // Code a step introduces destroys on its own account only where the purpose is not to
    // clean up: a cleaner's report template lists the `rm -rf` it recommends.
    let destroys = d.has(ActionClass::Destroy)
        || ((!cx.explains_delete || d.trigger.is_some())
            && d.code
                .as_deref()
                .is_some_and(|c| DESTRUCTIVE_CODE.is_match(c)));
    // A step that asks first is the user's decision, not the skill's.
    let asks_first = CONSENT.is_match(&d.text) && !NO_CONSENT.is_match(&d.text);
    if destroys && users_data && !asks_first {
        out.push(
            finding(
                "SK744",
                Severity::High,
                KillChainStage::Impact,
                at,
                format!(
                    "a directive{} destroys the user's data, which the stated purpose does not \
                     explain: {}",
                    trigger_note(d),
                    quote(&d.text)
                ),
                "Remove the instruction, or say in the description what the skill deletes and \
                 ask the user before deleting.",
            )
            .with_capability(Capability::FsDelete),
        );
        out.push(masquerade(at, "destroys the user's data"));
    }
    if d.has(ActionClass::Weaken) && !cx.explains_privilege {
        out.push(
            finding(
                "SK744",
                Severity::High,
                KillChainStage::PrivilegeEscalation,
                at,
                format!(
                    "a directive{} weakens permissions or creates privileged access, which the \
                     stated purpose does not explain: {}",
                    trigger_note(d),
                    quote(&d.text)
                ),
                "Remove the instruction; grant the least access the task needs, and never \
                 world-writable modes or hidden accounts.",
            )
            .with_capability(Capability::Privilege),
        );
        out.push(masquerade(
            at,
            "weakens permissions or creates privileged access",
        ));
    }
    if d.has(ActionClass::Alter) && (COVERT.is_match(&d.block) || d.trigger.is_some()) {
        let words: Vec<&str> = d
            .actions
            .iter()
            .filter(|a| a.class == ActionClass::Alter)
            .map(|a| a.words.as_str())
            .collect();
        let declared = words.iter().any(|w| {
            let stem: String = w.chars().take_while(|c| c.is_alphabetic()).collect();
            stem.len() >= 4
                && cx
                    .purpose
                    .to_ascii_lowercase()
                    .contains(&stem.to_ascii_lowercase())
        });
        if !declared {
            out.push(finding(
                "SK745",
                Severity::High,
                KillChainStage::Impact,
                at,
                format!(
                    "a directive{} covertly alters the user's content ({}): {}",
                    trigger_note(d),
                    words.join(", "),
                    quote(&d.text)
                ),
                "Remove the instruction: a skill may change the user's content only as its \
                 description says, and visibly.",
            ));
            out.push(masquerade(at, "alters the user's content"));
        }
    }
    if d.trigger.is_some() && out.is_empty() {
        let repeats = d.has(ActionClass::Repeat)
            || d.code
                .as_deref()
                .is_some_and(|c| REPEATED.is_match(c) && REQUEST.is_match(c));
        let unrelated = if repeats {
            Some("requests an address over and over")
        } else if d.has(ActionClass::Transmit) && MASS_RECIPIENTS.is_match(&d.text) {
            Some("sends messages to every contact")
        } else if d.has(ActionClass::FetchExecute) {
            Some("fetches code and runs it")
        } else if d.objects.iter().any(|o| o.id == "system-prompt")
            && (d.has(ActionClass::Reveal) || d.has(ActionClass::Transmit))
        {
            Some("reveals the agent's own instructions")
        } else {
            None
        };
        if let Some(what) = unrelated {
            out.push(finding(
                "SK746",
                Severity::High,
                KillChainStage::Impact,
                at,
                format!(
                    "a standing directive ({}) {what}, which the stated purpose does not \
                     explain: {}",
                    d.trigger.as_deref().unwrap_or(""),
                    quote(&d.text)
                ),
                "Remove the instruction: a skill acts on the user's request, not on every task.",
            ));
            out.push(masquerade(at, what));
        }
    }
    if d.trigger.is_some() && d.has(ActionClass::Execute) {
        out.extend(runs_dangerous_script(at, input));
    }
    out
}

fn trigger_note(d: &Directive) -> String {
    d.trigger
        .as_deref()
        .map(|t| format!(" (\"{t}\")"))
        .unwrap_or_default()
}

fn masquerade(at: &Located<'_>, what: &str) -> Finding {
    finding(
        "SK735",
        Severity::High,
        KillChainStage::DefenseEvasion,
        at,
        format!(
            "masquerading: the skill presents one purpose and its instructions tell the agent \
             to do another: it {what}"
        ),
        "Say in the description what the skill does, or remove the instruction.",
    )
}

/// SK747: a standing directive runs a bundled script that G1 or G3 found doing something
/// dangerous; the script's worst finding, pinned to the directive.
fn runs_dangerous_script(at: &Located<'_>, input: &JudgeInput<'_>) -> Option<Finding> {
    let d = at.directive;
    let scripts: Vec<&str> = SCRIPT_PATH
        .captures_iter(&d.text)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    let worst = input
        .evidence
        .iter()
        .filter(|f| {
            f.severity >= Severity::High
                && f.kill_chain != KillChainStage::None
                && f.file.as_deref().is_some_and(|file| {
                    scripts
                        .iter()
                        .any(|s| file == *s || file.ends_with(&format!("/{s}")))
                })
        })
        .max_by_key(|f| f.severity)?;
    let mut f = finding(
        "SK747",
        worst.severity,
        worst.kill_chain,
        at,
        format!(
            "a standing directive ({}) runs `{}`, which {} ({}): {}",
            d.trigger.as_deref().unwrap_or(""),
            worst.file.as_deref().unwrap_or(""),
            worst.message,
            worst.code,
            quote(&d.text)
        ),
        "Remove the instruction, or the dangerous code from the script.",
    );
    f.capability = worst.capability;
    Some(f)
}
