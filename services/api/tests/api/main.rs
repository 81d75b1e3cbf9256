//! Integration tests of the API against real Postgres and Redis processes.

mod errors;
mod faults;
mod helpers;
mod lifecycle;
mod observability;
mod outage;
mod pagination;
mod tasks;
