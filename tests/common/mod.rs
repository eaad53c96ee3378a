//! Running the policy's `validate` entry point on fixtures, as the host does.

use serde_json::{Value, json};

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/test_data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// The ValidationResponse for `request` with `settings`, as JSON.
pub fn respond(request: &Value, settings: Value) -> Value {
    let payload = json!({"request": request, "settings": settings});
    respond_to_bytes(&serde_json::to_vec(&payload).expect("payload serializes"))
}

pub fn respond_to_bytes(payload: &[u8]) -> Value {
    let answer = log_sidecar_policy::validate(payload).expect("validate always answers");
    serde_json::from_slice(&answer).expect("the answer is JSON")
}
