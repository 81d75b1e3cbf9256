//! The door to the environments holds: outside `src/env/`, only `up`, `down` and the
//! daemon's entry point (`src/cli/local.rs`, `src/cli.rs`) may name the local
//! environment; everything else goes through `Environment` / `AnyEnvironment`. A second
//! environment then plugs in without touching a view, a verb or a drill.

use std::path::{Path, PathBuf};

/// The files allowed to name `env::local`, relative to `console/src`.
const LOCAL_LIFECYCLE: [&str; 2] = ["cli/local.rs", "cli.rs"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `text` that reach into the local environment.
fn reaches_into_local(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            let code = line.split("//").next().unwrap_or_default();
            code.contains("env::local")
                || code.contains("ControlClient")
                || code.contains("StateDir")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn only_up_down_and_the_daemon_name_the_local_environment() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 100,
        "the source tree was not found at {}",
        src.display()
    );
    let mut leaks = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let name = relative.to_string_lossy().replace('\\', "/");
        if name.starts_with("env/") || LOCAL_LIFECYCLE.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        for line in reaches_into_local(&text) {
            leaks.push(format!("{name}: {}", line.trim()));
        }
    }
    assert!(
        leaks.is_empty(),
        "these reach past the Environment trait into the local environment:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn track_comes_from_opsbox_common_not_from_env() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(file)
                .expect("readable source")
                .contains("env::Track")
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_check_sees_a_leak_when_there_is_one() {
    assert_eq!(
        reaches_into_local("use crate::env::local::ControlClient;\n// env::local in a comment\nuse crate::env::Environment;"),
        ["use crate::env::local::ControlClient;"]
    );
}
