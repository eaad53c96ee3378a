//! `run`: one evaluation, printed as kwctl prints it.

use serde_json::Value;

use crate::admission::AdmissionResponse;
use crate::cli::{RunArgs, RunInput};
use crate::engine::Runtime;
use crate::error::{Failure, print_json_line};
use crate::input::{load_request, load_settings, read_bytes};
use crate::policy::{HostSetup, Policy, Role, ValidationResponse};

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let input = match &args.input {
        RunInput::Request(path) => Input::Request {
            request: load_request(path)?,
            settings: load_settings(&args.settings)?,
        },
        RunInput::Payload(path) => Input::Payload(read_bytes(path, "payload file")?),
    };
    let setup = HostSetup::load(&args.context)?;
    let runtime = Runtime::new().map_err(Failure::Module)?;
    let (policy, host) = Policy::load(&runtime, &args.policy, args.limits, &setup, Role::Policy)?;

    let outcome = match &input {
        Input::Request { request, settings } => evaluate(&policy, request, settings),
        Input::Payload(payload) => evaluate_payload(&policy, payload),
    };
    // kwctl's replay warns when the evaluation is over.
    if let Some(warning) = host.leftover_warning() {
        eprintln!("warning: {warning}");
    }
    if args.report_memory {
        eprintln!("peak linear memory: {} bytes", policy.linear_memory_bytes());
    }
    let response = outcome?;
    print_json_line(&response)?;
    Ok(())
}

enum Input {
    Request { request: Value, settings: Value },
    Payload(Vec<u8>),
}

/// A raw payload goes to `validate` as it is, with no settings validation
/// first; the response takes the uid and object of the payload's request
/// when the payload is JSON.
fn evaluate_payload(policy: &Policy, payload: &[u8]) -> Result<AdmissionResponse, Failure> {
    let request = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|mut payload| payload.get_mut("request").map(Value::take))
        .unwrap_or_default();
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    answer(uid, request.get("object"), policy.validate_raw(payload))
}

fn evaluate(
    policy: &Policy,
    request: &Value,
    settings: &Value,
) -> Result<AdmissionResponse, Failure> {
    policy.validate_settings(settings)?;
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    answer(
        uid,
        request.get("object"),
        policy.validate(request, settings),
    )
}

fn answer(
    uid: &str,
    object: Option<&Value>,
    outcome: Result<ValidationResponse, Failure>,
) -> Result<AdmissionResponse, Failure> {
    match outcome {
        Ok(response) => Ok(AdmissionResponse::from_validation(uid, object, &response)),
        // As the policy-server does: an error the policy reports itself
        // becomes a rejection with code 500.
        Err(Failure::Guest(message)) => {
            eprintln!("policy returned an error: {message}");
            Ok(AdmissionResponse::internal_server_error(uid, &message))
        }
        Err(other) => Err(other),
    }
}
