//! Raw bytes as the waPC `validate_settings` payload. The policy must answer
//! every payload, and settings it finds valid must be taken by `validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let answer = log_sidecar_policy::settings::validate_settings(data)
        .expect("validate_settings always answers");
    let response: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
    let valid = response["valid"]
        .as_bool()
        .expect("the answer has a verdict");
    if !valid {
        assert!(
            response["message"].as_str().is_some_and(|m| !m.is_empty()),
            "invalid settings without a reason: {response}"
        );
        return;
    }
    let settings: Value = serde_json::from_slice(data).expect("valid settings are JSON");
    let request = json!({
        "uid": "fuzz",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "object": {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        },
    });
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("serializes");
    let answer = log_sidecar_policy::validate(&payload).expect("validate always answers");
    let response: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
    let message = response["message"].as_str().unwrap_or_default();
    assert!(
        !message.starts_with("settings: invalid settings"),
        "validate refuses settings validate_settings accepted: {message}"
    );
});
