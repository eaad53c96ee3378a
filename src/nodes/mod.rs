//! Node support: whether the nodes a pod may land on run native sidecars.

pub mod node_support;
