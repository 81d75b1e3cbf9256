//! The supervisor: restarts with backoff, kill and stop by process group, states, parent death.

mod harness;
mod parent_death;
mod restarts;
mod states;
mod stop;
