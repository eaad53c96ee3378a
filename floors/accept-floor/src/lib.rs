//! The least any policy does to accept a request: parse the waPC payload
//! into a `serde_json::Value` and answer. `make bench` compares the policy's
//! no-change path with this module, built with the same profile and run on
//! the same engine.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;
use wapc_guest::{CallResult, register_function};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
}

fn validate(payload: &[u8]) -> CallResult {
    let _payload: Value = serde_json::from_slice(payload)?;
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
