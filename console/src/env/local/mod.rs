//! The `local` environment: the stack as supervised processes behind a weighted router.
//!
//! The two foundations here are self-contained: [`supervisor`] runs instances as child
//! processes and restarts them like a ReplicaSet; [`router`] is the ingress that splits
//! traffic between the stable and canary instances. Wiring them into `opsbox up` feeds
//! the supervisor's snapshots into the router's [`router::RouterControl`].

pub mod router;
pub mod supervisor;
