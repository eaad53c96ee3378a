//! Fields that would vanish after admission: those whose feature gate is off
//! at the target version, and keys the Kubernetes schema does not define.

use crate::conversion::change::shorten;
use crate::error::PolicyError;
use crate::fields::dropped_fields::{DroppedField, dropped_fields};
use crate::fields::unknown_fields::{UnknownField, unknown_fields};
use crate::settings::{FieldPolicy, Settings};
use crate::value::Value;

/// Rejection lines and warnings about fields that would be dropped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldFindings {
    pub problems: Vec<PolicyError>,
    pub warnings: Vec<String>,
}

/// Checks `object` (of `kind`), whose pod spec is `pod_spec` at `spec_path`.
/// `dual_natives`: the paths of the `restartPolicy` of the native halves of
/// dual pairs, which are built to survive losing it.
pub fn field_findings(
    kind: &str,
    object: &Value,
    pod_spec: Option<&Value>,
    spec_path: &str,
    settings: &Settings,
    dual_natives: &[String],
) -> FieldFindings {
    let mut findings = FieldFindings::default();
    if settings.dropped_fields != FieldPolicy::Ignore
        && let Some(pod_spec) = pod_spec
    {
        let version = settings.kubernetes_version;
        for field in dropped_fields(pod_spec, spec_path, version, |g| settings.gate_enabled(g)) {
            if field.gate == "SidecarContainers" && dual_natives.contains(&field.path) {
                findings.warnings.push(shorten(format!(
                    "{}: lost below 1.29: the native half runs once and the legacy half streams",
                    field.path
                )));
                continue;
            }
            findings.add(settings.dropped_fields, dropped(&field, settings), || {
                dropped_warning(&field)
            });
        }
    }
    if settings.unknown_fields != FieldPolicy::Ignore {
        for field in unknown_fields(kind, object).unwrap_or_default() {
            findings.add(settings.unknown_fields, unknown(&field), || {
                unknown_warning(&field)
            });
        }
    }
    findings
}

impl FieldFindings {
    fn add(&mut self, policy: FieldPolicy, problem: PolicyError, warning: impl Fn() -> String) {
        match policy {
            FieldPolicy::Reject => self.problems.push(problem),
            FieldPolicy::Warn => self.warnings.push(shorten(warning())),
            FieldPolicy::Ignore => {}
        }
    }
}

fn enabled_since(field: &DroppedField) -> String {
    match field.on_by_default_since {
        Some(since) => format!("on by default from Kubernetes {since}"),
        None => "which no Kubernetes release enables by default yet".to_string(),
    }
}

fn dropped(field: &DroppedField, settings: &Settings) -> PolicyError {
    PolicyError::DroppedField {
        path: field.path.clone(),
        gate: field.gate,
        enabled: enabled_since(field),
        version: settings.kubernetes_version.to_string(),
    }
}

fn dropped_warning(field: &DroppedField) -> String {
    let since = field
        .on_by_default_since
        .map(|v| format!(" (default from {v})"))
        .unwrap_or_default();
    format!(
        "{}: dropped unless gate {} is on{since}",
        field.path, field.gate
    )
}

fn unknown(field: &UnknownField) -> PolicyError {
    let hint = match field.suggestion {
        Some(known) => format!("; did you mean \"{known}\"?"),
        None => "; remove it".to_string(),
    };
    PolicyError::UnknownField {
        path: field.path.clone(),
        hint,
    }
}

fn unknown_warning(field: &UnknownField) -> String {
    let hint = field
        .suggestion
        .map(|known| format!(" (did you mean \"{known}\"?)"))
        .unwrap_or_default();
    format!("{}: unknown field, dropped when decoded{hint}", field.path)
}
