//! The client side of `opsbox up` and `opsbox down`: start the daemon detached, stop it, clean up.

mod cleanup;
mod down;
mod log_tail;
mod up;

pub use down::{down, DownOutcome};
pub use up::{up, UpRequest};
