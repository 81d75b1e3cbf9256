//! Small drawing pieces the views share: panels that state their data's age and error,
//! the budget bar, the rollout's step strip, list scrolling.

pub mod budget_bar;
pub mod list;
pub mod panel;
pub mod steps;
