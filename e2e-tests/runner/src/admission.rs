//! The AdmissionResponse printed by `run`, built the way Kubewarden's
//! policy-evaluator builds it from a policy's ValidationResponse.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;

use crate::policy::ValidationResponse;

/// `admission/v1` AdmissionResponse. As in kwctl's output, `patchType`,
/// `patch` and `status` are left out when unset, while `auditAnnotations`
/// and `warnings` are always present (`null` when unset).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

const MUTATION_WITHOUT_OBJECT: &str = "Incoming object is null, which happens only with DELETE \
     operations, but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    /// `object` is the request's object (`None` or null for DELETE).
    pub fn from_validation(
        uid: &str,
        object: Option<&Value>,
        response: &ValidationResponse,
    ) -> Self {
        let object = object.filter(|o| !o.is_null());
        let patch = match (&response.mutated_object, object) {
            (None, _) => None,
            (Some(_), None) => return Self::reject(uid, MUTATION_WITHOUT_OBJECT, None),
            (Some(mutated), Some(original)) => encode_patch(original, mutated),
        };
        let status = (response.message.is_some() || response.code.is_some()).then(|| Status {
            message: response.message.clone(),
            code: response.code,
        });
        Self {
            uid: uid.to_owned(),
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
        }
    }

    /// What the policy-server answers when the policy itself fails.
    pub fn internal_server_error(uid: &str, message: &str) -> Self {
        Self::reject(uid, &format!("internal server error: {message}"), Some(500))
    }

    fn reject(uid: &str, message: &str, code: Option<u16>) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            patch_type: None,
            patch: None,
            status: Some(Status {
                message: Some(message.to_owned()),
                code,
            }),
            audit_annotations: None,
            warnings: None,
        }
    }
}

/// Base64 of the RFC 6902 patch from `original` to `mutated`; `None` when
/// they are equal.
pub fn encode_patch(original: &Value, mutated: &Value) -> Option<String> {
    let patch = json_patch::diff(original, mutated);
    if patch.0.is_empty() {
        return None;
    }
    // A patch is plain JSON data: serializing it cannot fail.
    serde_json::to_string(&patch)
        .ok()
        .map(|json| STANDARD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(accepted: bool) -> ValidationResponse {
        ValidationResponse {
            accepted,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    fn decode(patch: &str) -> Value {
        let bytes = STANDARD.decode(patch).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn plain_acceptance_has_null_annotations_and_warnings_and_no_status() {
        let out = AdmissionResponse::from_validation("u1", Some(&json!({})), &response(true));
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"uid":"u1","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn rejection_carries_message_and_code_when_given() {
        let mut rejected = response(false);
        rejected.message = Some("no".into());
        rejected.warnings = Some(vec!["w".into()]);
        let out = AdmissionResponse::from_validation("u", Some(&json!({})), &rejected);
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"uid":"u","allowed":false,"status":{"message":"no"},
                   "auditAnnotations":null,"warnings":["w"]})
        );
        rejected.code = Some(403);
        let out = AdmissionResponse::from_validation("u", Some(&json!({})), &rejected);
        assert_eq!(out.status.unwrap().code, Some(403));
    }

    #[test]
    fn mutation_becomes_a_base64_json_patch() {
        let original = json!({"metadata": {"name": "a"}});
        let mut mutated = response(true);
        mutated.mutated_object = Some(json!({"metadata": {"name": "a", "labels": {"x": "y"}}}));
        let out = AdmissionResponse::from_validation("u", Some(&original), &mutated);
        assert_eq!(out.patch_type.as_deref(), Some("JSONPatch"));
        assert_eq!(
            decode(out.patch.as_deref().unwrap()),
            json!([{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
        );
    }

    #[test]
    fn unchanged_mutated_object_gives_no_patch() {
        let original = json!({"a": 1});
        let mut same = response(true);
        same.mutated_object = Some(original.clone());
        let out = AdmissionResponse::from_validation("u", Some(&original), &same);
        assert_eq!(out.patch, None);
        assert_eq!(out.patch_type, None);
    }

    #[test]
    fn mutation_of_a_missing_object_is_rejected() {
        let mut mutated = response(true);
        mutated.mutated_object = Some(json!({"a": 1}));
        for object in [None, Some(&Value::Null)] {
            let out = AdmissionResponse::from_validation("u", object, &mutated);
            assert!(!out.allowed);
            assert_eq!(out.patch, None);
            assert!(out.status.unwrap().message.unwrap().contains("DELETE"));
        }
    }

    #[test]
    fn internal_server_error_matches_the_policy_server() {
        let out = AdmissionResponse::internal_server_error("u", "boom");
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"uid":"u","allowed":false,
                   "status":{"message":"internal server error: boom","code":500},
                   "auditAnnotations":null,"warnings":null})
        );
    }
}
