//! Claude Code's hook protocol: one JSON object on stdin, an answer on stdout.
//!
//! `PreToolUse` is answered with `hookSpecificOutput.permissionDecision` (`allow`, `deny`, `ask`),
//! a reason the model sees, and optionally `updatedInput` (a rewritten tool input). `SessionStart`
//! is answered with `additionalContext`. An event the guard does not judge gets no answer at
//! all, which the agent reads as "carry on".

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Hook inputs larger than this are refused unread: no tool input an agent sends is near it.
pub const MAX_INPUT: usize = 1 << 20;

/// What the agent sends. Fields the guard does not use are ignored; missing ones are `None`.
#[derive(Debug, Clone, Deserialize)]
pub struct HookInput {
    pub hook_event_name: String,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub tool_name: Option<String>,
    #[serde(default)]
    pub tool_input: Option<Value>,
}

/// Input the guard cannot read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("hook input is larger than {MAX_INPUT} bytes")]
    TooLarge,
    #[error("hook input is not the JSON object the hook protocol sends: {0}")]
    Malformed(String),
}

impl HookInput {
    pub fn parse(bytes: &[u8]) -> Result<Self, InputError> {
        if bytes.len() > MAX_INPUT {
            return Err(InputError::TooLarge);
        }
        serde_json::from_slice(bytes).map_err(|e| InputError::Malformed(e.to_string()))
    }

    /// A string field of the tool input.
    pub fn tool_str(&self, key: &str) -> Option<&str> {
        self.tool_input.as_ref()?.get(key)?.as_str()
    }
}

/// A permission decision on one tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Allow,
    Deny,
    Ask,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Not the guard's to judge: no output.
    PassThrough,
    Tool {
        permission: Permission,
        reason: String,
        updated_input: Option<Value>,
    },
    Session {
        context: String,
    },
}

impl Answer {
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Tool {
            permission: Permission::Deny,
            reason: reason.into(),
            updated_input: None,
        }
    }

    /// The JSON to print, or `None` for no output.
    pub fn to_json(&self) -> Option<Value> {
        match self {
            Self::PassThrough => None,
            Self::Tool {
                permission,
                reason,
                updated_input,
            } => {
                let mut out = serde_json::json!({
                    "hookEventName": "PreToolUse",
                    "permissionDecision": permission,
                    "permissionDecisionReason": reason,
                });
                if let Some(input) = updated_input {
                    out["updatedInput"] = input.clone();
                }
                Some(serde_json::json!({ "hookSpecificOutput": out }))
            }
            Self::Session { context } => Some(serde_json::json!({
                "hookSpecificOutput": {
                    "hookEventName": "SessionStart",
                    "additionalContext": context,
                }
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_bounded_and_typed() {
        assert!(matches!(
            HookInput::parse(&vec![b' '; MAX_INPUT + 1]),
            Err(InputError::TooLarge)
        ));
        assert!(matches!(
            HookInput::parse(b"{\"hook_event_name\": \"PreToolUse\", \"tool_input\": {"),
            Err(InputError::Malformed(_))
        ));
        assert!(HookInput::parse(b"[1,2]").is_err());
        let i = HookInput::parse(
            br#"{"hook_event_name":"PreToolUse","tool_name":"Read","tool_input":{"file_path":"/x/SKILL.md"},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(i.tool_str("file_path"), Some("/x/SKILL.md"));
    }

    #[test]
    fn answers_have_the_protocols_shape() {
        let v = Answer::deny("no").to_json().unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "PreToolUse");
        assert!(Answer::PassThrough.to_json().is_none());
    }
}
