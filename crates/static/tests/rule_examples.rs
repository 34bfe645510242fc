//! Every data rule's own examples: each `match` example fires, each `no_match` does not.

use skillgate_static::engine;
use skillgate_static::registry::Registry;
use skillgate_static::rule::{Language, Matcher};
use skillgate_static::units::Unit;

/// A file the rule applies to: `SKILL.md`, or one ending in the rule's first path suffix.
fn file_for(paths: &[String]) -> String {
    match paths.first() {
        Some(suffix) if suffix.starts_with('.') => format!("config{suffix}"),
        Some(name) => name.clone(),
        None => "SKILL.md".into(),
    }
}

fn unit_for(file: &str, lang: Language, text: &str) -> Unit {
    // Rules for any code run over shell, the language most examples are written in.
    let lang = match lang {
        Language::Code | Language::Any => Language::Shell,
        other => other,
    };
    Unit::new(file, lang, format!("{text}\n"), 1)
}

#[test]
fn every_rule_matches_its_examples() {
    let registry = Registry::load().expect("rules compile");
    assert!(
        registry.data_rules().len() >= 30,
        "the rule set is embedded"
    );
    let mut failures = Vec::new();
    for (index, rule) in registry.data_rules().iter().enumerate() {
        let lang = rule.spec.languages[0];
        let file = file_for(&rule.spec.paths);
        let fires = |text: &str| {
            let unit = unit_for(&file, lang, text);
            let mut out = Vec::new();
            engine::run_rule(registry.rule_set(), index, &unit, &mut out);
            !out.is_empty()
        };
        for ex in &rule.spec.examples.positive {
            if !fires(ex) {
                failures.push(format!("{} should match: {ex}", rule.spec.code));
            }
        }
        for ex in &rule.spec.examples.negative {
            if fires(ex) {
                failures.push(format!("{} should not match: {ex}", rule.spec.code));
            }
        }
        // A screen that refused a text its exact pattern matches would lose findings silently.
        if let Matcher::Regex {
            exact,
            screen: Some(screen),
        } = &rule.matcher
        {
            let examples = rule.spec.examples.positive.iter();
            for ex in examples.chain(&rule.spec.examples.negative) {
                if exact.is_match(ex) && !screen.is_match(ex) {
                    failures.push(format!("{}'s screen refuses: {ex}", rule.spec.code));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
