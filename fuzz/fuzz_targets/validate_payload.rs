//! Raw bytes as the waPC `validate` payload. The policy must answer every
//! payload with a ValidationResponse, and a mutated object it returns must
//! come back unchanged when fed to it again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn respond(payload: &[u8]) -> Value {
    let answer = log_sidecar_policy::validate(payload).expect("validate always answers");
    let response: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
    let accepted = response["accepted"]
        .as_bool()
        .expect("the answer has a verdict");
    if !accepted {
        assert!(
            response["message"].as_str().is_some_and(|m| !m.is_empty()),
            "a rejection without a reason: {response}"
        );
    }
    response
}

fuzz_target!(|data: &[u8]| {
    let response = respond(data);
    let Some(mutated) = response.get("mutated_object").filter(|o| !o.is_null()) else {
        return;
    };
    // The payload as the policy reads it, with the mutated object: the parts
    // the policy skips may hold valid JSON that serde_json cannot build (a
    // number out of `f64` range in the user info).
    let read =
        log_sidecar_policy::request::payload::read(data).expect("a payload that mutated is read");
    let request = read.request.expect("a payload that mutated has a request");
    let payload = json!({
        "request": {"kind": request.kind, "operation": request.operation, "object": mutated},
        "settings": read.settings,
    });
    let again = respond(&serde_json::to_vec(&payload).expect("serializes"));
    assert_eq!(
        again["accepted"],
        json!(true),
        "the mutated object is refused: {again}"
    );
    assert!(
        again["mutated_object"].is_null() || again["mutated_object"] == *mutated,
        "the mutated object changes again: {again}"
    );
});
