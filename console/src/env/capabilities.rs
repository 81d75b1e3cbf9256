//! What an environment lets the operator do: the verbs allowed (and why not), and the
//! chaos primitives it has. The console greys out a key and says why before the
//! operator confirms, instead of failing after.

use std::collections::BTreeMap;
use std::fmt;

use crate::chaos::Dependency;

/// A kind of change the operator can make; one permission each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    StartRollout,
    Promote,
    Abort,
    Retry,
    Undo,
    Restart,
    Kill,
    Outage,
    Fault,
    Requeue,
    RunDrill,
    BringUp,
}

impl Verb {
    pub const ALL: [Verb; 12] = [
        Verb::StartRollout,
        Verb::Promote,
        Verb::Abort,
        Verb::Retry,
        Verb::Undo,
        Verb::Restart,
        Verb::Kill,
        Verb::Outage,
        Verb::Fault,
        Verb::Requeue,
        Verb::RunDrill,
        Verb::BringUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::StartRollout => "start a rollout",
            Verb::Promote => "promote",
            Verb::Abort => "abort",
            Verb::Retry => "retry",
            Verb::Undo => "undo",
            Verb::Restart => "restart an instance",
            Verb::Kill => "kill an instance",
            Verb::Outage => "take a dependency away",
            Verb::Fault => "inject API faults",
            Verb::Requeue => "requeue dead letters",
            Verb::RunDrill => "run a drill",
            Verb::BringUp => "start the environment",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verbs refused here, each with the reason to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    denied: BTreeMap<Verb, String>,
}

impl Permissions {
    /// Everything allowed.
    pub fn all() -> Self {
        Self::default()
    }

    /// Nothing allowed, for one reason: `--read-only`.
    pub fn read_only() -> Self {
        Self {
            denied: Verb::ALL
                .into_iter()
                .map(|verb| (verb, "read-only mode (started with --read-only)".to_owned()))
                .collect(),
        }
    }

    pub fn deny(&mut self, verb: Verb, reason: impl Into<String>) {
        self.denied.insert(verb, reason.into());
    }

    /// `Err(reason)` when the operator may not take this verb here.
    pub fn check(&self, verb: Verb) -> Result<(), &str> {
        self.denied.get(&verb).map_or(Ok(()), |reason| Err(reason))
    }

    /// True when every verb is refused (the console shows `READ-ONLY`).
    pub fn nothing_allowed(&self) -> bool {
        Verb::ALL.iter().all(|verb| self.denied.contains_key(verb))
    }
}

/// Whether a primitive exists here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Available,
    /// Missing, with the reason the operator reads (e.g. "Chaos Mesh is not installed").
    Missing(String),
}

impl Support {
    pub fn check(&self) -> Result<(), &str> {
        match self {
            Support::Available => Ok(()),
            Support::Missing(reason) => Err(reason),
        }
    }
}

/// The chaos primitives of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosSupport {
    /// A path for a drill's probes and load to the API: every drill sends traffic.
    pub traffic: Support,
    pub kill: Support,
    pub postgres_outage: Support,
    pub redis_outage: Support,
    pub fault: Support,
}

impl ChaosSupport {
    pub fn everything() -> Self {
        Self {
            traffic: Support::Available,
            kill: Support::Available,
            postgres_outage: Support::Available,
            redis_outage: Support::Available,
            fault: Support::Available,
        }
    }

    pub fn outage(&self, dependency: Dependency) -> &Support {
        match dependency {
            Dependency::Postgres => &self.postgres_outage,
            Dependency::Redis => &self.redis_outage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_refuses_every_verb_with_its_reason() {
        let permissions = Permissions::read_only();
        assert!(permissions.nothing_allowed());
        for verb in Verb::ALL {
            let reason = permissions.check(verb).expect_err("refused");
            assert!(reason.contains("read-only"), "{reason}");
        }
        assert!(Permissions::all().check(Verb::Promote).is_ok());
        assert!(!Permissions::all().nothing_allowed());
    }

    #[test]
    fn one_verb_can_be_refused_alone() {
        let mut permissions = Permissions::all();
        permissions.deny(Verb::Promote, "user viewer may not patch rollouts/status");
        assert_eq!(
            permissions.check(Verb::Promote),
            Err("user viewer may not patch rollouts/status")
        );
        assert!(permissions.check(Verb::Abort).is_ok());
        assert!(!permissions.nothing_allowed());
    }

    #[test]
    fn a_missing_primitive_says_why() {
        let mut support = ChaosSupport::everything();
        support.postgres_outage = Support::Missing("Chaos Mesh is not installed".to_owned());
        assert_eq!(
            support.outage(Dependency::Postgres).check(),
            Err("Chaos Mesh is not installed")
        );
        assert!(support.outage(Dependency::Redis).check().is_ok());
    }
}
