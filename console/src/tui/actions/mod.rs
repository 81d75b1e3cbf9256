//! The mutating operations of the console: what each one will do (for the confirmation),
//! how it is carried out on the environment, and how it is written to the audit log.

pub mod describe;
mod perform;

pub use describe::{describe, Confirmation};
pub use perform::{audit_record, perform, rollout_summary, task, verb, ActionContext, Task};

use super::view::Action;

/// The palette command that asks for `action` (without its argument).
pub fn command_name(action: &Action) -> &'static str {
    match action {
        Action::Promote => "promote",
        Action::PromoteFull => "promote-full",
        Action::Abort => "abort",
        Action::Retry => "retry",
        Action::Undo => "undo",
        Action::KillInstance(_) => "kill",
        Action::RestartInstance(_) => "restart",
        Action::RequeueDead(_) => "requeue",
        Action::RequeueAllDead => "requeue-all",
        Action::RunDrill(_) => "drill",
    }
}

/// `promote`, `kill api-2`: how an action is named in results and messages.
pub fn summary(action: &Action) -> String {
    match action {
        Action::KillInstance(name)
        | Action::RestartInstance(name)
        | Action::RequeueDead(name)
        | Action::RunDrill(name) => format!("{} {name}", command_name(action)),
        _ => command_name(action).to_owned(),
    }
}

#[cfg(test)]
mod tests;
