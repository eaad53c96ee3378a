//! The AdmissionRequest envelope, checked and rebuilt the way kwctl does
//! before the policy sees anything.
//!
//! kwctl (`crates/kwctl/src/command/run/evaluator.rs` in
//! kubewarden/kubewarden-controller) takes the `request` of an object whose
//! `kind` is `AdmissionReview`, or the object itself, and deserializes it
//! into policy-evaluator's typed `AdmissionRequest`
//! (`crates/policy-evaluator/src/admission_request.rs`). A missing required
//! field or a value of the wrong type stops it with `cannot build
//! AdmissionRequest object from given input: <serde error>`. The policy then
//! gets that typed request serialized again: unknown envelope fields and
//! `null` optional fields are gone.
//!
//! The types below have the same names, fields, field types and field order
//! as kwctl's, so serde gives the same messages. Required: `uid`, `kind`
//! (`group`, `version`, `kind`), `resource` (`group`, `version`,
//! `resource`), `operation` and `userInfo`; everything else is optional.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// kwctl's prefix for every error building the request.
pub const BUILD_ERROR: &str = "cannot build AdmissionRequest object from given input";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    /// A `RawExtension` in kwctl: any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// `authentication/v1` UserInfo as k8s-openapi reads it: every field
/// optional, unknown keys ignored, only a map accepted, and `UserInfo` as
/// the expected type in messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

impl<'de> Deserialize<'de> for UserInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UserInfoVisitor;

        impl<'de> Visitor<'de> for UserInfoVisitor {
            type Value = UserInfo;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("UserInfo")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UserInfo, A::Error> {
                let mut info = UserInfo::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "extra" => info.extra = map.next_value()?,
                        "groups" => info.groups = map.next_value()?,
                        "uid" => info.uid = map.next_value()?,
                        "username" => info.username = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(info)
            }
        }

        deserializer.deserialize_struct(
            "UserInfo",
            &["extra", "groups", "uid", "username"],
            UserInfoVisitor,
        )
    }
}

/// Why kwctl refuses a request file that is valid JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The file's top level is not an object.
    NotAnObject,
    /// `kind: AdmissionReview` without a `request`.
    ReviewWithoutRequest,
    /// The request does not deserialize into an AdmissionRequest.
    Build(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAnObject => f.write_str("Invalid request object"),
            Refusal::ReviewWithoutRequest => f.write_str("invalid AdmissionReview object"),
            Refusal::Build(cause) => write!(f, "{BUILD_ERROR}: {cause}"),
        }
    }
}

/// The AdmissionRequest the policy gets for the JSON of a request file: its
/// `request` when `kind` is `AdmissionReview`, otherwise the value itself,
/// rebuilt through the typed request as kwctl does.
pub fn admission_request(value: Value) -> Result<Value, Refusal> {
    let Value::Object(mut object) = value else {
        return Err(Refusal::NotAnObject);
    };
    let request = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        object
            .remove("request")
            .ok_or(Refusal::ReviewWithoutRequest)?
    } else {
        Value::Object(object)
    };
    let typed: AdmissionRequest =
        serde_json::from_value(request).map_err(|e| Refusal::Build(e.to_string()))?;
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_value(typed).map_err(|e| Refusal::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn complete() -> Value {
        json!({
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:masters"]},
            "object": {"apiVersion": "v1", "kind": "Pod"},
        })
    }

    fn with(pointer_key: &str, value: Value) -> Value {
        let mut request = complete();
        request[pointer_key] = value;
        request
    }

    fn without(key: &str) -> Value {
        let mut request = complete();
        request.as_object_mut().unwrap().shift_remove(key);
        request
    }

    fn refusal(request: Value) -> String {
        admission_request(request).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_request_passes_unchanged() {
        assert_eq!(admission_request(complete()).unwrap(), complete());
    }

    #[test]
    fn each_required_field_is_named_when_missing() {
        for field in ["uid", "kind", "resource", "operation", "userInfo"] {
            assert_eq!(
                refusal(without(field)),
                format!("{BUILD_ERROR}: missing field `{field}`")
            );
        }
    }

    #[test]
    fn the_first_missing_field_in_kwctls_order_is_named() {
        let request = json!({"object": {"kind": "Pod"}, "operation": "CREATE"});
        assert_eq!(
            refusal(request),
            format!("{BUILD_ERROR}: missing field `uid`")
        );
        let mut no_user_no_kind = without("userInfo");
        no_user_no_kind
            .as_object_mut()
            .unwrap()
            .shift_remove("kind");
        assert_eq!(
            refusal(no_user_no_kind),
            format!("{BUILD_ERROR}: missing field `kind`")
        );
    }

    #[test]
    fn the_parts_of_kind_and_resource_are_required() {
        let kind_without_group = with("kind", json!({"version": "v1", "kind": "Pod"}));
        assert_eq!(
            refusal(kind_without_group),
            format!("{BUILD_ERROR}: missing field `group`")
        );
        let resource_without_resource = with("resource", json!({"group": "", "version": "v1"}));
        assert_eq!(
            refusal(resource_without_resource),
            format!("{BUILD_ERROR}: missing field `resource`")
        );
        let request_kind_without_kind = with("requestKind", json!({"group": "", "version": "v1"}));
        assert_eq!(
            refusal(request_kind_without_kind),
            format!("{BUILD_ERROR}: missing field `kind`")
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_refused_with_serdes_words() {
        for (key, value, cause) in [
            (
                "uid",
                json!(7),
                "invalid type: integer `7`, expected a string",
            ),
            (
                "kind",
                json!("Pod"),
                "invalid type: string \"Pod\", expected struct GroupVersionKind",
            ),
            (
                "resource",
                json!(null),
                "invalid type: null, expected struct GroupVersionResource",
            ),
            (
                "operation",
                json!(null),
                "invalid type: null, expected a string",
            ),
            (
                "userInfo",
                json!("admin"),
                "invalid type: string \"admin\", expected UserInfo",
            ),
            (
                "userInfo",
                json!(["admin"]),
                "invalid type: sequence, expected UserInfo",
            ),
            (
                "userInfo",
                json!(null),
                "invalid type: null, expected UserInfo",
            ),
            (
                "userInfo",
                json!({"groups": "system:masters"}),
                "invalid type: string \"system:masters\", expected a sequence",
            ),
            (
                "userInfo",
                json!({"username": 1}),
                "invalid type: integer `1`, expected a string",
            ),
            (
                "name",
                json!(["shop"]),
                "invalid type: sequence, expected a string",
            ),
            (
                "dryRun",
                json!("false"),
                "invalid type: string \"false\", expected a boolean",
            ),
        ] {
            assert_eq!(
                refusal(with(key, value.clone())),
                format!("{BUILD_ERROR}: {cause}"),
                "{key}: {value}"
            );
        }
    }

    #[test]
    fn optional_fields_may_be_null_or_absent_and_null_ones_are_dropped() {
        let mut request = complete();
        for key in [
            "object",
            "oldObject",
            "dryRun",
            "options",
            "name",
            "requestKind",
        ] {
            request[key] = Value::Null;
        }
        request["userInfo"] = json!({"username": null, "extra": {"scopes": ["a"]}});
        let rebuilt = admission_request(request).unwrap();
        let mut expected = without("object");
        expected["userInfo"] = json!({"extra": {"scopes": ["a"]}});
        assert_eq!(rebuilt, expected);
    }

    #[test]
    fn unknown_envelope_fields_are_dropped_and_the_object_kept_as_is() {
        let mut request = with("object", json!({"spec": [1, "two", {"three": null}]}));
        request["futureField"] = json!({"x": 1});
        request["userInfo"]["futureUserField"] = json!(true);
        let rebuilt = admission_request(request).unwrap();
        assert_eq!(rebuilt.get("futureField"), None);
        assert_eq!(rebuilt["userInfo"].get("futureUserField"), None);
        assert_eq!(
            rebuilt["object"],
            json!({"spec": [1, "two", {"three": null}]})
        );
    }

    #[test]
    fn a_review_gives_its_request() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                            "request": complete()});
        assert_eq!(admission_request(review).unwrap(), complete());
    }

    #[test]
    fn a_review_is_recognised_by_its_kind_only() {
        // Without `kind: AdmissionReview` the value is taken as the request.
        let review_without_kind = json!({"request": complete()});
        assert_eq!(
            refusal(review_without_kind),
            format!("{BUILD_ERROR}: missing field `uid`")
        );
    }

    #[test]
    fn a_review_without_a_usable_request_is_refused() {
        assert_eq!(
            refusal(json!({"kind": "AdmissionReview"})),
            "invalid AdmissionReview object"
        );
        assert_eq!(
            refusal(json!({"kind": "AdmissionReview", "request": null})),
            format!("{BUILD_ERROR}: invalid type: null, expected struct AdmissionRequest")
        );
        let mut incomplete = complete();
        incomplete.as_object_mut().unwrap().shift_remove("userInfo");
        assert_eq!(
            refusal(json!({"kind": "AdmissionReview", "request": incomplete})),
            format!("{BUILD_ERROR}: missing field `userInfo`")
        );
    }

    #[test]
    fn a_request_that_is_not_an_object_is_refused() {
        for value in [json!([1, 2]), json!("request"), json!(null)] {
            assert_eq!(refusal(value), "Invalid request object");
        }
    }
}
