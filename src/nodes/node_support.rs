//! Whether the nodes a pod can land on run native sidecars: the kubelet
//! versions of its candidate nodes, asked of the host.

use std::borrow::Cow;
use std::collections::BTreeSet;

use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListAllResourcesRequest,
};
use serde::{Deserialize, Deserializer};

use crate::host::Host;
use crate::raw_json::parse;
use crate::value::{Map, Value};
use crate::version::KubeVersion;

/// The only fields of a Node the policy reads; the host prunes the rest.
const FIELD_MASKS: [&str; 2] = ["metadata.name", "status.nodeInfo.kubeletVersion"];

/// The nodes a pod may run on, as the scheduler will choose them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// One node: `spec.nodeName`, or the node a DaemonSet pod's required
    /// affinity names.
    Pinned(String),
    /// Every node matching this label selector (`None`: every node).
    Selected(Option<String>),
}

/// The candidates of a pod spec.
pub fn candidates(spec: &Map<String, Value>) -> Candidates {
    if let Some(name) = spec
        .get("nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return Candidates::Pinned(name.to_string());
    }
    if let Some(name) = affinity_node(spec) {
        return Candidates::Pinned(name.to_string());
    }
    let selector = spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .filter(|labels| !labels.is_empty())
        .map(|labels| {
            let mut pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect();
            // Keys are unique: an unstable sort orders them as a stable one.
            pairs.sort_unstable_by_key(|(k, _)| *k);
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        });
    Candidates::Selected(selector)
}

/// The node named by a required node affinity whose every term has
/// `matchFields: [{key: metadata.name, operator: In, values: [NAME]}]`, as
/// the DaemonSet controller writes it.
fn affinity_node(spec: &Map<String, Value>) -> Option<&str> {
    let terms = spec
        .get("affinity")?
        .get("nodeAffinity")?
        .get("requiredDuringSchedulingIgnoredDuringExecution")?
        .get("nodeSelectorTerms")?
        .as_array()?;
    let mut named = terms.iter().map(|term| {
        term.get("matchFields")?
            .as_array()?
            .iter()
            .find_map(|field| {
                let by_name = field.get("key")?.as_str()? == "metadata.name"
                    && field.get("operator")?.as_str()? == "In";
                match field.get("values")?.as_array()?.as_slice() {
                    [Value::String(name)] if by_name => Some(name.as_str()),
                    _ => None,
                }
            })
    });
    let first = named.next()??;
    named.all(|name| name == Some(first)).then_some(first)
}

/// What the host said about the candidate nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSupport {
    /// The candidates' kubelets: the oldest version read, and the nodes too
    /// old for native sidecars or whose version cannot be read, with the
    /// version as the node reports it.
    Known {
        oldest: Option<KubeVersion>,
        too_old: Vec<(String, String)>,
        /// How many candidates run native sidecars.
        supported: usize,
    },
    /// No node is a candidate: an empty list, or a pinned node that is not
    /// there.
    NoCandidates(String),
    /// The host could not answer: no access granted, the API server
    /// unreachable, an answer that is not a node list.
    Failed(String),
}

/// Asks the host for the kubelet versions of the candidates.
pub fn node_support(host: &dyn Host, candidates: &Candidates, needed: KubeVersion) -> NodeSupport {
    let masks = || {
        Some(
            FIELD_MASKS
                .iter()
                .map(|m| m.to_string())
                .collect::<BTreeSet<_>>(),
        )
    };
    let (operation, request, describe) = match candidates {
        Candidates::Pinned(name) => (
            "get_resource",
            serde_json::to_vec(&GetResourceRequest {
                api_version: "v1".to_string(),
                kind: "Node".to_string(),
                name: name.clone(),
                namespace: None,
                disable_cache: false,
                field_masks: masks(),
            }),
            format!("node \"{name}\""),
        ),
        Candidates::Selected(selector) => (
            "list_resources_all",
            serde_json::to_vec(&ListAllResourcesRequest {
                api_version: "v1".to_string(),
                kind: "Node".to_string(),
                label_selector: selector.clone(),
                field_selector: None,
                field_masks: masks(),
            }),
            match selector {
                Some(selector) => format!("nodes matching {selector}"),
                None => "nodes".to_string(),
            },
        ),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => return NodeSupport::Failed(e.to_string()),
    };
    let answer = match host.kubernetes(operation, &request) {
        Ok(answer) => answer,
        // The API server's NotFound for a pinned node that does not exist.
        Err(e) if matches!(candidates, Candidates::Pinned(_)) && e.contains("not found") => {
            return NodeSupport::NoCandidates(format!("{describe} not found"));
        }
        Err(e) => return NodeSupport::Failed(e),
    };
    let nodes = match candidates {
        Candidates::Pinned(_) => parse::<Node>(&answer).map(|node| vec![node]),
        Candidates::Selected(_) => parse::<NodeList>(&answer).map(|l| l.items),
    };
    let nodes = match nodes {
        Ok(nodes) => nodes,
        Err(e) => return NodeSupport::Failed(format!("malformed answer: {e}")),
    };
    if nodes.is_empty() {
        return NodeSupport::NoCandidates(format!("no {describe}"));
    }
    let mut oldest: Option<KubeVersion> = None;
    let mut too_old = Vec::new();
    let mut supported = 0;
    for node in &nodes {
        let reported = node
            .status
            .node_info
            .kubelet_version
            .as_deref()
            .unwrap_or("");
        let version = kubelet_version(reported);
        if let Some(version) = version {
            oldest = Some(oldest.map_or(version, |o| o.min(version)));
        }
        if version.is_none_or(|v| v < needed) {
            let shown = if reported.is_empty() {
                "no version"
            } else {
                reported
            };
            too_old.push((node.metadata.name.to_string(), shown.to_string()));
        } else {
            supported += 1;
        }
    }
    NodeSupport::Known {
        oldest,
        too_old,
        supported,
    }
}

/// A kubelet's `MAJOR.MINOR` from its Git version: `v1.33.2`,
/// `v1.29.4-gke.1043002`, `v1.30.0+k3s1`, `v1.28.3-eks-4f4795d`.
pub fn kubelet_version(reported: &str) -> Option<KubeVersion> {
    let text = reported.strip_prefix('v').unwrap_or(reported);
    let mut parts = text.splitn(3, ['.', '-', '+']);
    let number = |part: Option<&str>| -> Option<u32> {
        let part = part?;
        (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    Some(KubeVersion::new(major, minor))
}

/// The parts of a Node list that are read; every other field is skipped
/// while parsing, never built.
#[derive(Deserialize)]
struct NodeList<'a> {
    /// Required, as in every Kubernetes list; `null` for none.
    #[serde(borrow, deserialize_with = "null_as_empty")]
    items: Vec<Node<'a>>,
}

fn null_as_empty<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Node<'a>>, D::Error> {
    Ok(Option::<Vec<Node<'a>>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Node<'a> {
    #[serde(borrow)]
    metadata: Metadata<'a>,
    #[serde(borrow)]
    status: Status<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Status<'a> {
    #[serde(borrow, rename = "nodeInfo")]
    node_info: NodeInfo<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeInfo<'a> {
    #[serde(borrow, rename = "kubeletVersion")]
    kubelet_version: Option<Cow<'a, str>>,
}

/// At most this many nodes are named in a message; the rest are counted.
const NAMED_NODES: usize = 3;

/// `a (v1.28.3), b (v1.27.1) and 4 more`.
pub fn describe_nodes(nodes: &[(String, String)]) -> String {
    let named: Vec<String> = nodes
        .iter()
        .take(NAMED_NODES)
        .map(|(name, version)| format!("{name} ({version})"))
        .collect();
    match nodes.len().saturating_sub(NAMED_NODES) {
        0 => named.join(", "),
        more => format!("{} and {more} more", named.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;
    use std::cell::RefCell;

    /// A host that answers from a script and records what it was asked.
    struct Scripted {
        answer: Result<Value, String>,
        asked: RefCell<Vec<(String, Value)>>,
    }

    impl Host for Scripted {
        fn kubernetes(&self, operation: &str, request: &[u8]) -> Result<Vec<u8>, String> {
            let request = serde_json::from_slice(request).expect("a JSON request");
            self.asked
                .borrow_mut()
                .push((operation.to_string(), request));
            self.answer.clone().map(|a| serde_json::to_vec(&a).unwrap())
        }
    }

    fn host(answer: Result<Value, String>) -> Scripted {
        Scripted {
            answer,
            asked: RefCell::new(Vec::new()),
        }
    }

    fn node(name: &str, version: &str) -> Value {
        json!({"metadata": {"name": name}, "status": {"nodeInfo": {"kubeletVersion": version}}})
    }

    fn spec(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn pinned_by_affinity(names: &[&str]) -> Value {
        let terms: Vec<Value> = names
            .iter()
            .map(|n| json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]}))
            .collect();
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
    }

    #[rstest]
    #[case::node_name(json!({"nodeName": "n1"}), Candidates::Pinned("n1".into()))]
    #[case::daemon_set_affinity(pinned_by_affinity(&["n2"]), Candidates::Pinned("n2".into()))]
    #[case::every_term_names_the_same_node(pinned_by_affinity(&["n2", "n2"]), Candidates::Pinned("n2".into()))]
    #[case::terms_naming_two_nodes(pinned_by_affinity(&["n2", "n3"]), Candidates::Selected(None))]
    #[case::affinity_by_labels(
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}]}}}}),
        Candidates::Selected(None)
    )]
    #[case::node_selector_sorted_by_key(
        json!({"nodeSelector": {"pool": "new", "kubernetes.io/arch": "arm64"}}),
        Candidates::Selected(Some("kubernetes.io/arch=arm64,pool=new".into()))
    )]
    #[case::nothing(json!({}), Candidates::Selected(None))]
    #[case::empty_node_name(json!({"nodeName": ""}), Candidates::Selected(None))]
    fn the_candidates_are_the_nodes_the_scheduler_may_choose(
        #[case] value: Value,
        #[case] expected: Candidates,
    ) {
        assert_eq!(candidates(&spec(value)), expected);
    }

    #[rstest]
    #[case::plain("v1.33.2", Some(KubeVersion::new(1, 33)))]
    #[case::gke("v1.29.4-gke.1043002", Some(KubeVersion::new(1, 29)))]
    #[case::k3s("v1.30.0+k3s1", Some(KubeVersion::new(1, 30)))]
    #[case::eks("v1.28.3-eks-4f4795d", Some(KubeVersion::new(1, 28)))]
    #[case::minor_only("1.31", Some(KubeVersion::new(1, 31)))]
    #[case::garbage("unknown", None)]
    #[case::empty("", None)]
    fn kubelet_versions_are_read_leniently(
        #[case] reported: &str,
        #[case] expected: Option<KubeVersion>,
    ) {
        assert_eq!(kubelet_version(reported), expected, "{reported}");
    }

    const NEEDED: KubeVersion = KubeVersion::new(1, 29);

    #[test]
    fn the_list_request_asks_for_names_and_versions_only() {
        let host = host(Ok(json!({"items": [node("a", "v1.33.1")]})));
        let selected = Candidates::Selected(Some("pool=new".into()));
        node_support(&host, &selected, NEEDED);
        assert_eq!(
            host.asked.into_inner(),
            vec![(
                "list_resources_all".to_string(),
                json!({"api_version": "v1", "kind": "Node", "label_selector": "pool=new",
                       "field_selector": null,
                       "field_masks": ["metadata.name", "status.nodeInfo.kubeletVersion"]})
            )]
        );
    }

    #[test]
    fn a_pinned_node_is_asked_for_alone() {
        let host = host(Ok(node("n1", "v1.28.3")));
        let support = node_support(&host, &Candidates::Pinned("n1".into()), NEEDED);
        assert_eq!(
            host.asked.into_inner(),
            vec![(
                "get_resource".to_string(),
                json!({"api_version": "v1", "kind": "Node", "name": "n1", "namespace": null,
                       "disable_cache": false,
                       "field_masks": ["metadata.name", "status.nodeInfo.kubeletVersion"]})
            )]
        );
        assert_eq!(
            support,
            NodeSupport::Known {
                oldest: Some(KubeVersion::new(1, 28)),
                too_old: vec![("n1".into(), "v1.28.3".into())],
                supported: 0,
            }
        );
    }

    #[rstest]
    #[case::all_new(
        Ok(json!({"apiVersion": "v1", "kind": "List", "items": [node("a", "v1.33.1"), node("b", "v1.30.0+k3s1")]})),
        NodeSupport::Known { oldest: Some(KubeVersion::new(1, 30)), too_old: vec![], supported: 2 }
    )]
    #[case::one_old_node(
        Ok(json!({"items": [node("a", "v1.33.1"), node("old", "v1.28.3-eks-4f4795d")]})),
        NodeSupport::Known { oldest: Some(KubeVersion::new(1, 28)), too_old: vec![("old".into(), "v1.28.3-eks-4f4795d".into())], supported: 1 }
    )]
    #[case::unparseable_version_counts_as_too_old(
        Ok(json!({"items": [node("a", "v1.33.1"), node("odd", "banana")]})),
        NodeSupport::Known { oldest: Some(KubeVersion::new(1, 33)), too_old: vec![("odd".into(), "banana".into())], supported: 1 }
    )]
    #[case::missing_version(
        Ok(json!({"items": [{"metadata": {"name": "bare"}}]})),
        NodeSupport::Known { oldest: None, too_old: vec![("bare".into(), "no version".into())], supported: 0 }
    )]
    #[case::empty_list(Ok(json!({"items": []})), NodeSupport::NoCandidates("no nodes".into()))]
    #[case::null_items(Ok(json!({"items": null})), NodeSupport::NoCandidates("no nodes".into()))]
    #[case::a_node_where_a_list_belongs(
        Ok(node("a", "v1.33.1")),
        NodeSupport::Failed("malformed answer: missing field `items` at line 1 column 76".into())
    )]
    #[case::host_error(
        Err("Policy has not been granted access to Kubernetes v1/Node resources".into()),
        NodeSupport::Failed("Policy has not been granted access to Kubernetes v1/Node resources".into())
    )]
    #[case::items_of_the_wrong_type(
        Ok(json!({"items": {"a": 1}})),
        NodeSupport::Failed("malformed answer: invalid type: map, expected a sequence at line 1 column 9".into())
    )]
    #[case::not_an_object(
        Ok(json!("nodes")),
        NodeSupport::Failed("malformed answer: invalid type: string \"nodes\", expected struct NodeList at line 1 column 7".into())
    )]
    fn the_answer_gives_the_oldest_kubelet_and_the_old_nodes(
        #[case] answer: Result<Value, String>,
        #[case] expected: NodeSupport,
    ) {
        let host = host(answer);
        assert_eq!(
            node_support(&host, &Candidates::Selected(None), NEEDED),
            expected
        );
    }

    #[test]
    fn a_pinned_node_that_is_not_there_is_no_candidate() {
        let host = host(Err("nodes \"gone\" not found".into()));
        assert_eq!(
            node_support(&host, &Candidates::Pinned("gone".into()), NEEDED),
            NodeSupport::NoCandidates("node \"gone\" not found".into())
        );
    }

    #[test]
    fn long_node_lists_are_counted_after_three_names() {
        let nodes: Vec<(String, String)> = (1..=5)
            .map(|i| (format!("n{i}"), "v1.28.0".to_string()))
            .collect();
        assert_eq!(
            describe_nodes(&nodes),
            "n1 (v1.28.0), n2 (v1.28.0), n3 (v1.28.0) and 2 more"
        );
    }
}
