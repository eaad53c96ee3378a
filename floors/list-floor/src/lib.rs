//! The least a policy that reads the cluster's nodes does: parse the waPC
//! payload into a `serde_json::Value`, ask the host for the nodes' names
//! and kubelet versions with the call the policy makes
//! (`kubewarden`/`kubernetes`/`list_resources_all`, the SDK's
//! `ListAllResourcesRequest` with `field_masks`), parse the answer into a
//! `serde_json::Value` and accept. `make bench` compares the policy's
//! `sidecarSupport: detect` path with this module, on a session of 5,000
//! nodes, built with the same profile and run on the same engine.
//!
//! A host call that fails fails the evaluation: the floor is only timed on
//! the path where the nodes come back.

use std::collections::BTreeSet;

use kubewarden_policy_sdk::host_capabilities::kubernetes::ListAllResourcesRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;
use wapc_guest::{CallResult, register_function};

/// What `kwctl annotate` would write for this module: the metadata that
/// grants it the nodes, read by the runner (and kwctl) from this custom
/// section when run with `--allow-context-aware`.
#[unsafe(link_section = "io.kubewarden.metadata")]
#[used]
pub static METADATA: [u8; METADATA_JSON.len()] = bytes(METADATA_JSON);

const METADATA_JSON: &[u8] = br#"{"protocolVersion":"v1","rules":[],"mutating":false,"backgroundAudit":true,"contextAwareResources":[{"apiVersion":"v1","kind":"Node"}],"executionMode":"kubewarden-wapc","policyType":"kubernetes"}"#;

/// `text` as an array, for a static whose bytes make up the section.
const fn bytes<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = text[i];
        i += 1;
    }
    out
}

/// The nodes, pruned by the host to the two fields the policy reads.
pub fn nodes_request() -> ListAllResourcesRequest {
    ListAllResourcesRequest {
        api_version: "v1".to_owned(),
        kind: "Node".to_owned(),
        label_selector: None,
        field_selector: None,
        field_masks: Some(BTreeSet::from([
            "metadata.name".to_owned(),
            "status.nodeInfo.kubeletVersion".to_owned(),
        ])),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
}

fn validate(payload: &[u8]) -> CallResult {
    let _payload: Value = serde_json::from_slice(payload)?;
    let request = serde_json::to_vec(&nodes_request())?;
    let answer = wapc_guest::host_call("kubewarden", "kubernetes", "list_resources_all", &request)?;
    let _nodes: Value = serde_json::from_slice(&answer)?;
    let response = ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    };
    Ok(serde_json::to_vec(&response)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload of the call, byte for byte: what the bench session's
    /// request must equal, and what the policy sends for a pod without
    /// `nodeSelector`.
    #[test]
    fn sends_the_sdk_request_for_the_nodes() {
        assert_eq!(
            serde_json::to_string(&nodes_request()).unwrap(),
            r#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#
        );
    }

    #[test]
    fn the_metadata_grants_the_nodes() {
        let metadata: Value = serde_json::from_slice(&METADATA).unwrap();
        assert_eq!(
            metadata["contextAwareResources"],
            serde_json::json!([{"apiVersion": "v1", "kind": "Node"}])
        );
    }
}
