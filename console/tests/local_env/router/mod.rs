//! The router: traffic split, round-robin, failover, its own answers.

mod failover;
mod harness;
mod responses;
mod split;
