//! `sidecarSupport: detect`: the kubelets of the nodes a pod may land on
//! decide whether its log sidecars become native, and `fallback` what
//! happens where they cannot.

mod common;

use common::{ScriptedHost, fixture, rejection, respond_with_host, warnings};
use rstest::rstest;
use serde_json::{Value, json};

const SEED: &str = "pod_eshop_cart_app_sidecar_without_mount.json";

fn detect() -> Value {
    json!({"sidecarSupport": "detect"})
}

fn converted(response: &Value) -> bool {
    response["mutated_object"]["spec"]["initContainers"][0]["restartPolicy"] == json!("Always")
}

fn unchanged(response: &Value) -> bool {
    response["accepted"] == json!(true) && response["mutated_object"].is_null()
}

fn seed_with(spec: Value) -> Value {
    let mut request = fixture(SEED);
    for (key, value) in spec.as_object().expect("spec fields") {
        request["object"]["spec"][key] = value.clone();
    }
    request
}

const LIST_ALL: &str = "list_resources_all";

fn list_request(label_selector: Value) -> (String, Value) {
    (
        LIST_ALL.to_string(),
        json!({"api_version": "v1", "kind": "Node", "label_selector": label_selector,
               "field_selector": null,
               "field_masks": ["metadata.name", "status.nodeInfo.kubeletVersion"]}),
    )
}

#[rstest]
#[case::a_pod_without_log_sidecars("pod_toolbox_keep_alive_next_to_app.json")]
#[case::a_pod_already_converted("pod_already_converted.json")]
#[case::a_pod_update("pod_eshop_cart_app_update.json")]
fn nothing_to_make_native_means_no_host_call(#[case] name: &str) {
    let host = ScriptedHost::new(Err("no call expected".into()));
    let response = respond_with_host(&fixture(name), detect(), &host);
    assert_eq!(response["accepted"], json!(true), "{name}: {response}");
    assert!(host.calls.borrow().is_empty(), "{name}: {:?}", host.calls);
}

#[test]
fn assume_trusts_kubernetes_version_and_asks_nothing() {
    let host = ScriptedHost::new(Err("no call expected".into()));
    let response = respond_with_host(&fixture(SEED), json!({}), &host);
    assert!(converted(&response), "{response}");
    assert!(host.calls.borrow().is_empty());
}

#[test]
fn all_nodes_new_the_sidecar_becomes_native() {
    let host = ScriptedHost::nodes(&[("a", "v1.33.2"), ("b", "v1.31.4-gke.1043002")]);
    let response = respond_with_host(&fixture(SEED), detect(), &host);
    assert!(converted(&response), "{response}");
    assert_eq!(*host.calls.borrow(), vec![list_request(json!(null))]);
    assert_eq!(warnings(&response).len(), 2, "the move and the mount only");
}

#[rstest]
#[case::one_old_node(
    &[("a", "v1.33.2"), ("old-1", "v1.28.3-eks-4f4795d")],
    "not converted: native sidecars need kubelet 1.29+, and the pod may run on old-1 (v1.28.3-eks-4f4795d)"
)]
#[case::an_unparseable_version_counts_as_too_old(
    &[("a", "v1.33.2"), ("odd", "v-next")],
    "not converted: native sidecars need kubelet 1.29+, and the pod may run on odd (v-next)"
)]
fn old_nodes_leave_the_sidecar_a_regular_container_and_are_named(
    #[case] nodes: &[(&str, &str)],
    #[case] warning: &str,
) {
    let host = ScriptedHost::nodes(nodes);
    let response = respond_with_host(&fixture(SEED), detect(), &host);
    assert!(unchanged(&response), "{response}");
    assert_eq!(warnings(&response), vec![warning]);
}

#[test]
fn fallback_reject_refuses_with_the_same_information() {
    let host = ScriptedHost::nodes(&[("a", "v1.33.2"), ("old-1", "v1.28.3")]);
    let response = respond_with_host(
        &fixture(SEED),
        json!({"sidecarSupport": "detect", "fallback": "reject"}),
        &host,
    );
    assert_eq!(
        rejection(&response),
        vec![
            "spec: native sidecars need kubelet 1.29+ on every node the pod may run on, but it may \
             run on old-1 (v1.28.3); upgrade those nodes, keep the pod off them with a nodeSelector, \
             or set fallback: legacy to keep log sidecars regular containers"
        ]
    );
}

#[test]
fn fallback_also_applies_when_kubernetes_version_is_too_old() {
    let host = ScriptedHost::new(Err("no call expected".into()));
    let response = respond_with_host(
        &fixture(SEED),
        json!({"kubernetesVersion": "1.28", "fallback": "reject"}),
        &host,
    );
    assert_eq!(
        rejection(&response),
        vec![
            "spec: native sidecars need Kubernetes 1.29+ on every API server and node, and \
             kubernetesVersion is 1.28; raise kubernetesVersion if the cluster allows it, or set \
             fallback: legacy to keep log sidecars regular containers"
        ]
    );
}

#[rstest]
#[case::node_name(json!({"nodeName": "node-7"}))]
#[case::daemon_set_affinity(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}]}}}}))]
fn a_pinned_pod_asks_for_its_node_alone(#[case] spec: Value) {
    let new = ScriptedHost::new(Ok(
        json!({"metadata": {"name": "node-7"}, "status": {"nodeInfo": {"kubeletVersion": "v1.30.0+k3s1"}}}),
    ));
    let response = respond_with_host(&seed_with(spec.clone()), detect(), &new);
    assert!(converted(&response), "{spec}: {response}");
    assert_eq!(
        *new.calls.borrow(),
        vec![(
            "get_resource".to_string(),
            json!({"api_version": "v1", "kind": "Node", "name": "node-7", "namespace": null,
                   "disable_cache": false,
                   "field_masks": ["metadata.name", "status.nodeInfo.kubeletVersion"]})
        )]
    );
    let old = ScriptedHost::new(Ok(
        json!({"metadata": {"name": "node-7"}, "status": {"nodeInfo": {"kubeletVersion": "v1.27.16"}}}),
    ));
    let response = respond_with_host(&seed_with(spec.clone()), detect(), &old);
    assert!(unchanged(&response), "{spec}: {response}");
    assert_eq!(
        warnings(&response),
        vec![
            "not converted: native sidecars need kubelet 1.29+, and the pod may run on node-7 (v1.27.16)"
        ]
    );
}

#[test]
fn a_node_selector_narrows_the_list_to_its_pool() {
    let host = ScriptedHost::nodes(&[("new-1", "v1.33.0")]);
    let request = seed_with(json!({"nodeSelector": {"pool": "new", "kubernetes.io/os": "linux"}}));
    let response = respond_with_host(&request, detect(), &host);
    assert!(converted(&response), "{response}");
    assert_eq!(
        *host.calls.borrow(),
        vec![list_request(json!("kubernetes.io/os=linux,pool=new"))]
    );
}

#[rstest]
#[case::empty_list(
    ScriptedHost::nodes(&[]),
    "no nodes, so kubernetesVersion 1.33 decides whether sidecars become native"
)]
#[case::host_error(
    ScriptedHost::new(Err("Policy has not been granted access to Kubernetes v1/Node resources".into())),
    "cannot read the pod's nodes, so kubernetesVersion 1.33 decides (grant the policy contextAwareResources v1/Node): Policy has not been granted access to Kubernetes v1/Node resources"
)]
#[case::malformed_answer(
    ScriptedHost::new(Ok(json!({"items": 7}))),
    "cannot read the pod's nodes, so kubernetesVersion 1.33 decides (grant the policy contextAwareResources v1/Node): malformed answer: invalid type: integer `7`, expected a sequence at line 1 column 10"
)]
fn without_an_answer_about_nodes_kubernetes_version_decides(
    #[case] host: ScriptedHost,
    #[case] warning: &str,
) {
    let response = respond_with_host(&fixture(SEED), detect(), &host);
    assert!(converted(&response), "{response}");
    assert_eq!(warnings(&response)[0], warning);
}

#[test]
fn a_pinned_node_that_does_not_exist_leaves_kubernetes_version_to_decide() {
    let host = ScriptedHost::new(Err("nodes \"gone\" not found".into()));
    let response = respond_with_host(&seed_with(json!({"nodeName": "gone"})), detect(), &host);
    assert!(converted(&response), "{response}");
    assert_eq!(
        warnings(&response)[0],
        "node \"gone\" not found, so kubernetesVersion 1.33 decides whether sidecars become native"
    );
}

#[test]
fn the_oldest_kubelet_is_the_version_the_other_rules_use() {
    // resizePolicy on a sidecar needs 1.33: nodes at 1.31 refuse it, and the
    // gate of resizePolicy is reported at 1.31 too.
    let host = ScriptedHost::nodes(&[("a", "v1.33.2"), ("b", "v1.31.0")]);
    let response = respond_with_host(
        &fixture("pod_sidecar_with_resize_policy.json"),
        json!({"sidecarSupport": "detect", "enabledFeatureGates": ["InPlacePodVerticalScaling"]}),
        &host,
    );
    assert_eq!(
        rejection(&response),
        vec![
            "spec.containers[1]: resizePolicy on a native sidecar needs Kubernetes 1.33 or later \
             (kubernetesVersion is 1.31); remove resizePolicy or raise kubernetesVersion"
        ]
    );
}

#[rstest]
#[case::legacy(json!({"mode": "validate", "sidecarSupport": "detect"}), true)]
#[case::reject(json!({"mode": "validate", "sidecarSupport": "detect", "fallback": "reject"}), false)]
fn validate_mode_makes_the_same_decision(#[case] settings: Value, #[case] accepted: bool) {
    let host = ScriptedHost::nodes(&[("old-1", "v1.28.3")]);
    let response = respond_with_host(&fixture(SEED), settings, &host);
    assert_eq!(response["accepted"], json!(accepted), "{response}");
    let new = ScriptedHost::nodes(&[("new-1", "v1.33.3")]);
    let response = respond_with_host(
        &fixture(SEED),
        json!({"mode": "validate", "sidecarSupport": "detect"}),
        &new,
    );
    assert_eq!(
        response["accepted"],
        json!(false),
        "on new nodes the legacy sidecar is a violation"
    );
}
