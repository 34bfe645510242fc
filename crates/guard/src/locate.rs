//! Where skills are installed, and which skill folder a path or a command points into.

use std::path::{Component, Path, PathBuf};

/// Skills listed per session start at most; more are counted.
pub const MAX_INSTALLED: usize = 1000;
/// Folders walked up from a path in search of its `SKILL.md`.
const MAX_ANCESTORS: usize = 64;
/// Depth searched below `~/.claude/plugins` for plugin `skills/` folders.
const PLUGIN_DEPTH: usize = 6;

/// One installed skill: its folder and the name the agent knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub dir: PathBuf,
    /// `user`, `project` or `plugin`.
    pub scope: &'static str,
}

/// The skills folders an agent loads from.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    pub dirs: Vec<(PathBuf, &'static str)>,
}

impl Roots {
    /// Claude Code's: the project's `.claude/skills`, the user's `~/.claude/skills`, and each
    /// plugin's `skills/` under `~/.claude/plugins`; the shared `.agents/skills` of both.
    pub fn claude_code(home: Option<&Path>, project: Option<&Path>) -> Self {
        let mut dirs = Vec::new();
        if let Some(p) = project {
            dirs.push((p.join(".claude/skills"), "project"));
            dirs.push((p.join(".agents/skills"), "project"));
        }
        if let Some(h) = home {
            dirs.push((h.join(".claude/skills"), "user"));
            dirs.push((h.join(".agents/skills"), "user"));
            let plugins = h.join(".claude/plugins");
            if plugins.is_dir() {
                for entry in walk_dirs(&plugins, PLUGIN_DEPTH) {
                    if entry.file_name().is_some_and(|n| n == "skills") {
                        dirs.push((entry, "plugin"));
                    }
                }
            }
        }
        Self { dirs }
    }

    /// Every installed skill (a folder directly inside a root that holds `SKILL.md`), sorted by
    /// scope and name, at most [`MAX_INSTALLED`]; the second value counts those left out.
    pub fn installed(&self) -> (Vec<Installed>, usize) {
        let mut out = Vec::new();
        let mut left_out = 0;
        for (root, scope) in &self.dirs {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            let mut found: Vec<Installed> = entries
                .flatten()
                .filter(|e| has_skill_md(&e.path()))
                .map(|e| Installed {
                    name: e.file_name().to_string_lossy().into_owned(),
                    dir: e.path(),
                    scope,
                })
                .collect();
            found.sort_by(|a, b| a.name.cmp(&b.name));
            for f in found {
                if out.len() >= MAX_INSTALLED {
                    left_out += 1;
                } else {
                    out.push(f);
                }
            }
        }
        (out, left_out)
    }

    /// The folder of the skill the agent calls `name` (`plugin:skill` names a plugin's skill).
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        let (plugin, skill) = match name.split_once(':') {
            Some((p, s)) => (Some(p), s),
            None => (None, name),
        };
        if skill.is_empty() || skill.contains(['/', '\\']) || skill == "." || skill == ".." {
            return None;
        }
        self.dirs
            .iter()
            .filter(|(root, scope)| match plugin {
                Some(p) => *scope == "plugin" && root.components().any(|c| c.as_os_str() == p),
                None => true,
            })
            .map(|(root, _)| root.join(skill))
            .find(|d| has_skill_md(d))
    }
}

fn has_skill_md(dir: &Path) -> bool {
    dir.join("SKILL.md").is_file() || dir.join("skill.md").is_file()
}

fn walk_dirs(root: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut frontier = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, d)) = frontier.pop() {
        if d >= depth || out.len() > 10_000 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            // Symlinked folders are not followed: a plugin cannot point the walk elsewhere.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path());
                frontier.push((e.path(), d + 1));
            }
        }
    }
    out
}

/// `path` made absolute against `cwd` (and `~` against `home`), with `.` and `..` resolved
/// without touching the filesystem.
pub fn absolute(path: &str, cwd: &Path, home: Option<&Path>) -> PathBuf {
    let joined = if let (Some(rest), Some(h)) = (
        path.strip_prefix("~/")
            .or_else(|| (path == "~").then_some("")),
        home,
    ) {
        h.join(rest)
    } else if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The skill folder `path` lies in: the nearest folder at or above it holding `SKILL.md`.
pub fn skill_folder_of(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() { path } else { path.parent()? };
    start
        .ancestors()
        .take(MAX_ANCESTORS)
        .find(|d| has_skill_md(d))
        .map(Path::to_path_buf)
}

/// What a shell command points at inside skill folders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Skill folders named by the command's words (a script, a `cd` target, any path in one).
    pub skills: Vec<PathBuf>,
    /// Paths inside a skill folder that resolve, through a symlink, outside it.
    pub escapes: Vec<String>,
    /// The command names `$CLAUDE_SKILL_DIR` / `${CLAUDE_SKILL_DIR}`, whose skill it cannot tell.
    pub skill_dir_variable: bool,
}

/// The skill folders `command` (run in `cwd`) reaches into.
pub fn targets(command: &str, cwd: &Path, home: Option<&Path>) -> Targets {
    let mut t = Targets {
        skill_dir_variable: command.contains("CLAUDE_SKILL_DIR"),
        ..Targets::default()
    };
    // Unbalanced quotes are still a command the shell may run in part: fall back to words.
    let words = shell_words::split(command).unwrap_or_else(|_| {
        command
            .split_whitespace()
            .map(|w| w.trim_matches(['"', '\'']).to_string())
            .collect()
    });
    let mut cwd = cwd.to_path_buf();
    let mut after_cd = false;
    for word in words.iter().take(10_000) {
        // `a=b/c`, `--file=x/y`: the value may be the path.
        for candidate in [word.as_str(), word.rsplit_once('=').map_or("", |(_, v)| v)] {
            if candidate.is_empty()
                || !(candidate.contains('/')
                    || after_cd
                    || Path::new(&cwd).join(candidate).exists())
            {
                continue;
            }
            let path = absolute(candidate, &cwd, home);
            if !path.exists() {
                continue;
            }
            if let Some(skill) = skill_folder_of(&path) {
                if let (Ok(real), Ok(real_skill)) = (path.canonicalize(), skill.canonicalize())
                    && !real.starts_with(&real_skill)
                {
                    t.escapes.push(path.display().to_string());
                }
                if !t.skills.contains(&skill) {
                    t.skills.push(skill);
                }
            }
            if after_cd {
                cwd = path;
            }
        }
        after_cd = word == "cd" || word == "pushd";
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(root: &Path, name: &str) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir_all(d.join("scripts")).unwrap();
        std::fs::write(d.join("SKILL.md"), "---\nname: x\n---\n").unwrap();
        std::fs::write(d.join("scripts/run.sh"), "echo hi\n").unwrap();
        d
    }

    #[test]
    fn commands_are_traced_to_their_skill_folder() {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join(".claude/skills");
        let good = skill(&root, "good");
        let evil = skill(&root, "evil");
        let cwd = Path::new("/");
        let t = targets(
            &format!("bash {}/scripts/run.sh --x", good.display()),
            cwd,
            Some(home.path()),
        );
        assert_eq!(t.skills, vec![good.clone()]);
        // `..` is resolved before the folder is looked up.
        let t = targets(
            "python3 ~/.claude/skills/good/../evil/scripts/run.sh",
            cwd,
            Some(home.path()),
        );
        assert_eq!(t.skills, vec![evil.clone()]);
        // A `cd` into the folder, then a relative script.
        let t = targets(
            &format!("cd {} && ./scripts/run.sh", good.display()),
            cwd,
            Some(home.path()),
        );
        assert_eq!(t.skills, vec![good.clone()]);
        assert!(
            targets("ls -la /tmp", cwd, Some(home.path()))
                .skills
                .is_empty()
        );
        assert!(targets("bash ${CLAUDE_SKILL_DIR}/x.sh", cwd, None).skill_dir_variable);
    }

    #[test]
    fn a_symlink_out_of_the_skill_folder_is_an_escape() {
        let home = tempfile::tempdir().unwrap();
        let good = skill(&home.path().join(".claude/skills"), "good");
        let outside = home.path().join("outside.sh");
        std::fs::write(&outside, "echo out\n").unwrap();
        std::os::unix::fs::symlink(&outside, good.join("scripts/link.sh")).unwrap();
        let t = targets(
            &format!("sh {}/scripts/link.sh", good.display()),
            Path::new("/"),
            None,
        );
        assert_eq!(t.escapes.len(), 1, "{t:?}");
    }

    #[test]
    fn installed_skills_are_found_by_name_and_scope() {
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        skill(&home.path().join(".claude/skills"), "alpha");
        skill(&project.path().join(".claude/skills"), "beta");
        skill(
            &home.path().join(".claude/plugins/cache/acme/tools/skills"),
            "gamma",
        );
        let roots = Roots::claude_code(Some(home.path()), Some(project.path()));
        let (all, left_out) = roots.installed();
        let names: Vec<(&str, &str)> = all.iter().map(|i| (i.name.as_str(), i.scope)).collect();
        assert_eq!(
            names,
            [("beta", "project"), ("alpha", "user"), ("gamma", "plugin")]
        );
        assert_eq!(left_out, 0);
        assert!(roots.find("alpha").is_some());
        assert!(roots.find("acme:gamma").is_some());
        assert!(roots.find("../alpha").is_none());
    }
}
