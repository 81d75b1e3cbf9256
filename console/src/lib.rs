//! OpsBox operator console: the CLI, and the SLO engine it shares with the TUI.

pub mod audit;
pub mod chaos;
pub mod cli;
pub mod deploy;
pub mod drill;
pub mod durations;
pub mod env;
pub mod gate;
pub mod load;
pub mod model;
pub mod operations;
pub mod slo;
pub mod smoke;
pub mod sources;
pub mod tui;
