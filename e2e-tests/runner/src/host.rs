//! The host side of the policy's waPC host calls.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use wapc::HostCallback;

use crate::access::ContextAwareResource;
use crate::session::{CallbackRequest, KUBERNETES_OPERATIONS, Replay, Session, leftover_warning};

/// Environment variable that makes the runner print the policy's log events.
pub const LOG_ENV: &str = "RUNNER_LOG";

/// What a module's host calls are answered with: its log events are printed
/// on stderr when `RUNNER_LOG` is set to anything but empty or `0` (dropped
/// otherwise, so test output stays readable); its Kubernetes calls are
/// answered, within its grant, from a replayed kwctl session. Every other
/// host capability (sigstore, OCI, DNS…) is refused.
pub struct Host {
    print_logs: bool,
    allowed: BTreeSet<ContextAwareResource>,
    replay: Mutex<Option<Replay>>,
    /// Kubernetes calls since the last rewind, answered or not.
    kubernetes_calls: AtomicUsize,
}

impl Host {
    pub fn new(
        allowed: BTreeSet<ContextAwareResource>,
        session: Option<Arc<Session>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            print_logs: std::env::var(LOG_ENV).is_ok_and(|v| !v.is_empty() && v != "0"),
            allowed,
            replay: Mutex::new(session.map(Replay::new)),
            kubernetes_calls: AtomicUsize::new(0),
        })
    }

    /// A host that grants nothing and has no session.
    #[cfg(test)]
    pub fn plain() -> Arc<Self> {
        Self::new(BTreeSet::new(), None)
    }

    /// The callback `wapc::WapcHost` calls.
    pub fn callback(self: &Arc<Self>) -> Box<HostCallback> {
        let host = Arc::clone(self);
        Box::new(move |_id, binding, namespace, operation, payload| {
            host.handle(binding, namespace, operation, payload)
                .map_err(Into::into)
        })
    }

    fn replay(&self) -> std::sync::MutexGuard<'_, Option<Replay>> {
        self.replay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the session over, as a new kwctl run would.
    pub fn rewind(&self) {
        self.kubernetes_calls.store(0, Ordering::Relaxed);
        if let Some(replay) = self.replay().as_mut() {
            replay.rewind();
        }
    }

    /// How many Kubernetes calls the module made since the last rewind,
    /// granted or not.
    pub fn kubernetes_calls(&self) -> usize {
        self.kubernetes_calls.load(Ordering::Relaxed)
    }

    /// How many exchanges of the session have been consumed.
    pub fn consumed(&self) -> usize {
        self.replay().as_ref().map_or(0, Replay::consumed)
    }

    /// kwctl's warning when exchanges are left over, if any are.
    pub fn leftover_warning(&self) -> Option<String> {
        let replay = self.replay();
        let leftovers = replay.as_ref()?.leftovers();
        (!leftovers.is_empty()).then(|| leftover_warning(leftovers))
    }

    pub fn handle(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        match (binding, namespace, operation) {
            ("kubewarden", "tracing", "log") => {
                if self.print_logs {
                    eprintln!("{}", format_log_event(payload));
                }
                Ok(Vec::new())
            }
            ("kubewarden", "kubernetes", operation)
                if KUBERNETES_OPERATIONS.contains(&operation) =>
            {
                self.kubernetes(operation, payload)
            }
            _ => Err(format!(
                "host call not supported by log-sidecar-runner: \
                 binding {binding:?}, namespace {namespace:?}, operation {operation:?}"
            )),
        }
    }

    /// A Kubernetes call, in the policy-evaluator's order: the payload is
    /// read, the grant checked, then the call answered. The messages are
    /// the policy-evaluator's and kwctl's.
    fn kubernetes(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.kubernetes_calls.fetch_add(1, Ordering::Relaxed);
        let request = CallbackRequest::from_payload(operation, payload)?;
        let (api_version, kind) = request.resource();
        let wanted = ContextAwareResource {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        };
        if !self.allowed.contains(&wanted) {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. \
                 The violation has been reported."
            ));
        }
        match self.replay().as_mut() {
            Some(replay) => replay
                .answer(&request)
                .map_err(|e| format!("Callback evaluation failure: {e}")),
            None => Err(format!(
                "log-sidecar-runner has no cluster to ask for {api_version}/{kind}: \
                 record the answers with kwctl and pass them with \
                 --replay-host-capabilities-interactions FILE"
            )),
        }
    }
}

/// `policy log: INFO message key=value …` out of the SDK's JSON log event.
pub fn format_log_event(payload: &[u8]) -> String {
    let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(payload) else {
        return format!("policy log: {}", String::from_utf8_lossy(payload));
    };
    let level = match event.shift_remove("level") {
        Some(Value::String(level)) => level.to_uppercase(),
        _ => "INFO".to_owned(),
    };
    let message = match event.shift_remove("message") {
        Some(Value::String(message)) => message,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut line = format!("policy log: {level} {message}");
    for (key, value) in &event {
        match value {
            Value::String(s) => line.push_str(&format!(" {key}={s}")),
            other => line.push_str(&format!(" {key}={other}")),
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_NODES: &str = r#"{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;
    const GET_NODE: &str = r#"{"api_version":"v1","kind":"Node","name":"node-1","namespace":null,"disable_cache":false,"field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]}"#;
    const NODE_LIST: &str = r#"{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"node-1"},"status":{"nodeInfo":{"kubeletVersion":"v1.33.2"}}}]}"#;

    fn session() -> Arc<Session> {
        let text = format!(
            r#"
- type: Exchange
  request: |
    !KubernetesListResourceAll
    api_version: v1
    kind: Node
    label_selector: null
    field_selector: null
    field_masks:
    - metadata.name
    - status.nodeInfo.kubeletVersion
  response:
    type: Success
    payload: '{NODE_LIST}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Node
    name: node-1
    namespace: null
    disable_cache: false
    field_masks:
    - status.nodeInfo.kubeletVersion
    - metadata.name
  response:
    type: Error
    message: 'nodes "node-1" not found'
"#
        );
        Arc::new(Session::parse(&text).unwrap())
    }

    fn nodes() -> BTreeSet<ContextAwareResource> {
        BTreeSet::from([ContextAwareResource {
            api_version: "v1".into(),
            kind: "Node".into(),
        }])
    }

    fn call(host: &Host, operation: &str, payload: &str) -> Result<Vec<u8>, String> {
        host.handle("kubewarden", "kubernetes", operation, payload.as_bytes())
    }

    #[test]
    fn answers_granted_calls_from_the_session_in_order() {
        let host = Host::new(nodes(), Some(session()));
        assert_eq!(
            call(&host, "list_resources_all", LIST_NODES).unwrap(),
            NODE_LIST.as_bytes()
        );
        // An error exchange fails the call with its message.
        assert_eq!(
            call(&host, "get_resource", GET_NODE).unwrap_err(),
            "Callback evaluation failure: nodes \"node-1\" not found"
        );
        assert_eq!(host.consumed(), 2);
        assert_eq!(host.kubernetes_calls(), 2);
        assert_eq!(host.leftover_warning(), None);
        assert_eq!(
            call(&host, "list_resources_all", LIST_NODES).unwrap_err(),
            "Callback evaluation failure: the list of recorded responses is empty"
        );
    }

    #[test]
    fn a_request_out_of_order_is_a_replay_error() {
        let host = Host::new(nodes(), Some(session()));
        let err = call(&host, "get_resource", GET_NODE).unwrap_err();
        assert!(
            err.starts_with(
                "Callback evaluation failure: Replay error: unexpected request. \
                 Was expecting KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\""
            ),
            "{err}"
        );
        assert!(
            err.ends_with(
                "got KubernetesGetResource { api_version: \"v1\", kind: \"Node\", name: \"node-1\", \
                 namespace: None, disable_cache: false, field_masks: Some({\"metadata.name\", \
                 \"status.nodeInfo.kubeletVersion\"}) } instead"
            ),
            "{err}"
        );
        // The mismatched exchange is used up, the next one is still there.
        assert!(
            host.leftover_warning()
                .unwrap()
                .contains("KubernetesGetResource")
        );
    }

    #[test]
    fn the_request_must_equal_the_recorded_one() {
        let host = Host::new(nodes(), Some(session()));
        let other_selector =
            LIST_NODES.replace(r#""label_selector":null"#, r#""label_selector":"pool=new""#);
        assert!(
            call(&host, "list_resources_all", &other_selector)
                .unwrap_err()
                .contains("Replay error")
        );
        host.rewind();
        let no_masks = LIST_NODES.replace(
            r#""field_masks":["metadata.name","status.nodeInfo.kubeletVersion"]"#,
            r#""field_masks":null"#,
        );
        assert!(
            call(&host, "list_resources_all", &no_masks)
                .unwrap_err()
                .contains("Replay error")
        );
        host.rewind();
        // field_masks is a set: order and repeats do not matter, as in the SDK.
        let reordered = LIST_NODES.replace(
            r#"["metadata.name","status.nodeInfo.kubeletVersion"]"#,
            r#"["status.nodeInfo.kubeletVersion","metadata.name","metadata.name"]"#,
        );
        assert!(call(&host, "list_resources_all", &reordered).is_ok());
    }

    #[test]
    fn rewinding_replays_the_session_afresh() {
        let host = Host::new(nodes(), Some(session()));
        for _ in 0..3 {
            host.rewind();
            assert!(call(&host, "list_resources_all", LIST_NODES).is_ok());
        }
        assert_eq!(host.consumed(), 1);
        assert_eq!(host.kubernetes_calls(), 1);
        let warning = host.leftover_warning().unwrap();
        assert!(
            warning.starts_with("Some of the recorded exchanges have not been replayed leftovers=[KubernetesGetResource {"),
            "{warning}"
        );
    }

    #[test]
    fn calls_outside_the_grant_are_refused_with_kwctls_message() {
        let host = Host::new(BTreeSet::new(), Some(session()));
        for (operation, payload) in [
            ("list_resources_all", LIST_NODES.to_owned()),
            ("get_resource", GET_NODE.to_owned()),
            (
                "list_resources_by_namespace",
                r#"{"api_version":"v1","kind":"Node","namespace":"default","label_selector":null,"field_selector":null,"field_masks":null}"#.to_owned(),
            ),
        ] {
            assert_eq!(
                call(&host, operation, &payload).unwrap_err(),
                "Policy has not been granted access to Kubernetes v1/Node resources. \
                 The violation has been reported."
            );
        }
        // Nothing was consumed: the refusal comes before the replay.
        assert_eq!(host.consumed(), 0);
        assert_eq!(host.kubernetes_calls(), 3);

        let pods_only = Host::new(
            BTreeSet::from([ContextAwareResource {
                api_version: "v1".into(),
                kind: "Pod".into(),
            }]),
            Some(session()),
        );
        assert!(
            call(&pods_only, "list_resources_all", LIST_NODES)
                .unwrap_err()
                .contains("v1/Node")
        );
        let other_version = LIST_NODES.replace(r#""api_version":"v1""#, r#""api_version":"v2""#);
        assert!(
            call(
                &Host::new(nodes(), Some(session())),
                "list_resources_all",
                &other_version
            )
            .unwrap_err()
            .starts_with("Policy has not been granted access to Kubernetes v2/Node resources")
        );
    }

    #[test]
    fn payloads_are_read_before_the_grant_is_checked() {
        let host = Host::new(BTreeSet::new(), None);
        let err = call(
            &host,
            "get_resource",
            r#"{"api_version":"v1","kind":"Node"}"#,
        )
        .unwrap_err();
        assert!(err.starts_with("missing field `name`"), "{err}");
        assert!(
            call(&host, "list_resources_all", "not json")
                .unwrap_err()
                .starts_with("expected ident")
        );
    }

    #[test]
    fn granted_calls_without_a_session_name_the_flag() {
        let host = Host::new(nodes(), None);
        let err = call(&host, "list_resources_all", LIST_NODES).unwrap_err();
        assert!(
            err.contains("--replay-host-capabilities-interactions"),
            "{err}"
        );
        assert_eq!(host.leftover_warning(), None);
    }

    #[test]
    fn formats_sdk_log_events() {
        let event = br#"{"level":"info","message":"validating","name":"web","count":2}"#;
        assert_eq!(
            format_log_event(event),
            "policy log: INFO validating name=web count=2"
        );
    }

    #[test]
    fn passes_non_json_log_payloads_through() {
        assert_eq!(format_log_event(b"plain"), "policy log: plain");
    }

    #[test]
    fn refuses_other_host_calls_by_name() {
        let callback = Host::plain().callback();
        let err = callback(0, "kubewarden", "oci", "v2/verify", b"{}").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"kubewarden\""), "{message}");
        assert!(message.contains("\"oci\""), "{message}");
        assert!(message.contains("\"v2/verify\""), "{message}");
        assert!(callback(0, "kubewarden", "tracing", "log", b"{}").is_ok());
        let can_i = callback(0, "kubewarden", "kubernetes", "can_i", b"{}").unwrap_err();
        assert!(can_i.to_string().contains("\"can_i\""), "{can_i}");
    }
}
