//! `run` refuses what kwctl refuses when it builds the AdmissionRequest: the
//! same `Error: …` line on stderr, nothing on stdout, exit code 1. The
//! request is read before the module, so no module is needed here.

use std::path::PathBuf;
use std::process::Command;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_with_request(name: &str, request: &str) -> Outcome {
    let path: PathBuf = std::env::temp_dir().join(format!(
        "refused-request-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, request).expect("writing the request");
    let output = Command::new(env!("CARGO_BIN_EXE_log-sidecar-runner"))
        .arg("run")
        .arg("--request-path")
        .arg(&path)
        .args(["--settings-json", "{}", "no-such-policy.wasm"])
        .output()
        .expect("running the runner");
    std::fs::remove_file(&path).expect("removing the request");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_refused(name: &str, request: &str, line: &str) {
    let outcome = run_with_request(name, request);
    assert_eq!(outcome.code, Some(1), "{name}: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "", "{name}");
    assert_eq!(outcome.stderr, format!("{line}\n"), "{name}");
}

const ENVELOPE_WITHOUT_USER_INFO: &str = r#"{
  "uid": "7d3c1c8e",
  "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "resource": {"group": "", "version": "v1", "resource": "pods"},
  "operation": "CREATE",
  "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shop"}}
}"#;

#[test]
fn a_request_without_user_info() {
    assert_refused(
        "no-user-info",
        ENVELOPE_WITHOUT_USER_INFO,
        "Error: cannot build AdmissionRequest object from given input: missing field `userInfo`",
    );
}

#[test]
fn a_review_whose_request_lacks_user_info() {
    let review = format!(
        r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {ENVELOPE_WITHOUT_USER_INFO}}}"#
    );
    assert_refused(
        "review-no-user-info",
        &review,
        "Error: cannot build AdmissionRequest object from given input: missing field `userInfo`",
    );
}

#[test]
fn a_kind_that_is_a_string() {
    let request = ENVELOPE_WITHOUT_USER_INFO.replace(
        r#""kind": {"group": "", "version": "v1", "kind": "Pod"}"#,
        r#""kind": "Pod", "userInfo": {}"#,
    );
    assert_refused(
        "kind-string",
        &request,
        "Error: cannot build AdmissionRequest object from given input: \
         invalid type: string \"Pod\", expected struct GroupVersionKind",
    );
}

#[test]
fn a_review_without_a_request() {
    assert_refused(
        "review-no-request",
        r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}"#,
        "Error: invalid AdmissionReview object",
    );
}

#[test]
fn a_request_that_is_not_an_object() {
    assert_refused(
        "array",
        r#"[{"uid": "7d3c1c8e"}]"#,
        "Error: Invalid request object",
    );
}

#[test]
fn a_complete_request_goes_on_to_the_module() {
    let request = ENVELOPE_WITHOUT_USER_INFO.replace(
        r#""operation": "CREATE","#,
        r#""operation": "CREATE", "userInfo": {"username": "admin"},"#,
    );
    let outcome = run_with_request("complete", &request);
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("Error: cannot read policy module no-such-policy.wasm: "),
        "{}",
        outcome.stderr
    );
}
