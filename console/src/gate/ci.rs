//! The gate's CI check: the newest CI run of the commit is green, read from evidence the
//! pipeline hands over (GitHub is not reachable from here), or from a local run of
//! `scripts/pipeline_local.sh`. Without evidence the check cannot tell.

use serde::Deserialize;

use super::{Check, CheckStatus};

/// One run as `gh run list --commit SHA --json headSha,status,conclusion,url` prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiRun {
    pub head_sha: String,
    /// `completed`, `in_progress`, `queued`, ...; absent means completed.
    #[serde(default)]
    pub status: Option<String>,
    /// `success`, `failure`, `cancelled`, ...; empty while it runs.
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// The evidence file: `gh`'s array (newest first) or one run.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Evidence {
    Runs(Vec<CiRun>),
    One(CiRun),
}

/// The check of the runs in `evidence` (JSON text from `source`) for `commit`.
pub fn check_evidence(evidence: &str, source: &str, commit: &str) -> Check {
    let named = |status, detail: String| Check::new("ci", status, detail);
    let runs = match serde_json::from_str::<Evidence>(evidence) {
        Ok(Evidence::Runs(runs)) => runs,
        Ok(Evidence::One(run)) => vec![run],
        Err(error) => {
            return named(
                CheckStatus::Unknown,
                format!(
                    "{source} is not a CI result (expected `gh run list --json \
                     headSha,status,conclusion`): {error}"
                ),
            )
        }
    };
    // gh lists the newest first: the first run of this commit is its last one.
    let Some(run) = runs
        .iter()
        .find(|run| !commit.is_empty() && run.head_sha == commit)
    else {
        return named(
            CheckStatus::Unknown,
            format!("no CI run of commit {} in {source}", short(commit)),
        );
    };
    let link = run
        .url
        .as_deref()
        .map_or_else(String::new, |url| format!(" ({url})"));
    let status = run.status.as_deref().unwrap_or("completed");
    if status != "completed" {
        return named(
            CheckStatus::Unknown,
            format!(
                "the last CI run of {} is {status}, not finished{link}",
                short(commit)
            ),
        );
    }
    match run.conclusion.as_deref() {
        Some("success") => named(
            CheckStatus::Pass,
            format!("the last CI run of {} succeeded{link}", short(commit)),
        ),
        Some(conclusion) if !conclusion.is_empty() => named(
            CheckStatus::Fail,
            format!(
                "the last CI run of {} ended {conclusion}{link}",
                short(commit)
            ),
        ),
        _ => named(
            CheckStatus::Unknown,
            format!(
                "the last CI run of {} has no conclusion{link}",
                short(commit)
            ),
        ),
    }
}

/// What a local pipeline run proves: a green run of a tree with uncommitted changes to
/// tracked files tested something other than the commit.
pub fn check_local_run(
    exit_code: Option<i32>,
    tree_clean: bool,
    commit: &str,
    tail: &str,
) -> Check {
    let named = |status, detail: String| Check::new("ci", status, detail);
    match exit_code {
        Some(0) if tree_clean => named(
            CheckStatus::Pass,
            format!("scripts/pipeline_local.sh passed on {}", short(commit)),
        ),
        Some(0) => named(
            CheckStatus::Unknown,
            format!(
                "scripts/pipeline_local.sh passed, but on uncommitted changes: not a run of {}",
                short(commit)
            ),
        ),
        Some(code) => named(
            CheckStatus::Fail,
            format!("scripts/pipeline_local.sh failed (exit {code}): {tail}"),
        ),
        None => named(
            CheckStatus::Unknown,
            format!("scripts/pipeline_local.sh did not finish: {tail}"),
        ),
    }
}

/// The check when nothing was handed over.
pub fn no_evidence() -> Check {
    Check::new(
        "ci",
        CheckStatus::Unknown,
        "no CI evidence: pass --ci-result FILE (gh run list --commit SHA --json \
         headSha,status,conclusion,url) or --local to run scripts/pipeline_local.sh",
    )
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_newest_run_of_the_commit_decides() {
        let evidence = format!(
            r#"[{{"headSha":"{COMMIT}","status":"completed","conclusion":"failure"}},
                {{"headSha":"{COMMIT}","status":"completed","conclusion":"success"}}]"#
        );
        let check = check_evidence(&evidence, "ci.json", COMMIT);
        assert_eq!(check.status, CheckStatus::Fail);
        assert!(check.detail.contains("ended failure"), "{}", check.detail);
        let green =
            format!(r#"{{"headSha":"{COMMIT}","conclusion":"success","url":"https://ci/1"}}"#);
        let check = check_evidence(&green, "ci.json", COMMIT);
        assert_eq!(check.status, CheckStatus::Pass);
        assert_eq!(
            check.detail,
            "the last CI run of 0123456789ab succeeded (https://ci/1)"
        );
    }

    #[test]
    fn another_commit_a_running_run_or_junk_cannot_tell() {
        let other = r#"[{"headSha":"ffff","status":"completed","conclusion":"success"}]"#;
        assert_eq!(
            check_evidence(other, "ci.json", COMMIT).status,
            CheckStatus::Unknown
        );
        let running =
            format!(r#"[{{"headSha":"{COMMIT}","status":"in_progress","conclusion":""}}]"#);
        let check = check_evidence(&running, "ci.json", COMMIT);
        assert_eq!(check.status, CheckStatus::Unknown);
        assert!(check.detail.contains("in_progress"), "{}", check.detail);
        let check = check_evidence("green!", "ci.json", COMMIT);
        assert_eq!(check.status, CheckStatus::Unknown);
        assert!(check.detail.starts_with("ci.json is not a CI result"));
        // Without a commit (not a git repository) nothing can match.
        let any = r#"[{"headSha":"","conclusion":"success"}]"#;
        assert_eq!(
            check_evidence(any, "ci.json", "").status,
            CheckStatus::Unknown
        );
        assert_eq!(no_evidence().status, CheckStatus::Unknown);
    }

    #[test]
    fn a_local_run_counts_only_on_a_clean_tree() {
        assert_eq!(
            check_local_run(Some(0), true, COMMIT, "").status,
            CheckStatus::Pass
        );
        assert_eq!(
            check_local_run(Some(0), false, COMMIT, "").status,
            CheckStatus::Unknown
        );
        let failed = check_local_run(Some(1), true, COMMIT, "pipeline: stopped at lint");
        assert_eq!(failed.status, CheckStatus::Fail);
        assert!(failed.detail.ends_with("stopped at lint"));
        assert_eq!(
            check_local_run(None, true, COMMIT, "killed").status,
            CheckStatus::Unknown
        );
    }
}
