//! OSV advisories: loading (JSON, YAML, folders, osv.dev `all.zip`) and version matching with
//! PEP 440 (PyPI) and semver (npm) ordering.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

/// Package ecosystems skillgate extracts dependencies for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    PyPI,
    #[serde(rename = "npm")]
    Npm,
}

impl Ecosystem {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PyPI" => Some(Self::PyPI),
            "npm" => Some(Self::Npm),
            _ => None,
        }
    }

    /// The registry's canonical form of a package name (PEP 503 for PyPI).
    pub fn normalize(self, name: &str) -> String {
        match self {
            Self::PyPI => {
                let lower = name.to_ascii_lowercase();
                let mut out = String::with_capacity(lower.len());
                for c in lower.chars() {
                    let c = if c == '_' || c == '.' { '-' } else { c };
                    if !(c == '-' && out.ends_with('-')) {
                        out.push(c);
                    }
                }
                out
            }
            Self::Npm => name.to_ascii_lowercase(),
        }
    }
}

/// One affected range of an advisory, as OSV events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Range {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
}

/// An advisory for one package.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub summary: String,
    /// OSV `MAL-` records (ossf/malicious-packages): the package is malware.
    pub malicious: bool,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub ranges: Vec<Range>,
    pub versions: Vec<String>,
}

/// Why advisories could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdvisoryError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// Advisories by (ecosystem, normalised name).
#[derive(Debug, Default, Clone)]
pub struct AdvisoryDb {
    by_package: HashMap<(Ecosystem, String), Vec<Advisory>>,
}

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    withdrawn: Option<String>,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct OsvPackage {
    name: String,
    ecosystem: String,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<HashMap<String, serde_json::Value>>,
}

fn value_str(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl AdvisoryDb {
    pub fn len(&self) -> usize {
        self.by_package.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_package.is_empty()
    }

    pub fn insert(&mut self, a: Advisory) {
        let key = (a.ecosystem, a.ecosystem.normalize(&a.name));
        self.by_package.entry(key).or_default().push(a);
    }

    /// SHA-256 over the sorted (id, ecosystem, package) of every advisory: it changes when an
    /// import adds, drops or retargets a record.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut keys: Vec<String> = self
            .all()
            .map(|a| format!("{}\0{:?}\0{}", a.id, a.ecosystem, a.name))
            .collect();
        keys.sort();
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(keys.join("\n").as_bytes()))
        )
    }

    pub fn all(&self) -> impl Iterator<Item = &Advisory> {
        self.by_package.values().flatten()
    }

    /// Parses one OSV record (JSON or YAML). Records for other ecosystems and withdrawn records
    /// yield nothing.
    pub fn parse_record(text: &str) -> Result<Vec<Advisory>, String> {
        let rec: OsvRecord = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| e.to_string())?
        } else {
            serde_norway::from_str(text).map_err(|e| e.to_string())?
        };
        if rec.withdrawn.is_some() {
            return Ok(Vec::new());
        }
        let malicious = rec.id.starts_with("MAL-");
        let summary = rec
            .summary
            .or(rec.details)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>();
        let mut out = Vec::new();
        for aff in rec.affected {
            let Some(pkg) = aff.package else { continue };
            let Some(ecosystem) = Ecosystem::parse(&pkg.ecosystem) else {
                continue;
            };
            let mut ranges = Vec::new();
            for r in aff
                .ranges
                .iter()
                .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
            {
                let mut current = Range::default();
                for ev in &r.events {
                    if let Some(v) = ev.get("introduced").and_then(value_str) {
                        if current.introduced.is_some() {
                            ranges.push(std::mem::take(&mut current));
                        }
                        current.introduced = Some(v);
                    } else if let Some(v) = ev.get("fixed").and_then(value_str) {
                        current.fixed = Some(v);
                        ranges.push(std::mem::take(&mut current));
                    } else if let Some(v) = ev.get("last_affected").and_then(value_str) {
                        current.last_affected = Some(v);
                        ranges.push(std::mem::take(&mut current));
                    }
                }
                if current.introduced.is_some() {
                    ranges.push(current);
                }
            }
            out.push(Advisory {
                id: rec.id.clone(),
                summary: summary.clone(),
                malicious,
                ecosystem,
                name: pkg.name,
                ranges,
                versions: aff.versions.iter().filter_map(value_str).collect(),
            });
        }
        Ok(out)
    }

    /// Loads OSV records from a file, a folder (recursively) or an osv.dev `all.zip`. Returns how
    /// many advisories were loaded and the records that failed to parse (path, reason).
    pub fn load_path(
        &mut self,
        path: &Path,
    ) -> Result<(usize, Vec<(String, String)>), AdvisoryError> {
        let err = |m: String| AdvisoryError::Read {
            path: path.display().to_string(),
            message: m,
        };
        let mut loaded = 0;
        let mut bad = Vec::new();
        let mut take = |name: String, text: &str, db: &mut Self| match Self::parse_record(text) {
            Ok(list) => {
                loaded += list.len();
                list.into_iter().for_each(|a| db.insert(a));
            }
            Err(e) => bad.push((name, e)),
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.is_dir() {
            for entry in walkdir::WalkDir::new(path)
                .follow_links(false)
                .sort_by_file_name()
            {
                let entry = entry.map_err(|e| err(e.to_string()))?;
                let p = entry.path();
                if entry.file_type().is_file()
                    && p.extension()
                        .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
                {
                    let text = std::fs::read_to_string(p).map_err(|e| err(e.to_string()))?;
                    take(p.display().to_string(), &text, self);
                }
            }
        } else if path.extension().is_some_and(|e| e == "zip") {
            let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
            let mut zip = zip::ZipArchive::new(file).map_err(|e| err(e.to_string()))?;
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(|e| err(e.to_string()))?;
                let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
                if !name.ends_with(".json") {
                    continue;
                }
                let mut text = String::new();
                if (&mut entry)
                    .take(16 << 20)
                    .read_to_string(&mut text)
                    .is_ok()
                {
                    take(name, &text, self);
                }
            }
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            take(path.display().to_string(), &text, self);
        }
        Ok((loaded, bad))
    }

    /// Advisories affecting `name` at `version` (exact version).
    pub fn affecting(&self, eco: Ecosystem, name: &str, version: &str) -> Vec<&Advisory> {
        let Some(list) = self.by_package.get(&(eco, eco.normalize(name))) else {
            return Vec::new();
        };
        list.iter().filter(|a| affects(a, version)).collect()
    }

    /// Malicious-package records for `name`, whatever the version.
    pub fn malicious(&self, eco: Ecosystem, name: &str) -> Vec<&Advisory> {
        self.by_package
            .get(&(eco, eco.normalize(name)))
            .map(|l| l.iter().filter(|a| a.malicious).collect())
            .unwrap_or_default()
    }
}

/// Compares two versions in an ecosystem's order; `None` when either does not parse.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Option<std::cmp::Ordering> {
    match eco {
        Ecosystem::PyPI => {
            let a = pep440_rs::Version::from_str(a).ok()?;
            let b = pep440_rs::Version::from_str(b).ok()?;
            Some(a.cmp(&b))
        }
        Ecosystem::Npm => {
            let a = semver::Version::parse(a.trim_start_matches('v')).ok()?;
            let b = semver::Version::parse(b.trim_start_matches('v')).ok()?;
            Some(a.cmp(&b))
        }
    }
}

fn affects(a: &Advisory, version: &str) -> bool {
    if a.malicious && a.ranges.is_empty() && a.versions.is_empty() {
        return true;
    }
    if a.versions.iter().any(|v| {
        v == version || compare(a.ecosystem, v, version) == Some(std::cmp::Ordering::Equal)
    }) {
        return true;
    }
    a.ranges.iter().any(|r| {
        use std::cmp::Ordering::*;
        let after_intro = match r.introduced.as_deref() {
            None | Some("0") => true,
            Some(i) => matches!(compare(a.ecosystem, version, i), Some(Greater | Equal)),
        };
        let before_end = match (&r.fixed, &r.last_affected) {
            (Some(f), _) => compare(a.ecosystem, version, f) == Some(Less),
            (None, Some(l)) => matches!(compare(a.ecosystem, version, l), Some(Less | Equal)),
            (None, None) => true,
        };
        after_intro && before_end
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = "id: PYSEC-2019-26\ndetails: XSS\naffected:\n- package:\n    name: Invenio_Previewer\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 1.0.0a12\n";

    #[test]
    fn pep440_ranges() {
        let mut db = AdvisoryDb::default();
        AdvisoryDb::parse_record(REC)
            .unwrap()
            .into_iter()
            .for_each(|a| db.insert(a));
        assert_eq!(
            db.affecting(Ecosystem::PyPI, "invenio-previewer", "1.0.0a11")
                .len(),
            1
        );
        // 1.0.0a12 is the fix; 1.0.0 is after it; 1.0.0a2 < 1.0.0a12 under PEP 440, not lexically.
        assert!(
            db.affecting(Ecosystem::PyPI, "invenio-previewer", "1.0.0a12")
                .is_empty()
        );
        assert!(
            db.affecting(Ecosystem::PyPI, "invenio-previewer", "1.0.0")
                .is_empty()
        );
        assert_eq!(
            db.affecting(Ecosystem::PyPI, "invenio.previewer", "1.0.0a2")
                .len(),
            1
        );
    }

    #[test]
    fn semver_ranges_and_malicious() {
        let rec = r#"{"id":"MAL-2024-1","summary":"malware","affected":[{"package":{"name":"evil-pkg","ecosystem":"npm"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.2.0"},{"last_affected":"1.2.9"}]}]}]}"#;
        let mut db = AdvisoryDb::default();
        AdvisoryDb::parse_record(rec)
            .unwrap()
            .into_iter()
            .for_each(|a| db.insert(a));
        assert_eq!(db.affecting(Ecosystem::Npm, "evil-pkg", "1.2.10").len(), 0);
        assert_eq!(db.affecting(Ecosystem::Npm, "evil-pkg", "1.2.9").len(), 1);
        assert_eq!(db.malicious(Ecosystem::Npm, "EVIL-pkg").len(), 1);
    }
}
