//! Honeytokens and the canary matcher.
//!
//! Each run plants fresh fake credentials: files in a fake HOME, a `.env` in the working
//! directory, secret-looking environment variables. Every one carries a random 16-character
//! alphanumeric *core* inside a realistic format (`AKIA…`, `ghp_…`, a PEM body), so that dots,
//! dashes, case changes, URL-, base64- or hex-encoding and compression cannot hide it. A core
//! seen in anything that leaves — a request body, a DNS name, a TLS SNI, an exec argv, a file
//! written — proves that data flowed from a secret to a sink.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use rand::Rng;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::sync::LazyLock;

/// Where a honeytoken is planted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "in", content = "at", rename_all = "lowercase")]
pub enum Placement {
    /// A file relative to the fake HOME.
    Home(String),
    /// A file relative to the working directory (a copy of the skill).
    Work(String),
    /// An environment variable.
    Env(String),
}

/// One planted fake secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Honeytoken {
    pub id: String,
    pub placement: Placement,
    /// File content or variable value.
    pub content: String,
    /// The random lowercase alphanumeric core the content carries.
    pub core: String,
}

/// Ordinary files of a lived-in HOME, planted beside the honeytokens so that a HOME with only
/// credentials in it does not give the sandbox away, and so that writes to them are seen.
pub const DECOY_HOME_FILES: &[(&str, &str)] = &[
    (
        ".bashrc",
        "# ~/.bashrc\nexport PATH=\"$HOME/.local/bin:$PATH\"\nalias ll='ls -l'\n",
    ),
    (
        ".profile",
        "# ~/.profile\n[ -f ~/.bashrc ] && . ~/.bashrc\n",
    ),
    (
        ".gitconfig",
        "[user]\n\tname = Dev\n\temail = dev@example.com\n",
    ),
];

/// Writes a planted file (parents created, mode 0600).
pub fn plant(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Every honeytoken skillgate knows how to plant; profiles pick from these ids.
pub const CATALOGUE: &[&str] = &[
    "aws-credentials",
    "ssh-key",
    "netrc",
    "docker-config",
    "gh-hosts",
    "git-credentials",
    "dotenv",
    "browser-logins",
    "crypto-wallet",
    "env:AWS_ACCESS_KEY_ID",
    "env:AWS_SECRET_ACCESS_KEY",
    "env:GITHUB_TOKEN",
    "env:OPENAI_API_KEY",
    "env:ANTHROPIC_API_KEY",
    "env:SLACK_TOKEN",
    "env:NPM_TOKEN",
    "env:DATABASE_URL",
];

fn random_alnum(rng: &mut impl Rng, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn random_b64(rng: &mut impl Rng, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl Honeytoken {
    /// A fresh honeytoken for `id` (one of [`CATALOGUE`]); `None` for an unknown id.
    pub fn generate(id: &str, rng: &mut impl Rng) -> Option<Self> {
        let core = random_alnum(rng, 16);
        let up = core.to_ascii_uppercase();
        let tail = random_alnum(rng, 20);
        let (placement, content) = match id {
            "aws-credentials" => (
                Placement::Home(".aws/credentials".into()),
                format!(
                    "[default]\naws_access_key_id = AKIA{up}\naws_secret_access_key = {}{core}\nregion = us-east-1\n",
                    random_b64(rng, 24)
                ),
            ),
            "ssh-key" => (
                Placement::Home(".ssh/id_rsa".into()),
                format!(
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE{core}{}\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
                    random_b64(rng, 20),
                    random_b64(rng, 70)
                ),
            ),
            "netrc" => (
                Placement::Home(".netrc".into()),
                format!("machine api.github.com\n  login dev\n  password {core}{tail}\n"),
            ),
            "docker-config" => {
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("dev:dckr_pat_{core}{tail}"));
                (
                    Placement::Home(".docker/config.json".into()),
                    format!(
                        "{{\"auths\":{{\"https://index.docker.io/v1/\":{{\"auth\":\"{auth}\"}}}}}}\n"
                    ),
                )
            }
            "gh-hosts" => (
                Placement::Home(".config/gh/hosts.yml".into()),
                format!("github.com:\n    oauth_token: gho_{core}{tail}\n    user: dev\n"),
            ),
            "git-credentials" => (
                Placement::Home(".git-credentials".into()),
                format!("https://dev:ghp_{core}{tail}@github.com\n"),
            ),
            "dotenv" => (
                Placement::Work(".env".into()),
                format!(
                    "DATABASE_URL=postgres://app:{core}@db.internal:5432/app\nSTRIPE_SECRET_KEY=sk_live_{core}{tail}\n"
                ),
            ),
            "browser-logins" => (
                Placement::Home(".config/google-chrome/Default/Login Data".into()),
                format!(
                    "SQLite format 3\norigin_url=https://bank.example/login username_value=dev password_value={core}{tail}\n"
                ),
            ),
            "crypto-wallet" => (
                Placement::Home(".bitcoin/wallet.dat".into()),
                format!(
                    "{{\"seed_version\": 52, \"keystore\": {{\"xprv\": \"xprv9s21ZrQH143K{core}{tail}\"}}}}\n"
                ),
            ),
            env if env.starts_with("env:") => {
                let var = &env[4..];
                let value = match var {
                    "AWS_ACCESS_KEY_ID" => format!("AKIA{up}"),
                    "AWS_SECRET_ACCESS_KEY" => format!("{}{core}", random_b64(rng, 24)),
                    "GITHUB_TOKEN" => format!("ghp_{core}{tail}"),
                    "OPENAI_API_KEY" => format!("sk-proj-{core}{tail}"),
                    "ANTHROPIC_API_KEY" => format!("sk-ant-api03-{core}{tail}"),
                    "SLACK_TOKEN" => format!("xoxb-1234567890-{core}{tail}"),
                    "NPM_TOKEN" => format!("npm_{core}{tail}"),
                    "DATABASE_URL" => format!("postgres://admin:{core}@db.internal:5432/prod"),
                    _ => return None,
                };
                (Placement::Env(var.to_string()), value)
            }
            _ => return None,
        };
        Some(Self {
            id: id.to_string(),
            placement,
            content,
            core,
        })
    }
}

/// A hit: which honeytoken, and the decoding that revealed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub honeytoken: String,
    pub transform: &'static str,
}

/// Finds canary cores in captured bytes, through the encodings exfiltration tends to use.
pub struct Matcher {
    ids: Vec<String>,
    cores: AhoCorasick,
}

/// Blobs larger than this are searched in their first part only.
const MAX_SCAN: usize = 4 << 20;

static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{16,}").expect("valid regex"));
static HEX_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9a-fA-F]{24,}").expect("valid regex"));

impl Matcher {
    pub fn new(tokens: &[Honeytoken]) -> Self {
        let ids = tokens.iter().map(|t| t.id.clone()).collect();
        // Each core also reversed: `secret[::-1]` is the cheapest disguise there is.
        let patterns: Vec<Vec<u8>> = tokens
            .iter()
            .map(|t| t.core.as_bytes().to_vec())
            .chain(tokens.iter().map(|t| t.core.bytes().rev().collect()))
            .collect();
        let cores = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(&patterns)
            .expect("canary cores form a valid automaton");
        Self { ids, cores }
    }

    /// Every honeytoken whose core appears in `data`, however it was encoded.
    pub fn find(&self, data: &[u8]) -> Vec<Match> {
        let data = &data[..data.len().min(MAX_SCAN)];
        let mut out = Vec::new();
        self.search(data, "raw", 0, &mut out);
        out.sort();
        out.dedup_by(|a, b| a.honeytoken == b.honeytoken);
        out
    }

    fn direct(&self, data: &[u8], transform: &'static str, out: &mut Vec<Match>) -> bool {
        let before = out.len();
        for m in self.cores.find_iter(data) {
            let index = m.pattern().as_usize();
            let (index, transform) = match index.checked_sub(self.ids.len()) {
                Some(reversed) => (reversed, name(transform, "reversed")),
                None => (index, transform),
            };
            out.push(Match {
                honeytoken: self.ids[index].clone(),
                transform,
            });
        }
        out.len() > before
    }

    fn search(&self, data: &[u8], transform: &'static str, depth: u8, out: &mut Vec<Match>) {
        if self.direct(data, transform, out) && depth > 0 {
            return;
        }
        let stripped: Vec<u8> = data
            .iter()
            .copied()
            .filter(|b| !b"-._: \t\r\n/\\,;|\"'".contains(b))
            .collect();
        if stripped.len() != data.len() {
            self.direct(&stripped, name(transform, "separators"), out);
        }
        if data.contains(&b'%') || data.contains(&b'+') {
            let decoded = url_decode(data);
            if decoded != data {
                self.direct(&decoded, name(transform, "url"), out);
            }
        }
        if depth >= 2 {
            return;
        }
        for inflated in [inflate(data)].into_iter().flatten() {
            self.search(&inflated, name(transform, "deflate"), depth + 1, out);
        }
        for run in BASE64_RUN.find_iter(data) {
            let run = run.as_bytes();
            for offset in 0..4.min(run.len()) {
                if let Some(decoded) = base64_lenient(&run[offset..]) {
                    self.search(&decoded, name(transform, "base64"), depth + 1, out);
                }
            }
        }
        for run in HEX_RUN.find_iter(data) {
            let run = run.as_bytes();
            for offset in 0..2 {
                let body = &run[offset..];
                if let Ok(decoded) = hex::decode(&body[..body.len() / 2 * 2]) {
                    self.search(&decoded, name(transform, "hex"), depth + 1, out);
                }
            }
        }
    }
}

/// Transform chains are few and fixed, so they are named statically.
fn name(outer: &'static str, inner: &'static str) -> &'static str {
    match (outer, inner) {
        ("raw", i) => i,
        ("base64", "base64") => "base64+base64",
        ("base64", "hex") => "base64+hex",
        ("base64", "url") => "base64+url",
        ("base64", "separators") => "base64+separators",
        ("base64", "deflate") => "base64+deflate",
        ("hex", "base64") => "hex+base64",
        ("hex", "separators") => "hex+separators",
        ("deflate", "base64") => "deflate+base64",
        ("deflate", "separators") => "deflate+separators",
        (o, _) => o,
    }
}

fn url_decode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'%' if i + 2 < data.len() => match hex::decode(&data[i + 1..i + 3]) {
                Ok(b) => {
                    out.push(b[0]);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn base64_lenient(run: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    // A run may end in a partial quantum; decode the longest whole prefix.
    let usable = run.len() / 4 * 4;
    if usable < 16 {
        return None;
    }
    let body = &run[..usable];
    standard
        .decode(body)
        .or_else(|_| url_safe.decode(body))
        .ok()
}

fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limit = MAX_SCAN as u64;
    if data.starts_with(&[0x1f, 0x8b]) {
        // A truncated stream (a cut capture, a base64 run without its last quantum) still
        // yields what was decoded before the cut.
        let _ = flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out);
    } else if data.len() > 2 && data[0] == 0x78 && matches!(data[1], 0x01 | 0x5e | 0x9c | 0xda) {
        let _ = flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out);
    } else {
        return None;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tokens() -> Vec<Honeytoken> {
        let mut rng = rand::thread_rng();
        CATALOGUE
            .iter()
            .map(|id| Honeytoken::generate(id, &mut rng).unwrap())
            .collect()
    }

    fn found(m: &Matcher, data: &[u8]) -> Vec<(String, &'static str)> {
        m.find(data)
            .into_iter()
            .map(|m| (m.honeytoken, m.transform))
            .collect()
    }

    #[test]
    fn every_catalogue_entry_generates_and_carries_its_core() {
        for t in tokens() {
            assert!(
                t.content.to_ascii_lowercase().contains(&t.core) || t.id == "docker-config",
                "{} does not carry its core",
                t.id
            );
        }
        assert!(Honeytoken::generate("nope", &mut rand::thread_rng()).is_none());
    }

    #[test]
    fn finds_canaries_through_encodings() {
        let tokens = tokens();
        let m = Matcher::new(&tokens);
        let aws = &tokens[0];
        let gh = tokens.iter().find(|t| t.id == "env:GITHUB_TOKEN").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;

        assert_eq!(
            found(&m, aws.content.as_bytes()),
            vec![("aws-credentials".into(), "raw")]
        );
        let dns = format!("{}.dnslog.evil.example", gh.content.replace('_', "-"));
        assert_eq!(found(&m, dns.as_bytes())[0].0, "env:GITHUB_TOKEN");
        let split = format!("{}-{}.x.example", &gh.core[..8], &gh.core[8..]);
        assert_eq!(
            found(&m, split.as_bytes()),
            vec![("env:GITHUB_TOKEN".into(), "separators")]
        );
        for prefix in ["", "x", "xy", "k="] {
            let data = format!("{prefix}{}", b64.encode(format!("t={}", gh.content)));
            assert_eq!(found(&m, data.as_bytes())[0].1, "base64", "{data}");
        }
        let hexed = hex::encode(aws.content.as_bytes());
        assert_eq!(found(&m, hexed.as_bytes())[0].1, "hex");
        let url = format!("k=%41KIA{}", &aws.core.to_ascii_uppercase());
        assert_eq!(found(&m, url.as_bytes())[0].0, "aws-credentials");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(aws.content.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(found(&m, &gz)[0].1, "deflate");
        let b64gz = b64.encode(&gz);
        assert_eq!(found(&m, b64gz.as_bytes())[0].1, "base64+deflate");
        let docker = tokens.iter().find(|t| t.id == "docker-config").unwrap();
        assert_eq!(found(&m, docker.content.as_bytes())[0].1, "base64");
        let reversed: String = gh.content.chars().rev().collect();
        assert_eq!(
            found(&m, reversed.as_bytes()),
            vec![("env:GITHUB_TOKEN".into(), "reversed")]
        );
    }

    #[test]
    fn ordinary_data_has_no_hits() {
        let m = Matcher::new(&tokens());
        for data in [
            &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
            b"aGVsbG8gd29ybGQgdGhpcyBpcyBmaW5l",
            b"0123456789abcdef0123456789abcdef",
            b"",
        ] {
            assert!(m.find(data).is_empty());
        }
    }
}
