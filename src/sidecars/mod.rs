//! Finding the log sidecars: declarations, and what a command line streams.

pub mod log_sidecars;
pub mod tail_command;
