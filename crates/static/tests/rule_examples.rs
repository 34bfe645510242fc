//! Every data rule's own examples: each `match` example fires, each `no_match` does not.

use skillgate_static::registry::Registry;
use skillgate_static::rule::Matcher;

#[test]
fn every_rule_matches_its_examples() {
    let registry = Registry::load().expect("rules compile");
    assert!(
        registry.data_rules().len() >= 30,
        "the rule set is embedded"
    );
    let mut failures = Vec::new();
    for (index, rule) in registry.data_rules().iter().enumerate() {
        failures.extend(skillgate_static::registry::example_failures(
            registry.rule_set(),
            index,
        ));
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
