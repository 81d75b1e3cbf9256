//! The environments the console operates: today the `local` one, run as processes on this machine.

pub mod local;
mod track;

pub use track::Track;
