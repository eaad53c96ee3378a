//! Inputs that once broke a guarantee, found by the property tests or the
//! fuzzer: raw `validate` payloads in `test_data/regressions/`.

mod common;

use common::respond_to_bytes;
use rstest::rstest;
use serde_json::{Value, json};

fn read(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/test_data/regressions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Every regression payload gets a well-formed answer.
#[test]
fn every_regression_payload_is_answered() {
    let dir = format!("{}/test_data/regressions", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).expect("the regressions") {
        let path = entry.expect("an entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        let response = respond_to_bytes(&bytes);
        assert!(
            response["accepted"].is_boolean(),
            "{}: {response}",
            path.display()
        );
    }
}

/// Found by the preservation property: serde_json's default float parser
/// can be off by one unit in the last place, so a float the policy only
/// passed through came back changed, and the host's patch replaced it.
/// serde_json's `float_roundtrip` feature parses floats exactly.
#[test]
fn floats_in_fields_the_policy_does_not_touch_come_back_unchanged() {
    let payload = read("floats_in_unknown_fields.payload");
    let response = respond_to_bytes(&payload);
    let output = &response["mutated_object"];
    assert!(output.is_object(), "expected a conversion: {response}");
    let input: Value = serde_json::from_slice(&payload).expect("JSON");
    let input = &input["request"]["object"];
    assert_eq!(output["metadata"]["x-ratio"], input["metadata"]["x-ratio"]);
    assert_eq!(
        output["metadata"]["x-ratio"],
        json!(0.30000000000000004_f64)
    );
    assert_eq!(
        output["spec"]["initContainers"][0]["x-weight"],
        json!(-1.0490883481000179e234_f64)
    );
    assert_eq!(
        json_patch::diff(input, output)
            .0
            .iter()
            .filter(|op| {
                let path = serde_json::to_value(op).expect("an operation")["path"].clone();
                path == json!("/metadata/x-ratio")
            })
            .count(),
        0,
        "the patch must not touch the float"
    );
}

/// Inputs that were converted, or whose conversion was refused when fed
/// back, and are now refused with their path:
/// - found by the preservation property: a container named `""` was moved
///   and recorded as `""` in the converted annotation, which reads back as
///   no name at all; the API server requires a name, so an empty one is
///   missing;
/// - the same property: a name with a space was recorded and read back
///   differently; the API server requires DNS-1123 labels;
/// - found by the idempotence property: a `null` entry in `containers`
///   passed for an app, so the sidecar was given a new volume that no app
///   mounted, and the result was refused when fed back;
/// - found by the fuzzer: serde_json checks the UTF-8 of the strings it
///   builds, not of those it skips, so invalid UTF-8 in the user info
///   passed; the whole payload's UTF-8 is now checked first.
#[rstest]
#[case::empty_container_name("empty_container_name.payload", "spec.containers[1].name is required")]
#[case::container_name_with_a_space(
    "container_name_with_a_space.payload",
    "spec.containers[1].name: container name \" \" is not a DNS-1123 label: lowercase letters, \
     digits and '-', starting and ending with a letter or digit, at most 63 characters"
)]
#[case::null_container("null_container.payload", "spec.containers[1] must be an object")]
#[case::invalid_utf8_in_the_skipped_envelope(
    "invalid_utf8_in_the_skipped_envelope.payload",
    "the validation payload is not valid JSON: invalid UTF-8 at line 29 column 9"
)]
fn inputs_that_once_passed_are_refused_with_their_path(
    #[case] payload: &str,
    #[case] message: &str,
) {
    let response = respond_to_bytes(&read(payload));
    assert_eq!(response["accepted"], json!(false), "{response}");
    assert_eq!(response["message"], json!(message));
}
