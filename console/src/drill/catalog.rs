//! Where drills come from: a directory of YAML files, or the built-in ones.
//!
//! `--drills-dir` (or `OPSBOX_DRILLS_DIR`) names the directory; without it,
//! `observability/drills` under the current directory is used when it exists (so a
//! drill edited in the repository runs without a rebuild), and otherwise the drills
//! compiled into the binary, so `opsbox drill` works from anywhere.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;

use super::spec::{Action, Drill, DuringProbe, SteadyProbe};
use crate::chaos::{check_duration, FaultRequest};
use crate::load::{KindMix, Mix, MAX_RPS};

/// The directory searched under the current directory when none is given.
pub const DEFAULT_DRILLS_DIR: &str = "observability/drills";

/// The longest any wait, timeout, window or recovery bound may be: a drill is an
/// experiment of minutes, and a typo of `20m` for `20s` should be refused.
pub const MAX_DRILL_STEP: Duration = Duration::from_secs(15 * 60);

/// The most drill files read from one directory.
const MAX_DRILL_FILES: usize = 200;

/// The built-in drills, compiled in.
const BUILT_IN: [(&str, &str); 5] = [
    (
        "worker-crash.yaml",
        include_str!("../../../observability/drills/worker-crash.yaml"),
    ),
    (
        "redis-outage.yaml",
        include_str!("../../../observability/drills/redis-outage.yaml"),
    ),
    (
        "postgres-outage.yaml",
        include_str!("../../../observability/drills/postgres-outage.yaml"),
    ),
    (
        "api-instance-kill.yaml",
        include_str!("../../../observability/drills/api-instance-kill.yaml"),
    ),
    (
        "bad-canary.yaml",
        include_str!("../../../observability/drills/bad-canary.yaml"),
    ),
];

/// Where the drills of a catalog were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillSource {
    Directory(PathBuf),
    BuiltIn,
}

impl std::fmt::Display for DrillSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrillSource::Directory(dir) => write!(f, "{}", dir.display()),
            DrillSource::BuiltIn => f.write_str("the drills built into opsbox"),
        }
    }
}

/// Every drill of one source, sorted by name.
#[derive(Debug, Clone)]
pub struct DrillCatalog {
    pub source: DrillSource,
    pub drills: Vec<Drill>,
}

impl DrillCatalog {
    /// The catalog from `dir`, or from the default places (see the module doc).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = dir {
            anyhow::ensure!(
                dir.is_dir(),
                "the drills directory {} does not exist",
                dir.display()
            );
            return Self::from_dir(dir);
        }
        let default = Path::new(DEFAULT_DRILLS_DIR);
        if default.is_dir() {
            return Self::from_dir(default);
        }
        Self::built_in()
    }

    pub fn built_in() -> anyhow::Result<Self> {
        let drills = BUILT_IN
            .iter()
            .map(|(file, text)| parse_drill(file, text))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Self::new(DrillSource::BuiltIn, drills)
    }

    fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the drills directory {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("cannot read the drills directory {}", dir.display()))?
                .path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                files.push(path);
            }
        }
        anyhow::ensure!(
            files.len() <= MAX_DRILL_FILES,
            "{} has more than {MAX_DRILL_FILES} drill files",
            dir.display()
        );
        files.sort();
        let mut drills = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            drills.push(parse_drill(&path.display().to_string(), &text)?);
        }
        Self::new(DrillSource::Directory(dir.to_path_buf()), drills)
    }

    fn new(source: DrillSource, mut drills: Vec<Drill>) -> anyhow::Result<Self> {
        drills.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = drills.windows(2).find(|pair| pair[0].name == pair[1].name) {
            anyhow::bail!("two drills in {source} are named {}", pair[0].name);
        }
        Ok(Self { source, drills })
    }

    /// The drill called `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> anyhow::Result<&Drill> {
        self.drills
            .iter()
            .find(|drill| drill.name == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no drill named {name:?} in {}; known drills: {}",
                    self.source,
                    self.names().join(", ")
                )
            })
    }

    pub fn names(&self) -> Vec<&str> {
        self.drills
            .iter()
            .map(|drill| drill.name.as_str())
            .collect()
    }
}

/// Parses and checks one drill file; errors name the file and the field.
pub fn parse_drill(file: &str, text: &str) -> anyhow::Result<Drill> {
    // Actions and probes are written as one-key maps (`- wait: 10s`) or plain names
    // (`- all-running`), the way Argo Rollouts writes its steps.
    let drill: Drill = serde_yaml::with::singleton_map_recursive::deserialize(
        serde_yaml::Deserializer::from_str(text),
    )
    .map_err(|error| anyhow::anyhow!("{file}: {error}"))?;
    check(&drill).map_err(|error| anyhow::anyhow!("{file}: {error}"))?;
    if let Some(stem) = Path::new(file).file_stem().and_then(|stem| stem.to_str()) {
        anyhow::ensure!(
            stem == drill.name,
            "{file}: name: the drill is named {:?} but its file {stem:?}; they must agree",
            drill.name
        );
    }
    Ok(drill)
}

/// What the types cannot say: names, bounds, and a method that can be run.
fn check(drill: &Drill) -> Result<(), String> {
    if drill.name.is_empty()
        || !drill
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "name: {:?} must be lowercase letters, digits and dashes",
            drill.name
        ));
    }
    if drill.description.trim().is_empty() {
        return Err("description: say what the drill does".to_owned());
    }
    if drill.runbook.trim().is_empty() {
        return Err("runbook: name the runbook to read when it fails".to_owned());
    }
    bounded("hypothesis.window", drill.hypothesis.window.get())?;
    bounded("recovery.within", drill.recovery.within.get())?;
    for (index, probe) in drill.hypothesis.probes.iter().enumerate() {
        if let SteadyProbe::ErrorRatio(ratio) = probe {
            ratio_in_range(
                &format!("hypothesis.probes[{index}].error-ratio.max"),
                ratio.max,
            )?;
        }
    }
    for (index, probe) in drill.during.iter().enumerate() {
        match probe {
            DuringProbe::ErrorRatio(ratio) => {
                ratio_in_range(&format!("during[{index}].error-ratio.max"), ratio.max)?;
            }
            DuringProbe::FailedP99(p99) => {
                bounded(&format!("during[{index}].failed-p99.max"), p99.max.get())?;
            }
            DuringProbe::RolloutAborted(_) => {}
        }
    }
    if drill.method.is_empty() {
        return Err("method: give at least one action".to_owned());
    }
    for (index, action) in drill.method.iter().enumerate() {
        check_action(action)
            .map_err(|error| format!("method[{index}].{}: {error}", action.kind()))?;
    }
    Ok(())
}

fn check_action(action: &Action) -> Result<(), String> {
    match action {
        Action::StartLoad(load) => {
            if !(1..=MAX_RPS).contains(&load.rps) {
                return Err(format!("rps must be 1 to {MAX_RPS}, not {}", load.rps));
            }
            if let Some(mix) = &load.mix {
                Mix::from_str(mix).map_err(|error| format!("mix: {error}"))?;
            }
            if let Some(kinds) = &load.kinds {
                KindMix::from_str(kinds).map_err(|error| format!("kinds: {error}"))?;
            }
            Ok(())
        }
        Action::StopLoad => Ok(()),
        Action::Wait(duration) => bounded("wait", duration.get()),
        Action::WaitUntil(wait) => bounded("timeout", wait.timeout.get()),
        Action::Kill(kill) => {
            if kill.instance.is_none() && kill.workload.is_none() && kill.track.is_none() {
                return Err("name an instance, a workload or a track".to_owned());
            }
            Ok(())
        }
        Action::Outage(outage) => {
            check_duration(outage.duration.get()).map_err(|error| format!("for: {error}"))
        }
        Action::Fault(fault) => FaultRequest {
            error_rate: fault.error_rate,
            latency_ms: u64::try_from(fault.latency.get().as_millis()).unwrap_or(u64::MAX),
            duration_ms: u64::try_from(fault.duration.get().as_millis()).unwrap_or(u64::MAX),
            track: fault.track,
        }
        .check(),
        Action::RolloutStart(rollout) => {
            if rollout.revision.trim().is_empty() {
                return Err("revision: name the revision".to_owned());
            }
            Ok(())
        }
    }
}

fn bounded(field: &str, duration: Duration) -> Result<(), String> {
    if duration.is_zero() || duration > MAX_DRILL_STEP {
        return Err(format!(
            "{field}: must be more than zero and at most {}",
            crate::chaos::humanize(MAX_DRILL_STEP)
        ));
    }
    Ok(())
}

fn ratio_in_range(field: &str, ratio: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&ratio) {
        return Err(format!("{field}: must be between 0 and 1, not {ratio}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::{Dependency, OutageMode};
    use crate::drill::spec::{Condition, OutageAction};

    const MINIMAL: &str = "\
name: tiny
description: kills a worker
runbook: docs/runbooks/drill-tiny.md
hypothesis:
  window: 5s
  probes:
    - error-ratio: {max: 0.01}
    - queue-depth: {max: 10}
    - all-running
    - tasks-terminal
method:
  - start-load: {rps: 5, mix: 'create=1,run=1'}
  - wait: 2s
  - outage: {dependency: redis, for: 3s, mode: freeze}
  - wait-until: {condition: outage-over, timeout: 30s}
during:
  - failed-p99: {max: 1s}
recovery:
  within: 60s
";

    #[test]
    fn a_drill_needs_a_traffic_path_and_each_primitive_of_its_method() {
        use crate::env::{ChaosSupport, Support};
        let drill = parse_drill("tiny.yaml", MINIMAL).expect("valid");
        assert!(drill.check_supported(&ChaosSupport::everything()).is_ok());
        let no_traffic = ChaosSupport {
            traffic: Support::Missing("no router here".to_owned()),
            ..ChaosSupport::everything()
        };
        let error = drill.check_supported(&no_traffic).expect_err("no traffic");
        assert_eq!(
            error.to_string(),
            "drill tiny cannot run here: its probes and load need a way to the API, and no router here"
        );
        let no_outage = ChaosSupport {
            redis_outage: Support::Missing("Chaos Mesh is not installed".to_owned()),
            ..ChaosSupport::everything()
        };
        let error = drill.check_supported(&no_outage).expect_err("no outage");
        assert!(
            error.to_string().contains("Chaos Mesh is not installed"),
            "{error}"
        );
    }

    #[test]
    fn every_built_in_drill_parses_and_the_required_ones_exist() {
        let catalog = DrillCatalog::built_in().expect("built-in drills are valid");
        for name in [
            "worker-crash",
            "redis-outage",
            "postgres-outage",
            "api-instance-kill",
            "bad-canary",
        ] {
            let drill = catalog.get(name).expect(name);
            assert!(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join(&drill.runbook)
                    .is_file(),
                "{name}: runbook {} is missing",
                drill.runbook
            );
        }
    }

    #[test]
    fn the_repository_directory_holds_the_same_drills_as_the_binary() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../observability/drills");
        let from_dir = DrillCatalog::load(Some(&dir)).expect("directory parses");
        let built_in = DrillCatalog::built_in().expect("built in");
        assert_eq!(from_dir.drills, built_in.drills);
    }

    #[test]
    fn a_drill_reads_as_written() {
        let drill = parse_drill("tiny.yaml", MINIMAL).expect("valid");
        assert_eq!(drill.hypothesis.probes.len(), 4);
        assert_eq!(drill.hypothesis.probes[2], SteadyProbe::AllRunning);
        assert_eq!(
            drill.method[2],
            Action::Outage(OutageAction {
                dependency: Dependency::Redis,
                duration: crate::drill::spec::DrillDuration(Duration::from_secs(3)),
                mode: OutageMode::Freeze,
            })
        );
        let Action::WaitUntil(wait) = &drill.method[3] else {
            panic!("not wait-until");
        };
        assert_eq!(wait.condition, Condition::OutageOver);
        assert_eq!(drill.method[2].to_string(), "outage redis for 3s (freeze)");
        assert!(drill.method[2].is_chaos() && !drill.method[1].is_chaos());
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let cases = [
            (MINIMAL.replace("window: 5s", "windw: 5s"), "windw"),
            (MINIMAL.replace("{max: 0.01}", "{max: 0.01, min: 0}"), "min"),
            (MINIMAL.replace("mode: freeze", "mode: melt"), "melt"),
            (
                MINIMAL.replace("for: 3s", "for: 3 parsecs"),
                "method[2].outage: unknown time unit \"parsecs\"",
            ),
            (
                MINIMAL.replace("for: 3s", "for: 11m"),
                "method[2].outage: for",
            ),
            (MINIMAL.replace("wait: 2s", "wait: 0s"), "method[1].wait"),
            (
                MINIMAL.replace("rps: 5", "rps: 0"),
                "method[0].start-load: rps",
            ),
            (
                MINIMAL.replace("create=1", "create=x"),
                "method[0].start-load: mix",
            ),
            (
                MINIMAL.replace("{max: 0.01}", "{max: 2}"),
                "error-ratio.max",
            ),
            (MINIMAL.replace("outage-over", "sunrise"), "sunrise"),
            (MINIMAL.replace("name: tiny", "name: other"), "name:"),
            (
                MINIMAL.replace("within: 60s", "within: 2h"),
                "recovery.within",
            ),
        ];
        for (text, expected) in cases {
            let error = format!(
                "{:#}",
                parse_drill("drills/tiny.yaml", &text).expect_err(expected)
            );
            assert!(error.starts_with("drills/tiny.yaml: "), "{error}");
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn an_unknown_name_lists_the_known_drills() {
        let catalog = DrillCatalog::built_in().expect("built in");
        let error = catalog.get("nope").expect_err("unknown").to_string();
        assert!(error.contains("\"nope\""), "{error}");
        assert!(
            error.contains("redis-outage") && error.contains("worker-crash"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let error = DrillCatalog::load(Some(Path::new("/nonexistent/drills")))
            .expect_err("missing")
            .to_string();
        assert!(error.contains("/nonexistent/drills"), "{error}");
    }
}
