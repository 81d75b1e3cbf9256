//! The `local` environment: the stack as supervised processes behind a weighted router.
//!
//! [`supervisor`] runs instances as child processes and restarts them like a ReplicaSet;
//! [`router`] is the ingress that splits traffic between stable and canary instances.
//! [`daemon`] wires them together behind `opsbox up`, detached from the terminal and
//! reached by later commands through [`client`]; [`lifecycle`] starts and stops it.

pub mod binaries;
pub mod client;
mod connector;
pub mod daemon;
pub mod daemon_record;
mod environment;
pub mod lifecycle;
pub mod logs;
pub mod process;
pub mod rollout_api;
pub mod router;
pub mod secret;
pub mod state_dir;
pub mod supervisor;

pub use client::ControlClient;
pub use environment::LocalEnvironment;
pub use state_dir::StateDir;
