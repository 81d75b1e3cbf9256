//! The committed generated files match what `opsbox slo rules` makes from the committed spec.

use std::fs;
use std::path::{Path, PathBuf};

use opsbox::slo::canary::{canary_thresholds, CanaryCheck};
use opsbox::slo::generate::{self, GeneratedFile};
use opsbox::slo::SloSpec;

const REGENERATE: &str =
    "run `cargo run -p opsbox -- slo rules` (or `opsbox slo rules`) from the repository root and commit the result";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("console/ sits in the repository root")
        .to_path_buf()
}

fn committed_spec() -> SloSpec {
    let path = repo_root().join("observability/slo.yaml");
    let text = fs::read_to_string(&path).expect("observability/slo.yaml is committed");
    SloSpec::from_yaml(&text).expect("observability/slo.yaml is valid")
}

fn generated() -> Vec<GeneratedFile> {
    generate::generated_files(&committed_spec()).expect("generation succeeds")
}

#[test]
fn committed_files_match_a_fresh_generation() {
    let files = generated();
    let scratch = tempfile::tempdir().expect("temp dir");
    let report = generate::write(scratch.path(), &files).expect("write into temp dir");
    assert_eq!(report.written.len(), files.len());

    let root = repo_root();
    let mut drifted = Vec::new();
    for file in &files {
        let fresh = fs::read_to_string(scratch.path().join(&file.path)).expect("just written");
        match fs::read_to_string(root.join(&file.path)) {
            Ok(committed) if committed == fresh => {}
            Ok(_) => drifted.push(format!("{} differs", file.path.display())),
            Err(err) => drifted.push(format!("{} is missing ({err})", file.path.display())),
        }
    }
    for stale in generate::stale_files(&root, &files).expect("list generated dirs") {
        drifted.push(format!("{} is no longer generated", stale.display()));
    }
    assert!(
        drifted.is_empty(),
        "generated SLO files are out of date:\n  {}\n{REGENERATE}",
        drifted.join("\n  ")
    );
}

#[test]
fn writing_twice_changes_nothing_and_removes_stale_files() {
    let files = generated();
    let scratch = tempfile::tempdir().expect("temp dir");
    generate::write(scratch.path(), &files).expect("first write");

    let stale = scratch
        .path()
        .join(generate::RULES_DIR)
        .join("slo-retired.yaml");
    fs::write(
        &stale,
        format!("{} from an old spec\n", generate::GENERATED_MARKER),
    )
    .expect("stale");
    let hand_written = scratch.path().join(generate::RULES_DIR).join("extra.yaml");
    fs::write(&hand_written, "groups: []\n").expect("hand-written");

    let report = generate::write(scratch.path(), &files).expect("second write");
    assert!(report.written.is_empty(), "{report:?}");
    assert_eq!(report.unchanged.len(), files.len());
    assert_eq!(
        report.removed,
        vec![Path::new(generate::RULES_DIR).join("slo-retired.yaml")]
    );
    assert!(!stale.exists());
    assert!(
        hand_written.exists(),
        "files without the marker are left alone"
    );
}

#[test]
fn every_runbook_of_the_spec_exists() {
    let root = repo_root();
    for slo in &committed_spec().slos {
        if slo.runbook.starts_with("http") {
            continue;
        }
        assert!(
            root.join(&slo.runbook).is_file(),
            "SLO {} points to runbook {}, which does not exist",
            slo.name,
            slo.runbook
        );
    }
}

#[test]
fn canary_thresholds_come_from_the_objectives() {
    let spec = committed_spec();
    let thresholds = canary_thresholds(&spec);
    let by_name = |name: &str| {
        thresholds
            .iter()
            .find(|threshold| threshold.slo == name)
            .map(|threshold| (threshold.service.as_str(), threshold.check))
    };
    assert_eq!(
        by_name("api-availability"),
        Some((
            "api",
            CanaryCheck::ErrorRatio {
                max_error_ratio: 0.001
            }
        ))
    );
    assert_eq!(
        by_name("api-latency"),
        Some((
            "api",
            CanaryCheck::Latency {
                threshold_seconds: 0.3,
                min_good_ratio: 0.99
            }
        ))
    );
    assert_eq!(
        by_name("jobs-success"),
        Some((
            "worker",
            CanaryCheck::ErrorRatio {
                max_error_ratio: 0.005
            }
        ))
    );
    assert_eq!(
        by_name("queue-freshness"),
        Some((
            "worker",
            CanaryCheck::Latency {
                threshold_seconds: 30.0,
                min_good_ratio: 0.99
            }
        ))
    );
}
