//! Code rules: what a regex cannot say alone. One file per rule family, each rule declared with
//! its documentation through [`declare_rule!`](crate::registry::declare_rule).

pub mod bundle_contents;
pub mod companion_scripts;
pub mod correlation;
pub mod decoded_exec;
pub mod encoded_payload;
pub mod hidden_text;
pub mod injection_sinks;
pub mod printed_secrets;
pub mod registry_redirect;
pub mod rendered_markup;
pub mod resource_exhaustion;
pub mod secret_flow;
pub mod security_edits;
pub mod security_knowledge;
pub mod skill_install;
pub mod vendor_installers;

use crate::registry::CodeRuleInfo;

/// Every code rule outside the dependency checks.
pub const ALL: &[CodeRuleInfo] = &[
    hidden_text::InvisibleUnicode::INFO,
    hidden_text::UnicodeTagSmuggling::INFO,
    hidden_text::HiddenComment::INFO,
    hidden_text::WhitespacePadding::INFO,
    encoded_payload::EncodedDangerousPayload::INFO,
    decoded_exec::DecodedVariableExecuted::INFO,
    injection_sinks::InputReachesEval::INFO,
    injection_sinks::SqlBuiltFromInput::INFO,
    injection_sinks::PathEscapesBase::INFO,
    injection_sinks::CommandBuiltFromInput::INFO,
    resource_exhaustion::EndlessBusyLoop::INFO,
    resource_exhaustion::MemoryBomb::INFO,
    security_edits::SecurityEditedOut::INFO,
    bundle_contents::BundledExecutable::INFO,
    bundle_contents::BytecodeWithoutSource::INFO,
    bundle_contents::SymlinkOutsideBundle::INFO,
    bundle_contents::ArchiveEntryEscapes::INFO,
    bundle_contents::TooLargeToAnalyse::INFO,
    bundle_contents::NestedArchiveUnopened::INFO,
    bundle_contents::OpaqueFile::INFO,
    bundle_contents::DocumentMacros::INFO,
    bundle_contents::DocumentPartRefused::INFO,
    bundle_contents::BytecodeSourceMismatch::INFO,
    bundle_contents::UnreadableBytecode::INFO,
    companion_scripts::MissingBundledScript::INFO,
    printed_secrets::EnvironmentPrinted::INFO,
    registry_redirect::RegistryRedirected::INFO,
    rendered_markup::ExecutableMarkup::INFO,
    skill_install::SkillInstalled::INFO,
    skill_install::SelfPropagation::INFO,
    skill_install::InstallWithSchedule::INFO,
    skill_install::MutableRemoteSource::INFO,
    secret_flow::SecretSentOut::INFO,
    secret_flow::SecretsBundled::INFO,
    correlation::CredentialExfiltration::INFO,
    correlation::EnvironmentExfiltration::INFO,
    correlation::DownloadChmodExecute::INFO,
    correlation::DownloadThenRun::INFO,
    correlation::AgentHijack::INFO,
    correlation::CredentialSweep::INFO,
    correlation::RemoteControlledSkill::INFO,
    correlation::SecurityTeardown::INFO,
    correlation::CredentialHuntingLoop::INFO,
];

/// Builds a finding for a code rule.
pub(crate) fn finding(
    info: &CodeRuleInfo,
    confidence: skillgate_model::Confidence,
    category: &str,
    message: impl Into<String>,
) -> skillgate_model::Finding {
    skillgate_model::Finding::new(
        info.code,
        skillgate_model::Gate::G1,
        info.severity,
        confidence,
        category,
        message,
    )
}

/// The name a Python `call` node calls: `open` for `open(…)`, `execute` for `conn.execute(…)`.
pub(crate) fn callee_name<'t>(call: tree_sitter::Node, text: &'t str) -> &'t str {
    let Some(function) = call.child_by_field_name("function") else {
        return "";
    };
    let name = match function.kind() {
        "attribute" => function
            .child_by_field_name("attribute")
            .unwrap_or(function),
        _ => function,
    };
    name.utf8_text(text.as_bytes()).unwrap_or("")
}

/// The nodes of one Python scope in source order: `root` and everything under it except nested
/// function and class definitions, which are scopes of their own.
pub(crate) fn python_scope_nodes(root: tree_sitter::Node) -> Vec<tree_sitter::Node> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node != root && matches!(node.kind(), "function_definition" | "class_definition") {
            continue;
        }
        out.push(node);
        let mut cursor = node.walk();
        let children: Vec<tree_sitter::Node> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}
