//! The guard in Claude Code's `settings.json`: merged in beside whatever hooks are there,
//! idempotent, backed up before each change, and removed again by `guard uninstall`.

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Tool calls the guard judges.
pub const MATCHER: &str = "Skill|Read|Bash";
/// Seconds Claude Code waits for the guard; past it the call goes on, so the guard keeps its own
/// shorter deadline and denies when it runs out.
pub const TIMEOUT_S: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a JSON object ({why}); it was left untouched")]
    NotAnObject { path: String, why: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    /// Written; the previous file, if there was one, kept at `backup`.
    Written {
        backup: Option<PathBuf>,
    },
}

fn is_ours(hook: &Value) -> bool {
    hook.get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("skillgate") && c.trim_end().ends_with(" guard"))
}

/// Removes the guard's hooks from every event, dropping matcher groups left empty.
fn strip(hooks: &mut Map<String, Value>) {
    for groups in hooks.values_mut() {
        let Some(list) = groups.as_array_mut() else {
            continue;
        };
        for group in list.iter_mut() {
            if let Some(inner) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                inner.retain(|h| !is_ours(h));
            }
        }
        list.retain(|g| {
            g.get("hooks")
                .and_then(Value::as_array)
                .is_none_or(|h| !h.is_empty())
        });
    }
    hooks.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
}

fn read(path: &Path) -> Result<(Option<String>, Map<String, Value>), SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, Map::new())),
        Err(source) => {
            return Err(SettingsError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| SettingsError::NotAnObject {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok((Some(text), map)),
        other => Err(SettingsError::NotAnObject {
            path: path.display().to_string(),
            why: format!("it holds a {}", kind(&other)),
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn write(
    path: &Path,
    before: Option<String>,
    after: &Map<String, Value>,
) -> Result<Change, SettingsError> {
    let text = serde_json::to_string_pretty(after).expect("a JSON map serialises") + "\n";
    let unchanged = before
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .is_some_and(|b| b == Value::Object(after.clone()));
    if unchanged {
        return Ok(Change::Unchanged);
    }
    let err = |source| SettingsError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let backup = match before {
        Some(b) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let backup = path.with_extension(format!("json.skillgate-backup-{stamp}"));
            std::fs::write(&backup, b).map_err(err)?;
            Some(backup)
        }
        None => None,
    };
    let tmp = path.with_extension("json.skillgate-tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(Change::Written { backup })
}

/// Adds the guard (`{program} guard`) for `PreToolUse` on Skill, Read and Bash, and for
/// `SessionStart`, keeping every other hook and setting.
pub fn install(path: &Path, program: &str) -> Result<Change, SettingsError> {
    let (before, mut settings) = read(path)?;
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    if !hooks.is_object() {
        return Err(SettingsError::NotAnObject {
            path: path.display().to_string(),
            why: format!("its `hooks` is a {}", kind(hooks)),
        });
    }
    let hooks = hooks.as_object_mut().expect("checked above");
    strip(hooks);
    let command = format!("{} guard", shell_words::quote(program));
    let hook = json!({ "type": "command", "command": command, "timeout": TIMEOUT_S });
    for (event, group) in [
        (
            "PreToolUse",
            json!({ "matcher": MATCHER, "hooks": [hook.clone()] }),
        ),
        ("SessionStart", json!({ "hooks": [hook] })),
    ] {
        let list = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(Vec::new()));
        match list.as_array_mut() {
            Some(l) => l.push(group),
            None => *list = Value::Array(vec![group]),
        }
    }
    write(path, before, &settings)
}

/// Removes the guard's hooks, keeping everything else.
pub fn uninstall(path: &Path) -> Result<Change, SettingsError> {
    let (before, mut settings) = read(path)?;
    if before.is_none() {
        return Ok(Change::Unchanged);
    }
    if let Some(hooks) = settings.get_mut("hooks").and_then(Value::as_object_mut) {
        strip(hooks);
        if hooks.is_empty() {
            settings.remove("hooks");
        }
    }
    write(path, before, &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_merges_is_idempotent_and_uninstall_restores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let original = json!({
            "model": "x",
            "hooks": { "PreToolUse": [ { "matcher": "Write", "hooks": [ { "type": "command", "command": "fmt.sh" } ] } ] }
        });
        std::fs::write(&path, serde_json::to_string(&original).unwrap()).unwrap();

        let first = install(&path, "/opt/skillgate").unwrap();
        assert!(matches!(first, Change::Written { backup: Some(_) }));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["model"], "x");
        assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        assert_eq!(v["hooks"]["PreToolUse"][1]["matcher"], MATCHER);
        assert_eq!(
            v["hooks"]["SessionStart"][0]["hooks"][0]["command"],
            "/opt/skillgate guard"
        );

        assert_eq!(install(&path, "/opt/skillgate").unwrap(), Change::Unchanged);

        uninstall(&path).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v, original);
    }

    #[test]
    fn a_settings_file_that_is_not_an_object_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "[1, 2").unwrap();
        assert!(install(&path, "skillgate").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1, 2");
    }
}

#[cfg(test)]
mod plugin {
    use super::*;

    /// The plugin layout in `integrations/` installs the same hooks `guard install` writes.
    #[test]
    fn the_plugin_hooks_match_what_install_writes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../integrations/claude-code/skillgate-guard");
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(".claude-plugin/plugin.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["name"], "skillgate-guard");
        let hooks: Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("hooks/hooks.json")).unwrap())
                .unwrap();
        let pre = &hooks["hooks"]["PreToolUse"][0];
        assert_eq!(pre["matcher"], MATCHER);
        assert!(is_ours(&pre["hooks"][0]));
        assert!(is_ours(&hooks["hooks"]["SessionStart"][0]["hooks"][0]));
    }
}
