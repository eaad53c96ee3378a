//! `PREFIX/stream`: the policy adds the streaming sidecar itself, a native
//! sidecar with the mount of the container that writes the file.

mod common;

use assert_json_diff::assert_json_eq;
use common::{ScriptedHost, fixture, rejection, respond, respond_with_host, warnings};
use rstest::rstest;
use serde_json::{Value, json};

const SEED: &str = "pod_eshop_cart_app_stream_annotation.json";

fn seed_with(annotation: &str) -> Value {
    let mut request = fixture(SEED);
    request["object"]["metadata"]["annotations"]["log-sidecar.io/stream"] = json!(annotation);
    request
}

const STREAMER: &str =
    "tail -n +1 -F \"$1\" & pid=$!; trap 'sleep 2; kill \"$pid\"; exit 0' TERM INT; wait \"$pid\"";

fn restricted() -> Value {
    json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
           "readOnlyRootFilesystem": true, "seccompProfile": {"type": "RuntimeDefault"}})
}

#[test]
fn the_seed_pod_gets_the_exercises_sidecar_as_a_native_sidecar() {
    let response = respond(
        &fixture(SEED),
        json!({"streamerImage": "ghcr.io/shclub/busybox"}),
    );
    let object = &response["mutated_object"];
    assert_json_eq!(
        object["spec"]["initContainers"],
        json!([{
            "name": "sidecar",
            "image": "ghcr.io/shclub/busybox",
            "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", STREAMER, "sidecar", "/var/log/cart-app.log"],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            "securityContext": restricted(),
            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": true}],
            "restartPolicy": "Always"
        }])
    );
    assert_eq!(
        object["spec"]["containers"],
        fixture(SEED)["object"]["spec"]["containers"],
        "the app is not touched"
    );
    assert_eq!(
        object["metadata"]["annotations"]["log-sidecar.io/injected"],
        json!("sidecar")
    );
    assert_eq!(
        warnings(&response),
        vec!["injected \"sidecar\" at initContainers[0] to stream /var/log/cart-app.log"]
    );
}

#[test]
fn without_a_name_the_sidecar_is_named_after_the_file() {
    let response = respond(&seed_with("/var/log/cart-app.log"), json!({}));
    let init = &response["mutated_object"]["spec"]["initContainers"][0];
    assert_eq!(init["name"], json!("log-cart-app"));
    assert_eq!(init["image"], json!("busybox:1.37"));
}

#[test]
fn one_sidecar_per_file_with_names_that_never_collide() {
    let mut request = seed_with("/var/log/cart-app.log, /var/log/cart-app.txt");
    request["object"]["spec"]["containers"][0]["name"] = json!("log-cart-app");
    let response = respond(&request, json!({}));
    let names: Vec<&str> = response["mutated_object"]["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["log-cart-app-2", "log-cart-app-3"]);
}

#[rstest]
#[case::mutate("mutate")]
#[case::validate("validate")]
fn injecting_is_idempotent(#[case] mode: &str) {
    let mut request = fixture(SEED);
    let first = respond(&request, json!({}));
    request["object"] = first["mutated_object"].clone();
    let again = respond(&request, json!({"mode": mode}));
    assert_eq!(again["accepted"], json!(true), "{again}");
    assert_eq!(again["mutated_object"], json!(null), "{again}");
}

#[test]
fn a_name_taken_by_another_container_is_refused() {
    let mut request = fixture(SEED);
    request["object"]["metadata"]["annotations"]["log-sidecar.io/stream"] =
        json!("cart-app=/var/log/cart-app.log");
    assert_eq!(
        rejection(&respond(&request, json!({}))),
        vec![
            "spec: annotation log-sidecar.io/stream asks for a container \"cart-app\" streaming \
             /var/log/cart-app.log, but that name is taken by a container that does something \
             else; give the entry another name (NAME=PATH)"
        ]
    );
}

#[test]
fn a_sidecar_that_already_streams_the_file_means_nothing_to_do() {
    let request = fixture("pod_eshop_cart_app_sidecar_with_mount.json");
    let mut request = request;
    request["object"]["metadata"]["annotations"] =
        json!({"log-sidecar.io/stream": "sidecar=/var/log/cart-app.log"});
    let response = respond(&request, json!({}));
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the existing sidecar is converted, nothing injected: {response}"
    );
}

#[rstest]
#[case::malformed_entry(
    "/var/log/*.log",
    "annotation log-sidecar.io/stream: entry \"/var/log/*.log\": PATH must not be a glob"
)]
#[case::no_writer(
    "/srv/out.log",
    "spec.initContainers[0]: streams /srv/out.log, but no regular container mounts a volume there, so the file stays private to the app; add a volume (for example emptyDir {} named shared-logs) and mount it at /srv in the app container and in this sidecar"
)]
fn an_annotation_that_cannot_be_honoured_is_refused(
    #[case] annotation: &str,
    #[case] message: &str,
) {
    assert_eq!(
        rejection(&respond(&seed_with(annotation), json!({}))),
        vec![message]
    );
}

#[test]
fn credentials_are_never_streamed() {
    let mut request = seed_with("/etc/app/token");
    request["object"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "creds", "mountPath": "/etc/app"}]);
    request["object"]["spec"]["volumes"] =
        json!([{"name": "creds", "secret": {"secretName": "app"}}]);
    assert_eq!(
        rejection(&respond(&request, json!({}))),
        vec![
            "spec.initContainers[0]: /etc/app/token is on volume \"creds\", a secret volume: \
             streaming it would copy credentials or configuration into the logs; stream a log \
             file instead"
        ]
    );
}

#[test]
fn create_shared_volume_gives_the_only_app_a_volume_for_its_file() {
    let response = respond(
        &seed_with("/srv/out.log"),
        json!({"createSharedVolume": true}),
    );
    let spec = &response["mutated_object"]["spec"];
    assert_eq!(
        spec["volumes"][1],
        json!({"name": "shared-logs", "emptyDir": {}})
    );
    assert_eq!(
        spec["initContainers"][0]["volumeMounts"],
        json!([{"name": "shared-logs", "mountPath": "/srv", "readOnly": true}])
    );
}

#[test]
fn the_streamer_runs_as_the_user_who_writes_the_file() {
    let mut request = fixture(SEED);
    request["object"]["spec"]["containers"][0]["securityContext"] =
        json!({"runAsUser": 1000, "runAsGroup": 2000, "runAsNonRoot": true});
    let response = respond(&request, json!({}));
    let mut expected = restricted();
    expected["runAsUser"] = json!(1000);
    expected["runAsGroup"] = json!(2000);
    expected["runAsNonRoot"] = json!(true);
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"][0]["securityContext"],
        expected
    );
}

/// The container-level checks of the `restricted` Pod Security Standard
/// (kubernetes.io/docs/concepts/security/pod-security-standards), given the
/// pod's own security context.
fn restricted_violations(container: &Value, pod: &Value) -> Vec<&'static str> {
    let context = &container["securityContext"];
    let inherited = |key: &str| {
        if context[key].is_null() {
            &pod["securityContext"][key]
        } else {
            &context[key]
        }
    };
    let mut violations = Vec::new();
    if context["privileged"] == json!(true) {
        violations.push("privileged");
    }
    if context["allowPrivilegeEscalation"] != json!(false) {
        violations.push("allowPrivilegeEscalation != false");
    }
    let dropped_all = context["capabilities"]["drop"]
        .as_array()
        .is_some_and(|d| d.contains(&json!("ALL")));
    let added = context["capabilities"]["add"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c != "NET_BIND_SERVICE"));
    if !dropped_all || added {
        violations.push("capabilities");
    }
    if !matches!(
        inherited("seccompProfile")["type"].as_str(),
        Some("RuntimeDefault" | "Localhost")
    ) {
        violations.push("seccompProfile");
    }
    if inherited("runAsNonRoot") != &json!(true) {
        violations.push("runAsNonRoot != true");
    }
    if inherited("runAsUser") == &json!(0) {
        violations.push("runAsUser=0");
    }
    if container["ports"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| !p["hostPort"].is_null()))
    {
        violations.push("hostPort");
    }
    violations
}

#[test]
fn a_pod_that_passed_the_restricted_standard_still_passes_it() {
    let mut request = fixture(SEED);
    let pod = &mut request["object"]["spec"];
    pod["securityContext"] =
        json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    pod["containers"][0]["securityContext"] = json!({"runAsUser": 1000, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    let before: Vec<_> = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| restricted_violations(c, pod))
        .collect();
    assert_eq!(before, Vec::<&str>::new(), "the fixture passes restricted");
    let response = respond(&request, json!({}));
    let spec = &response["mutated_object"]["spec"];
    let streamer = &spec["initContainers"][0];
    assert_eq!(
        restricted_violations(streamer, spec),
        Vec::<&str>::new(),
        "{streamer}"
    );
    let volumes_ok = spec["volumes"].as_array().unwrap().iter().all(|v| {
        [
            "emptyDir",
            "configMap",
            "secret",
            "projected",
            "downwardAPI",
            "persistentVolumeClaim",
            "csi",
            "ephemeral",
        ]
        .iter()
        .any(|k| v.get(*k).is_some())
    });
    assert!(volumes_ok, "restricted volume types only");
}

#[test]
fn a_non_root_pod_without_a_user_gets_the_nobody_user() {
    let mut request = fixture(SEED);
    request["object"]["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    let response = respond(&request, json!({}));
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"][0]["securityContext"]["runAsUser"],
        json!(65534),
        "busybox runs as root otherwise, and the kubelet would refuse to start it"
    );
}

#[rstest]
#[case::legacy(json!({"kubernetesVersion": "1.28"}), "containers", false)]
#[case::dual(json!({"kubernetesVersion": "1.28", "fallback": "dual"}), "initContainers", true)]
fn where_native_sidecars_cannot_run_the_fallback_decides(
    #[case] settings: Value,
    #[case] list: &str,
    #[case] dual: bool,
) {
    let response = respond(&fixture(SEED), settings);
    let spec = &response["mutated_object"]["spec"];
    let injected = spec[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sidecar")
        .unwrap_or_else(|| panic!("injected in {list}: {response}"));
    assert_eq!(injected["restartPolicy"].is_null(), list == "containers");
    assert_eq!(
        spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "sidecar-legacy"),
        dual
    );
}

#[test]
fn fallback_reject_refuses_the_injection_too() {
    let response = respond(
        &fixture(SEED),
        json!({"kubernetesVersion": "1.28", "fallback": "reject"}),
    );
    assert_eq!(rejection(&response).len(), 1, "{response}");
}

#[test]
fn mixed_nodes_are_detected_for_an_injection_as_for_a_conversion() {
    let host = ScriptedHost::nodes(&[("worker-3", "v1.28.5")]);
    let response = respond_with_host(&fixture(SEED), json!({"sidecarSupport": "detect"}), &host);
    assert_eq!(
        response["mutated_object"]["spec"]["containers"][1]["name"],
        json!("sidecar"),
        "a regular container on old nodes: {response}"
    );
}

#[test]
fn validate_mode_shows_the_container_it_would_add() {
    let response = respond(&fixture(SEED), json!({"mode": "validate"}));
    let lines = rejection(&response);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(
            "spec.initContainers[0]: the annotation asks for a streaming sidecar for \
             /var/log/cart-app.log; add {\"name\":\"sidecar\",\"image\":\"busybox:1.37\""
        ),
        "{}",
        lines[0]
    );
}

#[test]
fn a_template_is_checked_at_once_and_its_pods_get_the_sidecar() {
    let mut request = fixture("deployment_with_streaming_sidecar.json");
    request["object"]["spec"]["template"]["metadata"]["annotations"] =
        json!({"log-sidecar.io/stream": "/var/log/*.log"});
    assert_eq!(
        rejection(&respond(&request, json!({}))),
        vec!["annotation log-sidecar.io/stream: entry \"/var/log/*.log\": PATH must not be a glob"]
    );
    request["object"]["spec"]["template"]["metadata"]["annotations"] =
        json!({"log-sidecar.io/stream": "audit=/var/log/audit.log"});
    let response = respond(&request, json!({}));
    assert_eq!(
        response["mutated_object"],
        json!(null),
        "reviewed, not rewritten"
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.template: its pods get \"sidecar\", \"audit\" as native sidecar(s); convert rewrites the manifest itself"
        ]
    );
}

#[rstest]
#[case::image("streamerImage", json!("busy box"))]
#[case::resources("streamerResources", json!({"limits": {"memory": "lots"}}))]
#[case::drain("drainSeconds", json!(60))]
fn streamer_settings_are_validated(#[case] key: &str, #[case] value: Value) {
    let answer = log_sidecar_policy::settings::validate_settings(
        &serde_json::to_vec(&json!({key: value})).unwrap(),
    )
    .unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["valid"], json!(false), "{answer}");
}
