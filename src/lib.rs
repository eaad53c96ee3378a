//! log-sidecar-policy: turns streaming log sidecars into native sidecars
//! (init containers with `restartPolicy: Always`) and guards them.

use kubewarden_policy_sdk::response::ValidationResponse;
use wapc_guest::{CallResult, register_function};

// The stages of a request's way through the policy, in order.
pub mod conversion;
pub mod fields;
pub mod nodes;
pub mod request;
pub mod sidecars;

// What every stage shares.
pub mod allocator;
pub mod error;
pub mod evaluation;
pub mod host;
pub mod kube_path;
pub mod name_set;
pub mod raw_json;
pub mod settings;
pub mod suggest;
pub mod version;

use evaluation::{Verdict, evaluate};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: allocator::Chunked<std::alloc::System> =
    allocator::Chunked::new(std::alloc::System);

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", settings::validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// The waPC `validate` entry point. Every outcome, bad input included, is an
/// answer: an error here would reach the API server as an HTTP 500.
pub fn validate(payload: &[u8]) -> CallResult {
    respond(evaluate(payload, &host::Wapc))
}

/// The ValidationResponse of an evaluation, as the host reads it.
pub fn respond(evaluation: evaluation::Evaluation) -> CallResult {
    let warnings = (!evaluation.warnings.is_empty()).then_some(evaluation.warnings);
    let response = match evaluation.verdict {
        Verdict::Accept => ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings,
        },
        Verdict::Mutate(object) => ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(object),
            audit_annotations: None,
            warnings,
        },
        Verdict::Reject(lines) => ValidationResponse {
            accepted: false,
            message: Some(lines.join("\n")),
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings,
        },
    };
    Ok(serde_json::to_vec(&response)?)
}
