//! The malformed-input corpus of `test_data/malformed/`: every bad input is
//! answered with a clear rejection, never a trap. `*.payload` files are raw
//! waPC `validate` payloads; `*.json` files are AdmissionRequests, sent with
//! the default settings. The large inputs are generated here (and, the same
//! way, by `e2e-tests/malformed.bats`).

mod common;

use common::{rejection, respond, respond_to_bytes, warnings};
use rstest::rstest;
use serde_json::{Value, json};

fn read(name: &str) -> Vec<u8> {
    let path = format!("{}/test_data/malformed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The answer to one corpus file.
fn answer(name: &str) -> Value {
    let bytes = read(name);
    if name.ends_with(".payload") {
        respond_to_bytes(&bytes)
    } else {
        let request: Value = serde_json::from_slice(&bytes).expect("an AdmissionRequest");
        respond(&request, json!({}))
    }
}

#[rstest]
#[case::empty_payload(
    "empty.payload",
    &["the validation payload is not valid JSON: EOF while parsing a value at line 1 column 0"]
)]
#[case::payload_that_is_not_json(
    "not_json.payload",
    &["the validation payload is not valid JSON: expected value at line 1 column 1"]
)]
#[case::invalid_utf8(
    "invalid_utf8.payload",
    &["the validation payload is not valid JSON: invalid UTF-8 at line 1 column 298"]
)]
#[case::nesting_deeper_than_the_parser_allows(
    "nesting_deeper_than_the_parser_allows.payload",
    &["the validation payload is not valid JSON: recursion limit exceeded at line 1 column 433"]
)]
#[case::settings_not_an_object(
    "settings_not_an_object.payload",
    &["settings: invalid settings: settings must be an object"]
)]
#[case::settings_number_for_a_string(
    "settings_number_for_a_string.payload",
    &["settings: invalid settings: setting kubernetesVersion: invalid type: floating point `1.33`, expected a string"]
)]
#[case::object_missing("object_missing.json", &["request.object is required"])]
#[case::object_null("object_null.json", &["request.object is required"])]
#[case::spec_of_the_wrong_type("spec_wrong_type.json", &["spec must be an object"])]
#[case::containers_not_a_list("containers_not_a_list.json", &["spec.containers must be a list"])]
#[case::container_not_an_object(
    "container_not_an_object.json",
    &["spec.containers[1] must be an object"]
)]
#[case::container_without_a_name(
    "container_without_name.json",
    &["spec.containers[1].name is required"]
)]
#[case::volume_mounts_not_a_list(
    "volume_mounts_not_a_list.json",
    &["spec.containers[0].volumeMounts must be a list"]
)]
#[case::command_not_a_list("command_not_a_list.json", &["spec.containers[1].command must be a list"])]
#[case::args_with_a_number("args_with_a_number.json", &["spec.containers[1].args[2] must be a string"])]
#[case::duplicate_container_names(
    "duplicate_container_names.json",
    &["spec.containers[1].name: container name \"app\" is used more than once"]
)]
#[case::numbers_where_strings_belong(
    "numbers_where_strings_belong.json",
    &[
        "metadata.annotations[log-sidecar.io/containers] must be a string",
        "spec.containers[0].name must be a string",
        "spec.containers[0].volumeMounts[0].mountPath must be a string",
        "spec.containers[1].restartPolicy must be a string",
    ]
)]
fn malformed_input_is_rejected_with_a_clear_message(#[case] file: &str, #[case] lines: &[&str]) {
    let response = answer(file);
    assert_eq!(rejection(&response), lines, "{file}");
    assert!(response["mutated_object"].is_null(), "{file}");
}

#[test]
fn every_corpus_file_is_tested() {
    let source = include_str!("malformed.rs");
    let dir = format!("{}/test_data/malformed", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).expect("the corpus") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name} has no test in tests/malformed.rs"
        );
    }
}

// ---------------------------------------------------------------------------
// Generated inputs: too large to commit.
// ---------------------------------------------------------------------------

/// A complete Pod CREATE request for `spec`, with `annotations`, as the API
/// server sends it (kwctl refuses a request without its envelope).
fn pod_request(annotations: Value, spec: Value) -> Value {
    json!({
        "uid": "7d3c1c8e-malformed",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "shop",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {
            "username": "kubernetes-admin",
            "groups": ["system:masters", "system:authenticated"],
        },
        "oldObject": null,
        "dryRun": false,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "shop", "annotations": annotations},
            "spec": spec,
        },
    })
}

fn app() -> Value {
    json!({"name": "app", "image": "busybox",
           "command": ["sh", "-c", "while :; do date >> /var/log/app.log; sleep 1; done"],
           "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]})
}

/// The seed pod with a `containers` annotation naming 10,000 containers,
/// none of which exists.
fn annotation_with_10000_names() -> Value {
    let names: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    pod_request(
        json!({"log-sidecar.io/containers": names.join(",")}),
        json!({"containers": [app(), {"name": "sidecar", "image": "busybox"}],
               "volumes": [{"name": "varlog", "emptyDir": {}}]}),
    )
}

/// A pod of 1.5 MiB or more: one app and 999 streaming sidecars, each
/// padded with a 1,500-byte env value. With `duplicate`, the last sidecar
/// is named like the app.
fn big_pod(duplicate: bool) -> Value {
    let padding = "x".repeat(1500);
    let mut containers = vec![app()];
    for i in 1..1000 {
        let name = if duplicate && i == 999 {
            "app".to_string()
        } else {
            format!("sidecar-{i}")
        };
        containers.push(json!({
            "name": name, "image": "busybox",
            "command": ["sh", "-c", format!("tail -n+1 -F /var/log/app.log")],
            "env": [{"name": "PADDING", "value": padding}],
        }));
    }
    pod_request(
        json!({}),
        json!({"containers": containers, "volumes": [{"name": "varlog", "emptyDir": {}}]}),
    )
}

#[test]
fn an_annotation_with_10000_missing_names_is_rejected_in_50_lines() {
    let response = respond(&annotation_with_10000_names(), json!({}));
    let lines = rejection(&response);
    assert_eq!(lines.len(), 50);
    assert_eq!(
        lines[0],
        "annotation log-sidecar.io/containers names container \"c0\", which is not in \
         spec.containers or spec.initContainers: fix the name or remove it from the list"
    );
    assert_eq!(lines[49], "...and 9951 more problems");
}

#[test]
fn a_pod_of_one_and_a_half_mebibytes_with_1000_containers_is_converted() {
    let request = big_pod(false);
    let size = serde_json::to_vec(&json!({"request": request, "settings": {}}))
        .unwrap()
        .len();
    assert!(size >= 3 << 19, "the payload is {size} bytes, not 1.5 MiB");
    let response = respond(&request, json!({}));
    let output = &response["mutated_object"];
    assert_eq!(output["spec"]["containers"].as_array().unwrap().len(), 1);
    let sidecars = output["spec"]["initContainers"].as_array().unwrap();
    assert_eq!(sidecars.len(), 999);
    assert!(
        sidecars
            .iter()
            .all(|s| s["restartPolicy"] == json!("Always"))
    );
    assert_eq!(warnings(&response).len(), 2 * 999);
}

#[test]
fn a_pod_of_one_and_a_half_mebibytes_with_a_duplicate_name_is_rejected() {
    let response = respond(&big_pod(true), json!({}));
    assert_eq!(
        rejection(&response),
        ["spec.containers[999].name: container name \"app\" is used more than once"]
    );
}
