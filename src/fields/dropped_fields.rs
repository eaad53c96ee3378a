//! Pod-spec fields that the API server drops silently when their feature gate is off.
//!
//! On CREATE the API server runs mutating admission, then drops the fields of
//! disabled feature gates (`dropDisabledFields` in `pkg/api/pod/util.go`, called
//! from `PrepareForCreate` for pods and for every pod template), then validates.
//! A field whose gate is off therefore reaches admission intact and vanishes
//! after it. The table below mirrors those drop functions as of Kubernetes 1.35.

use std::sync::OnceLock;

use crate::kube_path::Path;
use crate::value::Value;
use crate::version::KubeVersion;

/// One field the API server would drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedField {
    /// kubectl style, with the caller's prefix: `spec.template.spec.initContainers[0].restartPolicy`.
    pub path: String,
    /// The feature gate that keeps the field, e.g. `SidecarContainers`.
    pub gate: &'static str,
    /// `None`: not on by default in any release yet.
    pub on_by_default_since: Option<KubeVersion>,
}

/// Finds the fields of `pod_spec` that the API server at `version` would drop.
///
/// `pod_spec` is the PodSpec JSON and `spec_path` its kubectl path (`spec`,
/// `spec.template.spec`, ...). A field is reported when its gate is not on by
/// default at `version` and `gate_enabled(gate)` is false. Output order: table
/// order, then PodSpec field order (the order the API server serializes in),
/// then list index. Values of the wrong JSON type count as absent.
pub fn dropped_fields(
    pod_spec: &Value,
    spec_path: &str,
    version: KubeVersion,
    gate_enabled: impl Fn(&str) -> bool,
) -> Vec<DroppedField> {
    // Looked up once: every volume mount of every container is checked against them.
    let image_volumes: Vec<&str> = image_volume_names(pod_spec).collect();
    let active = ROWS
        .iter()
        .enumerate()
        .filter(|(_, row)| {
            let on_by_default = row
                .on_by_default_since
                .is_some_and(|since| since <= version);
            !on_by_default && !gate_enabled(row.gate)
        })
        .fold(0, |rows, (index, _)| rows | 1 << index);
    let tree = pattern_tree();
    // One list per pattern, joined in table order at the end.
    let mut found: Vec<Vec<DroppedField>> = std::iter::repeat_with(Vec::new)
        .take(tree.patterns)
        .collect();
    walk(
        pod_spec,
        &tree.root,
        &Path::Root(spec_path),
        active,
        &mut |value, path, end| {
            let row = &ROWS[end.row];
            if row.condition.holds(value, &image_volumes) {
                found[end.pattern].push(DroppedField {
                    path: path.to_string(),
                    gate: row.gate,
                    on_by_default_since: row.on_by_default_since,
                });
            }
        },
    );
    found.into_iter().flatten().collect()
}

/// Every gate named in the table, once each, in table order.
pub fn known_gates() -> impl Iterator<Item = &'static str> {
    ROWS.iter()
        .enumerate()
        .filter(|(index, row)| ROWS.iter().position(|r| r.gate == row.gate) == Some(*index))
        .map(|(_, row)| row.gate)
}

/// One family of fields dropped together when `gate` is off.
struct Row {
    gate: &'static str,
    on_by_default_since: Option<KubeVersion>,
    /// Patterns relative to the pod spec: `.` separates keys, `key[*]` visits
    /// every element of the list `key`, `{a,b}` visits key `a`, then key `b`.
    paths: &'static [&'static str],
    /// What the value at the end of a path must be for the API server to drop it.
    condition: Condition,
    /// Upstream `kubernetes/kubernetes` file and function, and the gate's default.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "provenance for readers, checked by the tests")
    )]
    source: &'static str,
}

#[derive(Clone, Copy)]
enum Condition {
    String,
    StringOtherThan(&'static str),
    Bool,
    Object,
    /// An empty list is the same as none, so dropping it loses nothing.
    NonEmptyList,
    /// A volume whose `image` is set.
    ImageVolume,
    /// A volume mount whose `name` is that of an image volume.
    ImageVolumeMount,
}

impl Condition {
    /// `image_volumes`: the names of the pod's image volumes.
    fn holds(self, value: &Value, image_volumes: &[&str]) -> bool {
        match self {
            Condition::String => value.is_string(),
            Condition::StringOtherThan(kept) => value.as_str().is_some_and(|s| s != kept),
            Condition::Bool => value.is_boolean(),
            Condition::Object => value.is_object(),
            Condition::NonEmptyList => value.as_array().is_some_and(|list| !list.is_empty()),
            Condition::ImageVolume => is_image_volume(value),
            Condition::ImageVolumeMount => value
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| image_volumes.contains(&name)),
        }
    }
}

fn is_image_volume(volume: &Value) -> bool {
    volume.get("image").is_some_and(Value::is_object)
}

fn image_volume_names(pod_spec: &Value) -> impl Iterator<Item = &str> {
    pod_spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|volume| is_image_volume(volume))
        .filter_map(|volume| volume.get("name").and_then(Value::as_str))
}

/// The patterns of every row merged into one tree: a walk reads each key
/// once for all the patterns that go through it (a dozen of them look into
/// every container), instead of once per pattern.
struct Tree {
    root: Node,
    /// How many patterns the table has.
    patterns: usize,
}

#[derive(Default)]
struct Node {
    /// The steps below, in the order the patterns name their keys.
    steps: Vec<Step>,
    /// The patterns that end here.
    ends: Vec<End>,
    /// The rows with a pattern through or ending at this node, one bit each.
    rows: u64,
}

struct Step {
    key: &'static str,
    /// Whether the value at `key` is a list whose every element is visited.
    each: bool,
    node: Node,
}

#[derive(Clone, Copy)]
struct End {
    /// The index of the row in [`ROWS`], and of the pattern among all of them.
    row: usize,
    pattern: usize,
}

/// The keys of one segment of a pattern (`key`, `key[*]`, `{a,b}` or
/// `{a,b}[*]`), and whether the value at each is a list whose every element
/// is visited.
fn segment_keys(segment: &'static str) -> (std::str::Split<'static, char>, bool) {
    let (keys, each) = match segment.strip_suffix("[*]") {
        Some(keys) => (keys, true),
        None => (segment, false),
    };
    let keys = keys
        .strip_prefix('{')
        .and_then(|keys| keys.strip_suffix('}'))
        .unwrap_or(keys);
    (keys.split(','), each)
}

/// Adds the rest of a pattern below `node`: `segments` of the form `key`,
/// `key[*]`, `{a,b}` or `{a,b}[*]`.
fn insert(node: &mut Node, segments: &[&'static str], end: End) {
    node.rows |= 1 << end.row;
    let Some((segment, rest)) = segments.split_first() else {
        node.ends.push(end);
        return;
    };
    let (keys, each) = segment_keys(segment);
    for key in keys {
        let at = match node
            .steps
            .iter()
            .position(|s| s.key == key && s.each == each)
        {
            Some(at) => at,
            None => {
                node.steps.push(Step {
                    key,
                    each,
                    node: Node::default(),
                });
                node.steps.len() - 1
            }
        };
        insert(&mut node.steps[at].node, rest, end);
    }
}

/// The tree of the table, built once per module instance.
fn pattern_tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = Tree {
            root: Node::default(),
            patterns: 0,
        };
        for (row, entry) in ROWS.iter().enumerate() {
            for pattern in entry.paths {
                let segments: Vec<&str> = pattern.split('.').collect();
                let end = End {
                    row,
                    pattern: tree.patterns,
                };
                insert(&mut tree.root, &segments, end);
                tree.patterns += 1;
            }
        }
        tree
    })
}

/// Calls `found` with the value, the path and the pattern of every node that
/// a pattern of an `active` row reaches from `value`, whose path is `path`.
/// A value of the wrong JSON type ends its branch: `get` and `as_array`
/// give `None`.
fn walk(
    value: &Value,
    node: &Node,
    path: &Path,
    active: u64,
    found: &mut impl FnMut(&Value, &Path, End),
) {
    for end in &node.ends {
        if active & 1 << end.row != 0 {
            found(value, path, *end);
        }
    }
    for step in &node.steps {
        if step.node.rows & active == 0 {
            continue;
        }
        let Some(child) = value.get(step.key) else {
            continue;
        };
        let child_path = path.field(step.key);
        if step.each {
            for (index, item) in child.as_array().into_iter().flatten().enumerate() {
                walk(item, &step.node, &child_path.index(index), active, found);
            }
        } else {
            walk(child, &step.node, &child_path, active, found);
        }
    }
}

/// A pattern under every container list, in PodSpec field order.
macro_rules! every_container {
    ($rest:literal) => {
        concat!("{initContainers,containers,ephemeralContainers}[*].", $rest)
    };
}

const fn since(minor: u32) -> Option<KubeVersion> {
    Some(KubeVersion::new(1, minor))
}

/// Restart policy rows first (they decide whether a native sidecar survives),
/// then the order of `dropDisabledFields`.
static ROWS: &[Row] = &[
    Row {
        gate: "SidecarContainers",
        on_by_default_since: since(29),
        // Every value, `Always` included; regular containers are left to validation.
        paths: &["initContainers[*].restartPolicy"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go SidecarContainers: beta, on by default since 1.29",
    },
    // The three ContainerRestartRules rows: this drop code exists from 1.34 on;
    // before that, validation rejects these values instead.
    Row {
        gate: "ContainerRestartRules",
        on_by_default_since: since(35),
        paths: &["initContainers[*].restartPolicy"],
        condition: Condition::StringOtherThan("Always"),
        source: "pkg/api/pod/util.go dropContainerRestartRules; \
                 pkg/features/kube_features.go ContainerRestartRules: beta, on by default since 1.35",
    },
    Row {
        gate: "ContainerRestartRules",
        on_by_default_since: since(35),
        paths: &["{containers,ephemeralContainers}[*].restartPolicy"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropContainerRestartRules; \
                 pkg/features/kube_features.go ContainerRestartRules: beta, on by default since 1.35",
    },
    Row {
        gate: "ContainerRestartRules",
        on_by_default_since: since(35),
        paths: &[every_container!("restartPolicyRules")],
        condition: Condition::NonEmptyList,
        source: "pkg/api/pod/util.go dropContainerRestartRules; \
                 pkg/features/kube_features.go ContainerRestartRules: beta, on by default since 1.35",
    },
    Row {
        gate: "UserNamespacesSupport",
        on_by_default_since: since(33),
        // The internal type keeps hostUsers in the pod security context; the
        // v1 JSON has it on the pod spec.
        paths: &["hostUsers"],
        condition: Condition::Bool,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go UserNamespacesSupport: beta, on by default since 1.33",
    },
    Row {
        gate: "SupplementalGroupsPolicy",
        on_by_default_since: since(33),
        paths: &["securityContext.supplementalGroupsPolicy"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go SupplementalGroupsPolicy: beta, on by default since 1.33",
    },
    Row {
        gate: "PodLevelResources",
        on_by_default_since: since(34),
        paths: &["resources"],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropDisabledPodLevelResources; \
                 pkg/features/kube_features.go PodLevelResources: beta, on by default since 1.34",
    },
    Row {
        gate: "ProcMountType",
        on_by_default_since: since(33),
        // Forced to `Default` rather than removed, so only other values are lost.
        paths: &[every_container!("securityContext.procMount")],
        condition: Condition::StringOtherThan("Default"),
        source: "pkg/api/pod/util.go dropDisabledProcMountField; \
                 pkg/features/kube_features.go ProcMountType: beta, on by default since 1.33",
    },
    Row {
        gate: "NodeInclusionPolicyInPodTopologySpread",
        on_by_default_since: since(26),
        paths: &["topologySpreadConstraints[*].{nodeAffinityPolicy,nodeTaintsPolicy}"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropDisabledNodeInclusionPolicyFields; \
                 pkg/features/kube_features.go NodeInclusionPolicyInPodTopologySpread: \
                 beta, on by default since 1.26",
    },
    Row {
        gate: "MatchLabelKeysInPodTopologySpread",
        on_by_default_since: since(27),
        paths: &["topologySpreadConstraints[*].matchLabelKeys"],
        condition: Condition::NonEmptyList,
        source: "pkg/api/pod/util.go dropDisabledMatchLabelKeysFieldInTopologySpread; \
                 pkg/features/kube_features.go MatchLabelKeysInPodTopologySpread: \
                 beta, on by default since 1.27",
    },
    Row {
        gate: "MatchLabelKeysInPodAffinity",
        on_by_default_since: since(31),
        paths: &[
            "affinity.{podAffinity,podAntiAffinity}.requiredDuringSchedulingIgnoredDuringExecution[*]\
             .{matchLabelKeys,mismatchLabelKeys}",
            "affinity.{podAffinity,podAntiAffinity}.preferredDuringSchedulingIgnoredDuringExecution[*]\
             .podAffinityTerm.{matchLabelKeys,mismatchLabelKeys}",
        ],
        condition: Condition::NonEmptyList,
        source: "pkg/api/pod/util.go dropDisabledMatchLabelKeysFieldInPodAffinity; \
                 pkg/features/kube_features.go MatchLabelKeysInPodAffinity: \
                 beta, on by default since 1.31",
    },
    Row {
        gate: "DynamicResourceAllocation",
        on_by_default_since: since(34),
        paths: &["resourceClaims", every_container!("resources.claims")],
        condition: Condition::NonEmptyList,
        source: "pkg/api/pod/util.go dropDisabledDynamicResourceAllocationFields; \
                 pkg/features/kube_features.go DynamicResourceAllocation: GA, on by default since 1.34",
    },
    Row {
        gate: "ClusterTrustBundleProjection",
        on_by_default_since: None,
        paths: &["volumes[*].projected.sources[*].clusterTrustBundle"],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropDisabledClusterTrustBundleProjection; \
                 pkg/features/kube_features.go ClusterTrustBundleProjection: \
                 beta since 1.33, off by default",
    },
    Row {
        gate: "PodCertificateRequest",
        on_by_default_since: None,
        paths: &["volumes[*].projected.sources[*].podCertificate"],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropDisabledPodCertificateProjection; \
                 pkg/features/kube_features.go PodCertificateRequest: beta since 1.35, off by default",
    },
    Row {
        gate: "GenericWorkload",
        on_by_default_since: None,
        paths: &["workloadRef"],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropDisabledWorkloadRef; \
                 pkg/features/kube_features.go GenericWorkload: alpha since 1.35, off by default",
    },
    Row {
        gate: "InPlacePodVerticalScaling",
        on_by_default_since: since(33),
        paths: &[every_container!("resizePolicy")],
        condition: Condition::NonEmptyList,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go InPlacePodVerticalScaling: beta, on by default since 1.33",
    },
    Row {
        gate: "RecursiveReadOnlyMounts",
        on_by_default_since: since(31),
        paths: &[every_container!("volumeMounts[*].recursiveReadOnly")],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go RecursiveReadOnlyMounts: beta, on by default since 1.31",
    },
    Row {
        gate: "HostnameOverride",
        on_by_default_since: since(35),
        paths: &["hostnameOverride"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropDisabledFields; \
                 pkg/features/kube_features.go HostnameOverride: beta, on by default since 1.35",
    },
    Row {
        gate: "EnvFiles",
        on_by_default_since: since(35),
        paths: &[every_container!("env[*].valueFrom.fileKeyRef")],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropFileKeyRefInUse; \
                 pkg/features/kube_features.go EnvFiles: beta, on by default since 1.35",
    },
    Row {
        gate: "PodLifecycleSleepAction",
        on_by_default_since: since(30),
        // The emptied handler, and then the emptied lifecycle, go with it.
        paths: &[every_container!("lifecycle.{preStop,postStart}.sleep")],
        condition: Condition::Object,
        source: "pkg/api/pod/util.go dropPodLifecycleSleepAction; \
                 pkg/features/kube_features.go PodLifecycleSleepAction: beta, on by default since 1.30",
    },
    // The two ImageVolume rows: the whole volume goes, and so does every mount of it.
    Row {
        gate: "ImageVolume",
        on_by_default_since: since(35),
        paths: &["volumes[*]"],
        condition: Condition::ImageVolume,
        source: "pkg/api/pod/util.go dropImageVolumes; \
                 pkg/features/kube_features.go ImageVolume: beta, on by default since 1.35",
    },
    Row {
        gate: "ImageVolume",
        on_by_default_since: since(35),
        paths: &[every_container!("volumeMounts[*]")],
        condition: Condition::ImageVolumeMount,
        source: "pkg/api/pod/util.go dropImageVolumes; \
                 pkg/features/kube_features.go ImageVolume: beta, on by default since 1.35",
    },
    Row {
        gate: "SELinuxChangePolicy",
        on_by_default_since: since(33),
        paths: &["securityContext.seLinuxChangePolicy"],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropSELinuxChangePolicy; \
                 pkg/features/kube_features.go SELinuxChangePolicy: beta, on by default since 1.33",
    },
    Row {
        gate: "ContainerStopSignals",
        on_by_default_since: None,
        paths: &[every_container!("lifecycle.stopSignal")],
        condition: Condition::String,
        source: "pkg/api/pod/util.go dropContainerStopSignals; \
                 pkg/features/kube_features.go ContainerStopSignals: alpha since 1.33, off by default",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_bit_of_the_tree() {
        assert!(ROWS.len() <= 64, "rows are bits of a u64");
    }

    /// The tree visits the steps of a node in the order they were first
    /// inserted; each pattern's finds keep its own key order only if every
    /// pattern names the keys it shares with others in that same order.
    #[test]
    fn the_tree_walks_every_pattern_in_its_own_key_order() {
        fn follow(node: &Node, segments: &[&'static str], pattern: &str) {
            let Some((segment, rest)) = segments.split_first() else {
                return;
            };
            let (keys, each) = segment_keys(segment);
            let mut last = None;
            for key in keys {
                let at = node
                    .steps
                    .iter()
                    .position(|s| s.key == key && s.each == each)
                    .unwrap_or_else(|| panic!("{pattern}: no step {key}"));
                assert!(
                    last.is_none_or(|last| last < at),
                    "{pattern}: {key} out of order"
                );
                last = Some(at);
                follow(&node.steps[at].node, rest, pattern);
            }
        }
        for row in ROWS {
            for pattern in row.paths {
                let segments: Vec<&str> = pattern.split('.').collect();
                follow(&pattern_tree().root, &segments, pattern);
            }
        }
    }
    use crate::value::json;
    use rstest::rstest;

    fn v(minor: u32) -> KubeVersion {
        KubeVersion::new(1, minor)
    }

    fn no_gates(_: &str) -> bool {
        false
    }

    fn paths(found: &[DroppedField]) -> Vec<&str> {
        found.iter().map(|field| field.path.as_str()).collect()
    }

    /// Each row family: reported before its gate is on by default, not from
    /// then on, and not when the gate is enabled explicitly. `since` is the
    /// upstream fact restated, so a wrong version in the table fails here.
    #[rstest]
    #[case::init_container_restart_policy_is_dropped_before_1_29(
        "SidecarContainers", Some(29),
        json!({"initContainers": [{"name": "log", "restartPolicy": "Always"}]}),
        &["spec.initContainers[0].restartPolicy"],
    )]
    #[case::init_container_restart_policy_other_than_always_is_dropped_before_1_35(
        "ContainerRestartRules", Some(35),
        json!({"initContainers": [
            {"name": "a", "restartPolicy": "Always"},
            {"name": "b", "restartPolicy": "OnFailure"},
        ]}),
        &["spec.initContainers[1].restartPolicy"],
    )]
    #[case::regular_and_ephemeral_restart_policy_is_dropped_before_1_35(
        "ContainerRestartRules", Some(35),
        json!({
            "ephemeralContainers": [{"name": "debug", "restartPolicy": "Never"}],
            "containers": [{"name": "app", "restartPolicy": "OnFailure"}],
        }),
        &["spec.containers[0].restartPolicy", "spec.ephemeralContainers[0].restartPolicy"],
    )]
    #[case::restart_policy_rules_are_dropped_before_1_35(
        "ContainerRestartRules", Some(35),
        json!({
            "containers": [{"name": "app", "restartPolicyRules": [{"action": "Restart"}]}],
            "initContainers": [{"name": "init", "restartPolicyRules": [{"action": "Restart"}]}],
        }),
        &["spec.initContainers[0].restartPolicyRules", "spec.containers[0].restartPolicyRules"],
    )]
    #[case::host_users_is_dropped_before_1_33(
        "UserNamespacesSupport", Some(33),
        json!({"hostUsers": false}),
        &["spec.hostUsers"],
    )]
    #[case::supplemental_groups_policy_is_dropped_before_1_33(
        "SupplementalGroupsPolicy", Some(33),
        json!({"securityContext": {"supplementalGroupsPolicy": "Strict"}}),
        &["spec.securityContext.supplementalGroupsPolicy"],
    )]
    #[case::pod_level_resources_are_dropped_before_1_34(
        "PodLevelResources", Some(34),
        json!({"resources": {"limits": {"cpu": "1"}}}),
        &["spec.resources"],
    )]
    #[case::proc_mount_other_than_default_is_forced_to_default_before_1_33(
        "ProcMountType", Some(33),
        json!({"containers": [
            {"name": "a", "securityContext": {"procMount": "Default"}},
            {"name": "b", "securityContext": {"procMount": "Unmasked"}},
        ]}),
        &["spec.containers[1].securityContext.procMount"],
    )]
    #[case::topology_spread_node_inclusion_policies_are_dropped_before_1_26(
        "NodeInclusionPolicyInPodTopologySpread", Some(26),
        json!({"topologySpreadConstraints": [
            {"nodeTaintsPolicy": "Honor", "nodeAffinityPolicy": "Ignore"},
        ]}),
        &[
            "spec.topologySpreadConstraints[0].nodeAffinityPolicy",
            "spec.topologySpreadConstraints[0].nodeTaintsPolicy",
        ],
    )]
    #[case::topology_spread_match_label_keys_are_dropped_before_1_27(
        "MatchLabelKeysInPodTopologySpread", Some(27),
        json!({"topologySpreadConstraints": [
            {"matchLabelKeys": []},
            {"matchLabelKeys": ["pod-template-hash"]},
        ]}),
        &["spec.topologySpreadConstraints[1].matchLabelKeys"],
    )]
    #[case::pod_affinity_label_keys_are_dropped_before_1_31(
        "MatchLabelKeysInPodAffinity", Some(31),
        json!({"affinity": {
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"matchLabelKeys": ["a"], "mismatchLabelKeys": ["b"]},
            ]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "podAffinityTerm": {"mismatchLabelKeys": ["c"]}},
            ]},
        }}),
        &[
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys",
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].mismatchLabelKeys",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]\
             .podAffinityTerm.mismatchLabelKeys",
        ],
    )]
    #[case::resource_claims_and_container_claims_are_dropped_before_1_34(
        "DynamicResourceAllocation", Some(34),
        json!({
            "containers": [{"name": "app", "resources": {"claims": [{"name": "gpu"}]}}],
            "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu"}],
        }),
        &["spec.resourceClaims", "spec.containers[0].resources.claims"],
    )]
    #[case::cluster_trust_bundle_projection_is_off_by_default(
        "ClusterTrustBundleProjection", None,
        json!({"volumes": [{"name": "ca", "projected": {"sources": [
            {"configMap": {"name": "x"}},
            {"clusterTrustBundle": {"name": "ca", "path": "ca.pem"}},
        ]}}]}),
        &["spec.volumes[0].projected.sources[1].clusterTrustBundle"],
    )]
    #[case::pod_certificate_projection_is_off_by_default(
        "PodCertificateRequest", None,
        json!({"volumes": [{"name": "cert", "projected": {"sources": [
            {"podCertificate": {"signerName": "example.com/x", "keyType": "ED25519"}},
        ]}}]}),
        &["spec.volumes[0].projected.sources[0].podCertificate"],
    )]
    #[case::workload_ref_is_off_by_default(
        "GenericWorkload", None,
        json!({"workloadRef": {"name": "w", "podGroup": "g"}}),
        &["spec.workloadRef"],
    )]
    #[case::resize_policy_is_dropped_before_1_33(
        "InPlacePodVerticalScaling", Some(33),
        json!({
            "containers": [{"name": "app"}, {"name": "b", "resizePolicy": [{"resourceName": "cpu"}]}],
            "initContainers": [{"name": "log", "resizePolicy": [{"resourceName": "cpu"}]}],
            "ephemeralContainers": [{"name": "debug", "resizePolicy": [{"resourceName": "cpu"}]}],
        }),
        &[
            "spec.initContainers[0].resizePolicy",
            "spec.containers[1].resizePolicy",
            "spec.ephemeralContainers[0].resizePolicy",
        ],
    )]
    #[case::recursive_read_only_mounts_are_dropped_before_1_31(
        "RecursiveReadOnlyMounts", Some(31),
        json!({"containers": [{"name": "app", "volumeMounts": [
            {"name": "a", "mountPath": "/a"},
            {"name": "b", "mountPath": "/b", "readOnly": true, "recursiveReadOnly": "Enabled"},
        ]}]}),
        &["spec.containers[0].volumeMounts[1].recursiveReadOnly"],
    )]
    #[case::hostname_override_is_dropped_before_1_35(
        "HostnameOverride", Some(35),
        json!({"hostnameOverride": "node-a"}),
        &["spec.hostnameOverride"],
    )]
    #[case::env_file_key_refs_are_dropped_before_1_35(
        "EnvFiles", Some(35),
        json!({"containers": [{"name": "app", "env": [
            {"name": "A", "value": "1"},
            {"name": "B", "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "e", "key": "B"}}},
        ]}]}),
        &["spec.containers[0].env[1].valueFrom.fileKeyRef"],
    )]
    #[case::sleep_actions_are_dropped_before_1_30(
        "PodLifecycleSleepAction", Some(30),
        json!({"containers": [{"name": "app", "lifecycle": {
            "postStart": {"sleep": {"seconds": 1}},
            "preStop": {"sleep": {"seconds": 5}},
        }}]}),
        &[
            "spec.containers[0].lifecycle.preStop.sleep",
            "spec.containers[0].lifecycle.postStart.sleep",
        ],
    )]
    #[case::image_volumes_and_their_mounts_are_dropped_before_1_35(
        "ImageVolume", Some(35),
        json!({
            "volumes": [
                {"name": "logs", "emptyDir": {}},
                {"name": "tools", "image": {"reference": "busybox:1.36"}},
            ],
            "containers": [{"name": "app", "volumeMounts": [
                {"name": "logs", "mountPath": "/var/log"},
                {"name": "tools", "mountPath": "/tools"},
            ]}],
        }),
        &["spec.volumes[1]", "spec.containers[0].volumeMounts[1]"],
    )]
    #[case::se_linux_change_policy_is_dropped_before_1_33(
        "SELinuxChangePolicy", Some(33),
        json!({"securityContext": {"seLinuxChangePolicy": "Recursive"}}),
        &["spec.securityContext.seLinuxChangePolicy"],
    )]
    #[case::stop_signals_are_off_by_default(
        "ContainerStopSignals", None,
        json!({"os": {"name": "linux"}, "containers": [
            {"name": "app", "lifecycle": {"stopSignal": "SIGUSR1"}},
        ]}),
        &["spec.containers[0].lifecycle.stopSignal"],
    )]
    fn each_field_is_reported_only_while_its_gate_is_off(
        #[case] gate: &'static str,
        #[case] since: Option<u32>,
        #[case] pod_spec: Value,
        #[case] expected: &[&str],
    ) {
        // Off by default: check the newest release the table covers.
        let before = since.map_or(v(35), |minor| v(minor - 1));
        let found = dropped_fields(&pod_spec, "spec", before, no_gates);
        let expected_fields: Vec<DroppedField> = expected
            .iter()
            .map(|path| DroppedField {
                path: path.to_string(),
                gate,
                on_by_default_since: since.map(v),
            })
            .collect();
        assert_eq!(found, expected_fields, "{gate} at {before}");

        if let Some(minor) = since {
            let found = dropped_fields(&pod_spec, "spec", v(minor), no_gates);
            assert_eq!(
                paths(&found),
                Vec::<&str>::new(),
                "{gate} is on by default at 1.{minor}"
            );
        }
        let found = dropped_fields(&pod_spec, "spec", before, |g| g == gate);
        assert_eq!(
            paths(&found),
            Vec::<&str>::new(),
            "{gate} enabled explicitly at {before}"
        );
    }

    #[rstest]
    #[case::native_sidecar_at_1_28_needs_sidecar_containers(
        json!({"initContainers": [{"name": "log", "restartPolicy": "Always"}]}),
        28,
        &[("spec.initContainers[0].restartPolicy", "SidecarContainers", 29)],
    )]
    #[case::native_sidecar_at_1_29_is_kept(
        json!({"initContainers": [{"name": "log", "restartPolicy": "Always"}]}),
        29,
        &[],
    )]
    #[case::native_sidecar_at_1_34_is_kept(
        json!({"initContainers": [{"name": "log", "restartPolicy": "Always"}]}),
        34,
        &[],
    )]
    #[case::regular_container_restart_policy_at_1_34_needs_container_restart_rules(
        json!({"containers": [{"name": "log", "restartPolicy": "Always"}]}),
        34,
        &[("spec.containers[0].restartPolicy", "ContainerRestartRules", 35)],
    )]
    #[case::init_container_on_failure_at_1_34_needs_container_restart_rules(
        json!({"initContainers": [{"name": "setup", "restartPolicy": "OnFailure"}]}),
        34,
        &[("spec.initContainers[0].restartPolicy", "ContainerRestartRules", 35)],
    )]
    #[case::init_container_on_failure_at_1_28_needs_both_gates(
        json!({"initContainers": [{"name": "setup", "restartPolicy": "OnFailure"}]}),
        28,
        &[
            ("spec.initContainers[0].restartPolicy", "SidecarContainers", 29),
            ("spec.initContainers[0].restartPolicy", "ContainerRestartRules", 35),
        ],
    )]
    #[case::empty_restart_policy_rules_lose_nothing(
        json!({"containers": [{"name": "app", "restartPolicyRules": []}]}),
        34,
        &[],
    )]
    fn restart_policies_are_reported_with_the_gate_that_drops_them(
        #[case] pod_spec: Value,
        #[case] minor: u32,
        #[case] expected: &[(&str, &'static str, u32)],
    ) {
        let found = dropped_fields(&pod_spec, "spec", v(minor), no_gates);
        let expected: Vec<DroppedField> = expected
            .iter()
            .map(|&(path, gate, since)| DroppedField {
                path: path.to_string(),
                gate,
                on_by_default_since: Some(v(since)),
            })
            .collect();
        assert_eq!(found, expected, "restart policies at 1.{minor}");
    }

    #[rstest]
    #[case::deployment_template("spec.template.spec")]
    #[case::cron_job_template("spec.jobTemplate.spec.template.spec")]
    fn paths_start_with_the_callers_prefix(#[case] spec_path: &str) {
        let pod_spec = json!({"initContainers": [
            {"name": "setup"},
            {"name": "log", "restartPolicy": "Always"},
        ]});
        let found = dropped_fields(&pod_spec, spec_path, v(28), no_gates);
        assert_eq!(
            paths(&found),
            [format!("{spec_path}.initContainers[1].restartPolicy")],
            "prefix {spec_path}"
        );
    }

    #[rstest]
    #[case::spec_is_a_list(json!([{"initContainers": []}]))]
    #[case::spec_is_a_string(json!("spec"))]
    #[case::spec_is_null(Value::Null)]
    #[case::container_list_is_a_string(json!({"initContainers": "log", "containers": 3}))]
    #[case::containers_are_not_objects(json!({"initContainers": [null, 1, "log", [], true]}))]
    #[case::restart_policy_is_a_number(json!({"initContainers": [{"restartPolicy": 7}]}))]
    #[case::security_context_is_a_list(json!({"securityContext": [{"seLinuxChangePolicy": "Recursive"}]}))]
    #[case::host_users_is_a_string(json!({"hostUsers": "false"}))]
    #[case::volumes_is_an_object(json!({"volumes": {"tools": {"image": {"reference": "x"}}}}))]
    #[case::image_is_a_string(json!({
        "volumes": [{"name": "tools", "image": "busybox"}],
        "containers": [{"name": "app", "volumeMounts": [{"name": "tools"}]}],
    }))]
    #[case::mount_name_is_a_number(json!({
        "volumes": [{"name": 1}],
        "containers": [{"volumeMounts": [{"name": 1}, "tools", null]}],
    }))]
    #[case::projected_sources_is_an_object(json!({
        "volumes": [{"projected": {"sources": {"clusterTrustBundle": {}}}}],
    }))]
    #[case::affinity_terms_are_strings(json!({
        "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": ["a"]}},
    }))]
    #[case::lifecycle_is_a_list(json!({"containers": [{"lifecycle": [{"stopSignal": "SIGTERM"}]}]}))]
    #[case::null_fields(json!({
        "resources": null,
        "hostnameOverride": null,
        "initContainers": [{"restartPolicy": null, "resizePolicy": null}],
    }))]
    fn wrong_json_types_report_nothing(#[case] pod_spec: Value) {
        let found = dropped_fields(&pod_spec, "spec", v(20), no_gates);
        assert_eq!(paths(&found), Vec::<&str>::new(), "for {pod_spec}");
    }

    #[test]
    fn a_plain_pod_reports_nothing_even_on_an_old_release() {
        let pod_spec = json!({
            "volumes": [{"name": "logs", "emptyDir": {}}],
            "containers": [{
                "name": "app",
                "image": "busybox",
                "resources": {"limits": {"cpu": "1"}},
                "securityContext": {"runAsNonRoot": true},
                "volumeMounts": [{"name": "logs", "mountPath": "/var/log", "readOnly": true}],
                "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
            }],
            "securityContext": {"runAsUser": 1000},
        });
        let found = dropped_fields(&pod_spec, "spec", v(20), no_gates);
        assert_eq!(paths(&found), Vec::<&str>::new(), "plain pod at 1.20");
    }

    #[test]
    fn every_row_names_its_upstream_source_and_gate_default() {
        for row in ROWS {
            let gate = row.gate;
            assert!(!gate.is_empty(), "a row has no gate: {}", row.source);
            assert!(
                row.source.starts_with("pkg/api/pod/util.go "),
                "{gate}: source must name the util.go function: {:?}",
                row.source
            );
            assert!(
                row.source
                    .contains(&format!("pkg/features/kube_features.go {gate}: ")),
                "{gate}: source must name the gate in kube_features.go: {:?}",
                row.source
            );
            let documented = match row.on_by_default_since {
                Some(since) => format!("on by default since {since}"),
                None => "off by default".to_string(),
            };
            assert!(
                row.source.ends_with(&documented),
                "{gate}: source must end with {documented:?}: {:?}",
                row.source
            );
            if row.on_by_default_since.is_none() {
                assert!(
                    row.source.contains(": alpha since") || row.source.contains(": beta since"),
                    "{gate}: an off-by-default gate must give its stage: {:?}",
                    row.source
                );
            }
        }
    }

    #[test]
    fn every_path_pattern_is_well_formed() {
        for row in ROWS {
            assert!(!row.paths.is_empty(), "{}: no paths", row.gate);
            for pattern in row.paths {
                for segment in pattern.split('.') {
                    let keys = segment.strip_suffix("[*]").unwrap_or(segment);
                    let braced = keys.strip_prefix('{').and_then(|k| k.strip_suffix('}'));
                    for key in braced.unwrap_or(keys).split(',') {
                        assert!(
                            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()),
                            "{}: bad key {key:?} in {pattern:?}",
                            row.gate
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn known_gates_lists_each_gate_once() {
        let gates: Vec<&str> = known_gates().collect();
        assert_eq!(
            gates,
            [
                "SidecarContainers",
                "ContainerRestartRules",
                "UserNamespacesSupport",
                "SupplementalGroupsPolicy",
                "PodLevelResources",
                "ProcMountType",
                "NodeInclusionPolicyInPodTopologySpread",
                "MatchLabelKeysInPodTopologySpread",
                "MatchLabelKeysInPodAffinity",
                "DynamicResourceAllocation",
                "ClusterTrustBundleProjection",
                "PodCertificateRequest",
                "GenericWorkload",
                "InPlacePodVerticalScaling",
                "RecursiveReadOnlyMounts",
                "HostnameOverride",
                "EnvFiles",
                "PodLifecycleSleepAction",
                "ImageVolume",
                "SELinuxChangePolicy",
                "ContainerStopSignals",
            ],
            "known gates in table order"
        );
    }
}
