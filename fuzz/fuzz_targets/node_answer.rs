//! Raw bytes as the host's answer about nodes, under `sidecarSupport:
//! detect`: whatever the host says (garbage, huge lists, wrong types), the
//! policy answers with a ValidationResponse, and never traps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_sidecar_policy::host::Host;
use serde_json::{Value, json};

/// Answers every Kubernetes call with the fuzzer's bytes.
struct Answer<'a>(&'a [u8]);

impl Host for Answer<'_> {
    fn kubernetes(&self, _operation: &str, _request: &[u8]) -> Result<Vec<u8>, String> {
        Ok(self.0.to_vec())
    }
}

/// The seed pod: an app writing /var/log/cart-app.log, a sidecar streaming it.
fn request(pinned: bool) -> Value {
    let mut spec = json!({
        "containers": [
            {"name": "cart-app", "image": "busybox",
             "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]},
            {"name": "sidecar", "image": "busybox",
             "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"]}
        ],
        "volumes": [{"name": "varlog", "emptyDir": {}}]
    });
    if pinned {
        spec["nodeName"] = json!("node-1");
    }
    json!({
        "uid": "fuzz", "operation": "CREATE",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    })
}

fuzz_target!(|data: &[u8]| {
    let (pinned, answer) = match data.split_first() {
        Some((first, rest)) => (first % 2 == 1, rest),
        None => (false, data),
    };
    for fallback in ["legacy", "reject"] {
        let payload = json!({
            "request": request(pinned),
            "settings": {"sidecarSupport": "detect", "fallback": fallback},
        });
        let bytes = serde_json::to_vec(&payload).expect("serializes");
        let evaluation = log_sidecar_policy::evaluation::evaluate(&bytes, &Answer(answer));
        let response = log_sidecar_policy::respond(evaluation).expect("an answer");
        let response: Value = serde_json::from_slice(&response).expect("JSON");
        assert!(response["accepted"].is_boolean(), "{response}");
    }
});
