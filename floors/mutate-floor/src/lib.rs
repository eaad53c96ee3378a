//! The least any mutating policy does: parse the waPC payload into a
//! `serde_json::Value` and send the request's object back as the mutated
//! object, unchanged. `make bench` compares the policy's conversion path
//! with this module, built with the same profile and run on the same engine.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;
use wapc_guest::{CallResult, register_function};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
}

fn validate(payload: &[u8]) -> CallResult {
    let mut payload: Value = serde_json::from_slice(payload)?;
    let object = payload
        .get_mut("request")
        .and_then(|request| request.get_mut("object"))
        .map(Value::take);
    let response = ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: object,
        audit_annotations: None,
        warnings: None,
    };
    Ok(serde_json::to_vec(&response)?)
}
