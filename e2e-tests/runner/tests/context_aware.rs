//! The context-aware flags end to end: `run`, `bench` and `convert` on a
//! small waPC guest assembled from WAT, annotated or not, against kwctl
//! session files.
//!
//! The guest answers `validate_settings` with `{"valid":true}`. For
//! `validate` it makes the host call the policy makes,
//! `kubewarden`/`kubernetes`/`list_resources_all` with the SDK's JSON for
//! the nodes' names and kubelet versions, and gives back the host's answer
//! as its own (so a session's payload is the guest's ValidationResponse),
//! or the host's error as a waPC error (which `run` turns into the
//! policy-server's `internal server error` rejection).

use std::path::PathBuf;
use std::process::Command;

/// What the SDK 0.17.3 sends for `list_all_resources` of the nodes.
const LIST_NODES: &str = r#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;

const ANNOTATION: &str = r#"{"protocolVersion":"v1","rules":[],"mutating":false,"contextAwareResources":[{"apiVersion":"v1","kind":"Node"}],"executionMode":"kubewarden-wapc"}"#;

const REQUEST: &str = r#"{
  "uid": "ctx-1",
  "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "resource": {"group": "", "version": "v1", "resource": "pods"},
  "operation": "CREATE",
  "userInfo": {"username": "admin"},
  "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}
}"#;

const NOT_GRANTED: &str = "Policy has not been granted access to Kubernetes v1/Node resources. \
                           The violation has been reported.";

fn guest_wat() -> String {
    let request = LIST_NODES.replace('"', "\\\"");
    let request_len = LIST_NODES.len();
    format!(
        r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 8)
  (data (i32.const 0) "kubewarden")
  (data (i32.const 16) "kubernetes")
  (data (i32.const 32) "list_resources_all")
  (data (i32.const 64) "validate")
  (data (i32.const 80) "validate_settings")
  (data (i32.const 112) "{{\"valid\":true}}")
  (data (i32.const 128) "{request}")
  ;; Is the operation at 1024 the name at $name?
  (func $is (param $op_len i32) (param $name i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $op_len) (local.get $len)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $name) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  ;; The host's answer as the guest's, or its error as the guest's error.
  (func $answer (param $ok i32) (result i32)
    (local $len i32)
    (if (local.get $ok)
      (then
        (local.set $len (call $host_response_len))
        (call $host_response (i32.const 262144))
        (call $guest_response (i32.const 262144) (local.get $len))
        (return (i32.const 1))))
    (local.set $len (call $host_error_len))
    (call $host_error (i32.const 262144))
    (call $guest_error (i32.const 262144) (local.get $len))
    (i32.const 0))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (call $guest_request (i32.const 1024) (i32.const 4096))
    (if (call $is (local.get $op_len) (i32.const 80) (i32.const 17))
      (then
        (call $guest_response (i32.const 112) (i32.const 14))
        (return (i32.const 1))))
    (if (call $is (local.get $op_len) (i32.const 64) (i32.const 8))
      (then
        (return (call $answer (call $host_call
          (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 10)
          (i32.const 32) (i32.const 18) (i32.const 128) (i32.const {request_len}))))))
    (i32.const 0)))
"#
    )
}

fn guest() -> Vec<u8> {
    let wat = guest_wat();
    let buffer = wast::parser::ParseBuffer::new(&wat).expect("lexing the guest");
    let mut module: wast::Wat = wast::parser::parse(&buffer).expect("parsing the guest");
    module.module.encode().expect("encoding the guest")
}

/// The guest with a custom section, as `kwctl annotate` adds one.
fn annotated(name: &str, data: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data.as_bytes());
    let mut wasm = guest();
    wasm.push(0);
    leb128(body.len(), &mut wasm);
    wasm.extend(body);
    wasm
}

/// A scratch directory per test.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("context-aware-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        Self(dir)
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("writing a scratch file");
        path.to_str().expect("UTF-8 path").to_owned()
    }

    fn plain(&self) -> String {
        self.file("plain.wasm", guest())
    }

    fn annotated(&self) -> String {
        self.file(
            "annotated.wasm",
            annotated("io.kubewarden.metadata", ANNOTATION),
        )
    }

    fn request(&self) -> String {
        self.file("request.json", REQUEST)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn runner(args: &[&str]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_log-sidecar-runner"))
        .args(args)
        .output()
        .expect("running the runner");
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The response line of `run`.
fn response(outcome: &Outcome) -> serde_json::Value {
    assert_eq!(outcome.code, Some(0), "stderr: {}", outcome.stderr);
    serde_json::from_str(outcome.stdout.trim()).expect("one JSON line on stdout")
}

fn rejection(outcome: &Outcome) -> String {
    let response = response(outcome);
    assert_eq!(response["allowed"], false, "{response}");
    assert_eq!(response["status"]["code"], 500, "{response}");
    response["status"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

fn exchange(request: &str, response: &str) -> String {
    let request: String = request
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    format!("- type: Exchange\n  request: |\n{request}  response:\n{response}")
}

fn list_nodes(label_selector: &str) -> String {
    format!(
        "!KubernetesListResourceAll\napi_version: v1\nkind: Node\nlabel_selector: {label_selector}\n\
         field_selector: null\nfield_masks:\n- metadata.name\n- status.nodeInfo.kubeletVersion"
    )
}

fn success(message: &str) -> String {
    format!("    type: Success\n    payload: '{{\"accepted\":true,\"message\":\"{message}\"}}'\n")
}

fn nodes_session(message: &str) -> String {
    exchange(&list_nodes("null"), &success(message))
}

fn run(args: &[&str], policy: &str, request: &str) -> Outcome {
    let mut all = vec!["run", "--request-path", request];
    all.extend_from_slice(args);
    all.push(policy);
    runner(&all)
}

#[test]
fn an_annotated_module_is_answered_from_the_session() {
    let scratch = Scratch::new("annotated");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    let response = response(&outcome);
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(response["status"]["message"], "3 nodes");
    assert!(!outcome.stderr.contains("warning"), "{}", outcome.stderr);
}

#[test]
fn a_plain_module_is_not_granted_anything() {
    let scratch = Scratch::new("plain");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.plain(),
        &scratch.request(),
    );
    assert_eq!(
        rejection(&outcome),
        format!("internal server error: {NOT_GRANTED}")
    );
    assert!(
        outcome.stderr.contains(
            "info: Policy is not annotated, access to Kubernetes resources is not allowed"
        ),
        "{}",
        outcome.stderr
    );
    // The exchange was never asked for.
    assert!(
        outcome
            .stderr
            .contains("warning: Some of the recorded exchanges have not been replayed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_metadata_file_grants_a_plain_module_its_resources() {
    let scratch = Scratch::new("metadata-file");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let metadata = scratch.file(
        "policy-metadata.yml",
        "rules: []\nmutating: true\ncontextAwareResources:\n- apiVersion: v1\n  kind: Node\n",
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
            "--metadata-path",
            &metadata,
        ],
        &scratch.plain(),
        &scratch.request(),
    );
    assert_eq!(response(&outcome)["allowed"], true);

    // The module's own section wins: an annotation without resources
    // grants none, whatever the file says.
    let empty = scratch.file(
        "empty-annotation.wasm",
        annotated(
            "io.kubewarden.metadata",
            r#"{"protocolVersion":"v1","rules":[],"mutating":false}"#,
        ),
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
            "--metadata-path",
            &metadata,
        ],
        &empty,
        &scratch.request(),
    );
    assert!(rejection(&outcome).ends_with(NOT_GRANTED));
}

#[test]
fn without_allow_context_aware_nothing_is_granted() {
    let scratch = Scratch::new("not-allowed");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let outcome = run(
        &["--replay-host-capabilities-interactions", &session],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert!(rejection(&outcome).ends_with(NOT_GRANTED));
    assert!(
        outcome.stderr.contains(
            "warning: Policy requires access to Kubernetes resources at evaluation time."
        ),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("run the policy using the `--allow-context-aware` flag."),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_different_request_is_a_replay_error() {
    let scratch = Scratch::new("replay-error");
    let session = scratch.file(
        "session.yml",
        exchange(&list_nodes("pool=new"), &success("new pool")),
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    let message = rejection(&outcome);
    assert!(
        message.starts_with(
            "internal server error: Callback evaluation failure: Replay error: unexpected request. \
             Was expecting KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", \
             label_selector: Some(\"pool=new\")"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "got KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", \
             label_selector: None, field_selector: None, field_masks: \
             Some({\"metadata.name\", \"status.nodeInfo.kubeletVersion\"}) } instead"
        ),
        "{message}"
    );
}

#[test]
fn an_error_exchange_fails_the_call_with_its_message() {
    let scratch = Scratch::new("error-exchange");
    let session = scratch.file(
        "session.yml",
        exchange(
            &list_nodes("null"),
            "    type: Error\n    message: the API server is unreachable\n",
        ),
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert_eq!(
        rejection(&outcome),
        "internal server error: Callback evaluation failure: the API server is unreachable"
    );
}

#[test]
fn an_empty_session_has_nothing_to_answer() {
    let scratch = Scratch::new("empty-session");
    let session = scratch.file("session.yml", "[]\n");
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert_eq!(
        rejection(&outcome),
        "internal server error: Callback evaluation failure: the list of recorded responses is empty"
    );
}

#[test]
fn leftover_exchanges_are_reported() {
    let scratch = Scratch::new("leftovers");
    let session = scratch.file(
        "session.yml",
        format!("{}{}", nodes_session("first"), nodes_session("second")),
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert_eq!(response(&outcome)["status"]["message"], "first");
    let warnings: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|line| line.contains("have not been replayed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(
        warnings[0].starts_with(
            "warning: Some of the recorded exchanges have not been replayed \
             leftovers=[KubernetesListResourceAll {"
        ),
        "{}",
        warnings[0]
    );
}

#[test]
fn broken_session_files_stop_the_run() {
    let scratch = Scratch::new("broken-session");
    let session = scratch.file(
        "session.yml",
        exchange("!KubernetesFrobnicate\nkind: Node", &success("x")),
    );
    let outcome = run(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with(&format!(
            "Error: cannot deserialize contents of {session}: exchange 1"
        )),
        "{}",
        outcome.stderr
    );
    let missing = run(
        &[
            "--replay-host-capabilities-interactions",
            "no-such-session.yml",
        ],
        &scratch.annotated(),
        &scratch.request(),
    );
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr.starts_with(
            "Error: cannot read host capabilities interactions file no-such-session.yml"
        ),
        "{}",
        missing.stderr
    );
}

fn bench(args: &[&str], policy: &str, request: &str) -> Outcome {
    let mut all = vec![
        "bench",
        "--request-path",
        request,
        "--warm-up",
        "2",
        "--iterations",
        "5",
    ];
    all.extend_from_slice(args);
    all.push(policy);
    runner(&all)
}

#[test]
fn bench_replays_the_session_for_every_evaluation() {
    let scratch = Scratch::new("bench");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let annotated = scratch.annotated();
    let outcome = bench(
        &[
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            &session,
            "--floor",
            &annotated,
        ],
        &annotated,
        &scratch.request(),
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let report: serde_json::Value = serde_json::from_str(outcome.stdout.trim()).unwrap();
    assert_eq!(report["iterations"], 5);
    assert!(report["median_ratio"].is_number(), "{report}");
    assert_eq!(report["policy"]["kubernetes_calls"], 1, "{report}");
    assert_eq!(report["floor"]["kubernetes_calls"], 1, "{report}");
    assert!(!outcome.stderr.contains("warning"), "{}", outcome.stderr);
}

#[test]
fn bench_grants_the_floor_by_its_own_metadata() {
    let scratch = Scratch::new("bench-floor");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let metadata = scratch.file(
        "policy-metadata.yml",
        "contextAwareResources:\n- apiVersion: v1\n  kind: Node\n",
    );
    let plain = scratch.plain();
    let flags = [
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        &session,
        "--metadata-path",
        &metadata,
    ];
    // The metadata file stands in for the policy's annotation only: a
    // plain floor is not granted, and fails its checked evaluation.
    let mut with_plain_floor = flags.to_vec();
    with_plain_floor.extend(["--floor", &plain]);
    let outcome = bench(&with_plain_floor, &plain, &scratch.request());
    assert_eq!(outcome.code, Some(2), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(NOT_GRANTED), "{}", outcome.stderr);
    let annotated = scratch.annotated();
    let mut with_annotated_floor = flags.to_vec();
    with_annotated_floor.extend(["--floor", &annotated]);
    let outcome = bench(&with_annotated_floor, &plain, &scratch.request());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
}

#[test]
fn convert_replays_the_session_for_every_document() {
    let scratch = Scratch::new("convert");
    let session = scratch.file("session.yml", nodes_session("3 nodes"));
    let manifests = scratch.file(
        "manifests.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n",
    );
    let policy = format!("--policy={}", scratch.annotated());
    let outcome = runner(&[
        "convert",
        &policy,
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        &session,
        &manifests,
    ]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout.matches("kind: Pod").count(), 2);
    assert!(!outcome.stderr.contains("warning"), "{}", outcome.stderr);

    // Without access, every document's call fails and is reported.
    let outcome = runner(&["convert", &policy, &manifests]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr.matches(NOT_GRANTED).count(),
        2,
        "{}",
        outcome.stderr
    );
}
