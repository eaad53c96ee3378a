//! `run`: one evaluation, printed as kwctl prints it.

use serde_json::Value;

use crate::admission::AdmissionResponse;
use crate::cli::RunArgs;
use crate::engine::Runtime;
use crate::error::{Failure, print_json_line};
use crate::input::{load_request, load_settings};
use crate::policy::Policy;

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let request = load_request(&args.request_path)?;
    let settings = load_settings(&args.settings)?;
    let runtime = Runtime::new().map_err(Failure::Module)?;
    let policy = Policy::load(&runtime, &args.policy, args.limits)?;

    let outcome = evaluate(&policy, &request, &settings);
    if args.report_memory {
        eprintln!("peak linear memory: {} bytes", policy.linear_memory_bytes());
    }
    let response = outcome?;
    print_json_line(&response)?;
    Ok(())
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
    match policy.validate(request, settings) {
        Ok(response) => Ok(AdmissionResponse::from_validation(
            uid,
            request.get("object"),
            &response,
        )),
        // As the policy-server does: an error the policy reports itself
        // becomes a rejection with code 500.
        Err(Failure::Guest(message)) => {
            eprintln!("policy returned an error: {message}");
            Ok(AdmissionResponse::internal_server_error(uid, &message))
        }
        Err(other) => Err(other),
    }
}
