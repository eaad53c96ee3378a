//! `fallback: dual`: where the pod's nodes are mixed or unknown, a log
//! sidecar is injected twice, as a native sidecar and as a regular
//! container, that agree at run time which of them streams.

mod common;

use common::{ScriptedHost, fixture, rejection, respond, respond_with_host, warnings};
use rstest::rstest;
use serde_json::{Value, json};

const SEED: &str = "pod_eshop_cart_app_sidecar_without_mount.json";

fn dual() -> Value {
    json!({"sidecarSupport": "detect", "fallback": "dual"})
}

fn mixed() -> ScriptedHost {
    ScriptedHost::nodes(&[("worker-1", "v1.33.2"), ("worker-3", "v1.28.5")])
}

const NATIVE_SCRIPT: &str = "if [ -e /run/log-sidecar-state/sidecar.ran ]; then : > \
    /run/log-sidecar-state/sidecar.native; exec \"$@\"; fi; : > /run/log-sidecar-state/sidecar.ran";
const LEGACY_SCRIPT: &str = "if [ -e /run/log-sidecar-state/sidecar.native ]; then trap 'exit 0' \
    TERM INT; sleep 2147483647 & wait; exit 0; fi; exec \"$@\"";
const TAIL: [&str; 3] = ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"];

fn mounts() -> Value {
    json!([
        {"name": "varlog", "mountPath": "/var/log", "readOnly": true},
        {"name": "log-sidecar-state", "mountPath": "/run/log-sidecar-state"}
    ])
}

fn wrapped(script: &str) -> Value {
    let mut command = vec![
        json!("/bin/sh"),
        json!("-c"),
        json!(script),
        json!("sidecar"),
    ];
    command.extend(TAIL.iter().map(|w| json!(w)));
    Value::Array(command)
}

#[test]
fn the_seed_pod_on_a_mixed_cluster_gets_both_forms() {
    let response = respond_with_host(&fixture(SEED), dual(), &mixed());
    let object = &response["mutated_object"];
    assert_eq!(
        object["metadata"]["annotations"],
        json!({"log-sidecar.io/converted": "sidecar", "log-sidecar.io/dual": "sidecar=sidecar-legacy"})
    );
    assert_eq!(
        object["spec"]["containers"][1],
        json!({"name": "sidecar-legacy", "image": "ghcr.io/shclub/busybox",
               "command": wrapped(LEGACY_SCRIPT), "volumeMounts": mounts()})
    );
    assert_eq!(
        object["spec"]["initContainers"],
        json!([{"name": "sidecar", "image": "ghcr.io/shclub/busybox",
                "command": wrapped(NATIVE_SCRIPT), "volumeMounts": mounts(),
                "restartPolicy": "Always"}])
    );
    assert_eq!(
        object["spec"]["volumes"][1],
        json!({"name": "log-sidecar-state", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.containers[1] (\"sidecar\") moved to initContainers[0] with restartPolicy: Always",
            "added read-only volumeMount \"varlog\" at /var/log to \"sidecar\"",
            "nodes of this pod are mixed: worker-3 (v1.28.5); \"sidecar\" runs in dual form, with \"sidecar-legacy\"",
            "spec.initContainers[0].restartPolicy: lost below 1.29: the native half runs once and the legacy half streams",
        ]
    );
}

#[test]
fn a_job_pod_gets_a_legacy_form_that_lets_it_complete() {
    let mut request = fixture(SEED);
    request["object"]["spec"]["restartPolicy"] = json!("Never");
    let response = respond_with_host(&request, dual(), &mixed());
    assert_eq!(
        response["mutated_object"]["spec"]["containers"][1]["command"][2],
        json!("if [ -e /run/log-sidecar-state/sidecar.native ]; then exit 0; fi; exec \"$@\"")
    );
}

#[rstest]
#[case::kubernetes_version_too_old(
    json!({"fallback": "dual", "kubernetesVersion": "1.28"}),
    ScriptedHost::new(Err("no call expected".into())),
    "kubernetesVersion is 1.28; \"sidecar\" runs in dual form, with \"sidecar-legacy\""
)]
#[case::nodes_unknown(
    dual(),
    ScriptedHost::new(Err("Policy has not been granted access to Kubernetes v1/Node resources".into())),
    "its nodes are unknown; \"sidecar\" runs in dual form, with \"sidecar-legacy\""
)]
#[case::no_node_matches(
    dual(),
    ScriptedHost::nodes(&[]),
    "its nodes are unknown; \"sidecar\" runs in dual form, with \"sidecar-legacy\""
)]
fn unknown_or_old_support_gives_the_dual_form(
    #[case] settings: Value,
    #[case] host: ScriptedHost,
    #[case] warning: &str,
) {
    let response = respond_with_host(&fixture(SEED), settings, &host);
    assert_eq!(response["accepted"], json!(true), "{response}");
    assert_eq!(
        response["mutated_object"]["spec"]["containers"][1]["name"],
        json!("sidecar-legacy"),
        "{response}"
    );
    assert!(
        warnings(&response).contains(&warning.to_string()),
        "{response}"
    );
}

#[test]
fn on_new_nodes_only_the_sidecar_is_simply_native() {
    let host = ScriptedHost::nodes(&[("worker-1", "v1.33.2")]);
    let response = respond_with_host(&fixture(SEED), dual(), &host);
    let spec = &response["mutated_object"]["spec"];
    assert_eq!(
        spec["containers"].as_array().unwrap().len(),
        1,
        "{response}"
    );
    assert_eq!(
        spec["initContainers"][0]["command"],
        json!(TAIL),
        "not wrapped"
    );
}

#[test]
fn on_old_nodes_only_the_sidecar_stays_a_regular_container() {
    let host = ScriptedHost::nodes(&[("worker-3", "v1.28.5")]);
    let response = respond_with_host(&fixture(SEED), dual(), &host);
    assert_eq!(response["mutated_object"], json!(null), "{response}");
    assert_eq!(
        warnings(&response),
        vec![
            "not converted: native sidecars need kubelet 1.29+, and every node the pod may run on is older: worker-3 (v1.28.5)"
        ]
    );
}

/// The request with the dual-form output as its object.
fn fed_back(settings: &Value) -> Value {
    let mut request = fixture(SEED);
    let response = respond_with_host(&request, settings.clone(), &mixed());
    request["object"] = response["mutated_object"].clone();
    request
}

#[rstest]
#[case::mutate("mutate")]
#[case::validate("validate")]
fn the_policy_changes_and_rejects_nothing_of_its_own_dual_output(#[case] mode: &str) {
    let request = fed_back(&dual());
    for settings in [
        json!({"mode": mode, "sidecarSupport": "detect", "fallback": "dual"}),
        json!({"mode": mode}),
        json!({"mode": mode, "kubernetesVersion": "1.28", "fallback": "dual"}),
    ] {
        let response = respond_with_host(&request, settings.clone(), &mixed());
        assert_eq!(response["accepted"], json!(true), "{settings}: {response}");
        assert_eq!(
            response["mutated_object"],
            json!(null),
            "{settings}: {response}"
        );
    }
}

#[rstest]
#[case::legacy_half_removed("containers", 1, "sidecar-legacy")]
#[case::native_half_removed("initContainers", 0, "sidecar")]
fn validate_mode_sees_a_pair_that_lost_a_half(
    #[case] list: &str,
    #[case] index: usize,
    #[case] missing: &str,
) {
    let mut request = fed_back(&dual());
    request["object"]["spec"][list]
        .as_array_mut()
        .unwrap()
        .remove(index);
    let response = respond(&request, json!({"mode": "validate"}));
    assert_eq!(
        rejection(&response),
        vec![format!(
            "spec: the dual pair \"sidecar\" (native) and \"sidecar-legacy\" (regular) recorded in \
             the annotations lost \"{missing}\": the remaining half alone does not stream on every \
             node; restore both or neither"
        )]
    );
}

#[test]
fn a_native_half_that_lost_its_restart_policy_is_restored_not_split_again() {
    let mut request = fed_back(&dual());
    request["object"]["spec"]["initContainers"][0]
        .as_object_mut()
        .unwrap()
        .remove("restartPolicy");
    let response = respond_with_host(&request, dual(), &mixed());
    let spec = &response["mutated_object"]["spec"];
    assert_eq!(spec["initContainers"][0]["restartPolicy"], json!("Always"));
    assert_eq!(
        spec["containers"].as_array().unwrap().len(),
        2,
        "no second legacy form: {response}"
    );
}

#[test]
fn the_legacy_name_avoids_an_existing_container() {
    let mut request = fixture(SEED);
    request["object"]["spec"]["containers"][0]["name"] = json!("sidecar-legacy");
    let response = respond_with_host(&request, dual(), &mixed());
    assert_eq!(
        response["mutated_object"]["metadata"]["annotations"]["log-sidecar.io/dual"],
        json!("sidecar=sidecar-legacy-2")
    );
}

#[rstest]
#[case::declared_is_refused(true)]
#[case::a_tail_in_args_alone_is_a_known_argv(false)]
fn a_sidecar_whose_argv_is_unknown_cannot_take_the_dual_form(#[case] declared: bool) {
    let mut request = fixture(SEED);
    let sidecar = &mut request["object"]["spec"]["containers"][1];
    sidecar.as_object_mut().unwrap().remove("command");
    sidecar["args"] = json!(["-n", "+1", "-F", "/var/log/cart-app.log"]);
    if declared {
        request["object"]["metadata"]["annotations"] =
            json!({"log-sidecar.io/containers": "sidecar"});
        let response = respond_with_host(&request, dual(), &mixed());
        assert_eq!(
            rejection(&response),
            vec![
                "spec.containers[1]: fallback dual wraps the sidecar's command, but it has no \
                 command and its args do not start with sh, bash or tail, so what the image runs \
                 is unknown; set command"
            ]
        );
    } else {
        // Without command, args that do not start with tail are not detected
        // either; a tail in args is, and then its argv is known.
        sidecar_detected_through_args(&mut request);
        let response = respond_with_host(&request, dual(), &mixed());
        assert_eq!(
            response["mutated_object"]["spec"]["containers"][1]["command"][4],
            json!("tail")
        );
    }
}

fn sidecar_detected_through_args(request: &mut Value) {
    request["object"]["spec"]["containers"][1]["args"] =
        json!(["tail", "-n", "+1", "-F", "/var/log/cart-app.log"]);
}

#[test]
fn fallback_dual_is_a_valid_setting() {
    let answer =
        log_sidecar_policy::settings::validate_settings(br#"{"fallback": "dual"}"#).unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["valid"], json!(true), "{answer}");
}
