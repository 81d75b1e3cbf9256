//! Integration tests of the API against real Postgres and Redis processes.

mod census;
mod dead_letters;
mod errors;
mod faults;
mod flags;
mod helpers;
mod lifecycle;
mod observability;
mod outage;
mod pagination;
mod tasks;
