//! log-sidecar-policy: turns streaming log sidecars into native sidecars
//! (init containers with `restartPolicy: Always`) and guards them.

use kubewarden_policy_sdk::response::ValidationResponse;
use wapc_guest::{CallResult, register_function};

pub mod change;
pub mod conversion;
pub mod dropped_fields;
pub mod error;
pub mod evaluation;
pub mod field_checks;
pub mod host;
pub mod kube_path;
pub mod log_sidecars;
pub mod node_support;
pub mod payload;
pub mod pod_shape;
pub mod raw_json;
pub mod settings;
pub mod suggest;
pub mod tail_command;
pub mod unknown_fields;
pub mod version;
pub mod volume_mounts;
pub mod workload;

use evaluation::{Verdict, evaluate};

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
