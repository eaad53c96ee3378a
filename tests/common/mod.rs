//! Running the policy's `validate` entry point on fixtures, as the host does.
// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use serde_json::{Value, json};

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/test_data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// The names of the AdmissionRequest fixtures directly in `test_data/`.
pub fn fixture_names() -> Vec<String> {
    let dir = format!("{}/test_data", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|entry| {
            let path = entry.expect("a directory entry").path();
            let json = path.extension().is_some_and(|e| e == "json");
            json.then(|| path.file_name()?.to_str().map(str::to_string))
                .flatten()
        })
        .collect();
    names.sort();
    names
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

/// The response that accepts a request as it is, without a word.
pub fn untouched() -> Value {
    json!({"accepted": true, "message": null, "code": null, "mutated_object": null,
           "audit_annotations": null, "warnings": null})
}

/// The warnings of a ValidationResponse.
pub fn warnings(response: &Value) -> Vec<String> {
    serde_json::from_value(response["warnings"].clone()).unwrap_or_default()
}

/// The lines of a rejection; fails when the response is not one.
pub fn rejection(response: &Value) -> Vec<String> {
    assert_eq!(
        response["accepted"],
        json!(false),
        "expected a rejection: {response}"
    );
    response["message"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A host that answers every Kubernetes call with `answer` and records the
/// calls it gets, as (operation, request) pairs.
pub struct ScriptedHost {
    pub answer: Result<Value, String>,
    pub calls: std::cell::RefCell<Vec<(String, Value)>>,
}

impl ScriptedHost {
    pub fn new(answer: Result<Value, String>) -> Self {
        ScriptedHost {
            answer,
            calls: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// A node list answer of (name, kubelet version) pairs.
    pub fn nodes(nodes: &[(&str, &str)]) -> Self {
        let items: Vec<Value> = nodes
            .iter()
            .map(|(name, version)| {
                json!({"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": version}}})
            })
            .collect();
        ScriptedHost::new(Ok(
            json!({"apiVersion": "v1", "kind": "List", "items": items}),
        ))
    }
}

impl log_sidecar_policy::host::Host for ScriptedHost {
    fn kubernetes(&self, operation: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        let request = serde_json::from_slice(request).expect("the policy sends JSON");
        self.calls
            .borrow_mut()
            .push((operation.to_string(), request));
        self.answer
            .clone()
            .map(|answer| serde_json::to_vec(&answer).expect("an answer serializes"))
    }
}

/// The ValidationResponse for `request` with `settings`, asking `host`.
pub fn respond_with_host(
    request: &Value,
    settings: Value,
    host: &dyn log_sidecar_policy::host::Host,
) -> Value {
    let payload = json!({"request": request, "settings": settings});
    let bytes = serde_json::to_vec(&payload).expect("payload serializes");
    let evaluation = log_sidecar_policy::evaluation::evaluate(&bytes, host);
    let answer = log_sidecar_policy::respond(evaluation).expect("an answer");
    serde_json::from_slice(&answer).expect("the answer is JSON")
}
