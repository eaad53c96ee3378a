//! Validate mode, and fields that would be dropped after admission.

mod common;

use common::{fixture, fixture_names, rejection, respond, warnings};
use rstest::rstest;
use serde_json::{Value, json};

const SEED_NOT_NATIVE: &str = "spec.containers[1]: log sidecar \"sidecar\" runs as a regular \
    container; move it to spec.initContainers[0] with restartPolicy: Always to make it a native \
    sidecar";
const SEED_NEEDS_MOUNT: &str = "container \"sidecar\" cannot read the app's log file: add \
    volumeMount {name: varlog, mountPath: /var/log, readOnly: true}";
const SEED_HANGS: &str = "spec.initContainers[0]: native sidecar \"sidecar\" lost restartPolicy: \
    Always, so the pod would hang in Init forever; likely causes: the SidecarContainers feature \
    gate is off, an API server or kubelet is older than 1.29, or a webhook built with client \
    libraries older than 1.28 stripped the field";

#[rstest]
#[case::seed_with_mount("pod_eshop_cart_app_sidecar_with_mount.json", json!({}), &[SEED_NOT_NATIVE])]
#[case::seed_without_mount("pod_eshop_cart_app_sidecar_without_mount.json", json!({}), &[SEED_NOT_NATIVE, SEED_NEEDS_MOUNT])]
#[case::stripped_native_sidecar("pod_converted_sidecar_lost_restart_policy.json", json!({}), &[SEED_HANGS])]
#[case::tailing_init_container("pod_tailing_init_container_without_restart_policy.json", json!({}), &[SEED_HANGS])]
#[case::refusals_are_the_same_in_both_modes("pod_sidecar_with_startup_probe.json", json!({}), &[
    "spec.containers[1]: as a native sidecar, its startupProbe would hold back every later container, so the app that writes its log file might never start; remove the startupProbe",
])]
#[case::follow_rewrite("pod_sidecar_tail_f_in_sh_c.json", json!({}), &[
    "spec.containers[1]: log sidecar \"log-tailer\" runs as a regular container; move it to spec.initContainers[0] with restartPolicy: Always to make it a native sidecar",
    "spec.containers[1]: log sidecar \"log-tailer\" follows with tail -f, which exits while the file does not exist, so as a native sidecar it would crash-loop; use tail -F",
])]
#[case::converted_deployment("deployment_with_streaming_sidecar.json", json!({"convertTemplates": true}), &[
    "spec.template.spec.containers[1]: log sidecar \"sidecar\" runs as a regular container; move it to spec.template.spec.initContainers[0] with restartPolicy: Always to make it a native sidecar",
    SEED_NEEDS_MOUNT,
])]
fn validate_mode_rejects_what_mutate_mode_would_change(
    #[case] name: &str,
    #[case] mut settings: Value,
    #[case] expected: &[&str],
) {
    settings["mode"] = json!("validate");
    let response = respond(&fixture(name), settings);
    assert_eq!(rejection(&response), expected, "{name}");
    assert_eq!(
        response["mutated_object"],
        json!(null),
        "validate never mutates"
    );
}

#[test]
fn validate_mode_reviews_templates_as_mutate_mode_does() {
    let response = respond(
        &fixture("deployment_with_streaming_sidecar.json"),
        json!({"mode": "validate"}),
    );
    assert_eq!(response["accepted"], json!(true), "{response}");
    assert_eq!(
        warnings(&response),
        vec![
            "spec.template: its pods get \"sidecar\" as native sidecar(s); convert rewrites the \
             manifest itself"
        ]
    );
}

#[rstest]
#[case::already_converted("pod_already_converted.json")]
#[case::opted_out("pod_opted_out.json")]
#[case::pod_update("pod_eshop_cart_app_update.json")]
fn validate_mode_accepts_what_mutate_mode_leaves_alone(#[case] name: &str) {
    let response = respond(&fixture(name), json!({"mode": "validate"}));
    assert_eq!(response["accepted"], json!(true), "{name}: {response}");
}

#[test]
fn validate_mode_checks_that_native_sidecars_can_read_their_file() {
    let mut request = fixture("pod_already_converted.json");
    request["object"]["spec"]["initContainers"][0]["volumeMounts"] = json!([]);
    let response = respond(&request, json!({"mode": "validate"}));
    assert_eq!(
        rejection(&response),
        vec![
            "spec.initContainers[0]: has no volumeMount for /var/log/cart-app.log, so it cannot \
             read it; add {\"name\":\"varlog\",\"mountPath\":\"/var/log\",\"readOnly\":true} to \
             this container"
        ]
    );
}

#[test]
fn every_fixture_mutate_mode_produces_passes_validate_mode() {
    let mut checked = 0;
    for name in fixture_names() {
        let mut request = fixture(&name);
        let mutated = respond(&request, json!({}));
        if mutated["mutated_object"].is_null() {
            continue;
        }
        request["object"] = mutated["mutated_object"].clone();
        let validated = respond(&request, json!({"mode": "validate"}));
        assert_eq!(validated["accepted"], json!(true), "{name}: {validated}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures were converted");
}

#[rstest]
#[case::mutate(json!({"kubernetesVersion": "1.28"}))]
#[case::validate(json!({"kubernetesVersion": "1.28", "mode": "validate"}))]
fn a_native_sidecar_at_1_28_would_lose_its_restart_policy(#[case] settings: Value) {
    let response = respond(&fixture("pod_already_converted.json"), settings);
    assert_eq!(
        rejection(&response),
        vec![
            "spec.initContainers[0].restartPolicy: the API server drops this field unless feature \
             gate SidecarContainers is on, on by default from Kubernetes 1.29; kubernetesVersion \
             is 1.28: remove the field, or list SidecarContainers in enabledFeatureGates if the \
             cluster enables it"
        ]
    );
}

#[test]
fn a_native_sidecar_at_1_29_is_kept() {
    let response = respond(
        &fixture("pod_already_converted.json"),
        json!({"kubernetesVersion": "1.29", "mode": "validate"}),
    );
    assert_eq!(response["accepted"], json!(true), "{response}");
}

#[test]
fn enabled_feature_gates_unlock_a_field() {
    let request = fixture("pod_with_host_users.json");
    let refused = respond(&request, json!({"kubernetesVersion": "1.32"}));
    assert_eq!(
        rejection(&refused),
        vec![
            "spec.hostUsers: the API server drops this field unless feature gate \
             UserNamespacesSupport is on, on by default from Kubernetes 1.33; kubernetesVersion \
             is 1.32: remove the field, or list UserNamespacesSupport in enabledFeatureGates if \
             the cluster enables it"
        ]
    );
    let unlocked = respond(
        &request,
        json!({"kubernetesVersion": "1.32", "enabledFeatureGates": ["UserNamespacesSupport"]}),
    );
    assert_eq!(unlocked["accepted"], json!(true), "{unlocked}");
}

#[test]
fn the_restart_policy_the_conversion_moves_is_not_a_dropped_field() {
    let mut request = fixture("pod_eshop_cart_app_sidecar_with_mount.json");
    request["object"]["spec"]["containers"][1]["restartPolicy"] = json!("Always");
    let response = respond(&request, json!({}));
    assert_eq!(response["accepted"], json!(true), "{response}");
    assert_eq!(warnings(&response).len(), 1, "only the move: {response}");
}

#[test]
fn dropped_fields_warn_mode_accepts_with_one_warning_per_field() {
    let response = respond(
        &fixture("pod_already_converted.json"),
        json!({"kubernetesVersion": "1.28", "droppedFields": "warn"}),
    );
    assert_eq!(response["accepted"], json!(true));
    assert_eq!(
        warnings(&response),
        vec![
            "spec.initContainers[0].restartPolicy: dropped unless gate SidecarContainers is on (default from 1.29)"
        ]
    );
}

#[test]
fn dropped_fields_ignore_mode_says_nothing() {
    let response = respond(
        &fixture("pod_already_converted.json"),
        json!({"kubernetesVersion": "1.28", "droppedFields": "ignore"}),
    );
    assert_eq!(response["accepted"], json!(true));
    assert_eq!(response["warnings"], json!(null));
}

fn typo(path: &str, known: &str) -> String {
    format!(
        "{path}: not a field of the Kubernetes schema, so it is dropped when the object is \
         decoded; did you mean \"{known}\"?"
    )
}

/// In mutate mode the object is checked as it leaves the policy, so the
/// sidecar's typo is reported where the sidecar ends up.
#[rstest]
#[case::mutate(json!({}), "spec.initContainers[0]")]
#[case::validate(json!({"mode": "validate"}), "spec.containers[1]")]
fn typos_at_pod_container_and_volume_level_are_refused_with_a_suggestion(
    #[case] settings: Value,
    #[case] sidecar_path: &str,
) {
    let response = respond(
        &fixture("pod_with_typos_at_pod_container_and_volume_level.json"),
        settings.clone(),
    );
    let found = rejection(&response);
    for expected in [
        typo("spec.restartpolicy", "restartPolicy"),
        typo("spec.containers[0].volumeMount", "volumeMounts"),
        typo(
            &format!("{sidecar_path}.imagePullPolicyy"),
            "imagePullPolicy",
        ),
        typo("spec.volumes[0].emptydir", "emptyDir"),
    ] {
        assert!(
            found.contains(&expected),
            "{settings}: missing {expected} in {found:#?}"
        );
    }
}

#[test]
fn unknown_fields_warn_mode_mutates_and_warns() {
    let response = respond(
        &fixture("pod_with_typos_at_pod_container_and_volume_level.json"),
        json!({"unknownFields": "warn"}),
    );
    assert_eq!(response["accepted"], json!(true), "{response}");
    assert!(!response["mutated_object"].is_null(), "still converted");
    assert!(
        warnings(&response).contains(
            &"spec.restartpolicy: unknown field, dropped when decoded (did you mean \"restartPolicy\"?)"
                .to_string()
        ),
        "{response}"
    );
}

#[test]
fn a_rejection_lists_conversion_and_field_problems_together() {
    let mut request = fixture("pod_sidecar_with_startup_probe.json");
    request["object"]["spec"]["restartpolicy"] = json!("Never");
    let found = rejection(&respond(&request, json!({})));
    assert_eq!(found.len(), 2, "both problems at once: {found:#?}");
}

#[test]
fn on_every_fixture_validate_mode_rejects_exactly_what_mutate_mode_changes_or_rejects() {
    for name in fixture_names() {
        let request = fixture(&name);
        let mutate = respond(&request, json!({}));
        let validate = respond(&request, json!({"mode": "validate"}));
        let unchanged = mutate["accepted"] == json!(true) && mutate["mutated_object"].is_null();
        assert_eq!(
            validate["accepted"],
            json!(unchanged),
            "{name}: mutate said {mutate}, validate said {validate}"
        );
        assert!(
            validate["mutated_object"].is_null(),
            "{name}: validate mutated"
        );
    }
}
