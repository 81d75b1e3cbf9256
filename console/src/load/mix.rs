//! What the load consists of: the operation mix (`create=1,run=1,read=2`) and the
//! task kinds it creates (`io=6,cpu=1,flaky=2,fail=1`), picked in exact proportion.

use std::fmt;
use std::str::FromStr;

use opsbox_common::model::TaskKind;
use serde::{Deserialize, Serialize};

/// The largest weight one entry may have: enough for any ratio people type, small
/// enough that a typo like `read=20000000` is caught rather than taken literally.
pub const MAX_WEIGHT: u32 = 1000;

/// One kind of request the load sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `POST /tasks`.
    Create,
    /// `POST /tasks/{id}/run` of a task this load created and has not run yet.
    Run,
    /// `GET /tasks/{id}` of a task this load created recently.
    Read,
    /// `GET /tasks` (the first page).
    List,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Run,
        Operation::Read,
        Operation::List,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Run => "run",
            Operation::Read => "read",
            Operation::List => "list",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a weighted list can name: the parser looks names up through this.
trait Named: Copy + Eq + 'static {
    const ALL: &'static [Self];
    const WHAT: &'static str;
    fn name(self) -> &'static str;
}

impl Named for Operation {
    const ALL: &'static [Self] = &Operation::ALL;
    const WHAT: &'static str = "operation";
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Named for TaskKind {
    const ALL: &'static [Self] = &TaskKind::ALL;
    const WHAT: &'static str = "task kind";
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// `name=weight` pairs, every name at most once, at least one weight above zero.
fn parse_weights<T: Named>(text: &str) -> Result<Vec<(T, u32)>, String> {
    let mut weights: Vec<(T, u32)> = Vec::new();
    for entry in text.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err(format!("empty entry in {text:?}; expected name=weight,..."));
        }
        let Some((name, weight)) = entry.split_once('=') else {
            return Err(format!("{entry:?} is not name=weight"));
        };
        let (name, weight) = (name.trim(), weight.trim());
        let Some(item) = T::ALL.iter().copied().find(|item| item.name() == name) else {
            let known: Vec<&str> = T::ALL.iter().map(|item| item.name()).collect();
            return Err(format!(
                "unknown {} {name:?}; expected one of {}",
                T::WHAT,
                known.join(", ")
            ));
        };
        let weight: u32 = match weight.parse() {
            Ok(weight) if weight <= MAX_WEIGHT => weight,
            _ => {
                return Err(format!(
                    "weight of {name} must be a whole number from 0 to {MAX_WEIGHT}; got {weight:?}"
                ))
            }
        };
        if weights.iter().any(|(seen, _)| *seen == item) {
            return Err(format!("{name} is given twice"));
        }
        weights.push((item, weight));
    }
    if weights.iter().all(|(_, weight)| *weight == 0) {
        return Err(format!("at least one {} needs a weight above 0", T::WHAT));
    }
    Ok(weights)
}

fn format_weights<T: Named>(weights: &[(T, u32)], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, (item, weight)) in weights.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{}={weight}", item.name())?;
    }
    Ok(())
}

/// The operation mix, e.g. `create=1,run=1,read=2`; operations left out are not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(Operation, u32)>,
}

impl Mix {
    /// A mix from weights; refuses an empty or all-zero one.
    pub fn new(weights: &[(Operation, u32)]) -> Result<Self, String> {
        let text = weights
            .iter()
            .map(|(op, weight)| format!("{op}={weight}"))
            .collect::<Vec<_>>()
            .join(",");
        text.parse()
    }

    pub fn weight(&self, operation: Operation) -> u32 {
        weight_of(&self.weights, operation)
    }

    pub(super) fn cycle(&self) -> WeightedCycle<Operation> {
        WeightedCycle::new(&self.weights)
    }
}

impl Default for Mix {
    /// Every created task is run, and read twice as often as it is written.
    fn default() -> Self {
        Self {
            weights: vec![
                (Operation::Create, 1),
                (Operation::Run, 1),
                (Operation::Read, 2),
            ],
        }
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_weights(text).map(|weights| Self { weights })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_weights(&self.weights, f)
    }
}

/// The kinds of the tasks the load creates, e.g. `io=6,cpu=1,flaky=2,fail=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindMix {
    weights: Vec<(TaskKind, u32)>,
}

impl KindMix {
    pub fn weight(&self, kind: TaskKind) -> u32 {
        weight_of(&self.weights, kind)
    }

    pub(super) fn cycle(&self) -> WeightedCycle<TaskKind> {
        WeightedCycle::new(&self.weights)
    }
}

impl Default for KindMix {
    /// Mostly quick `io` work, with enough `flaky` and `fail` tasks that retries
    /// and the dead letter have something to show.
    fn default() -> Self {
        Self {
            weights: vec![
                (TaskKind::Io, 6),
                (TaskKind::Cpu, 1),
                (TaskKind::Flaky, 2),
                (TaskKind::Fail, 1),
            ],
        }
    }
}

impl FromStr for KindMix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_weights(text).map(|weights| Self { weights })
    }
}

impl fmt::Display for KindMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_weights(&self.weights, f)
    }
}

fn weight_of<T: PartialEq>(weights: &[(T, u32)], item: T) -> u32 {
    weights
        .iter()
        .find(|(candidate, _)| *candidate == item)
        .map_or(0, |(_, weight)| *weight)
}

/// Smooth weighted round-robin (as nginx balances upstreams): over every
/// `sum(weights)` picks each item comes exactly `weight` times, spread out rather
/// than in runs, so a short load has the mix it was asked for, without luck.
#[derive(Debug, Clone)]
pub(super) struct WeightedCycle<T> {
    entries: Vec<(T, i64, i64)>,
    total: i64,
}

impl<T: Copy> WeightedCycle<T> {
    fn new(weights: &[(T, u32)]) -> Self {
        let entries: Vec<(T, i64, i64)> = weights
            .iter()
            .filter(|(_, weight)| *weight > 0)
            .map(|(item, weight)| (*item, i64::from(*weight), 0))
            .collect();
        let total = entries.iter().map(|(_, weight, _)| weight).sum();
        Self { entries, total }
    }

    /// The next item; `None` only for a cycle without weights (parsing refuses those).
    pub(super) fn next_item(&mut self) -> Option<T> {
        for entry in &mut self.entries {
            entry.2 += entry.1;
        }
        let best = self
            .entries
            .iter_mut()
            .max_by_key(|(_, _, current)| *current)?;
        best.2 -= self.total;
        Some(best.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_print_back() {
        let mix: Mix = " create=1, run=1 ,read=2,list=0".parse().expect("parses");
        assert_eq!(mix.weight(Operation::Create), 1);
        assert_eq!(mix.weight(Operation::Read), 2);
        assert_eq!(mix.weight(Operation::List), 0);
        assert_eq!(mix.to_string(), "create=1,run=1,read=2,list=0");
        assert_eq!(
            Mix::default().to_string().parse::<Mix>(),
            Ok(Mix::default())
        );
        let kinds: KindMix = "io=3,fail=1".parse().expect("parses");
        assert_eq!(kinds.weight(TaskKind::Io), 3);
        assert_eq!(kinds.weight(TaskKind::Cpu), 0);
        assert_eq!(
            KindMix::default().to_string().parse::<KindMix>(),
            Ok(KindMix::default())
        );
    }

    #[test]
    fn bad_mixes_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "empty entry"),
            ("create=1,", "empty entry"),
            ("create", "not name=weight"),
            ("delete=1", "unknown operation \"delete\""),
            ("create=-1", "whole number"),
            ("create=x", "whole number"),
            ("create=1001", "whole number from 0 to 1000"),
            ("create=1,create=2", "given twice"),
            ("create=0,read=0", "above 0"),
        ] {
            let err = text.parse::<Mix>().expect_err(text);
            assert!(err.contains(reason), "{text:?}: {err}");
        }
        let err = "io=1,slow=1".parse::<KindMix>().expect_err("unknown kind");
        assert!(err.contains("unknown task kind") && err.contains("io, cpu, fail, flaky"));
        assert!(Mix::new(&[]).is_err());
        assert!(Mix::new(&[(Operation::Read, 1)]).is_ok());
    }

    #[test]
    fn a_cycle_gives_each_item_exactly_its_share_spread_out() {
        let mix: Mix = "create=1,run=1,read=2,list=0".parse().expect("parses");
        let mut cycle = mix.cycle();
        let picks: Vec<Operation> = (0..400).filter_map(|_| cycle.next_item()).collect();
        let count = |op| picks.iter().filter(|&&p| p == op).count();
        assert_eq!(count(Operation::Create), 100);
        assert_eq!(count(Operation::Run), 100);
        assert_eq!(count(Operation::Read), 200);
        assert_eq!(count(Operation::List), 0);
        // Spread out: reads never come three in a row.
        assert!(picks
            .windows(3)
            .all(|w| !w.iter().all(|&op| op == Operation::Read)));
        // Every window of one full cycle (4 picks) already has the exact mix.
        for window in picks.chunks(4) {
            assert_eq!(window.iter().filter(|&&p| p == Operation::Read).count(), 2);
        }
    }
}
