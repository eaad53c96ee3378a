//! Turning the declared log sidecars of one pod template into native sidecars.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::change::Change;
use crate::error::PolicyError;
use crate::log_sidecars::{Declared, Sidecar, annotated_names, declared_sidecars, is_native, name};
use crate::pod_shape::shape_problems;
use crate::raw_json::{child_or_insert, field};
use crate::settings::{Placement, Settings};
use crate::tail_command::{TailFollow, tail_follow};
use crate::version::KubeVersion;
use crate::volume_mounts::{Access, SharedFiles};
use crate::workload::TemplateLocation;

/// Native sidecars exist from this release on (beta, on by default).
pub const NATIVE_SIDECARS_SINCE: KubeVersion = KubeVersion::new(1, 29);
/// `resizePolicy` is allowed on sidecars from this release on.
const SIDECAR_RESIZE_SINCE: KubeVersion = KubeVersion::new(1, 33);

/// The result of converting one pod template, which is changed in place.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    pub changes: Vec<Change>,
    pub problems: Vec<PolicyError>,
    /// Warnings about what was deliberately not done.
    pub notes: Vec<String>,
}

/// Converts the declared log sidecars of `template` (a Pod, or the
/// `template` of a workload). On problems, `template` may be half changed
/// and must be discarded; without changes or problems, it is left as it was.
pub fn convert_template(
    template: &mut Value,
    location: &TemplateLocation,
    settings: &Settings,
) -> Conversion {
    let mut conversion = Conversion {
        problems: shape_problems(template, &location.metadata_path, &location.spec_path),
        ..Conversion::default()
    };
    if !conversion.problems.is_empty() {
        return conversion;
    }
    let annotations = template
        .get("metadata")
        .and_then(|metadata| metadata.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let opt_out_key = settings.annotation("native");
    if annotations.get(&opt_out_key).and_then(Value::as_str) == Some("false") {
        if settings.allow_opt_out {
            conversion.notes.push(format!(
                "{opt_out_key}=false: log sidecars left as they are"
            ));
            return conversion;
        }
        conversion.notes.push(format!(
            "{opt_out_key}=false ignored: this policy does not allow opting out"
        ));
    }
    let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) else {
        return conversion;
    };
    let declared = match declared_sidecars(&annotations, spec, settings) {
        Ok(declared) => declared,
        Err(problems) => {
            conversion.problems = problems;
            return conversion;
        }
    };
    let to_convert = !declared.regular.is_empty() || !declared.stripped.is_empty();
    let natives = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(is_native));
    if !to_convert && !natives {
        return conversion;
    }
    if to_convert && settings.kubernetes_version < NATIVE_SIDECARS_SINCE {
        conversion.notes.push(format!(
            "not converted: native sidecars need Kubernetes {NATIVE_SIDECARS_SINCE}+ on every API \
             server and node (kubernetesVersion: {})",
            settings.kubernetes_version
        ));
        return conversion;
    }
    let converted = convert_spec(spec, declared, location, settings, &mut conversion);
    if conversion.problems.is_empty() {
        record_converted(template, &annotations, &converted, settings);
    }
    conversion
}

/// Moves and restores the sidecars of a shape-checked spec. Returns the
/// names of the containers that became native sidecars.
fn convert_spec(
    spec: &mut Map<String, Value>,
    declared: Declared,
    location: &TemplateLocation,
    settings: &Settings,
    conversion: &mut Conversion,
) -> Vec<String> {
    let spec_path = &location.spec_path;
    let mut containers = take_list(spec, "containers");
    let mut init_containers = take_list(spec, "initContainers");
    let mut volumes = take_list(spec, "volumes");

    let mut moved = Vec::new();
    let mut apps = Vec::new();
    // Both lists are in list order: one pass keeps large pods linear.
    let mut regular = declared.regular.into_iter().peekable();
    for (i, container) in containers.drain(..).enumerate() {
        match regular.next_if(|sidecar| sidecar.index == i) {
            Some(sidecar) => moved.push((
                format!("{spec_path}.containers[{i}]"),
                container,
                sidecar.tail,
            )),
            None => apps.push(container),
        }
    }
    if apps.is_empty() && !moved.is_empty() {
        let names: Vec<&str> = moved.iter().map(|(_, c, _)| name(c)).collect();
        conversion
            .problems
            .push(PolicyError::NoRegularContainerLeft {
                path: format!("{spec_path}.containers"),
                names: names.join(", "),
            });
        return Vec::new();
    }

    let mut shared = SharedFiles::new(
        &mut apps,
        &mut volumes,
        settings.add_volume_mounts,
        settings.create_shared_volume,
    );
    let mut access = Access::default();
    let mut converted = Vec::new();
    let mut stripped = declared.stripped.into_iter().peekable();
    for (i, container) in init_containers.iter_mut().enumerate() {
        let path = format!("{spec_path}.initContainers[{i}]");
        if let Some(Sidecar { tail, .. }) = stripped.next_if(|sidecar| sidecar.index == i) {
            refusals(
                container,
                tail.as_ref(),
                &path,
                settings,
                &mut access.problems,
            );
            access.changes.push(Change::Restored {
                name: name(container).to_string(),
                path: path.clone(),
            });
            make_native(container);
            converted.push(name(container).to_string());
            stream_access(&mut shared, container, tail, &path, true, &mut access);
        } else if is_native(container) {
            let tail = tail_follow(container);
            stream_access(&mut shared, container, tail, &path, false, &mut access);
        }
    }

    let at = match settings.placement {
        Placement::Last => init_containers.len(),
        Placement::First => init_containers
            .iter()
            .position(|c| !is_native(c))
            .unwrap_or(init_containers.len()),
    };
    let mut natives = Vec::with_capacity(moved.len());
    for (offset, (from, mut container, tail)) in moved.into_iter().enumerate() {
        refusals(
            &container,
            tail.as_ref(),
            &from,
            settings,
            &mut access.problems,
        );
        access.changes.push(Change::Moved {
            name: name(&container).to_string(),
            from: from.clone(),
            to: format!("{spec_path}.initContainers[{}]", at + offset),
        });
        make_native(&mut container);
        stream_access(&mut shared, &mut container, tail, &from, true, &mut access);
        converted.push(name(&container).to_string());
        natives.push(container);
    }
    init_containers.splice(at..at, natives);
    access.problems.extend(host_port_clashes(
        &apps,
        &init_containers,
        &converted,
        spec_path,
    ));

    put_list(spec, "containers", apps);
    put_list(spec, "initContainers", init_containers);
    put_list(spec, "volumes", volumes);
    conversion.changes.extend(access.changes);
    conversion.problems.extend(access.problems);
    converted
}

/// Gives a sidecar access to every file it streams (`tail`, its command line).
fn stream_access(
    shared: &mut SharedFiles,
    sidecar: &mut Value,
    tail: Option<TailFollow>,
    path: &str,
    may_change: bool,
    access: &mut Access,
) {
    for file in tail.map(|t| t.files).unwrap_or_default() {
        shared.give_access(sidecar, path, &file, may_change, access);
    }
}

/// Why a container cannot safely become a native sidecar (`tail`, its
/// command line).
fn refusals(
    container: &Value,
    tail: Option<&TailFollow>,
    path: &str,
    settings: &Settings,
    problems: &mut Vec<PolicyError>,
) {
    let path = path.to_string();
    if field(container, "restartPolicyRules").is_some() {
        problems.push(PolicyError::RestartPolicyRules { path: path.clone() });
    }
    if let Some(value) = field(container, "restartPolicy").and_then(Value::as_str)
        && value != "Always"
    {
        problems.push(PolicyError::RestartPolicyNotAlways {
            path: path.clone(),
            value: value.to_string(),
        });
    }
    if field(container, "startupProbe").is_some_and(|p| !p.is_null()) {
        problems.push(PolicyError::StartupProbe { path: path.clone() });
    }
    if container
        .get("lifecycle")
        .and_then(|lifecycle| lifecycle.get("postStart"))
        .is_some_and(|h| !h.is_null())
    {
        problems.push(PolicyError::PostStart { path: path.clone() });
    }
    if let Some(tail) = tail
        && !tail.retries
    {
        problems.push(PolicyError::FollowWithoutRetry {
            path: path.clone(),
            file: tail.files.join(" "),
        });
    }
    if field(container, "resizePolicy").is_some_and(|p| !p.is_null())
        && settings.kubernetes_version < SIDECAR_RESIZE_SINCE
    {
        problems.push(PolicyError::ResizePolicyTooOld {
            path,
            version: settings.kubernetes_version.to_string(),
        });
    }
}

fn make_native(container: &mut Value) {
    if let Some(object) = container.as_object_mut() {
        object.insert("restartPolicy".to_string(), json!("Always"));
    }
}

/// A `hostPort` is unique per protocol and host IP among the containers that
/// run together; the API server checks this within `containers` only.
fn host_port_clashes(
    apps: &[Value],
    init_containers: &[Value],
    converted: &[String],
    spec_path: &str,
) -> Vec<PolicyError> {
    let host_ports = |c: &Value| -> Vec<(i64, String, String)> {
        c.get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let port = p
                    .get("hostPort")
                    .and_then(Value::as_i64)
                    .filter(|&n| n > 0)?;
                let text = |k, default| p.get(k).and_then(Value::as_str).unwrap_or(default);
                Some((
                    port,
                    text("protocol", "TCP").to_string(),
                    text("hostIP", "").to_string(),
                ))
            })
            .collect()
    };
    let running: Vec<&Value> = apps
        .iter()
        .chain(init_containers.iter().filter(|c| is_native(c)))
        .collect();
    let mut problems = Vec::new();
    for (i, sidecar) in init_containers.iter().enumerate() {
        // Ports first: few sidecars have host ports, and the name search
        // would make large pods quadratic.
        let ports = host_ports(sidecar);
        if ports.is_empty() || !converted.iter().any(|n| n == name(sidecar)) {
            continue;
        }
        for port in ports {
            let other = running
                .iter()
                .find(|c| name(c) != name(sidecar) && host_ports(c).contains(&port));
            if let Some(other) = other {
                problems.push(PolicyError::HostPortClash {
                    path: format!("{spec_path}.initContainers[{i}]"),
                    port: format!("{}/{}", port.0, port.1),
                    other: name(other).to_string(),
                });
            }
        }
    }
    problems
}

/// Records the converted names in the template's annotations, after any
/// recorded before, so that a validating guard can check them later.
fn record_converted(
    template: &mut Value,
    annotations: &Map<String, Value>,
    converted: &[String],
    settings: &Settings,
) {
    if converted.is_empty() {
        return;
    }
    let key = settings.annotation("converted");
    let mut names: Vec<&str> = annotated_names(annotations, &key);
    // A set, so that recording hundreds of sidecars stays linear.
    let mut recorded: HashSet<&str> = names.iter().copied().collect();
    for name in converted {
        if recorded.insert(name) {
            names.push(name);
        }
    }
    let value = json!(names.join(","));
    if annotations.get(&key) == Some(&value) {
        return;
    }
    let metadata = child_or_insert(template, "metadata", json!({}));
    if let Some(Value::Object(annotations)) =
        metadata.and_then(|m| child_or_insert(m, "annotations", json!({})))
    {
        annotations.insert(key, value);
    }
}

/// Takes a list out of the spec, leaving an empty list (or whatever was
/// there) in place, so that key order and absent keys are kept.
fn take_list(spec: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match spec.get_mut(key) {
        Some(Value::Array(items)) => std::mem::take(items),
        _ => Vec::new(),
    }
}

/// Puts a list back where `take_list` took it. An absent or `null` list
/// that stays empty is left as it was.
fn put_list(spec: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    match spec.get_mut(key) {
        Some(Value::Array(slot)) => *slot = items,
        _ if items.is_empty() => {}
        _ => {
            spec.insert(key.to_string(), Value::Array(items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::template_location;

    /// `evaluate_request` relies on this to skip keeping a copy of the object.
    #[test]
    fn a_conversion_without_changes_or_problems_leaves_the_template_as_it_was() {
        let mut checked = 0;
        for entry in std::fs::read_dir("test_data").expect("test_data is readable") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a readable fixture");
            let request: Value = serde_json::from_str(&text).expect("a JSON fixture");
            let kind = request["kind"]["kind"].as_str().unwrap_or_default();
            let Some(location) = template_location(kind) else {
                continue;
            };
            let Some(template) = location
                .keys
                .iter()
                .try_fold(&request["object"], |value, key| value.get(*key))
            else {
                continue;
            };
            for settings in [
                Settings::default(),
                Settings {
                    placement: Placement::First,
                    ..Settings::default()
                },
            ] {
                let mut converted = template.clone();
                let conversion = convert_template(&mut converted, &location, &settings);
                if conversion.changes.is_empty() && conversion.problems.is_empty() {
                    assert_eq!(&converted, template, "{}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 0, "some fixture takes the no-change path");
    }
}
