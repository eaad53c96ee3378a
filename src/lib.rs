//! log-sidecar-policy: turns streaming log sidecars into native sidecars
//! (init containers with `restartPolicy: Always`) and guards them.

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
pub mod response;
pub mod settings;
pub mod suggest;
pub mod value;
pub mod version;

use evaluation::evaluate;
pub use response::respond;

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
