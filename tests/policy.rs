//! The policy's `validate` entry point on the fixtures in `test_data/`.

mod common;

use assert_json_diff::assert_json_eq;
use common::{fixture, fixture_names, rejection, respond, respond_to_bytes, untouched, warnings};
use rstest::rstest;
use serde_json::{Value, json};

/// The RFC 6902 patch the host derives from the response, as (op, path) pairs.
fn patch_operations(request: &Value, response: &Value) -> Vec<(String, String)> {
    let patch = json_patch::diff(&request["object"], &response["mutated_object"]);
    serde_json::to_value(patch)
        .expect("patch serializes")
        .as_array()
        .expect("a patch is a list")
        .iter()
        .map(|op| {
            (
                op["op"].as_str().unwrap_or_default().to_string(),
                op["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_seed_sidecar_without_mount_becomes_a_native_sidecar_with_the_app_volume() {
    let request = fixture("pod_eshop_cart_app_sidecar_without_mount.json");
    let response = respond(&request, json!({}));
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "eshop-cart-app",
            "annotations": {"log-sidecar.io/converted": "sidecar"}
        },
        "spec": {
            "containers": [{
                "image": "busybox",
                "name": "cart-app",
                "command": [
                    "/bin/sh",
                    "-c",
                    "i=1;while :;do  echo -e \"$i: Price: $((RANDOM % 10000 + 1))\" >> /var/log/cart-app.log; i=$((i+1)); sleep 2; done"
                ],
                "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]
            }],
            "volumes": [{"emptyDir": {}, "name": "varlog"}],
            "initContainers": [{
                "name": "sidecar",
                "image": "ghcr.io/shclub/busybox",
                "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"],
                "restartPolicy": "Always",
                "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": true}]
            }]
        }
    });
    assert_eq!(
        response["accepted"],
        json!(true),
        "the seed pod is accepted"
    );
    assert_json_eq!(response["mutated_object"], expected);
    assert_eq!(
        warnings(&response),
        vec![
            "spec.containers[1] (\"sidecar\") moved to initContainers[0] with restartPolicy: Always",
            "added read-only volumeMount \"varlog\" at /var/log to \"sidecar\"",
        ],
        "every change is reported as a warning"
    );
}

#[test]
fn the_seed_sidecar_with_its_mount_is_moved_without_a_second_mount() {
    let request = fixture("pod_eshop_cart_app_sidecar_with_mount.json");
    let response = respond(&request, json!({}));
    assert_json_eq!(
        response["mutated_object"]["spec"]["initContainers"],
        json!([{
            "name": "sidecar",
            "image": "ghcr.io/shclub/busybox",
            "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"],
            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}],
            "restartPolicy": "Always"
        }])
    );
    assert_eq!(warnings(&response).len(), 1, "only the move is reported");
}

#[test]
fn fields_unknown_to_the_schema_survive_and_the_patch_touches_only_the_sidecar() {
    let request = fixture("pod_with_fields_unknown_to_the_schema.json");
    let response = respond(&request, json!({"unknownFields": "ignore"}));
    let output = &response["mutated_object"];
    assert_eq!(
        serde_json::to_string(&output["spec"]["containers"][0]["futureField"]).unwrap(),
        serde_json::to_string(&request["object"]["spec"]["containers"][0]["futureField"]).unwrap(),
        "an unknown container field is kept byte for byte"
    );
    assert_eq!(output["spec"]["futurePodField"], json!("kept"));
    assert_eq!(
        output["metadata"]["creationTimestamp"],
        json!(null),
        "a null is kept"
    );
    assert!(
        output["metadata"]
            .as_object()
            .unwrap()
            .contains_key("creationTimestamp"),
        "a null field is not dropped"
    );
    assert_eq!(
        patch_operations(&request, &response),
        vec![
            ("add".to_string(), "/metadata/annotations".to_string()),
            ("remove".to_string(), "/spec/containers/1".to_string()),
            ("add".to_string(), "/spec/initContainers".to_string()),
        ],
        "the patch moves the sidecar and records it, nothing else"
    );
}

#[test]
fn the_upstream_example_converts_both_streaming_sidecars_in_order() {
    let request = fixture("pod_upstream_counter_two_streaming_sidecars.json");
    let response = respond(&request, json!({}));
    let spec = &response["mutated_object"]["spec"];
    let names = |list: &str| -> Vec<String> {
        spec[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("containers"), vec!["count"], "the app stays");
    assert_eq!(
        names("initContainers"),
        vec!["count-log-1", "count-log-2"],
        "order kept"
    );
    assert_eq!(
        response["mutated_object"]["metadata"]["annotations"]["log-sidecar.io/converted"],
        json!("count-log-1,count-log-2")
    );
}

#[rstest]
#[case::deployment("deployment_with_streaming_sidecar.json", &["spec", "template"])]
#[case::deployment_update("deployment_with_streaming_sidecar_update.json", &["spec", "template"])]
#[case::replica_set("replicaset_with_streaming_sidecar.json", &["spec", "template"])]
#[case::stateful_set("statefulset_with_streaming_sidecar.json", &["spec", "template"])]
#[case::daemon_set("daemonset_with_streaming_sidecar.json", &["spec", "template"])]
#[case::job("job_with_streaming_sidecar.json", &["spec", "template"])]
#[case::cron_job("cronjob_with_streaming_sidecar.json", &["spec", "jobTemplate", "spec", "template"])]
#[case::replication_controller("replicationcontroller_with_streaming_sidecar.json", &["spec", "template"])]
fn workload_templates_are_converted_with_convert_templates(
    #[case] name: &str,
    #[case] keys: &[&str],
) {
    let request = fixture(name);
    let response = respond(&request, json!({"convertTemplates": true}));
    let mut template = &response["mutated_object"];
    for key in keys {
        template = &template[key];
    }
    assert_eq!(
        template["spec"]["initContainers"][0]["restartPolicy"],
        json!("Always"),
        "{name}: the sidecar is native"
    );
    assert_eq!(
        template["spec"]["initContainers"][0]["volumeMounts"],
        json!([{"name": "varlog", "mountPath": "/var/log", "readOnly": true}]),
        "{name}: the sidecar mounts the log volume"
    );
    assert_eq!(
        template["metadata"]["annotations"]["log-sidecar.io/converted"],
        json!("sidecar"),
        "{name}: recorded in the pod template's annotations"
    );
    assert_eq!(
        template["metadata"]["labels"],
        json!({"app": "eshop-cart"}),
        "{name}: template labels kept"
    );
    let prefix = keys.join(".");
    assert_eq!(
        warnings(&response)[0],
        format!(
            "{prefix}.spec.containers[1] (\"sidecar\") moved to initContainers[0] with \
             restartPolicy: Always"
        ),
        "{name}: paths in warnings are kubectl paths"
    );
}

#[rstest]
#[case::deployment("deployment_with_streaming_sidecar.json", "spec.template")]
#[case::deployment_update("deployment_with_streaming_sidecar_update.json", "spec.template")]
#[case::replica_set("replicaset_with_streaming_sidecar.json", "spec.template")]
#[case::stateful_set("statefulset_with_streaming_sidecar.json", "spec.template")]
#[case::daemon_set("daemonset_with_streaming_sidecar.json", "spec.template")]
#[case::job("job_with_streaming_sidecar.json", "spec.template")]
#[case::cron_job(
    "cronjob_with_streaming_sidecar.json",
    "spec.jobTemplate.spec.template"
)]
#[case::replication_controller(
    "replicationcontroller_with_streaming_sidecar.json",
    "spec.template"
)]
fn workload_templates_are_reviewed_and_left_as_they_are_by_default(
    #[case] name: &str,
    #[case] template: &str,
) {
    let response = respond(&fixture(name), json!({}));
    assert_eq!(response["accepted"], json!(true), "{name}: {response}");
    assert_eq!(
        response["mutated_object"],
        json!(null),
        "{name}: not rewritten"
    );
    assert_eq!(
        warnings(&response),
        vec![format!(
            "{template}: its pods get \"sidecar\" as native sidecar(s); convert rewrites the \
             manifest itself"
        )],
        "{name}"
    );
}

#[rstest]
#[case::already_converted_pod("pod_already_converted.json")]
#[case::pod_update_cannot_change_containers("pod_eshop_cart_app_update.json")]
fn nothing_to_change_means_no_mutation_and_no_warning(#[case] name: &str) {
    let response = respond(&fixture(name), json!({}));
    assert_eq!(response, untouched(), "{name} is accepted as it is");
}

#[test]
fn running_the_policy_on_its_own_output_changes_nothing() {
    let mut request = fixture("pod_upstream_counter_two_streaming_sidecars.json");
    let first = respond(&request, json!({}));
    request["object"] = first["mutated_object"].clone();
    let second = respond(&request, json!({}));
    assert_eq!(second["accepted"], json!(true));
    assert_eq!(
        second["mutated_object"],
        json!(null),
        "idempotent: {second}"
    );
}

#[test]
fn an_opted_out_pod_is_left_alone_with_a_warning() {
    let response = respond(&fixture("pod_opted_out.json"), json!({}));
    assert_eq!(response["mutated_object"], json!(null), "not converted");
    assert_eq!(
        warnings(&response),
        vec!["log-sidecar.io/native=false: log sidecars left as they are"]
    );
}

#[test]
fn opting_out_can_be_forbidden() {
    let response = respond(
        &fixture("pod_opted_out.json"),
        json!({"allowOptOut": false}),
    );
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"][0]["name"],
        json!("sidecar"),
        "converted despite the annotation"
    );
    assert_eq!(
        warnings(&response)[0],
        "log-sidecar.io/native=false ignored: this policy does not allow opting out"
    );
}

#[test]
fn clusters_older_than_1_29_get_no_native_sidecars() {
    let response = respond(
        &fixture("pod_eshop_cart_app_sidecar_with_mount.json"),
        json!({"kubernetesVersion": "1.28"}),
    );
    assert_eq!(response["accepted"], json!(true));
    assert_eq!(response["mutated_object"], json!(null), "not converted");
    assert_eq!(
        warnings(&response),
        vec![
            "not converted: native sidecars need Kubernetes 1.29+ on every API server and node \
             (kubernetesVersion: 1.28)"
        ]
    );
}

#[test]
fn a_tailing_init_container_without_restart_policy_gets_it_back() {
    let request = fixture("pod_tailing_init_container_without_restart_policy.json");
    let response = respond(&request, json!({}));
    let init = &response["mutated_object"]["spec"]["initContainers"][0];
    assert_eq!(
        init["restartPolicy"],
        json!("Always"),
        "it can never finish otherwise"
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.initContainers[0] (\"sidecar\") streams logs but lacked restartPolicy: Always \
             (stripped?); restored it"
        ]
    );
}

#[test]
fn a_converted_sidecar_that_lost_its_restart_policy_is_restored() {
    let request = fixture("pod_converted_sidecar_lost_restart_policy.json");
    let response = respond(&request, json!({}));
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"][0]["restartPolicy"],
        json!("Always")
    );
    assert_eq!(
        response["mutated_object"]["metadata"]["annotations"],
        json!({"log-sidecar.io/converted": "sidecar"}),
        "the record is not duplicated"
    );
}

#[test]
fn a_container_named_in_the_annotation_is_converted_even_without_tail() {
    let request = fixture("pod_annotation_declares_a_log_shipper.json");
    let response = respond(&request, json!({}));
    let object = &response["mutated_object"];
    let init: Vec<&str> = object["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        init,
        vec!["sidecar", "fluent-bit"],
        "both sidecars, in container order"
    );
    assert_eq!(
        object["metadata"]["annotations"]["log-sidecar.io/converted"],
        json!("sidecar,fluent-bit")
    );
}

#[test]
fn sidecar_names_setting_declares_sidecars() {
    let mut request = fixture("pod_annotation_declares_a_log_shipper.json");
    request["object"]["metadata"]["annotations"] = json!({});
    let response = respond(
        &request,
        json!({"sidecarNames": ["fluent-bit"], "detectStreamingSidecars": false}),
    );
    assert_eq!(
        response["mutated_object"]["spec"]["initContainers"][0]["name"],
        json!("fluent-bit"),
        "only the named container, detection being off"
    );
}

#[test]
fn placement_first_puts_sidecars_before_regular_init_containers() {
    let mut request = fixture("pod_eshop_cart_app_sidecar_with_mount.json");
    request["object"]["spec"]["initContainers"] = json!([
        {"name": "mesh-proxy", "image": "proxy", "restartPolicy": "Always"},
        {"name": "migrate", "image": "migrate"}
    ]);
    let names = |response: &Value| -> Vec<String> {
        response["mutated_object"]["spec"]["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = respond(&request, json!({"placement": "first"}));
    assert_eq!(names(&first), vec!["mesh-proxy", "sidecar", "migrate"]);
    let last = respond(&request, json!({}));
    assert_eq!(
        names(&last),
        vec!["mesh-proxy", "migrate", "sidecar"],
        "last is the default"
    );
}

#[test]
fn create_shared_volume_gives_a_private_log_directory_a_volume() {
    let request = fixture("pod_log_file_private_to_the_app.json");
    let response = respond(&request, json!({"createSharedVolume": true}));
    let spec = &response["mutated_object"]["spec"];
    assert_eq!(
        spec["volumes"],
        json!([{"name": "shared-logs", "emptyDir": {}}])
    );
    assert_eq!(
        spec["containers"][0]["volumeMounts"],
        json!([{"name": "shared-logs", "mountPath": "/var/log"}])
    );
    assert_eq!(
        spec["initContainers"][0]["volumeMounts"],
        json!([{"name": "shared-logs", "mountPath": "/var/log", "readOnly": true}])
    );
}

#[rstest]
#[case::startup_probe(
    "pod_sidecar_with_startup_probe.json",
    json!({}),
    "spec.containers[1]: as a native sidecar, its startupProbe would hold back every later container, so the app that writes its log file might never start; remove the startupProbe"
)]
#[case::post_start_hook(
    "pod_sidecar_with_post_start_hook.json",
    json!({}),
    "spec.containers[1]: as a native sidecar, its postStart hook would hold back every later container, so the app that writes its log file might never start; remove lifecycle.postStart"
)]
#[case::follow_by_descriptor_without_rewrite(
    "pod_sidecar_follows_by_descriptor.json",
    json!({"rewriteFollow": false}),
    "spec.containers[1]: tail follows /var/log/cart-app.log without --retry and exits while the file does not exist, so as a native sidecar it would crash-loop before the app starts; use tail -F (or set rewriteFollow: true)"
)]
#[case::restart_policy_on_failure(
    "pod_sidecar_with_restart_policy_on_failure.json",
    json!({"kubernetesVersion": "1.35"}),
    "spec.containers[1]: restartPolicy is \"OnFailure\", but a native sidecar needs \"Always\"; remove the field or set it to Always"
)]
#[case::host_port_clash(
    "pod_sidecar_host_port_clashes_with_app.json",
    json!({}),
    "spec.containers[1]: as a native sidecar, its hostPort 9000/TCP would clash with container \"cart-app\", and the API server does not check ports across initContainers and containers; use another hostPort"
)]
#[case::resize_policy_before_1_33(
    "pod_sidecar_with_resize_policy.json",
    json!({"kubernetesVersion": "1.32", "enabledFeatureGates": ["InPlacePodVerticalScaling"]}),
    "spec.containers[1]: resizePolicy on a native sidecar needs Kubernetes 1.33 or later (kubernetesVersion is 1.32); remove resizePolicy or raise kubernetesVersion"
)]
#[case::sidecar_mounts_another_volume(
    "pod_sidecar_mounts_another_volume.json",
    json!({}),
    "spec.containers[1]: streams /var/log/cart-app.log from volume \"scratch\" but the app writes it to volume \"varlog\" (/var/log): it would stream an empty file forever; mount /var/log instead"
)]
#[case::two_apps_mount_different_volumes(
    "pod_two_apps_mount_different_volumes_at_the_log_path.json",
    json!({}),
    "spec.containers[2]: streams /var/log/cart-app.log, but containers mount different volumes there (volume \"varlog\" and volume \"auditlog\"); the file to stream is ambiguous"
)]
#[case::log_file_private_to_the_app(
    "pod_log_file_private_to_the_app.json",
    json!({}),
    "spec.containers[1]: streams /var/log/cart-app.log, but no regular container mounts a volume there, so the file stays private to the app; add a volume (for example emptyDir {} named shared-logs) and mount it at /var/log in the app container and in this sidecar"
)]
#[case::sidecar_reads_a_volume_no_app_mounts(
    "pod_sidecar_reads_a_volume_no_app_mounts.json",
    json!({}),
    "spec.containers[1]: streams /var/log/orders/app.log from volume \"scratch\", but no regular container sees that file through its mounts, so no app writes it there; mount volume \"scratch\" in the container that writes /var/log/orders/app.log, or mount here the volume that container writes it to"
)]
#[case::missing_mount_without_add_volume_mounts(
    "pod_annotation_declares_a_sidecar_without_mount.json",
    json!({"addVolumeMounts": false}),
    "spec.containers[1]: has no volumeMount for /var/log/cart-app.log, so it cannot read it; add {\"name\":\"varlog\",\"mountPath\":\"/var/log\",\"readOnly\":true} to this container"
)]
#[case::every_container_declared(
    "pod_every_container_declared_a_sidecar.json",
    json!({}),
    "spec.containers: converting cart-app, sidecar would leave no regular container; keep the container that writes the logs in spec.containers"
)]
#[case::annotation_names_a_missing_container(
    "pod_annotation_names_a_missing_container.json",
    json!({}),
    "annotation log-sidecar.io/containers names container \"fluentbit\", which is not in spec.containers or spec.initContainers: fix the name or remove it from the list"
)]
fn unsafe_conversions_are_refused_with_a_precise_message(
    #[case] name: &str,
    #[case] settings: Value,
    #[case] message: &str,
) {
    let response = respond(&fixture(name), settings);
    assert_eq!(rejection(&response), vec![message.to_string()], "{name}");
}

#[test]
fn restart_policy_rules_are_refused_along_with_the_other_restart_policy() {
    let response = respond(
        &fixture("pod_sidecar_with_restart_policy_rules.json"),
        json!({"kubernetesVersion": "1.35"}),
    );
    assert_eq!(
        rejection(&response),
        vec![
            "spec.containers[1]: restartPolicyRules cannot be kept on a native sidecar; remove them to convert this log sidecar",
            "spec.containers[1]: restartPolicy is \"Never\", but a native sidecar needs \"Always\"; remove the field or set it to Always",
        ],
        "every problem is listed, one per line"
    );
}

#[rstest]
#[case::not_json(b"{".to_vec(), "the validation payload is not valid JSON: EOF while parsing an object at line 1 column 1")]
#[case::no_request(br#"{"settings": {}}"#.to_vec(), "request must be an AdmissionRequest object")]
#[case::no_object(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE"}}"#.to_vec(), "request.object is required")]
#[case::object_of_wrong_type(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": []}}"#.to_vec(), "request.object must be an object")]
#[case::template_of_wrong_type(br#"{"request": {"kind": {"kind": "Deployment"}, "operation": "CREATE", "object": {"spec": {"template": 1}}}}"#.to_vec(), "spec.template must be an object")]
#[case::invalid_settings(br#"{"request": {}, "settings": {"mode": 1}}"#.to_vec(), "settings: invalid settings: setting mode: invalid type: integer `1`, expected string or map")]
fn requests_that_make_no_sense_are_refused_with_the_path(
    #[case] payload: Vec<u8>,
    #[case] message: &str,
) {
    assert_eq!(
        rejection(&respond_to_bytes(&payload)),
        vec![message.to_string()]
    );
}

#[rstest]
#[case::other_kind(json!({"kind": {"kind": "ConfigMap"}, "operation": "CREATE", "object": {"data": {}}}))]
#[case::delete(json!({"kind": {"kind": "Pod"}, "operation": "DELETE", "object": null}))]
#[case::deployment_without_template(json!({"kind": {"kind": "Deployment"}, "operation": "CREATE", "object": {"spec": {}}}))]
fn requests_without_pods_to_convert_are_accepted(#[case] request: Value) {
    let response = respond(&request, json!({}));
    assert_eq!(response["accepted"], json!(true), "{request}");
    assert_eq!(response["mutated_object"], json!(null), "{request}");
}

#[test]
fn the_converted_record_is_merged_with_an_earlier_one() {
    let mut request = fixture("pod_eshop_cart_app_sidecar_with_mount.json");
    request["object"]["metadata"]["annotations"] =
        json!({"log-sidecar.io/converted": "earlier", "team": "cart"});
    let response = respond(&request, json!({}));
    assert_eq!(
        response["mutated_object"]["metadata"]["annotations"],
        json!({"log-sidecar.io/converted": "earlier,sidecar", "team": "cart"}),
        "earlier names first, other annotations untouched"
    );
}

#[test]
fn every_warning_of_every_fixture_fits_on_one_line_of_120_characters() {
    for name in fixture_names() {
        for settings in [
            json!({}),
            json!({"droppedFields": "warn", "unknownFields": "warn", "kubernetesVersion": "1.28"}),
        ] {
            for warning in warnings(&respond(&fixture(&name), settings)) {
                assert!(
                    warning.chars().count() <= 120 && !warning.contains('\n'),
                    "{name}: {warning}"
                );
            }
        }
    }
}
