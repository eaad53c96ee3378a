//! Turning the declared log sidecars of one pod template into native sidecars.

use std::collections::HashSet;

use crate::conversion::change::{Change, QUOTING_WARNING_LIMIT, shorten, shorten_to};
use crate::conversion::dual_form::{self, DualPairs};
use crate::conversion::injection;
use crate::conversion::volume_mounts::{Access, MountsMark, SharedFiles, covering_volume};
use crate::error::PolicyError;
use crate::host::Host;
use crate::kube_path::item_path;
use crate::name_set::NameSet;
use crate::nodes::node_support::{NodeSupport, candidates, describe_nodes, node_support};
use crate::raw_json::{annotations, child_or_insert};
use crate::request::pod_shape::shape_problems;
use crate::request::workload::TemplateLocation;
use crate::settings::{Fallback, Mode, Placement, Settings, SidecarSupport};
use crate::sidecars::log_sidecars::{
    Declared, Sidecar, annotated_names, declared_sidecars, is_native, name,
};
use crate::sidecars::tail_command::{TailFollow, apply_edits, tail_follow};
use crate::value::{Map, Value};
use crate::version::KubeVersion;

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
    /// The names of the containers that became native sidecars.
    pub converted: Vec<String>,
    /// The names of the streaming sidecars injected.
    pub injected: Vec<String>,
    /// The Kubernetes version of the pod's nodes, when it is below
    /// `kubernetesVersion`: what the field checks must assume too.
    pub kubernetes_version: Option<KubeVersion>,
}

/// What becomes of the sidecars of a pod, given what is known of its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// Native sidecars, with the other rules at this version.
    Native(KubeVersion),
    /// Dual pairs, for this reason, with the other rules at this version.
    Dual {
        version: KubeVersion,
        reason: String,
    },
    /// Nothing becomes native: a warning or a refusal says why.
    Unchanged,
}

/// Decides from `kubernetesVersion`, the pod's candidate nodes (under
/// `sidecarSupport: detect`) and `fallback`. The pod's version is the lower
/// of `kubernetesVersion` and its oldest candidate kubelet. Without an
/// answer about the nodes, `kubernetesVersion` decides, with a warning, or,
/// with `fallback: dual`, the sidecars run in dual form.
fn decide(
    settings: &Settings,
    support: Option<NodeSupport>,
    location: &TemplateLocation,
    conversion: &mut Conversion,
) -> Decision {
    let configured = settings.kubernetes_version;
    let (version, old_nodes, unknown) = match support {
        None => (configured, None, None),
        Some(NodeSupport::Known {
            oldest,
            too_old,
            supported,
        }) => (
            oldest.map_or(configured, |oldest| oldest.min(configured)),
            (!too_old.is_empty()).then(|| (describe_nodes(&too_old), supported)),
            None,
        ),
        Some(NodeSupport::NoCandidates(reason)) => (configured, None, Some((reason, false))),
        Some(NodeSupport::Failed(error)) => (configured, None, Some((error, true))),
    };
    let setting_too_old = configured < NATIVE_SIDECARS_SINCE;
    let path = location.spec_path;
    if settings.fallback == Fallback::Dual {
        let reason = match (&old_nodes, &unknown) {
            (Some((nodes, 0)), _) if !setting_too_old => {
                conversion.notes.push(shorten(format!(
                    "not converted: native sidecars need kubelet {NATIVE_SIDECARS_SINCE}+, and every \
                     node the pod may run on is older: {nodes}"
                )));
                return Decision::Unchanged;
            }
            _ if setting_too_old => format!("kubernetesVersion is {configured}"),
            (Some((nodes, _)), _) => format!("nodes of this pod are mixed: {nodes}"),
            (None, Some((reason, failed))) => {
                conversion.notes.push(shorten_to(
                    match failed {
                        true => format!(
                            "cannot read the pod's nodes, so log sidecars run in dual form (grant \
                             the policy contextAwareResources v1/Node): {reason}"
                        ),
                        false => format!("{reason}, so log sidecars run in dual form"),
                    },
                    QUOTING_WARNING_LIMIT,
                ));
                "its nodes are unknown".to_string()
            }
            (None, None) => return Decision::Native(version),
        };
        return Decision::Dual { version, reason };
    }
    if let Some((reason, failed)) = unknown {
        conversion.notes.push(shorten_to(
            match failed {
                true => format!(
                    "cannot read the pod's nodes, so kubernetesVersion {configured} decides (grant \
                     the policy contextAwareResources v1/Node): {reason}"
                ),
                false => format!(
                    "{reason}, so kubernetesVersion {configured} decides whether sidecars become native"
                ),
            },
            QUOTING_WARNING_LIMIT,
        ));
    }
    let reject = settings.fallback == Fallback::Reject;
    match old_nodes {
        _ if setting_too_old && reject => {
            conversion.problems.push(PolicyError::KubernetesTooOld {
                path: path.to_string(),
                version: configured.to_string(),
            });
        }
        _ if setting_too_old => conversion.notes.push(shorten(format!(
            "not converted: native sidecars need Kubernetes {NATIVE_SIDECARS_SINCE}+ on every API \
             server and node (kubernetesVersion: {configured})"
        ))),
        Some((nodes, _)) if reject => {
            conversion.problems.push(PolicyError::NodesTooOld { path: path.to_string(), nodes });
        }
        Some((nodes, _)) => conversion.notes.push(shorten(format!(
            "not converted: native sidecars need kubelet {NATIVE_SIDECARS_SINCE}+, and the pod may run \
             on {nodes}"
        ))),
        None => return Decision::Native(version),
    }
    Decision::Unchanged
}

/// Converts the declared log sidecars of `template` (a Pod, or the
/// `template` of a workload). On problems, `template` may be half changed
/// and must be discarded; without changes or problems, it is left as it was.
/// `merge_legacy_copies`: whether a regular container that repeats a
/// recorded native sidecar is the legacy form re-applied by a merging
/// client (a workload template that this policy rewrites). `host` is asked
/// about the pod's nodes with `sidecarSupport: detect`, and only when there
/// is a sidecar to make native.
pub fn convert_template(
    template: &mut Value,
    location: &TemplateLocation,
    settings: &Settings,
    merge_legacy_copies: bool,
    host: &dyn Host,
) -> Conversion {
    let mut conversion = Conversion::default();
    if merge_legacy_copies {
        drop_legacy_copies(template, location, settings, &mut conversion);
    }
    conversion.problems = shape_problems(template, location.metadata_path, location.spec_path);
    if !conversion.problems.is_empty() {
        return conversion;
    }
    let empty = Map::new();
    let (annotations, spec) = annotations_and_spec(template);
    let annotations = annotations.unwrap_or(&empty);
    if settings
        .annotation_in(annotations, "native")
        .and_then(Value::as_str)
        == Some("false")
    {
        let opt_out_key = settings.annotation("native");
        if settings.allow_opt_out {
            conversion.notes.push(shorten(format!(
                "{opt_out_key}=false: log sidecars left as they are"
            )));
            return conversion;
        }
        conversion.notes.push(shorten(format!(
            "{opt_out_key}=false ignored: this policy does not allow opting out"
        )));
    }
    let Some(spec) = spec else {
        return conversion;
    };
    check_dual_pairs(annotations, spec, location, settings, &mut conversion);
    let declared = match declared_sidecars(annotations, spec, settings) {
        Ok(declared) => declared,
        Err(problems) => {
            conversion.problems = problems;
            return conversion;
        }
    };
    let inject = match wanted_injections(annotations, spec, location, settings) {
        Ok(inject) => inject,
        Err(problems) => {
            conversion.problems = problems;
            return conversion;
        }
    };
    let to_convert =
        !declared.regular.is_empty() || !declared.stripped.is_empty() || !inject.is_empty();
    let natives = spec
        .get("initContainers")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(is_native));
    if !to_convert && !natives {
        return conversion;
    }
    let effective;
    let mut dual = None;
    let mut native = true;
    let mut declared = declared;
    let settings = if to_convert {
        let support = match settings.sidecar_support {
            SidecarSupport::Assume => None,
            SidecarSupport::Detect => {
                Some(node_support(host, &candidates(spec), NATIVE_SIDECARS_SINCE))
            }
        };
        let (version, reason) = match decide(settings, support, location, &mut conversion) {
            Decision::Native(version) => (version, None),
            Decision::Dual { version, reason } => (version, Some(reason)),
            // Where sidecars stay regular containers, injected ones are
            // regular containers too.
            Decision::Unchanged if !inject.is_empty() && conversion.problems.is_empty() => {
                native = false;
                declared = Declared::default();
                (settings.kubernetes_version, None)
            }
            Decision::Unchanged => return conversion,
        };
        dual = reason;
        if version == settings.kubernetes_version {
            settings
        } else {
            conversion.kubernetes_version = Some(version);
            effective = Settings {
                kubernetes_version: version,
                ..settings.clone()
            };
            &effective
        }
    } else {
        settings
    };
    // Natives named here are the user's or the policy's own: their problems
    // are refusals, not warnings.
    let recorded: NameSet = annotated_names(settings.annotation_in(annotations, "converted"))
        .into_iter()
        .chain(annotated_names(
            settings.annotation_in(annotations, "containers"),
        ))
        .collect();
    let recorded_dual = settings
        .annotation_in(annotations, "dual")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plan = Plan {
        dual: dual.map(|reason| (reason, recorded_dual.to_string())),
        inject,
        native,
    };
    let pairs = convert_spec(
        spec,
        declared,
        &recorded,
        location,
        settings,
        plan,
        &mut conversion,
    );
    if !conversion.problems.is_empty() {
        return conversion;
    }
    let pairs: Vec<String> = pairs
        .iter()
        .flat_map(|pairs| &pairs.pairs)
        .map(|(native, legacy)| format!("{native}={legacy}"))
        .collect();
    let records: Vec<(String, Value)> = [
        ("converted", &conversion.converted),
        ("injected", &conversion.injected),
        ("dual", &pairs),
    ]
    .into_iter()
    .filter_map(|(annotation, added)| record(annotations, settings, annotation, added))
    .collect();
    if records.is_empty() {
        return conversion;
    }
    // The annotations and the spec were parts of the template; done with
    // both, the template takes the records.
    let metadata = child_or_insert(template, "metadata", Value::Object(Map::new()));
    if let Some(Value::Object(annotations)) =
        metadata.and_then(|m| child_or_insert(m, "annotations", Value::Object(Map::new())))
    {
        annotations.extend(records);
    }
    conversion
}

type Object = Map<String, Value>;

/// The template's annotations, to read, and its spec, to change: two parts
/// of one object, borrowed together so that the annotations need no copy.
fn annotations_and_spec(template: &mut Value) -> (Option<&Object>, Option<&mut Object>) {
    let (mut template_annotations, mut spec) = (None, None);
    for (key, value) in template.as_object_mut().into_iter().flatten() {
        match key.as_str() {
            "metadata" => {
                let metadata: &Value = value;
                template_annotations = metadata.get("annotations").and_then(Value::as_object);
            }
            "spec" => spec = value.as_object_mut(),
            _ => {}
        }
    }
    (template_annotations, spec)
}

/// Both halves of each pair recorded in `PREFIX/dual` must still be there:
/// a native sidecar in `initContainers` and its legacy form in `containers`.
/// Validate mode refuses a broken pair; mutate mode warns.
fn check_dual_pairs(
    annotations: &Map<String, Value>,
    spec: &Map<String, Value>,
    location: &TemplateLocation,
    settings: &Settings,
    conversion: &mut Conversion,
) {
    let Some(recorded) = settings
        .annotation_in(annotations, "dual")
        .and_then(Value::as_str)
    else {
        return;
    };
    let list = |key| {
        spec.get(key)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    let (containers, init_containers) = (list("containers"), list("initContainers"));
    for (native, legacy) in dual_form::recorded_pairs(recorded) {
        let has_native = init_containers.iter().any(|c| name(c) == native);
        let has_legacy = containers.iter().any(|c| name(c) == legacy);
        let missing = match (has_native, has_legacy) {
            (true, true) => continue,
            (false, _) => native,
            (true, false) => legacy,
        };
        let problem = PolicyError::DualPairBroken {
            path: location.spec_path.to_string(),
            native: native.to_string(),
            legacy: legacy.to_string(),
            missing: missing.to_string(),
        };
        match settings.mode {
            Mode::Validate => conversion.problems.push(problem),
            Mode::Mutate => conversion.notes.push(shorten(problem.to_string())),
        }
    }
}

/// Removes from `containers` the regular copy of a native sidecar recorded
/// in `PREFIX/converted`: a client that merges the manifest it applied
/// (kubectl's three-way patch, server-side apply) puts the legacy form of
/// a converted sidecar back next to its native form. The native one stays.
fn drop_legacy_copies(
    template: &mut Value,
    location: &TemplateLocation,
    settings: &Settings,
    conversion: &mut Conversion,
) {
    let recorded: Vec<String> = annotations(template)
        .map(|annotations| {
            annotated_names(settings.annotation_in(annotations, "converted"))
                .into_iter()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if recorded.is_empty() {
        return;
    }
    let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let recorded: NameSet = recorded.iter().map(String::as_str).collect();
    let natives: NameSet = match spec.get("initContainers") {
        Some(Value::Array(list)) => list
            .iter()
            .filter(|c| is_native(c))
            .map(name)
            .filter(|n| recorded.contains(n))
            .collect(),
        _ => return,
    };
    let Some(Value::Array(containers)) = spec.get("containers") else {
        return;
    };
    let copies: Vec<usize> = containers
        .iter()
        .enumerate()
        .filter(|(_, c)| !name(c).is_empty() && natives.contains(name(c)))
        .map(|(i, _)| i)
        .collect();
    // A pod needs a regular container; a template of copies only is left
    // for the API server to refuse.
    if copies.is_empty() || copies.len() == containers.len() {
        return;
    }
    let names: Vec<String> = copies
        .iter()
        .map(|&i| name(&containers[i]).to_string())
        .collect();
    if let Some(Value::Array(containers)) = spec.get_mut("containers") {
        // One pass, so that hundreds of copies stay linear.
        let mut copy = copies.iter().peekable();
        let mut index = 0;
        containers.retain(|_| {
            let dropped = copy.next_if(|&&i| i == index).is_some();
            index += 1;
            !dropped
        });
        for (&i, name) in copies.iter().zip(names) {
            conversion.changes.push(Change::DroppedLegacyCopy {
                name,
                path: item_path(location.spec_path, "containers", i),
            });
        }
    }
}

/// What to do besides moving and restoring declared sidecars.
struct Plan {
    /// Make dual pairs: why, and the pairs recorded before.
    dual: Option<(String, String)>,
    /// Inject a streamer `(name, file)` for each entry.
    inject: Vec<(String, String)>,
    /// Whether injected streamers are native sidecars (else regular
    /// containers).
    native: bool,
}

/// The streamers `PREFIX/stream` asks for that are not there yet, as
/// `(name, file)`. A name given or taken by a container that streams the
/// file means it is there; a name taken by any other container is refused.
fn wanted_injections(
    annotations: &Map<String, Value>,
    spec: &Map<String, Value>,
    location: &TemplateLocation,
    settings: &Settings,
) -> Result<Vec<(String, String)>, Vec<PolicyError>> {
    let Some(value) = settings
        .annotation_in(annotations, "stream")
        .and_then(Value::as_str)
    else {
        return Ok(Vec::new());
    };
    let entries = injection::entries(&settings.annotation("stream"), value)?;
    let empty = Vec::new();
    let list = |k| spec.get(k).and_then(Value::as_array).unwrap_or(&empty);
    let all: Vec<&Value> = list("containers")
        .iter()
        .chain(list("initContainers"))
        .collect();
    let mut chosen: HashSet<String> = HashSet::new();
    let (mut wanted, mut problems) = (Vec::new(), Vec::new());
    for entry in entries {
        let existing = |n: &str| all.iter().find(|c| name(c) == n);
        let sidecar = match &entry.name {
            Some(given) => given.clone(),
            None => {
                let base = injection::default_name(&entry.path);
                match existing(&base) {
                    Some(c) if injection::streams(c, &entry.path) => continue,
                    _ => {
                        injection::free_name(&base, |n| existing(n).is_some() || chosen.contains(n))
                    }
                }
            }
        };
        match existing(&sidecar) {
            Some(c) if injection::streams(c, &entry.path) => continue,
            Some(_) => problems.push(PolicyError::StreamNameTaken {
                path: location.spec_path.to_string(),
                annotation: settings.annotation("stream"),
                name: sidecar,
                file: entry.path,
            }),
            None => {
                chosen.insert(sidecar.clone());
                wanted.push((sidecar, entry.path));
            }
        }
    }
    if problems.is_empty() {
        Ok(wanted)
    } else {
        Err(problems)
    }
}

/// A sidecar on its way to `initContainers`: where it was, what it was.
struct Candidate {
    from: String,
    index: usize,
    container: Value,
    sidecar: Sidecar,
}

/// Moves and restores the sidecars of a shape-checked spec, recording the
/// names of those that became native sidecars in `conversion.converted`.
/// With `dual` (the reason, and the pairs recorded before), each becomes a
/// dual pair; the pairs made are returned.
fn convert_spec(
    spec: &mut Map<String, Value>,
    declared: Declared,
    recorded: &NameSet,
    location: &TemplateLocation,
    settings: &Settings,
    plan: Plan,
    conversion: &mut Conversion,
) -> Option<DualPairs> {
    let spec_path = &location.spec_path;
    let mut containers = take_list(spec, "containers");
    let container_count = containers.len();
    let mut init_containers = take_list(spec, "initContainers");
    let mut volumes = take_list(spec, "volumes");

    let mut moving = Vec::new();
    let (mut apps, mut app_indices) = (Vec::new(), Vec::new());
    // Containers that stay where they are without being apps: legacy halves
    // of dual pairs, detected sidecars left alone, new legacy halves.
    let mut kept = Vec::new();
    // The lists are in list order: one pass keeps large pods linear.
    let mut regular = declared.regular.into_iter().peekable();
    let mut halves = declared.legacy_halves.into_iter().peekable();
    for (i, container) in containers.drain(..).enumerate() {
        if halves.next_if_eq(&i).is_some() {
            kept.push((i, container));
            continue;
        }
        match regular.next_if(|sidecar| sidecar.index == i) {
            Some(sidecar) => moving.push(Candidate {
                from: item_path(spec_path, "containers", i),
                index: i,
                container,
                sidecar,
            }),
            None => {
                apps.push(container);
                app_indices.push(i);
            }
        }
    }
    if apps.is_empty() && kept.is_empty() && !moving.is_empty() {
        let names: Vec<&str> = moving.iter().map(|c| name(&c.container)).collect();
        conversion
            .problems
            .push(PolicyError::NoRegularContainerLeft {
                path: format!("{spec_path}.containers"),
                names: names.join(", "),
            });
        return None;
    }
    let others: Vec<&Value> = apps.iter().chain(kept.iter().map(|(_, c)| c)).collect();
    let ports = HostPorts::of(&others, &init_containers, &moving);
    let mut pairs = plan.dual.map(|(reason, recorded_dual)| {
        let every: Vec<&Value> = others
            .iter()
            .copied()
            .chain(&init_containers)
            .chain(moving.iter().map(|c| &c.container))
            .collect();
        let restart_policy = spec.get("restartPolicy").and_then(Value::as_str);
        DualPairs::new(reason, &volumes, &every, restart_policy, &recorded_dual)
    });

    let pod_security = spec.get("securityContext").cloned();
    let regular_count = apps.len() + kept.len();
    let mut shared = SharedFiles::new(
        &mut apps,
        &mut volumes,
        settings.add_volume_mounts,
        settings.create_shared_volume,
    );
    let mut stripped = declared.stripped.into_iter().peekable();
    for i in 0..init_containers.len() {
        let path = item_path(spec_path, "initContainers", i);
        if let Some(sidecar) = stripped.next_if(|sidecar| sidecar.index == i) {
            let restored = Change::Restored {
                name: name(&init_containers[i]).to_string(),
                path: path.clone(),
            };
            let container = &mut init_containers[i];
            if make_native(
                container,
                &sidecar,
                &path,
                restored,
                &mut shared,
                &ports,
                settings,
                pairs.is_some(),
                conversion,
            ) {
                conversion.converted.push(name(container).to_string());
                if let Some((legacy, change)) =
                    pairs.as_mut().and_then(|p| p.split(container, &path))
                {
                    kept.push((usize::MAX, legacy));
                    conversion.changes.push(change);
                }
            }
        } else if is_native(&init_containers[i]) {
            let (earlier, rest) = init_containers.split_at_mut(i);
            check_native(
                &mut rest[0],
                earlier,
                &path,
                recorded,
                &mut shared,
                settings,
                conversion,
            );
        }
    }

    let at = match settings.placement {
        Placement::Last => init_containers.len(),
        Placement::First => init_containers
            .iter()
            .position(|c| !is_native(c))
            .unwrap_or(init_containers.len()),
    };
    let mut natives = Vec::with_capacity(moving.len());
    for mut candidate in moving {
        let moved = Change::Moved {
            name: name(&candidate.container).to_string(),
            from: candidate.from.clone(),
            to: item_path(spec_path, "initContainers", at + natives.len()),
        };
        let from = candidate.from.clone();
        if make_native(
            &mut candidate.container,
            &candidate.sidecar,
            &from,
            moved,
            &mut shared,
            &ports,
            settings,
            pairs.is_some(),
            conversion,
        ) {
            conversion
                .converted
                .push(name(&candidate.container).to_string());
            if let Some((legacy, change)) = pairs
                .as_mut()
                .and_then(|p| p.split(&mut candidate.container, &from))
            {
                // The legacy form takes the sidecar's place.
                kept.push((candidate.index, legacy));
                conversion.changes.push(change);
            }
            natives.push(candidate.container);
        } else {
            kept.push((candidate.index, candidate.container));
        }
    }
    for (sidecar, file) in plan.inject {
        let path = if plan.native {
            item_path(spec_path, "initContainers", at + natives.len())
        } else {
            item_path(spec_path, "containers", regular_count + kept.len())
        };
        let security = injection::security_context(shared.writer(&file), pod_security.as_ref());
        let mut streamer = injection::streamer(&sidecar, &file, settings, security);
        let mut access = Access::default();
        shared.give_access(&mut streamer, &path, &file, true, &mut access);
        if let Some((volume, kind)) = covering_volume(&streamer, &file).and_then(|v| {
            let kind = injection::not_a_log_volume(shared.volumes(), &v)?;
            Some((v, kind))
        }) {
            access.problems.push(PolicyError::StreamNotALogVolume {
                path: path.clone(),
                file: file.clone(),
                volume,
                kind,
            });
        }
        if !access.problems.is_empty() {
            conversion.problems.extend(access.problems);
            continue;
        }
        // The streamer's mount is part of it; a shared volume made for it
        // changes the app, and is told.
        conversion.changes.extend(
            access
                .changes
                .into_iter()
                .filter(|c| matches!(c, Change::CreatedVolume { .. })),
        );
        conversion.changes.push(Change::Injected {
            name: sidecar.clone(),
            file,
            path: path.clone(),
            container: streamer.to_string(),
        });
        conversion.injected.push(sidecar);
        if !plan.native {
            kept.push((usize::MAX, streamer));
            continue;
        }
        if let Some(object) = streamer.as_object_mut() {
            object.insert("restartPolicy".to_string(), "Always".into());
        }
        if let Some((legacy, change)) = pairs.as_mut().and_then(|p| p.split(&mut streamer, &path)) {
            kept.push((usize::MAX, legacy));
            conversion.changes.push(change);
        }
        natives.push(streamer);
    }
    init_containers.splice(at..at, natives);
    if let Some(volume) = pairs.as_ref().and_then(DualPairs::volume) {
        volumes.push(volume);
    }

    put_list(
        spec,
        "containers",
        merge_by_index(container_count, apps, app_indices, kept),
    );
    put_list(spec, "initContainers", init_containers);
    put_list(spec, "volumes", volumes);
    pairs
}

/// The app containers and the sidecars left in place, back in their order:
/// each index of the `count` containers the list had is taken once, and
/// containers new to the list (`usize::MAX`) come last, in the order they
/// were added.
fn merge_by_index(
    count: usize,
    apps: Vec<Value>,
    indices: Vec<usize>,
    kept: Vec<(usize, Value)>,
) -> Vec<Value> {
    if kept.is_empty() {
        return apps;
    }
    let mut slots: Vec<Option<Value>> = vec![None; count];
    let mut added = Vec::new();
    for (index, container) in indices.into_iter().zip(apps).chain(kept) {
        match slots.get_mut(index) {
            Some(slot) => *slot = Some(container),
            None => added.push(container),
        }
    }
    slots.into_iter().flatten().chain(added).collect()
}

/// Makes one declared sidecar native in place: refusals, the follow
/// rewrite, `restartPolicy: Always` and the mounts for its files. Returns
/// whether it was converted. An explicit sidecar that cannot be converted
/// adds its problems to the conversion (which is then refused); a detected
/// one is left exactly as it was, with a warning per reason.
#[allow(clippy::too_many_arguments)]
fn make_native(
    container: &mut Value,
    sidecar: &Sidecar,
    path: &str,
    change: Change,
    shared: &mut SharedFiles,
    ports: &HostPorts,
    settings: &Settings,
    dual: bool,
    conversion: &mut Conversion,
) -> bool {
    let tail = sidecar.tail.as_ref();
    let mut access = Access::default();
    refusals(container, tail, path, settings, &mut access.problems);
    if dual && dual_form::argv(container).is_none() {
        access.problems.push(PolicyError::DualFormWithoutArgv {
            path: path.to_string(),
        });
    }
    ports.clashes(container, path, &mut access.problems);
    let (checkpoint, mounts) = (shared.checkpoint(), MountsMark::of(container));
    access.changes.push(change);
    for file in tail.into_iter().flat_map(TailFollow::log_files) {
        shared.give_access(container, path, file, true, &mut access);
    }
    if access.problems.is_empty() {
        if let Some(tail) = tail.filter(|t| t.exits_on_missing_file())
            && let Some(edits) = &tail.rewrite
        {
            apply_edits(container, edits);
            access.changes.insert(
                1,
                Change::RewroteFollow {
                    name: name(container).to_string(),
                    path: path.to_string(),
                    options: join(edits.iter().map(|e| e.option.as_str())),
                    rewritten: join(edits.iter().map(|e| e.rewritten.as_str())),
                },
            );
        }
        if let Some(object) = container.as_object_mut() {
            object.insert("restartPolicy".to_string(), "Always".into());
        }
        conversion.changes.extend(access.changes);
        return true;
    }
    if sidecar.explicit {
        conversion.problems.extend(access.problems);
        return false;
    }
    shared.roll_back(checkpoint);
    mounts.restore(container);
    let label = format!("{path} (\"{}\") not converted", name(container));
    conversion.notes.extend(
        access
            .problems
            .iter()
            .map(|p| shorten(format!("{label}: {}", p.brief()))),
    );
    false
}

fn join<'a>(words: impl Iterator<Item = &'a str>) -> String {
    words.collect::<Vec<_>>().join(" ")
}

/// Checks an init container that is already a native sidecar, and never
/// changes it: its mounts must reach the app's files (a refusal when it is
/// recorded or declared, a warning otherwise), and a `tail` that exits on
/// a missing file hangs the pod in `Init` unless an earlier init container
/// that mounts the same volume can create the file.
fn check_native(
    container: &mut Value,
    earlier: &[Value],
    path: &str,
    recorded: &NameSet,
    shared: &mut SharedFiles,
    settings: &Settings,
    conversion: &mut Conversion,
) {
    let Some(tail) = tail_follow(container) else {
        return;
    };
    let mut access = Access::default();
    for file in tail.log_files() {
        shared.give_access(container, path, file, false, &mut access);
    }
    let sidecar = name(container);
    let explicit =
        recorded.contains(sidecar) || settings.sidecar_names.iter().any(|n| n == sidecar);
    if explicit {
        conversion.problems.extend(access.problems);
    } else {
        let label = format!("{path} (\"{sidecar}\")");
        conversion.notes.extend(
            access
                .problems
                .iter()
                .map(|p| shorten(format!("{label}: {}", p.brief()))),
        );
    }
    if !tail.exits_on_missing_file() {
        return;
    }
    for file in tail.log_files() {
        let volume = covering_volume(container, file);
        let prepared = volume.is_some_and(|volume| {
            earlier
                .iter()
                .filter(|c| !is_native(c))
                .any(|c| mount_volumes(c).any(|v| v == volume.as_str()))
        });
        if !prepared {
            conversion.notes.push(shorten(format!(
                "{path} (\"{sidecar}\"): its tail exits on a missing file, so the pod hangs in Init; \
                 use tail -F"
            )));
            break;
        }
    }
}

fn mount_volumes(container: &Value) -> impl Iterator<Item = &str> {
    container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(name)
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
    if container.get("restartPolicyRules").is_some() {
        problems.push(PolicyError::RestartPolicyRules { path: path.clone() });
    }
    if let Some(value) = container.get("restartPolicy").and_then(Value::as_str)
        && value != "Always"
    {
        problems.push(PolicyError::RestartPolicyNotAlways {
            path: path.clone(),
            value: value.to_string(),
        });
    }
    if container.get("startupProbe").is_some_and(|p| !p.is_null()) {
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
        && tail.exits_on_missing_file()
    {
        let fix = match (&tail.rewrite, settings.rewrite_follow) {
            (Some(_), true) => None,
            (Some(_), false) => Some(" (or set rewriteFollow: true)"),
            (None, _) => Some(" (the option is quoted, so it is not rewritten)"),
        };
        if let Some(fix) = fix {
            problems.push(PolicyError::FollowWithoutRetry {
                path: path.clone(),
                file: tail.log_files().collect::<Vec<_>>().join(" "),
                fix,
            });
        }
    }
    if container.get("resizePolicy").is_some_and(|p| !p.is_null())
        && settings.kubernetes_version < SIDECAR_RESIZE_SINCE
    {
        problems.push(PolicyError::ResizePolicyTooOld {
            path,
            version: settings.kubernetes_version.to_string(),
        });
    }
}

/// The host ports of the containers that run together with the sidecars:
/// a `hostPort` is unique per protocol and host IP among them, and the API
/// server checks this within `containers` only.
struct HostPorts {
    /// (port, protocol, host IP, container name), only for containers that
    /// have host ports: few do.
    taken: Vec<(i64, String, String, String)>,
}

fn host_ports(container: &Value) -> Vec<(i64, String, String)> {
    container
        .get("ports")
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
}

impl HostPorts {
    fn of(regular: &[&Value], init_containers: &[Value], moving: &[Candidate]) -> HostPorts {
        let running = regular
            .iter()
            .copied()
            .chain(init_containers.iter().filter(|c| is_native(c)))
            .chain(moving.iter().map(|c| &c.container));
        let taken = running
            .flat_map(|c| {
                host_ports(c)
                    .into_iter()
                    .map(|(port, protocol, ip)| (port, protocol, ip, name(c).to_string()))
            })
            .collect();
        HostPorts { taken }
    }

    /// The clashes of a sidecar about to run next to the others.
    fn clashes(&self, sidecar: &Value, path: &str, problems: &mut Vec<PolicyError>) {
        for (port, protocol, ip) in host_ports(sidecar) {
            let other = self.taken.iter().find(|(p, pr, i, n)| {
                (*p, pr.as_str(), i.as_str()) == (port, protocol.as_str(), ip.as_str())
                    && n != name(sidecar)
            });
            if let Some((_, _, _, other)) = other {
                problems.push(PolicyError::HostPortClash {
                    path: path.to_string(),
                    port: format!("{port}/{protocol}"),
                    other: other.clone(),
                });
            }
        }
    }
}

/// The new value of the template's annotation `annotation` that records
/// `added` (converted or injected names, or `NATIVE=LEGACY` pairs of
/// `PREFIX/dual`) after any recorded before, so that a validating guard can
/// check them later; `None` when it records them already.
fn record(
    annotations: &Map<String, Value>,
    settings: &Settings,
    annotation: &str,
    added: &[String],
) -> Option<(String, Value)> {
    if added.is_empty() {
        return None;
    }
    let recorded_value = settings.annotation_in(annotations, annotation);
    let mut names: Vec<&str> = annotated_names(recorded_value);
    // A set, so that recording hundreds of sidecars stays linear.
    let mut recorded: NameSet = names.iter().copied().collect();
    for name in added {
        if recorded.insert(name) {
            names.push(name);
        }
    }
    let value = Value::String(names.join(","));
    (recorded_value != Some(&value)).then(|| (settings.annotation(annotation), value))
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
    use crate::request::workload::template_location;
    use crate::value::json;

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
                .try_fold(&request["object"], |value, key| value.get(key))
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
                let conversion = convert_template(
                    &mut converted,
                    &location,
                    &settings,
                    true,
                    &crate::host::Wapc,
                );
                if conversion.changes.is_empty() && conversion.problems.is_empty() {
                    assert_eq!(&converted, template, "{}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 0, "some fixture takes the no-change path");
    }

    #[test]
    fn every_re_applied_legacy_copy_is_dropped_in_one_pass() {
        let native = |n: &str| json!({"name": n, "restartPolicy": "Always"});
        let mut pod = json!({
            "metadata": {"annotations": {"log-sidecar.io/converted": "a, b"}},
            "spec": {
                "initContainers": [native("a"), native("b")],
                "containers": [{"name": "app"}, {"name": "a"}, {"name": "other"}, {"name": "b"}],
            },
        });
        let location = template_location("Pod").expect("a pod template");
        let mut conversion = Conversion::default();
        drop_legacy_copies(&mut pod, &location, &Settings::default(), &mut conversion);
        assert_eq!(
            pod["spec"]["containers"],
            json!([{"name": "app"}, {"name": "other"}])
        );
        let dropped = |name: &str, i: usize| Change::DroppedLegacyCopy {
            name: name.to_string(),
            path: format!("spec.containers[{i}]"),
        };
        assert_eq!(conversion.changes, [dropped("a", 1), dropped("b", 3)]);
    }

    #[test]
    fn containers_left_in_place_take_back_their_index_and_new_ones_come_last() {
        let named = |name: &str| json!({ "name": name });
        let apps = vec![named("app-0"), named("app-2")];
        let kept = vec![
            (usize::MAX, named("new-a")),
            (4, named("left-alone-4")),
            (1, named("legacy-1")),
            (usize::MAX, named("new-b")),
        ];
        let merged: Vec<Value> = merge_by_index(5, apps, vec![0, 2], kept);
        assert_eq!(
            merged,
            [
                "app-0",
                "legacy-1",
                "app-2",
                "left-alone-4",
                "new-a",
                "new-b"
            ]
            .map(named)
        );
    }
}
