//! Converting a pod template: the move to native sidecars, the shared volume
//! mounts, and how each change is told.

pub mod change;
pub mod dual_form;
pub mod injection;
pub mod template;
pub mod volume_mounts;
