//! `opsbox build` and `opsbox push`: the container images of the API, the
//! worker and the console (the top-level `Dockerfile`'s targets), tagged
//! `git-<sha>` and with the version, through docker, podman or buildah.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

/// The engines looked for on PATH, in this order.
const ENGINES: [&str; 3] = ["docker", "podman", "buildah"];

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Registry and path prefix: images are `<repository>-api`, `<repository>-worker`
    /// and `<repository>` (the console).
    #[arg(
        long,
        env = "OPSBOX_IMAGE_REPOSITORY",
        default_value = "ghcr.io/opsbox/opsbox"
    )]
    pub repository: String,
    /// docker, podman or buildah (a name on PATH or a path); the first of them
    /// on PATH when not given.
    #[arg(long, env = "OPSBOX_CONTAINER_ENGINE")]
    pub engine: Option<OsString>,
    /// Which images.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "api,worker,console"
    )]
    pub targets: Vec<ImageTarget>,
    /// The repository root (build context, where the Dockerfile is). Not
    /// `--context`: that global flag names the Kubernetes context.
    #[arg(long = "build-context", id = "build_context", default_value = ".")]
    pub context: PathBuf,
    /// The runtime base pinned by digest (`gcr.io/distroless/cc-debian12@sha256:...`),
    /// passed as the RUNTIME_IMAGE build argument (build only).
    #[arg(long, env = "OPSBOX_RUNTIME_IMAGE")]
    pub runtime_image: Option<String>,
    /// Print the commands instead of running them.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageTarget {
    Api,
    Worker,
    Console,
}

impl ImageTarget {
    fn stage(self) -> &'static str {
        match self {
            ImageTarget::Api => "api",
            ImageTarget::Worker => "worker",
            ImageTarget::Console => "console",
        }
    }

    fn image(self, repository: &str) -> String {
        match self {
            ImageTarget::Console => repository.to_owned(),
            target => format!("{repository}-{}", target.stage()),
        }
    }
}

/// The tags of one build: `git-<12 hex of HEAD>` and the workspace version.
fn tags(context: &Path) -> anyhow::Result<[String; 2]> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(context)
        .output()
        .context("cannot run git to name the image (build from a git checkout)")?;
    if !out.status.success() {
        bail!(
            "cannot name the image: `git rev-parse HEAD` failed in {}: {}",
            context.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let sha = String::from_utf8(out.stdout)?.trim().to_owned();
    Ok([format!("git-{sha}"), env!("CARGO_PKG_VERSION").to_owned()])
}

/// The engine to use: the one asked for, or the first of [`ENGINES`] in `path`.
fn find_engine(asked: Option<&OsStr>, path: Option<&OsStr>) -> anyhow::Result<PathBuf> {
    let search = |name: &OsStr| -> Option<PathBuf> {
        if Path::new(name).components().count() > 1 {
            return Path::new(name).is_file().then(|| PathBuf::from(name));
        }
        std::env::split_paths(path?)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    };
    match asked {
        Some(name) => search(name).with_context(|| {
            format!(
                "container engine {} not found on PATH",
                Path::new(name).display()
            )
        }),
        None => ENGINES
            .iter()
            .find_map(|name| search(OsStr::new(name)))
            .with_context(|| {
                format!(
                    "no container engine: none of {} is on PATH. Install one, or pass \
                     --engine (OPSBOX_CONTAINER_ENGINE); on a machine without one, build \
                     in CI from the Dockerfile",
                    ENGINES.join(", ")
                )
            }),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The argument lists of `build` for each target (the program is the engine).
fn build_commands(args: &ImageArgs, tags: &[String]) -> Vec<Vec<String>> {
    args.targets
        .iter()
        .map(|target| {
            let mut cmd = vec!["build".to_owned(), "--target".into(), target.stage().into()];
            for tag in tags {
                cmd.extend([
                    "-t".into(),
                    format!("{}:{tag}", target.image(&args.repository)),
                ]);
            }
            if let Some(runtime) = &args.runtime_image {
                cmd.extend(["--build-arg".into(), format!("RUNTIME_IMAGE={runtime}")]);
            }
            cmd.extend([
                "-f".into(),
                args.context.join("Dockerfile").display().to_string(),
                args.context.display().to_string(),
            ]);
            cmd
        })
        .collect()
}

/// The argument lists of `push`: one per image and tag.
fn push_commands(args: &ImageArgs, tags: &[String]) -> Vec<Vec<String>> {
    args.targets
        .iter()
        .flat_map(|target| {
            tags.iter().map(move |tag| {
                vec![
                    "push".to_owned(),
                    format!("{}:{tag}", target.image(&args.repository)),
                ]
            })
        })
        .collect()
}

/// A docker CLI without its daemon is no engine: say so before any build starts.
fn engine_reachable(engine: &Path) -> anyhow::Result<()> {
    let out = Command::new(engine)
        .arg("info")
        .output()
        .with_context(|| format!("cannot start {}", engine.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    bail!(
        "{} is installed but cannot build: `{} info` failed: {}",
        engine.display(),
        engine.display(),
        why.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no reason given")
            .trim()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Build,
    Push,
}

pub fn run(verb: Verb, args: &ImageArgs) -> anyhow::Result<()> {
    let engine = find_engine(args.engine.as_deref(), std::env::var_os("PATH").as_deref())?;
    let tags = tags(&args.context)?;
    let commands = match verb {
        Verb::Build => build_commands(args, &tags),
        Verb::Push => push_commands(args, &tags),
    };
    if !args.dry_run {
        engine_reachable(&engine)?;
    }
    for cmd in commands {
        println!("+ {} {}", engine.display(), cmd.join(" "));
        if args.dry_run {
            continue;
        }
        let status = Command::new(&engine)
            .args(&cmd)
            // The Dockerfile needs BuildKit (`COPY --chmod`); podman and buildah ignore this.
            .env("DOCKER_BUILDKIT", "1")
            .status()
            .with_context(|| format!("cannot start {}", engine.display()))?;
        if !status.success() {
            bail!("{} {} failed: {status}", engine.display(), cmd[0]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ImageArgs {
        ImageArgs {
            repository: "ghcr.io/opsbox/opsbox".into(),
            engine: None,
            targets: vec![ImageTarget::Api, ImageTarget::Worker, ImageTarget::Console],
            context: PathBuf::from("/src"),
            runtime_image: Some("gcr.io/distroless/cc-debian12@sha256:abc".into()),
            dry_run: false,
        }
    }

    #[test]
    fn its_flags_do_not_collide_with_the_global_ones() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "opsbox",
            "build",
            "--build-context",
            "/src",
            "--targets",
            "api,worker",
            "--dry-run",
        ])
        .expect("parses");
        let Some(crate::cli::Command::Build(args)) = cli.command else {
            panic!("not build");
        };
        assert_eq!(args.context, PathBuf::from("/src"));
        assert_eq!(args.targets, [ImageTarget::Api, ImageTarget::Worker]);
        assert!(cli.env.context.is_none());
    }

    #[test]
    fn builds_tag_each_image_with_the_sha_and_the_version() {
        let tags = ["git-0123456789ab".to_owned(), "0.1.0".to_owned()];
        let cmds = build_commands(&args(), &tags);
        assert_eq!(cmds.len(), 3);
        assert_eq!(
            cmds[0].join(" "),
            "build --target api -t ghcr.io/opsbox/opsbox-api:git-0123456789ab \
             -t ghcr.io/opsbox/opsbox-api:0.1.0 \
             --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12@sha256:abc \
             -f /src/Dockerfile /src"
        );
        assert!(cmds[2].contains(&"ghcr.io/opsbox/opsbox:0.1.0".to_owned()));
        let pushes = push_commands(&args(), &tags);
        assert_eq!(pushes.len(), 6);
        assert_eq!(pushes[1], ["push", "ghcr.io/opsbox/opsbox-api:0.1.0"]);
    }

    #[test]
    fn without_an_engine_the_error_says_what_to_do() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = find_engine(None, Some(empty.path().as_os_str())).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("no container engine"), "{text}");
        assert!(text.contains("docker, podman, buildah"), "{text}");
        let err =
            find_engine(Some(OsStr::new("docker")), Some(empty.path().as_os_str())).unwrap_err();
        assert!(format!("{err:#}").contains("docker not found"), "{err:#}");
    }

    #[test]
    fn an_engine_that_cannot_answer_info_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let docker = dir.path().join("docker");
        std::fs::write(
            &docker,
            "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n",
        )
        .expect("write");
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = engine_reachable(&docker).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("installed but cannot build"), "{text}");
        assert!(
            text.contains("Cannot connect to the Docker daemon"),
            "{text}"
        );
        assert!(engine_reachable(Path::new("/bin/true")).is_ok());
    }

    #[test]
    fn the_first_engine_on_path_is_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let podman = dir.path().join("podman");
        std::fs::write(&podman, "#!/bin/sh\n").expect("write");
        let not_executable = dir.path().join("docker");
        std::fs::write(&not_executable, "").expect("write");
        std::fs::set_permissions(&podman, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let found = find_engine(None, Some(dir.path().as_os_str())).expect("podman");
        assert_eq!(found, podman);
    }
}
