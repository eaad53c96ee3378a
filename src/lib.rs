pub mod error;
pub mod settings;
pub mod suggest;
pub mod tail_command;
pub mod version;
