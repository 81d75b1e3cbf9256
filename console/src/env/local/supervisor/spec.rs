//! What to run for one instance: program, environment, log file, readiness, and its labels.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use http::Uri;
use serde::{Deserialize, Serialize};

use opsbox_common::config::Track;

/// The kind of process an instance is, as `opsbox status` groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Api,
    Worker,
    Postgres,
    Redis,
    Prometheus,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Api => "api",
            Workload::Worker => "worker",
            Workload::Postgres => "postgres",
            Workload::Redis => "redis",
            Workload::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A readiness check written in Rust; it runs on the supervisor's runtime.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send + 'static>> + Send + Sync>;

/// When a started instance counts as Running rather than Starting. Probed until it
/// first passes after each start (a startup probe); without one an instance is Running
/// as soon as it is spawned.
#[derive(Clone)]
pub enum Readiness {
    /// Ready once `GET` on this `http://` URL answers 2xx.
    HttpGet(Uri),
    /// Ready once the check returns true.
    Check(ReadinessCheck),
}

impl Readiness {
    pub fn http_get(url: &str) -> Result<Self, http::uri::InvalidUri> {
        url.parse().map(Readiness::HttpGet)
    }

    pub fn check<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Readiness::Check(Arc::new(move || Box::pin(check())))
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::HttpGet(uri) => f.debug_tuple("HttpGet").field(uri).finish(),
            Readiness::Check(_) => f.write_str("Check(..)"),
        }
    }
}

/// One supervised instance: a process that is restarted whenever it exits.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Unique among the supervisor's instances, e.g. `api-1`, `api-canary-1`, `worker-2`.
    pub name: String,
    pub workload: Workload,
    pub track: Track,
    /// The revision label (e.g. `v1`), shown in status and used by rollouts.
    pub revision: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Added to the supervisor's own environment, overriding it.
    pub env: BTreeMap<OsString, OsString>,
    pub working_dir: Option<PathBuf>,
    /// stdout and stderr are appended here, with the supervisor's own JSON lines about
    /// starts and exits.
    pub log_file: PathBuf,
    pub readiness: Option<Readiness>,
}

impl InstanceSpec {
    /// A stable-track instance of `program` without arguments or readiness check.
    pub fn new(
        name: impl Into<String>,
        workload: Workload,
        program: impl Into<PathBuf>,
        log_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            workload,
            track: Track::Stable,
            revision: String::new(),
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            working_dir: None,
            log_file: log_file.into(),
            readiness: None,
        }
    }

    pub fn track(mut self, track: Track) -> Self {
        self.track = track;
        self
    }

    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = revision.into();
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = Some(readiness);
        self
    }
}
