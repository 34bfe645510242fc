//! Python that can only exhaust the machine: a loop that never ends and never waits, and
//! allocations of tens of millions of elements from a literal.

use super::{callee_name, finding, python_scope_nodes};
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use skillgate_model::{Confidence, Finding, KillChainStage};
use std::collections::HashSet;
use tree_sitter::Node;

declare_rule! {
    /// ## What it does
    /// Flags `while True:` (or `while 1:`) whose body has no `break`, `return`, `raise`,
    /// `yield`, `await` or `try`, and calls nothing but the script's own functions (which
    /// neither raise nor call out) and in-memory builtins (`append`, `len`, `print`, …). Such a
    /// loop can neither end nor wait: no sleep, no I/O, no exit.
    ///
    /// ## Why is this risky?
    /// It pins a core until the agent's host kills it: resource exhaustion, and a cheap way to
    /// stall the agent that runs it. A service loop sleeps or blocks on I/O, and is not flagged.
    ///
    /// ## Example
    /// `while True:\n    process_item(data)` where `process_item` returns `item * 2`.
    pub struct EndlessBusyLoop { code: "SK117", slug: "endless-busy-loop", severity: High, summary: "a loop that can neither end nor wait" }
}

declare_rule! {
    /// ## What it does
    /// Flags a sequence repeated by an integer literal of ten million or more
    /// (`[item] * 10000000`, `"A" * 10**8`) and `bytearray(N)` / `bytes(N)` of a hundred
    /// million or more.
    ///
    /// ## Why is this risky?
    /// A literal that size is an allocation chosen to exhaust memory, not a data structure a
    /// skill needs; inside a loop it grows without bound.
    ///
    /// ## Example
    /// `result.extend([item] * 10000000)`
    pub struct MemoryBomb { code: "SK118", slug: "memory-bomb", severity: Medium, summary: "an allocation of tens of millions of elements from a literal" }
}

crate::pattern::lazy_regex! {
    /// A literal that could reach the sizes [`MemoryBomb`] flags: eight digits, or a power of ten.
    BIG_LITERAL = r"\d{8}|\b10\s*\*\*\s*\d";
}

/// Calls that stay in memory and return.
const IN_MEMORY: &[&str] = &[
    "print", "len", "str", "int", "float", "bool", "list", "dict", "set", "tuple", "range", "sum",
    "min", "max", "abs", "sorted", "reversed", "append", "extend", "insert", "update", "add",
    "copy", "pop", "format", "join", "split", "strip", "lower", "upper", "replace", "hash", "repr",
];

/// Ways out of a loop, or of its callee (all but the first: a function may return).
const NO_EXIT: &[&str] = &[
    "return_statement",
    "break_statement",
    "raise_statement",
    "yield",
    "await",
    "try_statement",
    "with_statement",
];

fn text_of<'t>(node: Node, text: &'t str) -> &'t str {
    node.utf8_text(text.as_bytes()).unwrap_or("")
}

/// Whether a body only computes in memory: none of `exits`, no call but `allowed` ones.
fn only_computes(body: Node, text: &str, exits: &[&str], allowed: &dyn Fn(&str) -> bool) -> bool {
    python_scope_nodes(body).into_iter().all(|n| {
        !exits.contains(&n.kind()) && (n.kind() != "call" || allowed(callee_name(n, text)))
    })
}

fn endless_loops(root: Node, text: &str) -> Vec<usize> {
    let mut defs = Vec::new();
    let mut loops = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "function_definition" => defs.extend(
                node.child_by_field_name("name")
                    .zip(node.child_by_field_name("body")),
            ),
            "while_statement"
                if node
                    .child_by_field_name("condition")
                    .is_some_and(|c| matches!(text_of(c, text), "True" | "1")) =>
            {
                loops.extend(
                    node.child_by_field_name("body")
                        .map(|b| (node.start_byte(), b)),
                );
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    // The script's functions that compute in memory and return, calling only builtins: every
    // definition of the name, when it is defined more than once.
    let computes =
        |body: Node| only_computes(body, text, &NO_EXIT[1..], &|c| IN_MEMORY.contains(&c));
    let impure: HashSet<&str> = defs
        .iter()
        .filter(|(_, body)| !computes(*body))
        .map(|(name, _)| text_of(*name, text))
        .collect();
    let pure: HashSet<&str> = defs
        .iter()
        .map(|(name, _)| text_of(*name, text))
        .filter(|name| !impure.contains(name))
        .collect();
    let mut endless: Vec<usize> = loops
        .into_iter()
        .filter(|(_, body)| {
            only_computes(*body, text, NO_EXIT, &|c| {
                IN_MEMORY.contains(&c) || pure.contains(c)
            })
        })
        .map(|(at, _)| at)
        .collect();
    endless.sort_unstable();
    endless
}

fn integer(node: Node, text: &str) -> Option<u128> {
    integer_within(node, text, MAX_NESTING)
}

/// Nesting a literal is read through: `(10 ** 9)`, `2 ** (3 ** 3)`; hostile code nests deeper
/// than a thread's stack.
const MAX_NESTING: usize = 16;

fn integer_within(node: Node, text: &str, depth: usize) -> Option<u128> {
    let inner = depth.checked_sub(1)?;
    match node.kind() {
        "integer" => text_of(node, text).replace('_', "").parse().ok(),
        "binary_operator" => {
            let op = node.child_by_field_name("operator")?;
            let base = integer_within(node.child_by_field_name("left")?, text, inner)?;
            let power = integer_within(node.child_by_field_name("right")?, text, inner)?;
            (text_of(op, text) == "**" && power <= 30).then(|| base.saturating_pow(power as u32))
        }
        "parenthesized_expression" => integer_within(node.named_child(0)?, text, inner),
        _ => None,
    }
}

fn memory_bombs(root: Node, text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let bomb = match node.kind() {
            "binary_operator" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| text_of(o, text));
                let sides = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                );
                op == Some("*")
                    && matches!(sides, (Some(l), Some(r))
                    if [(l, r), (r, l)].iter().any(|(seq, n)| {
                        matches!(seq.kind(), "list" | "string" | "tuple")
                            && integer(*n, text).is_some_and(|n| n >= 10_000_000)
                    }))
            }
            "call" => {
                matches!(callee_name(node, text), "bytearray" | "bytes")
                    && node
                        .child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0))
                        .and_then(|a| integer(a, text))
                        .is_some_and(|n| n >= 100_000_000)
            }
            _ => false,
        };
        if bomb {
            out.push(node.start_byte());
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    out.sort_unstable();
    out
}

pub fn check(units: &[Unit], out: &mut Vec<Finding>) {
    for unit in units
        .iter()
        .filter(|u| u.lang == Language::Python && u.decoded_from.is_none())
    {
        let loops = unit.text.contains("while True") || unit.text.contains("while 1");
        let big = BIG_LITERAL.is_match(&unit.text);
        if !loops && !big {
            continue;
        }
        let Some(tree) = unit.tree() else {
            continue;
        };
        let root = tree.root_node();
        let found = [
            (
                loops,
                endless_loops as fn(Node, &str) -> Vec<usize>,
                &EndlessBusyLoop::INFO,
                "the loop can neither end nor wait: it spins until the host kills it",
            ),
            (
                big,
                memory_bombs,
                &MemoryBomb::INFO,
                "an allocation of tens of millions of elements from a literal",
            ),
        ];
        for (wanted, find, info, message) in found {
            if !wanted {
                continue;
            }
            for at in find(root, &unit.text).into_iter().take(3) {
                let (line, col) = unit.position(at);
                out.push(
                    finding(info, Confidence::Medium, "resource-exhaustion", message)
                        .at(&unit.file, Some(line), Some(col))
                        .with_evidence(unit.line_at(at).trim())
                        .with_stage(KillChainStage::Impact),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(script: &str) -> Vec<String> {
        let mut out = Vec::new();
        check(&[Unit::new("a.py", Language::Python, script, 1)], &mut out);
        out.into_iter().map(|f| f.code).collect()
    }

    #[test]
    fn endless_loops_and_bombs_are_found() {
        assert_eq!(
            codes(
                "def analyze(data):\n    while True:\n        process(data)\n\ndef process(item):\n    return item * 2\n"
            ),
            ["SK117"]
        );
        assert_eq!(codes("while 1:\n    items.append(len(items))\n"), ["SK117"]);
        assert_eq!(
            codes(
                "def bomb(items):\n    r = []\n    for i in items:\n        r.extend([i] * 10000000)\n"
            ),
            ["SK118"]
        );
        assert_eq!(codes("buf = 'A' * 10**8\n"), ["SK118"]);
    }

    #[test]
    fn loops_that_wait_or_leave_and_modest_sizes_are_not() {
        for script in [
            "import time\nwhile True:\n    poll()\n    time.sleep(60)\n",
            "while True:\n    line = input()\n    print(line)\n",
            "while True:\n    n += 1\n    if n > 10:\n        break\n",
            "def serve():\n    while True:\n        conn, _ = sock.accept()\n        handle(conn)\n",
            "def f(q):\n    while True:\n        item = q.get()\n        work(item)\n",
            "while True:\n    step()\n\ndef step():\n    raise StopIteration\n",
            "row = [0] * 1024\nMB = 1024 ** 2\n",
        ] {
            assert!(codes(script).is_empty(), "{script}: {:?}", codes(script));
        }
    }
}
