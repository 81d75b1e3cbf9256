//! What chaos is in force and what happened lately, shared by the chaos routes.
//!
//! Outages are reserved before the dependency is touched, so two requests for the same
//! dependency cannot both take it down; the history is a ring of bounded size.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::chaos::{
    ChaosEvent, ChaosStatus, Dependency, FaultInjection, Outage, MAX_CHAOS_HISTORY,
};

/// One dependency's outage: reserved while it is being taken down, then active.
#[derive(Debug, Clone)]
enum OutageSlot {
    Beginning(Dependency),
    Active(Outage),
}

impl OutageSlot {
    fn dependency(&self) -> Dependency {
        match self {
            OutageSlot::Beginning(dependency) => *dependency,
            OutageSlot::Active(outage) => outage.dependency,
        }
    }
}

#[derive(Debug, Default)]
struct Board {
    outages: Vec<OutageSlot>,
    faults: Vec<FaultInjection>,
    history: VecDeque<ChaosEvent>,
}

/// Why an outage cannot begin now.
#[derive(Debug)]
pub enum Busy {
    /// Being taken down by another request at this moment.
    Beginning,
    Active(Outage),
}

#[derive(Debug, Default)]
pub struct ChaosBoard {
    board: Mutex<Board>,
}

impl ChaosBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        // Plain data, valid even if a holder panicked.
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the dependency for an outage; at most one per dependency at a time.
    pub fn reserve_outage(&self, dependency: Dependency) -> Result<(), Busy> {
        let mut board = self.lock();
        match board
            .outages
            .iter()
            .find(|slot| slot.dependency() == dependency)
        {
            Some(OutageSlot::Beginning(_)) => Err(Busy::Beginning),
            Some(OutageSlot::Active(outage)) => Err(Busy::Active(outage.clone())),
            None => {
                board.outages.push(OutageSlot::Beginning(dependency));
                Ok(())
            }
        }
    }

    /// The reserved dependency is down now, until `outage.ends_at`.
    pub fn activate_outage(&self, outage: &Outage) {
        let mut board = self.lock();
        board
            .outages
            .retain(|slot| slot.dependency() != outage.dependency);
        board.outages.push(OutageSlot::Active(outage.clone()));
        push_event(
            &mut board,
            ChaosEvent {
                at: outage.started_at,
                kind: "outage-start".to_owned(),
                target: outage.dependency.to_string(),
                message: format!(
                    "{} ({}) until {}",
                    outage.dependency, outage.mode, outage.ends_at
                ),
            },
        );
    }

    /// Frees the dependency: its outage ended (or never began); `event` says how.
    pub fn end_outage(&self, dependency: Dependency, event: Option<ChaosEvent>) {
        let mut board = self.lock();
        board.outages.retain(|slot| slot.dependency() != dependency);
        if let Some(event) = event {
            push_event(&mut board, event);
        }
    }

    /// Faults set later on the same instances replace earlier ones (the API keeps one
    /// setting), so those are no longer listed.
    pub fn add_fault(&self, fault: FaultInjection) {
        let mut board = self.lock();
        board.faults.retain(|earlier| {
            !earlier
                .instances
                .iter()
                .all(|instance| fault.instances.contains(instance))
        });
        let event = ChaosEvent {
            at: fault.started_at,
            kind: "fault".to_owned(),
            target: fault.instances.join(","),
            message: format!(
                "error rate {}, latency {}ms until {}",
                fault.error_rate, fault.latency_ms, fault.ends_at
            ),
        };
        board.faults.push(fault);
        push_event(&mut board, event);
    }

    pub fn record(&self, event: ChaosEvent) {
        push_event(&mut self.lock(), event);
    }

    /// The active outages and faults (expired faults are dropped: the API has already
    /// ended them), and the history.
    pub fn status(&self, now: DateTime<Utc>) -> ChaosStatus {
        let mut board = self.lock();
        board.faults.retain(|fault| fault.ends_at > now);
        ChaosStatus {
            outages: board
                .outages
                .iter()
                .filter_map(|slot| match slot {
                    OutageSlot::Active(outage) => Some(outage.clone()),
                    OutageSlot::Beginning(_) => None,
                })
                .collect(),
            faults: board.faults.clone(),
            history: board.history.iter().cloned().collect(),
        }
    }
}

fn push_event(board: &mut Board, event: ChaosEvent) {
    if board.history.len() == MAX_CHAOS_HISTORY {
        board.history.pop_front();
    }
    board.history.push_back(event);
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::chaos::OutageMode;

    fn outage(dependency: Dependency) -> Outage {
        let now = Utc::now();
        Outage {
            dependency,
            mode: OutageMode::Stop,
            started_at: now,
            ends_at: now + Duration::seconds(5),
        }
    }

    fn fault(instances: &[&str], ends_in: i64) -> FaultInjection {
        let now = Utc::now();
        FaultInjection {
            track: None,
            error_rate: 0.5,
            latency_ms: 0,
            started_at: now,
            ends_at: now + Duration::seconds(ends_in),
            instances: instances.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    #[test]
    fn one_outage_per_dependency_at_a_time() {
        let board = ChaosBoard::default();
        board.reserve_outage(Dependency::Redis).expect("free");
        assert!(matches!(
            board.reserve_outage(Dependency::Redis),
            Err(Busy::Beginning)
        ));
        board
            .reserve_outage(Dependency::Postgres)
            .expect("another dependency is independent");
        assert!(
            board.status(Utc::now()).outages.is_empty(),
            "reserved is not listed"
        );
        board.activate_outage(&outage(Dependency::Redis));
        assert!(matches!(
            board.reserve_outage(Dependency::Redis),
            Err(Busy::Active(_))
        ));
        assert_eq!(board.status(Utc::now()).outages.len(), 1);
        board.end_outage(Dependency::Redis, None);
        board.reserve_outage(Dependency::Redis).expect("free again");
    }

    #[test]
    fn expired_and_replaced_faults_are_not_listed() {
        let board = ChaosBoard::default();
        board.add_fault(fault(&["api-1"], 60));
        board.add_fault(fault(&["api-2"], 60));
        board.add_fault(fault(&["api-1", "api-3"], 60));
        let listed: Vec<Vec<String>> = board
            .status(Utc::now())
            .faults
            .into_iter()
            .map(|fault| fault.instances)
            .collect();
        assert_eq!(listed, [vec!["api-2"], vec!["api-1", "api-3"]]);
        assert!(board
            .status(Utc::now() + Duration::seconds(61))
            .faults
            .is_empty());
    }

    #[test]
    fn the_history_is_bounded() {
        let board = ChaosBoard::default();
        for index in 0..MAX_CHAOS_HISTORY + 5 {
            board.record(ChaosEvent {
                at: Utc::now(),
                kind: "kill".to_owned(),
                target: format!("api-{index}"),
                message: String::new(),
            });
        }
        let history = board.status(Utc::now()).history;
        assert_eq!(history.len(), MAX_CHAOS_HISTORY);
        assert_eq!(history[0].target, "api-5");
    }
}
