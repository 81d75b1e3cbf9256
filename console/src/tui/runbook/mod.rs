//! Runbooks in the console: the SLO's runbook from `docs/runbooks/`, with the live values
//! it talks about filled in: burn rates, budget left, the canary and its weight, the last
//! rollout event.
//!
//! Three ways values reach the text: a "Live values" block above it; `{{placeholder}}`s
//! in the runbook (see `docs/runbooks/console.md` for the list); and the recording rules
//! a runbook quotes (`slo:sli_error:ratio_rate5m`, `slo:period_error_budget_remaining:ratio`)
//! annotated with what they measure now.

mod live;
mod pane;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use live::{fill, live_values, LiveValues};
pub use pane::RunbookPane;

/// The largest runbook read; a runbook is a page, not a book.
pub const MAX_RUNBOOK_BYTES: u64 = 256 * 1024;

/// Where a runbook's relative path is looked up: the current directory and its parents
/// (the console is usually started in the repository), then the state directory's.
pub fn locate(runbook: &str, state_dir: &Path) -> Result<PathBuf, String> {
    let path = Path::new(runbook);
    if path.is_absolute() {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("the runbook {runbook} does not exist"))
        };
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    let state_dir = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    roots.extend(state_dir.ancestors().map(Path::to_path_buf));
    roots
        .iter()
        .map(|root| root.join(path))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "the runbook {runbook} is not found under the current directory, the state \
                 directory or their parents; start the console from the repository"
            )
        })
}

/// Reads a runbook, at most [`MAX_RUNBOOK_BYTES`].
pub fn read(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_RUNBOOK_BYTES)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text)
}

#[cfg(test)]
mod tests;
