//! The shapes real manifests take: `tail -f` sidecars, volumes mounted at
//! other paths, block-scalar scripts, keep-alive containers, native sidecars
//! that would hang, and workload templates under kubectl and controllers.
//! A guess never blocks; an explicit declaration that cannot be honoured is
//! refused with every problem at once.

mod common;

use common::{fixture, rejection, respond, untouched, warnings};
use rstest::rstest;
use serde_json::{Value, json};

/// The first init container of a mutated Pod.
fn native(response: &Value) -> &Value {
    &response["mutated_object"]["spec"]["initContainers"][0]
}

fn unchanged(response: &Value) -> bool {
    response["accepted"] == json!(true) && response["mutated_object"].is_null()
}

/// The fixture without its `PREFIX/containers` annotation: the same sidecar,
/// found by its command line only.
fn detected(name: &str) -> Value {
    let mut request = fixture(name);
    if let Some(annotations) = request["object"]["metadata"]["annotations"].as_object_mut() {
        annotations.remove("log-sidecar.io/containers");
    }
    request
}

const LOGS: &str = r#"[{"name": "logs", "mountPath": "/var/log/app"}]"#;

#[rstest]
#[case::tail_f_in_sh_c(
    "pod_sidecar_tail_f_in_sh_c.json",
    json!({"command": ["/bin/sh", "-c", "tail -n+1 -F /var/log/app/app.log"]}),
    "tail -f became -F"
)]
#[case::tail_f_in_args_only(
    "pod_sidecar_tail_f_in_args_only.json",
    json!({"args": ["tail", "-F", "/var/log/app/app.log"]}),
    "tail -f became -F"
)]
#[case::tail_f_in_command_and_args(
    "pod_sidecar_tail_f_in_command_and_args.json",
    json!({"command": ["/bin/sh", "-c"], "args": ["tail -n 100 -F /var/log/app/app.log"]}),
    "tail -f became -F"
)]
#[case::follow_descriptor_long_option(
    "pod_sidecar_follow_descriptor_long_option.json",
    json!({"command": ["tail", "-F", "--lines=+1", "/var/log/app/app.log"]}),
    "tail --follow=descriptor became -F"
)]
#[case::combined_short_options(
    "pod_sidecar_tail_combined_short_options.json",
    json!({"command": ["sh", "-c", "exec tail -qFn +1 /var/log/app/app.log"]}),
    "tail -qfn became -qFn"
)]
#[case::block_scalar_script(
    "pod_sidecar_block_scalar_script.json",
    json!({"command": ["/bin/sh", "-c"], "args": ["tail -n+1 -F /var/log/app/app.log\n"]}),
    "tail -f became -F"
)]
fn tail_f_sidecars_become_native_with_only_the_follow_option_rewritten(
    #[case] name: &str,
    #[case] command: Value,
    #[case] rewrite: &str,
) {
    let response = respond(&fixture(name), json!({}));
    let mut expected = json!({"name": "log-tailer", "image": "busybox:1.37"});
    for (key, value) in command.as_object().expect("command and args") {
        expected[key] = value.clone();
    }
    expected["volumeMounts"] = serde_json::from_str(LOGS).expect("mounts");
    expected["restartPolicy"] = json!("Always");
    assert_eq!(
        serde_json::to_string(native(&response)).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "{name}: everything else byte for byte, key order included"
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.containers[1] (\"log-tailer\") moved to initContainers[0] with restartPolicy: Always"
                .to_string(),
            format!(
                "spec.containers[1] (\"log-tailer\"): {rewrite}, to wait for a missing file as a \
                 native sidecar"
            ),
        ],
        "{name}"
    );
}

#[test]
fn without_rewrite_follow_a_detected_tail_f_sidecar_is_left_with_a_warning() {
    let response = respond(
        &fixture("pod_sidecar_tail_f_in_sh_c.json"),
        json!({"rewriteFollow": false}),
    );
    assert!(unchanged(&response), "{response}");
    assert_eq!(
        warnings(&response),
        vec![
            "spec.containers[1] (\"log-tailer\") not converted: tail exits on a missing file; use \
             tail -F"
        ]
    );
}

#[rstest]
#[case::startup_probe(
    "pod_sidecar_with_startup_probe.json",
    json!({}),
    "its startupProbe would hold back the app; remove it"
)]
#[case::post_start_hook(
    "pod_sidecar_with_post_start_hook.json",
    json!({}),
    "its postStart hook would hold back the app; remove it"
)]
#[case::follow_without_rewrite(
    "pod_sidecar_follows_by_descriptor.json",
    json!({"rewriteFollow": false}),
    "tail exits on a missing file; use tail -F"
)]
#[case::restart_policy_on_failure(
    "pod_sidecar_with_restart_policy_on_failure.json",
    json!({"kubernetesVersion": "1.35"}),
    "its restartPolicy is OnFailure, not Always"
)]
#[case::host_port_clash(
    "pod_sidecar_host_port_clashes_with_app.json",
    json!({}),
    "hostPort 9000/TCP would clash with \"cart-app\""
)]
#[case::another_volume_at_the_log_path(
    "pod_sidecar_mounts_another_volume.json",
    json!({}),
    "it mounts another volume than the app's \"varlog\" at its log"
)]
#[case::ambiguous_log_path(
    "pod_two_apps_mount_different_volumes_at_the_log_path.json",
    json!({}),
    "apps mount different volumes at its log path"
)]
#[case::log_file_private_to_the_app(
    "pod_log_file_private_to_the_app.json",
    json!({}),
    "no volume shares /var/log with the app"
)]
#[case::no_app_mounts_its_volume(
    "pod_sidecar_reads_a_volume_no_app_mounts.json",
    json!({}),
    "no app sees its file in volume \"scratch\""
)]
#[case::missing_mount_without_add_volume_mounts(
    "pod_annotation_declares_a_sidecar_without_mount.json",
    json!({"addVolumeMounts": false}),
    "it lacks the app's log volume mount (addVolumeMounts: false)"
)]
fn a_detected_sidecar_that_cannot_be_converted_is_left_as_it_is_with_a_warning(
    #[case] name: &str,
    #[case] settings: Value,
    #[case] why: &str,
) {
    let request = detected(name);
    let (path, container) = if name.contains("two_apps") {
        ("spec.containers[2]", "sidecar")
    } else if name.contains("no_app_mounts") {
        ("spec.containers[1]", "log-tailer")
    } else {
        ("spec.containers[1]", "sidecar")
    };
    for mode in ["mutate", "validate"] {
        let mut settings = settings.clone();
        settings["mode"] = json!(mode);
        let response = respond(&request, settings);
        assert!(unchanged(&response), "{name} in {mode} mode: {response}");
        assert_eq!(
            warnings(&response),
            vec![format!("{path} (\"{container}\") not converted: {why}")],
            "{name} in {mode} mode"
        );
    }
}

#[rstest]
#[case::app_logs_and_a_read_only_sidecar_at_another_path(
    "pod_app_logs_read_only_sidecar_at_another_path.json",
    json!([{"name": "app-logs", "mountPath": "/logs-ro", "readOnly": true}])
)]
#[case::nginx_logs_read_at_another_path(
    "pod_nginx_logs_read_at_another_path.json",
    json!([{"name": "nginx-logs", "mountPath": "/logs"}])
)]
#[case::writer_output_and_reader_input(
    "pod_writer_output_reader_input.json",
    json!([{"name": "shared", "mountPath": "/input"}])
)]
fn a_sidecar_that_mounts_the_apps_volume_elsewhere_reads_the_apps_file(
    #[case] name: &str,
    #[case] mounts: Value,
) {
    let response = respond(&fixture(name), json!({}));
    assert_eq!(
        native(&response)["restartPolicy"],
        json!("Always"),
        "{name}: {response}"
    );
    assert_eq!(
        native(&response)["volumeMounts"],
        mounts,
        "{name}: its own mount, nothing added"
    );
    assert!(
        !warnings(&response)
            .iter()
            .any(|w| w.contains("volumeMount")),
        "{name}: no mount is reported added"
    );
}

#[test]
fn a_keep_alive_on_dev_null_next_to_an_app_is_no_log_sidecar() {
    let response = respond(
        &fixture("pod_toolbox_keep_alive_next_to_app.json"),
        json!({}),
    );
    assert_eq!(response, untouched());
}

#[test]
fn a_declared_keep_alive_is_converted_without_a_mount_or_a_rewrite() {
    let mut request = fixture("pod_toolbox_keep_alive_next_to_app.json");
    request["object"]["metadata"]["annotations"] = json!({"log-sidecar.io/containers": "toolbox"});
    let response = respond(&request, json!({}));
    assert_eq!(
        *native(&response),
        json!({"name": "toolbox", "image": "nicolaka/netshoot:v0.13",
               "command": ["tail", "-f", "/dev/null"], "restartPolicy": "Always"})
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.containers[1] (\"toolbox\") moved to initContainers[0] with restartPolicy: Always"
        ]
    );
}

#[rstest]
#[case::mutate("mutate")]
#[case::validate("validate")]
fn a_native_tail_f_sidecar_that_would_hang_is_accepted_with_a_warning(#[case] mode: &str) {
    let response = respond(
        &fixture("pod_native_tail_f_sidecar_hangs.json"),
        json!({"mode": mode}),
    );
    assert!(unchanged(&response), "{response}");
    assert_eq!(
        warnings(&response),
        vec![
            "spec.initContainers[0] (\"log-tailer\"): its tail exits on a missing file, so the pod \
             hangs in Init; use tail -F"
        ]
    );
}

#[test]
fn a_native_tail_f_sidecar_after_an_init_container_of_its_volume_is_fine() {
    let response = respond(
        &fixture("pod_native_tail_f_sidecar_after_init_that_creates_the_file.json"),
        json!({}),
    );
    assert_eq!(response, untouched());
}

#[test]
fn a_declared_sidecar_is_refused_with_every_problem_at_once() {
    let response = respond(
        &fixture("pod_declared_sidecar_with_several_problems.json"),
        json!({"rewriteFollow": false}),
    );
    assert_eq!(
        rejection(&response),
        vec![
            "spec.containers[1]: as a native sidecar, its startupProbe would hold back every later \
             container, so the app that writes its log file might never start; remove the \
             startupProbe",
            "spec.containers[1]: tail follows /var/log/app/app.log without --retry and exits while \
             the file does not exist, so as a native sidecar it would crash-loop before the app \
             starts; use tail -F (or set rewriteFollow: true)",
            "spec.containers[1]: streams /var/log/app/app.log, but no regular container mounts a \
             volume there, so the file stays private to the app; add a volume (for example \
             emptyDir {} named shared-logs) and mount it at /var/log/app in the app container and \
             in this sidecar",
        ]
    );
}

const REVIEWED: &str = "spec.template: its pods get \"log-tailer\" as native sidecar(s); convert rewrites the manifest \
     itself";

#[rstest]
#[case::job_update_its_template_is_immutable("job_update_with_streaming_sidecar.json")]
#[case::replica_set_of_a_deployment("replicaset_owned_by_deployment.json")]
fn with_convert_templates_some_templates_are_still_only_reviewed(#[case] name: &str) {
    let response = respond(&fixture(name), json!({"convertTemplates": true}));
    assert!(unchanged(&response), "{name}: {response}");
    assert_eq!(warnings(&response), vec![REVIEWED], "{name}");
}

#[test]
fn with_convert_templates_a_job_is_rewritten_when_created() {
    let mut request = fixture("job_update_with_streaming_sidecar.json");
    request["operation"] = json!("CREATE");
    request["oldObject"] = json!(null);
    let response = respond(&request, json!({"convertTemplates": true}));
    assert_eq!(
        response["mutated_object"]["spec"]["template"]["spec"]["initContainers"][0]["name"],
        json!("log-tailer"),
        "{response}"
    );
}

#[test]
fn a_re_applied_legacy_copy_of_a_native_sidecar_is_removed() {
    let request = fixture("deployment_reapplied_legacy_sidecar.json");
    let response = respond(&request, json!({"convertTemplates": true}));
    let expected = request["oldObject"]["spec"]["template"]["spec"].clone();
    assert_eq!(
        response["mutated_object"]["spec"]["template"]["spec"], expected,
        "the live template, as it was converted: {response}"
    );
    assert_eq!(
        warnings(&response),
        vec![
            "spec.template.spec.containers[1] (\"log-tailer\") removed: a merging client re-applied \
             it next to its native form"
        ]
    );
}

#[test]
fn by_default_a_re_applied_manifest_is_reviewed_as_it_is() {
    let response = respond(
        &fixture("deployment_with_streaming_sidecar_update.json"),
        json!({}),
    );
    assert!(unchanged(&response), "{response}");
}

#[test]
fn an_update_that_leaves_a_refused_template_unchanged_is_let_through() {
    let response = respond(
        &fixture("deployment_update_unchanged_template_with_a_refusal.json"),
        json!({}),
    );
    assert!(unchanged(&response), "{response}");
    assert_eq!(
        warnings(&response),
        vec![
            "spec.template is unchanged by this update, so it is let through as it was admitted; it \
             has 1 problem(s):",
            "spec.template.spec.containers[1]: as a native sidecar, its startupProbe would hold \
             back every later container, so the a…",
        ]
    );
}

#[test]
fn an_update_that_changes_a_refused_template_is_refused() {
    let mut request = fixture("deployment_update_unchanged_template_with_a_refusal.json");
    request["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:1.38");
    let response = respond(&request, json!({}));
    assert_eq!(
        rejection(&response),
        vec![
            "spec.template.spec.containers[1]: as a native sidecar, its startupProbe would hold \
             back every later container, so the app that writes its log file might never start; \
             remove the startupProbe"
        ]
    );
}
