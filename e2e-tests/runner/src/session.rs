//! Kubernetes host calls and kwctl's host capabilities session files
//! (`--replay-host-capabilities-interactions`).
//!
//! A session file is a YAML list of exchanges:
//!
//! ```yaml
//! - type: Exchange
//!   request: |
//!     !KubernetesListResourceAll
//!     api_version: v1
//!     kind: Node
//!     label_selector: null
//!     field_selector: null
//!     field_masks:
//!     - metadata.name
//!     - status.nodeInfo.kubeletVersion
//!   response:
//!     type: Success
//!     payload: '{"apiVersion":"v1","kind":"List","items":[]}'
//! ```
//!
//! `request` is itself a YAML document: the policy-evaluator's request type,
//! tagged with its variant. A `response` is `{type: Success, payload}` or
//! `{type: Error, message}`. Replay is strict, as in kwctl: the exchanges are
//! consumed in order, and each one's request must equal the policy's.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;

/// A Kubernetes host call as the policy-evaluator types it once it has read
/// the payload: what a session's `request` holds and what replay compares.
/// The derived `Debug` prints it the way kwctl's replay error does, which is
/// why the variants keep the policy-evaluator's names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[allow(clippy::enum_variant_names)]
pub enum CallbackRequest {
    KubernetesListResourceNamespace {
        api_version: String,
        kind: String,
        namespace: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesListResourceAll {
        api_version: String,
        kind: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesGetResource {
        api_version: String,
        kind: String,
        name: String,
        namespace: Option<String>,
        disable_cache: bool,
        field_masks: Option<BTreeSet<String>>,
    },
}

/// The waPC payloads of the three calls: the JSON of the SDK's request
/// structs (kubewarden-policy-sdk 0.17.3 `host_capabilities::kubernetes`),
/// read with the same field names, types and order, so a malformed payload
/// gets the error the policy-evaluator gives.
#[derive(Deserialize)]
struct ListResourcesByNamespaceRequest {
    api_version: String,
    kind: String,
    namespace: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
    field_masks: Option<BTreeSet<String>>,
}

#[derive(Deserialize)]
struct ListAllResourcesRequest {
    api_version: String,
    kind: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
    field_masks: Option<BTreeSet<String>>,
}

#[derive(Deserialize)]
struct GetResourceRequest {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    disable_cache: bool,
    field_masks: Option<BTreeSet<String>>,
}

/// The `kubewarden`/`kubernetes` operations the runner answers.
pub const KUBERNETES_OPERATIONS: [&str; 3] = [
    "list_resources_all",
    "list_resources_by_namespace",
    "get_resource",
];

impl CallbackRequest {
    /// The request of a `kubewarden`/`kubernetes`/`operation` host call, or
    /// serde_json's message when the payload does not parse.
    pub fn from_payload(operation: &str, payload: &[u8]) -> Result<Self, String> {
        let text = |e: serde_json::Error| e.to_string();
        Ok(match operation {
            "list_resources_all" => {
                let r: ListAllResourcesRequest = serde_json::from_slice(payload).map_err(text)?;
                Self::KubernetesListResourceAll {
                    api_version: r.api_version,
                    kind: r.kind,
                    label_selector: r.label_selector,
                    field_selector: r.field_selector,
                    field_masks: r.field_masks,
                }
            }
            "list_resources_by_namespace" => {
                let r: ListResourcesByNamespaceRequest =
                    serde_json::from_slice(payload).map_err(text)?;
                Self::KubernetesListResourceNamespace {
                    api_version: r.api_version,
                    kind: r.kind,
                    namespace: r.namespace,
                    label_selector: r.label_selector,
                    field_selector: r.field_selector,
                    field_masks: r.field_masks,
                }
            }
            "get_resource" => {
                let r: GetResourceRequest = serde_json::from_slice(payload).map_err(text)?;
                Self::KubernetesGetResource {
                    api_version: r.api_version,
                    kind: r.kind,
                    name: r.name,
                    namespace: r.namespace,
                    disable_cache: r.disable_cache,
                    field_masks: r.field_masks,
                }
            }
            other => return Err(format!("unknown operation: {other}")),
        })
    }

    /// The resource the call reads: what access is granted on.
    pub fn resource(&self) -> (&str, &str) {
        match self {
            Self::KubernetesListResourceNamespace {
                api_version, kind, ..
            }
            | Self::KubernetesListResourceAll {
                api_version, kind, ..
            }
            | Self::KubernetesGetResource {
                api_version, kind, ..
            } => (api_version, kind),
        }
    }
}

/// The request of a recorded exchange: one of the calls above, or a call of
/// another kind (an OCI or DNS lookup…) that no request of this runner can
/// equal.
#[derive(Clone, PartialEq, Eq)]
pub enum Recorded {
    Kubernetes(CallbackRequest),
    Other { tag: String, text: String },
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recorded::Kubernetes(request) => request.fmt(f),
            Recorded::Other { tag, text } => write!(f, "{tag} {text:?}"),
        }
    }
}

/// The other request types of the policy-evaluator, which sessions recorded
/// by kwctl may hold.
const OTHER_TAGS: [&str; 13] = [
    "OciManifestDigest",
    "OciManifest",
    "OciManifestAndConfig",
    "SigstorePubKeyVerify",
    "SigstoreKeylessVerify",
    "SigstoreKeylessPrefixVerify",
    "SigstoreGithubActionsVerify",
    "SigstoreCertificateVerify",
    "DNSLookupHost",
    "KubernetesGetResourcePluralName",
    "HasKubernetesListResourceAllResultChangedSinceInstant",
    "KubernetesCanI",
    "CryptoV1IsCertificateTrusted",
];

fn parse_request(text: &str) -> Result<Recorded, String> {
    match serde_yaml::from_str::<CallbackRequest>(text) {
        Ok(request) => Ok(Recorded::Kubernetes(request)),
        Err(err) => {
            if let Ok(serde_yaml::Value::Tagged(tagged)) = serde_yaml::from_str(text) {
                let tag = tagged.tag.to_string();
                let tag = tag.trim_start_matches('!');
                if OTHER_TAGS.contains(&tag) {
                    return Ok(Recorded::Other {
                        tag: tag.to_owned(),
                        text: text.to_owned(),
                    });
                }
            }
            Err(err.to_string())
        }
    }
}

/// kwctl's `Exchange` and `Response`, tagged by `type`. As in kwctl, the
/// `type` of an exchange is written (`Exchange`) but not checked when read;
/// the `type` of a response picks `Success` or `Error`.
#[derive(Deserialize)]
#[serde(tag = "type")]
struct ExchangeFile {
    request: String,
    response: Response,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Response {
    Success { payload: String },
    Error { message: String },
}

/// One exchange of a session, checked and ready to replay.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Recorded,
    /// The payload given back, or the message of the error.
    pub response: Result<Vec<u8>, String>,
}

/// A session file, read and checked whole before anything runs.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub exchanges: Vec<Exchange>,
}

impl Session {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: Vec<ExchangeFile> = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut exchanges = Vec::with_capacity(file.len());
        for (index, ExchangeFile { request, response }) in file.into_iter().enumerate() {
            let request = parse_request(&request).map_err(|e| {
                format!(
                    "exchange {}: cannot deserialize the recorded request: {e}",
                    index + 1
                )
            })?;
            let response = match response {
                Response::Success { payload } => Ok(payload.into_bytes()),
                Response::Error { message } => Err(message),
            };
            exchanges.push(Exchange { request, response });
        }
        Ok(Self { exchanges })
    }
}

/// A replay of a session: where it stands.
#[derive(Debug, Clone)]
pub struct Replay {
    session: Arc<Session>,
    next: usize,
}

impl Replay {
    pub fn new(session: Arc<Session>) -> Self {
        Self { session, next: 0 }
    }

    /// Back to the first exchange, as in a fresh kwctl run.
    pub fn rewind(&mut self) {
        self.next = 0;
    }

    /// How many exchanges have been consumed.
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// The answer to `request`: the next exchange is consumed whatever its
    /// request, and answers only if its request is the same, as kwctl's
    /// replay does. The errors are kwctl's messages.
    pub fn answer(&mut self, request: &CallbackRequest) -> Result<Vec<u8>, String> {
        let Some(exchange) = self.session.exchanges.get(self.next) else {
            return Err("the list of recorded responses is empty".to_owned());
        };
        self.next += 1;
        match &exchange.request {
            Recorded::Kubernetes(expected) if expected == request => exchange.response.clone(),
            expected => Err(format!(
                "Replay error: unexpected request. Was expecting {expected:?}, got {request:?} instead"
            )),
        }
    }

    /// The exchanges not replayed yet.
    pub fn leftovers(&self) -> &[Exchange] {
        self.session.exchanges.get(self.next..).unwrap_or_default()
    }
}

/// kwctl's warning when a replay ends with exchanges left, followed by the
/// requests of those exchanges (kwctl prints the whole exchanges).
pub fn leftover_warning(leftovers: &[Exchange]) -> String {
    let requests: Vec<&Recorded> = leftovers.iter().map(|e| &e.request).collect();
    format!("Some of the recorded exchanges have not been replayed leftovers={requests:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const NODE_MASKS: &str = r#"["metadata.name","status.nodeInfo.kubeletVersion"]"#;

    fn list_nodes(label_selector: Option<&str>) -> CallbackRequest {
        CallbackRequest::KubernetesListResourceAll {
            api_version: "v1".into(),
            kind: "Node".into(),
            label_selector: label_selector.map(str::to_owned),
            field_selector: None,
            field_masks: Some(BTreeSet::from([
                "metadata.name".to_owned(),
                "status.nodeInfo.kubeletVersion".to_owned(),
            ])),
        }
    }

    const LIST_EXCHANGE: &str = r#"
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
    payload: '{"apiVersion":"v1","kind":"List","items":[]}'
"#;

    #[test]
    fn reads_the_sdk_payloads() {
        let payload = format!(
            r#"{{"api_version":"v1","kind":"Node","label_selector":null,"field_selector":null,"field_masks":{NODE_MASKS}}}"#
        );
        assert_eq!(
            CallbackRequest::from_payload("list_resources_all", payload.as_bytes()).unwrap(),
            list_nodes(None)
        );
        let get = br#"{"api_version":"v1","kind":"Node","name":"n1","namespace":null,"disable_cache":false,"field_masks":null}"#;
        assert_eq!(
            CallbackRequest::from_payload("get_resource", get).unwrap(),
            CallbackRequest::KubernetesGetResource {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: "n1".into(),
                namespace: None,
                disable_cache: false,
                field_masks: None,
            }
        );
        let by_namespace = br#"{"api_version":"v1","kind":"Pod","namespace":"shop","label_selector":"app=web","field_selector":null}"#;
        let request =
            CallbackRequest::from_payload("list_resources_by_namespace", by_namespace).unwrap();
        assert_eq!(request.resource(), ("v1", "Pod"));
        assert!(matches!(
            request,
            CallbackRequest::KubernetesListResourceNamespace { field_masks: None, label_selector: Some(ref s), .. } if s == "app=web"
        ));
    }

    #[test]
    fn malformed_payloads_get_serde_json_messages() {
        let missing = CallbackRequest::from_payload(
            "get_resource",
            br#"{"api_version":"v1","kind":"Node","name":"n1"}"#,
        )
        .unwrap_err();
        assert!(
            missing.starts_with("missing field `disable_cache`"),
            "{missing}"
        );
        let wrong = CallbackRequest::from_payload("list_resources_all", br#"{"api_version":1}"#)
            .unwrap_err();
        assert!(
            wrong.starts_with("invalid type: integer `1`, expected a string"),
            "{wrong}"
        );
        assert!(CallbackRequest::from_payload("list_resources_all", b"").is_err());
    }

    #[test]
    fn reads_kwctl_session_files() {
        let session = Session::parse(LIST_EXCHANGE).unwrap();
        assert_eq!(session.exchanges.len(), 1);
        assert_eq!(
            session.exchanges[0].request,
            Recorded::Kubernetes(list_nodes(None))
        );
        assert_eq!(
            session.exchanges[0].response,
            Ok(br#"{"apiVersion":"v1","kind":"List","items":[]}"#.to_vec())
        );

        let error = Session::parse(
            r#"
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Node
    name: n1
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: nodes "n1" not found
"#,
        )
        .unwrap();
        assert!(matches!(
            &error.exchanges[0].request,
            Recorded::Kubernetes(CallbackRequest::KubernetesGetResource {
                field_masks: None,
                ..
            })
        ));
        assert_eq!(
            error.exchanges[0].response,
            Err("nodes \"n1\" not found".to_owned())
        );
        assert!(Session::parse("[]").unwrap().exchanges.is_empty());
    }

    #[test]
    fn keeps_exchanges_of_other_kinds() {
        let session = Session::parse(
            "- type: Exchange\n  request: |\n    !DNSLookupHost\n    host: example.com\n  response:\n    type: Success\n    payload: '{}'\n",
        )
        .unwrap();
        assert!(
            matches!(&session.exchanges[0].request, Recorded::Other { tag, .. } if tag == "DNSLookupHost")
        );
    }

    #[test]
    fn refuses_broken_session_files() {
        for text in [
            "type: Exchange",
            "- type: Exchange\n  request: x\n",
            "- type: Exchange\n  request: '!KubernetesGetResource {}'\n  response: {type: Error, message: m}\n",
            "- type: Exchange\n  request: '!KubernetesGetResource\n  kind: Node'\n  response: {type: Error, message: m}\n",
            "- type: Exchange\n  request: '!NoSuchCall {}'\n  response: {type: Error, message: m}\n",
            "- type: Exchange\n  request: '!KubernetesListResourceAll {api_version: v1, kind: Node}'\n  response: {type: Maybe}\n",
            "- type: Exchange\n  request: '!KubernetesListResourceAll {api_version: v1, kind: Node}'\n  response: {type: Success, payload: 12}\n",
        ] {
            assert!(Session::parse(text).is_err(), "{text:?} should be refused");
        }
        // kwctl does not check the exchange's own `type`.
        let untyped = "- {request: '!KubernetesListResourceAll {api_version: v1, kind: Node}', response: {type: Error, message: m}}\n";
        assert_eq!(Session::parse(untyped).unwrap().exchanges.len(), 1);
    }

    #[test]
    fn replays_in_order_and_strictly() {
        let text = format!(
            "{LIST_EXCHANGE}{}",
            LIST_EXCHANGE.replace("label_selector: null", "label_selector: pool=new")
        );
        let mut replay = Replay::new(Arc::new(Session::parse(&text).unwrap()));
        assert!(replay.answer(&list_nodes(None)).is_ok());
        let err = replay.answer(&list_nodes(Some("pool=old"))).unwrap_err();
        assert_eq!(
            err,
            "Replay error: unexpected request. Was expecting KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", label_selector: Some(\"pool=new\"), field_selector: None, field_masks: Some({\"metadata.name\", \"status.nodeInfo.kubeletVersion\"}) }, got KubernetesListResourceAll { api_version: \"v1\", kind: \"Node\", label_selector: Some(\"pool=old\"), field_selector: None, field_masks: Some({\"metadata.name\", \"status.nodeInfo.kubeletVersion\"}) } instead"
        );
        // The mismatched exchange is consumed all the same.
        assert_eq!(
            replay.answer(&list_nodes(None)).unwrap_err(),
            "the list of recorded responses is empty"
        );
        replay.rewind();
        assert_eq!(replay.consumed(), 0);
        assert_eq!(replay.leftovers().len(), 2);
    }

    #[test]
    fn field_masks_are_part_of_the_request() {
        let session = LIST_EXCHANGE.replace(
            "    field_masks:\n    - metadata.name\n    - status.nodeInfo.kubeletVersion\n",
            "",
        );
        let mut replay = Replay::new(Arc::new(Session::parse(&session).unwrap()));
        let err = replay.answer(&list_nodes(None)).unwrap_err();
        assert!(err.contains("field_masks: None }, got"), "{err}");
    }

    #[test]
    fn warns_about_leftovers() {
        let session = Arc::new(Session::parse(LIST_EXCHANGE).unwrap());
        let replay = Replay::new(session);
        let warning = leftover_warning(replay.leftovers());
        assert!(
            warning.starts_with(
                "Some of the recorded exchanges have not been replayed leftovers=[KubernetesListResourceAll { api_version: \"v1\""
            ),
            "{warning}"
        );
    }
}
