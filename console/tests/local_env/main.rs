//! The local environment's foundations against real sockets and real processes.

mod poll;
mod router;
mod supervisor;
