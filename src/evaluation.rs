//! One admission request from payload to verdict, in either mode.

use serde_json::Value;

use crate::change::{Change, shorten};
use crate::conversion::convert_template;
use crate::error::PolicyError;
use crate::field_checks::field_findings;
use crate::payload::{self, Request};
use crate::settings::{Mode, Settings};
use crate::workload::{acts_on, template_location};

/// What the policy answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept,
    /// Accept this object instead of the request's.
    Mutate(Value),
    /// Refuse, with one line per problem.
    Reject(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub warnings: Vec<String>,
}

impl Evaluation {
    fn accept() -> Self {
        Evaluation {
            verdict: Verdict::Accept,
            warnings: Vec::new(),
        }
    }

    fn reject(problems: Vec<PolicyError>) -> Self {
        Evaluation {
            verdict: Verdict::Reject(problems.iter().map(ToString::to_string).collect()),
            warnings: Vec::new(),
        }
    }
}

/// Lines of a rejection past which problems are counted, not listed: the
/// message stays readable and bounded, whatever the input.
pub const MAX_PROBLEM_LINES: usize = 50;

fn bounded(mut problems: Vec<String>) -> Vec<String> {
    if problems.len() > MAX_PROBLEM_LINES {
        let more = problems.len() - (MAX_PROBLEM_LINES - 1);
        problems.truncate(MAX_PROBLEM_LINES - 1);
        problems.push(format!("...and {more} more problems"));
    }
    problems
}

/// Evaluates a waPC `validate` payload: `{"request": ..., "settings": ...}`.
pub fn evaluate(bytes: &[u8]) -> Evaluation {
    let payload = match payload::read(bytes) {
        Ok(payload) => payload,
        Err(e) => return Evaluation::reject(vec![PolicyError::PayloadNotJson(e.to_string())]),
    };
    let settings = match Settings::from_value(&payload.settings) {
        Ok(settings) => settings,
        Err(reason) => {
            return Evaluation::reject(vec![PolicyError::SettingsInPayload {
                path: "settings",
                reason,
            }]);
        }
    };
    match payload.request {
        Some(request) => evaluate_request(request, &settings, || object_as_sent(bytes)),
        None => Evaluation::reject(vec![PolicyError::WrongType {
            path: "request".to_string(),
            expected: "an AdmissionRequest object",
        }]),
    }
}

/// `request.object` of a payload, read anew.
fn object_as_sent(bytes: &[u8]) -> Value {
    payload::read(bytes)
        .ok()
        .and_then(|payload| payload.request)
        .map(|request| request.object)
        .unwrap_or_default()
}

/// Evaluates an AdmissionRequest with valid settings. The conversion works
/// on `request.object` itself; `as_sent` gives it back as it was, and is
/// called only when the answer depends on that after a conversion changed
/// it (a rejection, validate mode), so that the common paths do not pay for
/// a copy of every object.
pub fn evaluate_request(
    mut request: Request,
    settings: &Settings,
    as_sent: impl FnOnce() -> Value,
) -> Evaluation {
    let object = request.object.take();
    let (kind, operation) = (request.kind(), request.operation());
    let Some(location) = template_location(kind) else {
        return Evaluation::accept();
    };
    if !acts_on(kind, operation) {
        return Evaluation::accept();
    }
    let mut output = match object {
        object @ Value::Object(_) => object,
        Value::Null => {
            return Evaluation::reject(vec![PolicyError::Missing {
                path: "request.object".to_string(),
            }]);
        }
        _ => {
            return Evaluation::reject(vec![PolicyError::WrongType {
                path: "request.object".to_string(),
                expected: "an object",
            }]);
        }
    };
    let mut template = &mut output;
    for (depth, key) in location.keys.iter().enumerate() {
        match template.get_mut(*key) {
            Some(next @ Value::Object(_)) => template = next,
            None | Some(Value::Null) => return Evaluation::accept(),
            Some(_) => {
                return Evaluation::reject(vec![PolicyError::WrongType {
                    path: location.keys[..=depth].join("."),
                    expected: "an object",
                }]);
            }
        }
    }
    let conversion = convert_template(template, &location, settings);
    let mutates = settings.mode == Mode::Mutate
        && conversion.problems.is_empty()
        && !conversion.changes.is_empty();
    // Fields are checked as they leave the policy: converted in mutate mode,
    // as given in validate mode. A conversion without changes or problems
    // leaves the object as it was.
    let unchanged = conversion.changes.is_empty() && conversion.problems.is_empty();
    let sent;
    let checked = if mutates || unchanged {
        &output
    } else {
        sent = as_sent();
        &sent
    };
    let pod_spec = location
        .keys
        .iter()
        .try_fold(checked, |value, key| value.get(*key))
        .and_then(|template| template.get("spec"));
    let fields = field_findings(kind, checked, pod_spec, &location.spec_path, settings);

    let mut problems: Vec<String> = conversion
        .problems
        .iter()
        .chain(&fields.problems)
        .map(ToString::to_string)
        .collect();
    let mut warnings: Vec<String> = conversion.notes.into_iter().map(shorten).collect();
    match settings.mode {
        Mode::Mutate if mutates => warnings.extend(conversion.changes.iter().map(Change::warning)),
        Mode::Mutate => {}
        Mode::Validate => problems.extend(conversion.changes.iter().map(Change::violation)),
    }
    warnings.extend(fields.warnings);
    let verdict = if !problems.is_empty() {
        Verdict::Reject(bounded(problems))
    } else if mutates {
        Verdict::Mutate(output)
    } else {
        Verdict::Accept
    };
    Evaluation { verdict, warnings }
}
