pub mod suggest;
pub mod version;
