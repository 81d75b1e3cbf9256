//! OpsBox operator console: the CLI, and the SLO engine it shares with the TUI.

pub mod audit;
pub mod cli;
pub mod env;
pub mod model;
pub mod slo;
