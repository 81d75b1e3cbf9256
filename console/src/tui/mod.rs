//! The interactive console: an on-call cockpit in the terminal.
//!
//! Collectors ([`collect`]) poll the environment in the background and feed a
//! [`store::Store`] through a bounded channel; views draw from the store and turn keys
//! into [`view::Action`]s, which the app confirms, performs ([`actions`]), audits and
//! answers with a visible result.

pub mod actions;
pub mod app;
pub mod audit;
pub mod collect;
pub mod drills;
pub mod effects;
pub mod feed;
pub mod instances;
mod launch;
pub mod logs;
pub mod nav;
pub mod overview;
pub mod queue;
pub mod rollout;
pub mod runbook;
pub mod slo_detail;
mod stack;
pub mod store;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod view;
pub mod widgets;

pub use launch::{run, ConsoleOptions, MIN_FRAME};

#[cfg(test)]
mod test_support;
