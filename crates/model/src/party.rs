//! Whose a credential is, and whether a host belongs to that party.
//!
//! A key sent to the service it belongs to (`SLACK_BOT_TOKEN` to `slack.com`, `ACME_API_KEY` to
//! `api.acme.com`) is use; the same key sent anywhere else, or a credential no service owns
//! (`~/.ssh`, a wallet, a browser store), leaving the machine, is theft. G1 (secret flows,
//! correlations), G2 (directives) and G3 (honeytokens seen on the wire) all ask the question
//! here, so they answer it the same way.

/// Name fragments that say what kind of secret a variable is, not whose.
const GENERIC_PARTS: &[&str] = &[
    "API",
    "APIKEY",
    "KEY",
    "KEYS",
    "TOKEN",
    "SECRET",
    "ACCESS",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PRIVATE",
    "CLIENT",
    "AUTH",
    "BOT",
    "APP",
    "USER",
    "ID",
    "PERSONAL",
    "OAUTH",
    "BEARER",
    "SERVICE",
    "ACCOUNT",
    "DATABASE",
    "DB",
    "URL",
    "DSN",
    "WEBHOOK",
    "SIGNING",
    "JWT",
    "SESSION",
    "COOKIE",
    "MY",
    "PROD",
    "DEV",
    "SK",
    "PAT",
    "REFRESH",
    "CREDENTIALS",
    "CREDENTIAL",
    "ADMIN",
    "ROOT",
    "MASTER",
    "SECRETS",
    "ENV",
    "DEFAULT",
    "SSH",
    "CONNECTION",
    "STRING",
    "ENCRYPTION",
];

/// Services whose keys are common in skills, and the hosts that receive them. A key of one of
/// these sent to any other host is going where it does not belong.
const KNOWN_VENDORS: &[(&str, &[&str])] = &[
    ("anthropic", &["anthropic.com"]),
    ("openai", &["openai.com", "openai.azure.com"]),
    ("github", &["github.com", "githubusercontent.com"]),
    ("gitlab", &["gitlab"]),
    ("slack", &["slack.com"]),
    ("discord", &["discord.com", "discordapp.com"]),
    ("telegram", &["telegram.org"]),
    ("stripe", &["stripe.com"]),
    ("twilio", &["twilio.com"]),
    ("sendgrid", &["sendgrid.com", "sendgrid.net"]),
    ("mailgun", &["mailgun"]),
    ("google", &["googleapis.com", "google.com"]),
    ("amazonaws", &["amazonaws.com"]),
    ("azure", &["azure.com", "azure.net", "microsoft.com"]),
    ("npm", &["npmjs.org", "npmjs.com"]),
    ("docker", &["docker.io", "docker.com"]),
    ("huggingface", &["huggingface.co", "hf.co"]),
    ("notion", &["notion.com", "notion.so"]),
    ("linear", &["linear.app"]),
    ("vercel", &["vercel.com"]),
    ("cloudflare", &["cloudflare.com"]),
    ("datadog", &["datadoghq"]),
    ("sentry", &["sentry.io"]),
    ("pypi", &["pypi.org"]),
    ("supabase", &["supabase.co", "supabase.com"]),
    ("heroku", &["heroku.com"]),
    ("shopify", &["shopify.com", "myshopify.com"]),
    ("atlassian", &["atlassian.net", "atlassian.com"]),
    ("jira", &["atlassian.net", "atlassian.com"]),
];

/// The usual name behind an abbreviation in a secret's name.
const ALIASES: &[(&str, &str)] = &[
    ("GH", "github"),
    ("HF", "huggingface"),
    ("GCP", "google"),
    ("GCLOUD", "google"),
    ("GEMINI", "google"),
    ("AWS", "amazonaws"),
    ("AZ", "azure"),
    ("TG", "telegram"),
];

/// Credential stores that belong to the user and to no remote service: nothing legitimate sends
/// them anywhere.
const PERSONAL_STORES: &[&str] = &[
    ".ssh",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    ".gnupg",
    "keychain",
    "wallet",
    "seed",
    "mnemonic",
    "cookies",
    "login data",
    "local state",
    ".bash_history",
    ".zsh_history",
];

/// The parts of a secret's name that say whose it is (`SLACK_BOT_TOKEN` → `SLACK`), upper case.
pub fn owner_parts(secret: &str) -> impl Iterator<Item = String> + '_ {
    secret
        .split(['_', '-', '.', '/'])
        .filter(|part| part.len() >= 2)
        .map(str::to_ascii_uppercase)
        .filter(|part| !GENERIC_PARTS.contains(&part.as_str()))
}

/// The usual name behind an abbreviation in a secret's name (`GH` → `github`).
pub fn alias(part: &str) -> Option<&'static str> {
    let part = part.to_ascii_uppercase();
    ALIASES
        .iter()
        .find(|(abbreviation, _)| *abbreviation == part)
        .map(|(_, name)| *name)
}

/// Whose key it is, as lowercase names: `SLACK_BOT_TOKEN` → `slack`, `GH_TOKEN` → `github`,
/// `~/.config/acme/credentials.json` → `acme` (after `config`). A personal store (`~/.ssh/id_rsa`)
/// has no owner.
pub fn owners(secret: &str) -> Vec<String> {
    let lower = secret.to_ascii_lowercase();
    if PERSONAL_STORES.iter().any(|s| lower.contains(s)) {
        return Vec::new();
    }
    if secret.contains('/') {
        // A path: the folder names the tool (`~/.config/gh/hosts.yml`, `~/.aws/credentials`).
        return secret
            .split('/')
            .map(|part| part.trim_start_matches('.'))
            .filter(|part| {
                part.len() >= 2
                    && !part.contains('.')
                    && !["config", "home", "etc", "var", "users", "credentials", "~"].contains(part)
                    && !part.starts_with('$')
            })
            .map(|part| alias(part).map_or_else(|| part.to_ascii_lowercase(), str::to_string))
            .take(1)
            .collect();
    }
    owner_parts(secret)
        .map(|part| alias(&part).map_or_else(|| part.to_ascii_lowercase(), str::to_string))
        .collect()
}

/// Whether `owner` (a name from [`owners`]) is a service whose hosts are known.
pub fn is_known_vendor(owner: &str) -> bool {
    KNOWN_VENDORS.iter().any(|(v, _)| *v == owner)
}

/// Whether `host` belongs to `owner`: a known vendor's host, or a host whose name contains the
/// owner's name (`api.acme.com` for `acme`).
pub fn host_belongs_to(host: &str, owner: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if owner.len() < 2 {
        return false;
    }
    let known = KNOWN_VENDORS
        .iter()
        .find(|(v, _)| *v == owner)
        .map(|(_, hosts)| *hosts);
    if let Some(hosts) = known {
        return hosts.iter().any(|h| {
            host == *h || host.ends_with(&format!(".{h}")) || (!h.contains('.') && host.contains(h))
        });
    }
    let squeezed: String = host.chars().filter(char::is_ascii_alphanumeric).collect();
    owner.len() >= 3 && squeezed.contains(owner)
}

/// Whether sending `secret` (a variable name or credential path) to `host` is sending it to the
/// service it belongs to.
pub fn sent_to_own_service(secret: &str, host: &str) -> bool {
    owners(secret).iter().any(|o| host_belongs_to(host, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_belongs_to_the_service_its_name_names() {
        assert_eq!(owners("SLACK_BOT_TOKEN"), vec!["slack"]);
        assert_eq!(owners("GH_TOKEN"), vec!["github"]);
        assert_eq!(owners("~/.config/acme/credentials.json"), vec!["acme"]);
        assert!(owners("~/.ssh/id_rsa").is_empty());
        assert!(sent_to_own_service("ACME_API_KEY", "api.acme.com"));
        assert!(sent_to_own_service("GITHUB_TOKEN", "api.github.com"));
        assert!(sent_to_own_service("OPENAI_API_KEY", "api.openai.com"));
        assert!(!sent_to_own_service("GITHUB_TOKEN", "collect.example.net"));
        assert!(!sent_to_own_service(
            "OPENAI_API_KEY",
            "openai-proxy.example.net"
        ));
        assert!(!sent_to_own_service("~/.ssh/id_rsa", "ssh.example.com"));
        assert!(!sent_to_own_service("API_KEY", "api.example.com"));
    }
}
