//! One admission request from payload to verdict, in either mode.

use crate::conversion::change::{Change, shorten};
use crate::conversion::dual_form::native_halves;
use crate::conversion::template::convert_template;
use crate::error::PolicyError;
use crate::fields::field_checks::field_findings;
use crate::host::Host;
use crate::raw_json::annotations;
use crate::request::payload::{self, Request};
use crate::request::workload::{acts_on, template_location};
use crate::settings::{Mode, Settings};
use crate::value::Value;

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

/// Evaluates a waPC `validate` payload: `{"request": ..., "settings": ...}`,
/// asking `host` about nodes when the settings say so.
pub fn evaluate(bytes: &[u8], host: &dyn Host) -> Evaluation {
    let payload = match payload::read(bytes) {
        Ok(payload) => payload,
        Err(e) => return Evaluation::reject(vec![PolicyError::PayloadNotJson(e)]),
    };
    let settings = match Settings::cached(&payload.settings) {
        Ok(settings) => settings,
        Err(reason) => {
            return Evaluation::reject(vec![PolicyError::SettingsInPayload {
                path: "settings",
                reason,
            }]);
        }
    };
    match payload.request {
        Some(request) => evaluate_request(request, &settings, || request_as_sent(bytes), host),
        None => Evaluation::reject(vec![PolicyError::WrongType {
            path: "request".to_string(),
            expected: "an AdmissionRequest object",
        }]),
    }
}

/// The `request` of a payload, read anew and whole.
fn request_as_sent(bytes: &[u8]) -> Value {
    crate::raw_json::parse::<Value>(bytes)
        .ok()
        .and_then(|mut payload| payload.get_mut("request").map(Value::take))
        .unwrap_or_default()
}

/// What the policy does with a pod template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Rewrite it: Pods, and workload templates with `convertTemplates`.
    Convert,
    /// Judge it as its pods will be converted, without rewriting it.
    Review,
}

/// Pods are converted. Templates are reviewed unless `convertTemplates` is
/// set, as mesh and CSI sidecar injectors do: a rewritten template makes
/// every re-apply of the unchanged manifest a change, and never for a Job
/// update (its template is immutable) or an object a controller owns (a
/// Deployment's ReplicaSet that no longer matches its Deployment is taken
/// for a hash collision and replaced, without end).
pub fn treatment(kind: &str, operation: &str, object: &Value, settings: &Settings) -> Treatment {
    let rewrite = kind == "Pod"
        || (settings.convert_templates
            && !(kind == "Job" && operation == "UPDATE")
            && !has_controller(object));
    if rewrite {
        Treatment::Convert
    } else {
        Treatment::Review
    }
}

fn has_controller(object: &Value) -> bool {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get("ownerReferences"))
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner.get("controller") == Some(&Value::Bool(true)))
        })
}

/// Evaluates an AdmissionRequest with valid settings. The conversion works
/// on `request.object` itself; `as_sent` gives the request back whole as it
/// was, and is called only when the answer depends on that after a
/// conversion changed it (a rejection, validate mode, a review), so that
/// the common paths do not pay for a copy of every object.
pub fn evaluate_request(
    mut request: Request,
    settings: &Settings,
    as_sent: impl Fn() -> Value,
    host: &dyn Host,
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
    let treatment = treatment(kind, operation, &output, settings);
    let mut template = &mut output;
    for (depth, key) in location.keys.iter().enumerate() {
        match template.get_mut(key) {
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
    let rewrites = treatment == Treatment::Convert;
    let conversion = convert_template(
        template,
        &location,
        settings,
        rewrites && kind != "Pod",
        host,
    );
    let mutates = settings.mode == Mode::Mutate
        && rewrites
        && conversion.problems.is_empty()
        && !conversion.changes.is_empty();
    // Fields are checked as they leave the policy: converted in mutate mode,
    // as given otherwise. A conversion without changes or problems leaves
    // the object as it was.
    let unchanged = conversion.changes.is_empty() && conversion.problems.is_empty();
    let mut sent = None;
    let checked = if mutates || unchanged {
        &output
    } else {
        &sent.get_or_insert_with(&as_sent)["object"]
    };
    let checked_template = location
        .keys
        .iter()
        .try_fold(checked, |value, key| value.get(key));
    let pod_spec = checked_template.and_then(|template| template.get("spec"));
    // The fields the pod's nodes would drop too.
    let at_nodes;
    let field_settings = match conversion.kubernetes_version {
        Some(version) => {
            at_nodes = Settings {
                kubernetes_version: version,
                ..settings.clone()
            };
            &at_nodes
        }
        None => settings,
    };
    // Only pods with init containers can hold a dual pair: the others, the
    // request almost every pod makes, look up no annotation.
    let init_containers = pod_spec
        .and_then(|spec| spec.get("initContainers"))
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty());
    let dual_natives = match init_containers {
        Some(init_containers) => native_halves(
            checked_template
                .and_then(|template| settings.annotation_in(annotations(template)?, "dual"))
                .and_then(Value::as_str),
            init_containers,
            location.spec_path,
        ),
        None => Vec::new(),
    };
    let fields = field_findings(
        kind,
        checked,
        pod_spec,
        location.spec_path,
        field_settings,
        &dual_natives,
    );

    let mut problems: Vec<String> = conversion
        .problems
        .iter()
        .chain(&fields.problems)
        .map(ToString::to_string)
        .collect();
    let mut warnings = conversion.notes;
    match (treatment, settings.mode) {
        (Treatment::Convert, Mode::Mutate) if mutates => {
            warnings.extend(conversion.changes.iter().map(Change::warning));
        }
        (Treatment::Convert, Mode::Mutate) => {}
        (Treatment::Convert, Mode::Validate) => {
            problems.extend(conversion.changes.iter().map(Change::violation));
        }
        (Treatment::Review, _) => {
            let sidecars: Vec<String> = conversion
                .converted
                .iter()
                .chain(&conversion.injected)
                .cloned()
                .collect();
            if !sidecars.is_empty() && conversion.problems.is_empty() {
                warnings.push(review_warning(location.spec_path, &sidecars));
            }
        }
    }
    warnings.extend(fields.warnings);
    if !problems.is_empty()
        && operation == "UPDATE"
        && template_unchanged(sent.get_or_insert_with(&as_sent), location.keys)
    {
        // Admitted before: refusing it now would block every update of the
        // object, the garbage collector's finalizer removal included.
        let path = location.metadata_path.trim_end_matches(".metadata");
        warnings.push(shorten(format!(
            "{path} is unchanged by this update, so it is let through as it was admitted; it has \
             {} problem(s):",
            problems.len()
        )));
        warnings.extend(bounded(problems).into_iter().map(shorten));
        return Evaluation {
            verdict: Verdict::Accept,
            warnings,
        };
    }
    let verdict = if !problems.is_empty() {
        Verdict::Reject(bounded(problems))
    } else if mutates {
        Verdict::Mutate(output)
    } else {
        Verdict::Accept
    };
    Evaluation { verdict, warnings }
}

/// What a reviewed template is told: its pods get the sidecars as native
/// sidecars, and the manifest itself changes with `convert`.
fn review_warning(spec_path: &str, converted: &[String]) -> String {
    let template = spec_path.trim_end_matches(".spec");
    let names: Vec<String> = converted.iter().map(|n| format!("\"{n}\"")).collect();
    shorten(format!(
        "{template}: its pods get {} as native sidecar(s); convert rewrites the manifest itself",
        names.join(", ")
    ))
}

/// Whether an UPDATE leaves the pod template as it was in the old object.
fn template_unchanged(request: &Value, keys: &[&str]) -> bool {
    let at = |root: &str| {
        keys.iter()
            .try_fold(request.get(root)?, |value, key| value.get(key))
    };
    matches!((at("object"), at("oldObject")), (Some(new), Some(old)) if new == old)
}
