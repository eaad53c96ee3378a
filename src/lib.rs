pub mod error;
pub mod pod_shape;
pub mod settings;
pub mod suggest;
pub mod tail_command;
pub mod version;
pub mod workload;
