//! The SBOM delta the approver reviews: crates added, removed and changed version between
//! the deployed release's CycloneDX SBOM and the candidate's, by the rule of
//! `scripts/sbom.sh diff` (cargo components only; a crate present twice lists both
//! versions).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::{Check, CheckStatus};

/// crate name → its versions in one SBOM.
type Components = BTreeMap<String, BTreeSet<String>>;

/// What changed from the baseline to the candidate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SbomDelta {
    /// `name version`
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `name old versions -> new versions`
    pub changed: Vec<String>,
}

impl SbomDelta {
    /// The lines of `scripts/sbom.sh diff`, in name order, then its count line.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<(String, String)> = Vec::new();
        for (sign, list) in [
            ("+", &self.added),
            ("-", &self.removed),
            ("~", &self.changed),
        ] {
            lines.extend(list.iter().map(|entry| {
                let name = entry.split(' ').next().unwrap_or_default().to_owned();
                (name, format!("{sign} {entry}"))
            }));
        }
        lines.sort();
        let mut out: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
        out.push(format!(
            "sbom-diff: {} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        ));
        out
    }
}

/// The cargo components of a CycloneDX JSON document, wherever they are nested.
pub fn components(document: &serde_json::Value) -> anyhow::Result<Components> {
    if document
        .get("bomFormat")
        .and_then(serde_json::Value::as_str)
        != Some("CycloneDX")
    {
        anyhow::bail!("not a CycloneDX JSON document");
    }
    let mut found = Components::new();
    collect(document, &mut found);
    Ok(found)
}

fn collect(value: &serde_json::Value, found: &mut Components) {
    match value {
        serde_json::Value::Object(object) => {
            let purl = object.get("purl").and_then(serde_json::Value::as_str);
            if purl.is_some_and(|purl| purl.starts_with("pkg:cargo/")) {
                let text = |key: &str| {
                    object
                        .get(key)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                found
                    .entry(text("name"))
                    .or_default()
                    .insert(text("version"));
            }
            object.values().for_each(|child| collect(child, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|child| collect(child, found)),
        _ => {}
    }
}

fn joined(versions: &BTreeSet<String>) -> String {
    versions.iter().cloned().collect::<Vec<_>>().join(" ")
}

pub fn delta(baseline: &Components, candidate: &Components) -> SbomDelta {
    let mut delta = SbomDelta::default();
    for (name, old) in baseline {
        match candidate.get(name) {
            None => delta.removed.push(format!("{name} {}", joined(old))),
            Some(new) if new != old => {
                delta
                    .changed
                    .push(format!("{name} {} -> {}", joined(old), joined(new)))
            }
            Some(_) => {}
        }
    }
    for (name, new) in candidate {
        if !baseline.contains_key(name) {
            delta.added.push(format!("{name} {}", joined(new)));
        }
    }
    delta
}

fn read(path: &Path) -> anyhow::Result<Components> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    components(&document).with_context(|| path.display().to_string())
}

/// The delta between two SBOM files, as a check (unreadable input cannot tell) and the
/// delta for the approver.
pub fn review(baseline: Option<&Path>, candidate: &Path) -> (Check, Option<SbomDelta>) {
    let named = |status, detail: String| Check::new("sbom", status, detail);
    let Some(baseline) = baseline else {
        return (
            named(
                CheckStatus::Unknown,
                "no SBOM of the deployed release to compare with (--baseline-sbom FILE)".to_owned(),
            ),
            None,
        );
    };
    match (read(baseline), read(candidate)) {
        (Ok(old), Ok(new)) => {
            let delta = delta(&old, &new);
            let summary = delta.lines().pop().unwrap_or_default();
            (
                named(
                    CheckStatus::Pass,
                    format!(
                        "{summary} from {} to {} (for the approver to review)",
                        baseline.display(),
                        candidate.display()
                    ),
                ),
                Some(delta),
            )
        }
        (Err(error), _) | (_, Err(error)) => (
            named(
                CheckStatus::Unknown,
                format!("no SBOM delta: {error:#} (scripts/sbom.sh generate makes them)"),
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture of `scripts/test-supply-chain.sh`'s sbom_diff, nested one level.
    fn sbom(crates: &[(&str, &str)]) -> serde_json::Value {
        let components: Vec<serde_json::Value> = crates
            .iter()
            .map(|(name, version)| {
                serde_json::json!({
                    "type": "library", "name": name, "version": version,
                    "purl": format!("pkg:cargo/{name}@{version}")
                })
            })
            .collect();
        serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "metadata": { "component": { "name": "opsbox", "version": "0.1.0",
                                         "purl": "pkg:cargo/opsbox@0.1.0" } },
            "components": [{ "name": "group", "purl": "pkg:generic/x", "components": components }]
        })
    }

    #[test]
    fn the_delta_matches_the_scripts_diff_of_the_same_fixture() {
        let old = sbom(&[
            ("axum", "0.7.5"),
            ("tokio", "1.40.0"),
            ("syn", "1.0.109"),
            ("syn", "2.0.111"),
            ("time", "0.3.36"),
        ]);
        let new = sbom(&[
            ("axum", "0.8.1"),
            ("tokio", "1.40.0"),
            ("syn", "2.0.111"),
            ("serde", "1.0.210"),
            ("openssl", "0.10.66"),
        ]);
        let delta = delta(
            &components(&old).expect("sbom"),
            &components(&new).expect("sbom"),
        );
        assert_eq!(
            delta.lines(),
            [
                "~ axum 0.7.5 -> 0.8.1",
                "+ openssl 0.10.66",
                "+ serde 1.0.210",
                "~ syn 1.0.109 2.0.111 -> 2.0.111",
                "- time 0.3.36",
                "sbom-diff: 2 added, 1 removed, 2 changed",
            ]
        );
        assert!(components(&serde_json::json!({ "not": "an sbom" })).is_err());
    }

    #[test]
    fn a_missing_or_unreadable_baseline_cannot_tell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let candidate = dir.path().join("new.cdx.json");
        std::fs::write(&candidate, sbom(&[("tokio", "1.40.0")]).to_string()).expect("write");
        let (check, delta) = review(None, &candidate);
        assert_eq!((check.status, delta), (CheckStatus::Unknown, None));
        let junk = dir.path().join("junk.json");
        std::fs::write(&junk, "{}").expect("write");
        let (check, _) = review(Some(&junk), &candidate);
        assert_eq!(check.status, CheckStatus::Unknown);
        assert!(check.detail.contains("not a CycloneDX"), "{}", check.detail);
        let (check, delta) = review(Some(&candidate), &candidate);
        assert_eq!(check.status, CheckStatus::Pass);
        assert_eq!(delta.expect("a delta"), SbomDelta::default());
    }
}
