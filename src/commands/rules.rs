//! `skillgate rules list|explain`.

use crate::ExitStatus;
use crate::args::RulesCommand;
use anyhow::Context;

pub fn run(cmd: &RulesCommand) -> anyhow::Result<ExitStatus> {
    let registry = skillgate_pipeline::registry().context("loading the embedded rules")?;
    match cmd {
        RulesCommand::List { json } => {
            let docs = registry.docs();
            if *json {
                println!("{}", serde_json::to_string_pretty(&docs)?);
            } else {
                for d in docs {
                    println!(
                        "{:<6} {:<8} {:<5} {:<38} {}",
                        d.code, d.severity, d.kind, d.slug, d.summary
                    );
                }
            }
            Ok(ExitStatus::Success)
        }
        RulesCommand::Explain { code } => {
            let Some(d) = registry.explain(code) else {
                eprintln!("no rule `{code}`; `skillgate rules list` shows them all");
                return Ok(ExitStatus::Error);
            };
            println!("{} {} ({}, {} rule)\n", d.code, d.slug, d.severity, d.kind);
            println!("{}\n", d.summary);
            println!("{}", d.docs.trim_end());
            if let Some(help) = d.help {
                println!("\nHow to fix: {help}");
            }
            if let Some((pos, neg)) = d.examples {
                println!("\nFlagged:");
                pos.iter().for_each(|e| println!("    {e}"));
                println!("Not flagged:");
                neg.iter().for_each(|e| println!("    {e}"));
            }
            if let Some(src) = d.source {
                println!("\nDefined in {src}");
            }
            Ok(ExitStatus::Success)
        }
    }
}
