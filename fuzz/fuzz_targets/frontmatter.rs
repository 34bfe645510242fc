//! Feeds arbitrary bytes to the SKILL.md parser and the spec lint's name check: nothing a
//! skill author writes may panic, hang or blow the stack, and every line number it reports
//! points into the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillgate_model::skill_md::{self, SkillDocument};

fuzz_target!(|bytes: &[u8]| {
    let doc = SkillDocument::parse(bytes);
    let _ = doc.name().map(skillgate_model::lint::name_problem);
    let _ = doc.description();
    // `lines()` drops a final empty line; a report may point at it.
    let last_line = doc.text.split('\n').count() as u32;
    assert!(doc.body_line >= 1 && doc.body_line <= last_line + 1);
    for field in &doc.fields {
        let _ = field.value.text();
        assert!(field.line >= 1 && field.line <= last_line, "field line {}", field.line);
    }
    for segment in &doc.segments {
        assert!(segment.line() >= 1 && segment.line() <= last_line + 1);
    }
    for line in doc.text.lines().take(1000) {
        let _ = skill_md::quoted_as_example(line);
    }
});
