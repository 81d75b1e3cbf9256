//! Configuration types both services share.

use std::fmt;

/// A value that must never be printed: connection URLs with passwords, tokens.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// What every process of the stack is told, API and worker alike: where the
/// data lives, which queue it shares, and which deployment it belongs to.
#[derive(Debug, Clone, clap::Args)]
pub struct StackConfig {
    /// Postgres connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret,
    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Secret,
    /// Prefix of the Redis keys of the job queue (several stacks can share a Redis).
    #[arg(long, env = "OPSBOX_QUEUE_PREFIX", default_value = "opsbox")]
    pub queue_prefix: String,
    /// Version label of this deployment (metrics, traces).
    #[arg(long, env = "OPSBOX_RELEASE", default_value = crate::BUILD_VERSION)]
    pub release: String,
    /// Deployment track, a label on every metric.
    #[arg(long, env = "OPSBOX_TRACK", value_enum, default_value = "stable")]
    pub track: Track,
}

/// The deployment track, a label on every metric so SLIs can be split.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }
    /// The track traffic falls back to when this one has no instance up.
    pub fn other(self) -> Track {
        match self {
            Track::Stable => Track::Canary,
            Track::Canary => Track::Stable,
        }
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_have_one_name_everywhere() {
        for track in [Track::Stable, Track::Canary] {
            let json = serde_json::to_string(&track).expect("serialize");
            assert_eq!(json, format!("\"{track}\""));
            assert_eq!(serde_json::from_str::<Track>(&json).expect("parse"), track);
            assert_eq!(track.other().other(), track);
            assert_ne!(track.other(), track);
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let secret: Secret = "postgres://u:pw@h/db".parse().expect("infallible");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }
}
