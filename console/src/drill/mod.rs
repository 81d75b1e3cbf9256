//! Drills: named, scripted chaos experiments with a steady-state hypothesis, run
//! client-side against the local environment (`opsbox drill list|run`).
//!
//! [`spec`] is the YAML format and [`catalog`] where drills come from; [`runner`] runs
//! one with the [`prober`] and the [`monitor`] measuring, [`timeline`] and [`evaluate`]
//! turn what they saw into verdicts, and [`report`] is what the operator reads and what
//! is kept in the state dir.

pub mod background_load;
pub mod catalog;
pub mod evaluate;
pub mod monitor;
pub mod prober;
pub mod report;
pub mod runner;
pub mod spec;
pub mod timeline;

pub use catalog::{DrillCatalog, DrillSource, DEFAULT_DRILLS_DIR};
pub use report::{last_report, DrillReport};
pub use spec::Drill;
