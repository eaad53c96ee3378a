//! Reading the request: the payload, where each kind keeps its pod template, and the
//! shape of the parts the policy reads.

pub mod payload;
pub mod pod_shape;
pub mod workload;
