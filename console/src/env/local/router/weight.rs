//! The canary weight: the percentage of requests the canary track receives.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A percentage in 0..=100, as Argo Rollouts' `setWeight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct CanaryWeight(u8);

/// A weight above 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("canary weight {0} is not a percentage between 0 and 100")]
pub struct WeightOutOfRange(pub u8);

impl CanaryWeight {
    /// All traffic to stable: no rollout, or an aborted one.
    pub const STABLE_ONLY: CanaryWeight = CanaryWeight(0);
    /// All traffic to the canary: the last step before it becomes stable.
    pub const FULL: CanaryWeight = CanaryWeight(100);

    pub fn new(percent: u8) -> Result<Self, WeightOutOfRange> {
        if percent <= 100 {
            Ok(Self(percent))
        } else {
            Err(WeightOutOfRange(percent))
        }
    }

    pub fn percent(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for CanaryWeight {
    type Error = WeightOutOfRange;

    fn try_from(percent: u8) -> Result<Self, Self::Error> {
        Self::new(percent)
    }
}

impl From<CanaryWeight> for u8 {
    fn from(weight: CanaryWeight) -> u8 {
        weight.0
    }
}

impl fmt::Display for CanaryWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_percentages_only() {
        assert_eq!(CanaryWeight::new(100), Ok(CanaryWeight::FULL));
        assert_eq!(CanaryWeight::new(101), Err(WeightOutOfRange(101)));
        assert!(serde_json::from_str::<CanaryWeight>("150").is_err());
        assert_eq!(
            serde_json::from_str::<CanaryWeight>("10").ok(),
            CanaryWeight::new(10).ok()
        );
    }
}
