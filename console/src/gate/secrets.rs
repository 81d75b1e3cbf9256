//! The gate's secrets check: gitleaks over the repository's whole history, as the
//! pipeline's secrets stage runs it. No gitleaks, or a gitleaks that fails without a
//! report, cannot tell.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{Check, CheckStatus};

/// gitleaks on PATH, else where `scripts/deps.sh tools` builds it in the repository.
pub fn find_gitleaks(repository: &Path) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("gitleaks"));
    on_path
        .chain(std::iter::once(
            repository.join("target/tools/bin/gitleaks"),
        ))
        .find(|candidate| candidate.is_file())
}

/// One finding of gitleaks' JSON report (its secret is redacted before it is written).
#[derive(Debug, Deserialize)]
struct Finding {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(rename = "File")]
    file: String,
    #[serde(rename = "StartLine", default)]
    start_line: u64,
    #[serde(rename = "Commit", default)]
    commit: String,
}

/// Runs gitleaks over `repository`'s history.
pub fn scan(repository: &Path) -> Check {
    let named = |status, detail: String| Check::new("secrets", status, detail);
    let Some(gitleaks) = find_gitleaks(repository) else {
        return named(
            CheckStatus::Unknown,
            "gitleaks is not on PATH nor in target/tools/bin (scripts/deps.sh tools)".to_owned(),
        );
    };
    let report = match ReportFile::create() {
        Ok(file) => file,
        Err(error) => {
            return named(
                CheckStatus::Unknown,
                format!("no file for gitleaks' report: {error}"),
            )
        }
    };
    let output = Command::new(&gitleaks)
        .args(["git", "--no-banner", "--no-color", "--redact"])
        .args(["--log-level", "error", "--report-format", "json"])
        .arg("--report-path")
        .arg(&report.0)
        .arg(repository)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            return named(
                CheckStatus::Unknown,
                format!("cannot run {}: {error}", gitleaks.display()),
            )
        }
    };
    let findings: Option<Vec<Finding>> = std::fs::read_to_string(&report.0)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    judge(
        output.status.code(),
        findings,
        &String::from_utf8_lossy(&output.stderr),
    )
}

/// gitleaks' report, created empty (never an existing file) and removed on drop.
struct ReportFile(PathBuf);

impl ReportFile {
    fn create() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "opsbox-gate-gitleaks-{}-{nanos}.json",
            std::process::id()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Self(path))
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// gitleaks exits 0 when clean and 1 with leaks, but also 1 on its own errors: only a
/// report with findings is a leak, only exit 0 with an empty report is clean.
fn judge(exit_code: Option<i32>, findings: Option<Vec<Finding>>, stderr: &str) -> Check {
    let named = |status, detail: String| Check::new("secrets", status, detail);
    match (exit_code, findings) {
        (_, Some(findings)) if !findings.is_empty() => {
            let listed: Vec<String> = findings
                .iter()
                .take(5)
                .map(|finding| {
                    format!(
                        "{} in {}:{} ({})",
                        finding.rule_id,
                        finding.file,
                        finding.start_line,
                        finding.commit.get(..12).unwrap_or(&finding.commit)
                    )
                })
                .collect();
            named(
                CheckStatus::Fail,
                format!(
                    "gitleaks found {} secret(s) in the history: {}",
                    findings.len(),
                    listed.join(", ")
                ),
            )
        }
        (Some(0), Some(_)) => named(
            CheckStatus::Pass,
            "gitleaks: no secret in the history".to_owned(),
        ),
        (code, _) => named(
            CheckStatus::Unknown,
            format!(
                "gitleaks failed (exit {}) without a report: {}",
                code.map_or_else(|| "by a signal".to_owned(), |code| code.to_string()),
                stderr.trim().lines().last().unwrap_or("no message")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str) -> Finding {
        Finding {
            rule_id: rule.to_owned(),
            file: "config.yaml".to_owned(),
            start_line: 2,
            commit: "0123456789abcdef".to_owned(),
        }
    }

    #[test]
    fn only_a_report_decides() {
        let leak = judge(Some(1), Some(vec![finding("github-pat")]), "");
        assert_eq!(leak.status, CheckStatus::Fail);
        assert_eq!(
            leak.detail,
            "gitleaks found 1 secret(s) in the history: github-pat in config.yaml:2 (0123456789ab)"
        );
        assert_eq!(
            judge(Some(0), Some(Vec::new()), "").status,
            CheckStatus::Pass
        );
        let broken = judge(Some(1), None, "fatal: not a git repository\n");
        assert_eq!(broken.status, CheckStatus::Unknown);
        assert!(broken.detail.ends_with("fatal: not a git repository"));
        assert_eq!(
            judge(None, Some(Vec::new()), "").status,
            CheckStatus::Unknown
        );
    }
}
