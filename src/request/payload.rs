//! The parts of a waPC `validate` payload that the policy reads.
//!
//! About half of a typical AdmissionRequest is envelope the policy never
//! looks at (user info, resource names, options; on UPDATE the whole old
//! object). The fast path has the parser skip those values without building
//! them; any payload it does not expect is read whole instead, so that
//! every kind of bad input gets the same answer either way.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::raw_json;
use crate::value::Value;

/// What the policy reads of a payload `{"request": ..., "settings": ...}`.
#[derive(Debug, Default, PartialEq)]
pub struct Payload {
    /// `None` when `request` is absent or not an object.
    pub request: Option<Request>,
    /// `null` when absent.
    pub settings: Value,
}

/// What the policy reads of an AdmissionRequest; `null` stands for absent.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub kind: Value,
    pub operation: Value,
    pub object: Value,
}

impl Request {
    /// `request.kind.kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.kind
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `request.operation`, or `""`.
    pub fn operation(&self) -> &str {
        self.operation.as_str().unwrap_or_default()
    }
}

/// Reads a payload; the error says why the bytes are not JSON.
///
/// The UTF-8 of the whole payload is checked first ([`raw_json::utf8`]):
/// the parser checks none in values it skips. Numbers out of `f64` range
/// and lone surrogate escapes are valid JSON syntax and pass in skipped
/// values, where a whole reading would refuse them; the policy never reads
/// those values.
pub fn read(bytes: &[u8]) -> Result<Payload, String> {
    let text = raw_json::utf8(bytes)?;
    serde_json::from_str(text).or_else(|_| read_whole(text))
}

/// The slow path: the payload parsed whole, for shapes the fast path refuses
/// (not an object, `request` not an object, JSON the parser rejects).
fn read_whole(text: &str) -> Result<Payload, String> {
    let mut payload: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let settings = payload
        .get_mut("settings")
        .map(Value::take)
        .unwrap_or_default();
    let request = match payload.get_mut("request") {
        Some(Value::Object(request)) => {
            let mut take = |key| request.get_mut(key).map(Value::take).unwrap_or_default();
            Some(Request {
                kind: take("kind"),
                operation: take("operation"),
                object: take("object"),
            })
        }
        _ => None,
    };
    Ok(Payload { request, settings })
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PayloadKey {
    Request,
    Settings,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum RequestKey {
    Kind,
    Operation,
    Object,
    #[serde(other)]
    Other,
}

// Both accept objects only (anything else is an error, and the payload is
// then read whole); a repeated key keeps its last value, as a
// `serde_json::Value` does.
impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RequestVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a validation payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let mut payload = Payload::default();
        while let Some(key) = map.next_key()? {
            match key {
                PayloadKey::Request => payload.request = Some(map.next_value()?),
                PayloadKey::Settings => payload.settings = map.next_value()?,
                PayloadKey::Other => skip(&mut map)?,
            }
        }
        Ok(payload)
    }
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an AdmissionRequest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request, A::Error> {
        let mut request = Request::default();
        while let Some(key) = map.next_key()? {
            match key {
                RequestKey::Kind => request.kind = map.next_value()?,
                RequestKey::Operation => request.operation = map.next_value()?,
                RequestKey::Object => request.object = map.next_value()?,
                RequestKey::Other => skip(&mut map)?,
            }
        }
        Ok(request)
    }
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    /// Every payload reads the same through the fast path and whole.
    #[rstest]
    #[case::a_full_request(json!({
        "request": {
            "uid": "u", "kind": {"kind": "Pod"}, "operation": "CREATE",
            "userInfo": {"groups": ["a"]}, "oldObject": {"spec": {}},
            "object": {"spec": {"containers": []}},
        },
        "settings": {"mode": "validate"},
    }))]
    #[case::no_settings(json!({"request": {"kind": {"kind": "Pod"}, "object": {}}}))]
    #[case::no_request(json!({"settings": {}}))]
    #[case::request_not_an_object(json!({"request": [1, 2, 3], "settings": {}}))]
    #[case::request_null(json!({"request": null}))]
    #[case::object_null(json!({"request": {"object": null}}))]
    #[case::payload_not_an_object(json!([{"kind": {"kind": "Pod"}}]))]
    #[case::payload_a_string(json!("request"))]
    fn the_fast_path_reads_what_the_whole_payload_says(#[case] payload: Value) {
        let text = payload.to_string();
        assert_eq!(
            read(text.as_bytes()).expect("JSON"),
            read_whole(&text).expect("JSON")
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let text = r#"{"request": {"operation": "CREATE", "operation": "UPDATE"},
                         "settings": 1, "settings": {"mode": "validate"}}"#;
        let payload = read(text.as_bytes()).expect("JSON");
        assert_eq!(payload, read_whole(text).expect("JSON"));
        assert_eq!(payload.request.expect("a request").operation(), "UPDATE");
        assert_eq!(payload.settings, json!({"mode": "validate"}));
    }

    #[test]
    fn invalid_utf8_in_the_skipped_envelope_is_refused() {
        let bytes = b"{\"request\": {\"userInfo\": {\"groups\": [\"s\xffstem\"]}, \"object\": {}}}";
        assert_eq!(
            read(bytes).expect_err("not UTF-8, not JSON"),
            "invalid UTF-8 at line 1 column 40"
        );
    }

    #[rstest]
    #[case::a_number_out_of_range(r#"1e400"#)]
    #[case::a_lone_surrogate(r#""\ud800""#)]
    fn valid_json_that_is_not_built_is_skipped(#[case] value: &str) {
        let text = format!(r#"{{"request": {{"userInfo": {value}, "operation": "CREATE"}}}}"#);
        assert!(
            read_whole(&text).is_err(),
            "serde_json builds no such value"
        );
        let payload = read(text.as_bytes()).expect("skipped");
        assert_eq!(payload.request.expect("a request").operation(), "CREATE");
    }

    #[test]
    fn the_envelope_is_skipped_but_must_still_be_json() {
        let bytes = br#"{"request": {"userInfo": {"groups": [1, }, "object": {}}}"#;
        assert!(read(bytes).is_err());
    }

    /// serde_json limits the nesting of what it builds (128 levels); what it
    /// skips, it skips without recursion, so no depth there can overflow.
    #[test]
    fn deep_nesting_in_the_skipped_envelope_is_skipped() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let bytes = format!(r#"{{"request": {{"userInfo": {deep}, "operation": "CREATE"}}}}"#);
        let payload = read(bytes.as_bytes()).expect("skipped, not built");
        assert_eq!(payload.request.expect("a request").operation(), "CREATE");
    }

    /// The object reads as serde_json reads it: every fixture, and the
    /// corners of JSON.
    #[test]
    fn the_object_is_built_as_serde_json_builds_it() {
        let mut objects: Vec<String> = [
            r#"{"b": 1, "a": {"c": [1, -2, 3.5, 1e300, 18446744073709551615, -9223372036854775808]}}"#,
            r#"{"a": 1, "b": 2, "a": 3}"#,
            r#"{"s": "esc\u00e9\n\"", "e": {}, "l": [], "n": null, "t": true, "f": false}"#,
            r#"[[[{"deep": [{}]}]], "x", 0.1]"#,
            r#""just a string""#,
        ]
        .map(str::to_string)
        .into();
        for entry in std::fs::read_dir("test_data").expect("test_data is readable") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|ext| ext == "json") {
                objects.push(std::fs::read_to_string(&path).expect("a readable fixture"));
            }
        }
        for object in objects {
            let text = format!(r#"{{"request": {{"object": {object}}}}}"#);
            // Written out, so that the order of keys counts too.
            let expected = serde_json::from_str::<serde_json::Value>(&object).expect("JSON");
            let read = read(text.as_bytes()).expect("JSON");
            assert_eq!(
                read.request.expect("a request").object.to_string(),
                expected.to_string(),
                "{object}"
            );
        }
    }

    #[test]
    fn a_repeated_key_in_the_object_keeps_its_first_place_and_last_value() {
        let text = r#"{"request": {"object": {"a": 1, "b": 2, "a": 3}}}"#;
        let object = read(text.as_bytes())
            .expect("JSON")
            .request
            .expect("a request")
            .object;
        let entries: Vec<(&String, &Value)> =
            object.as_object().expect("an object").iter().collect();
        assert_eq!(
            entries,
            [(&"a".to_string(), &json!(3)), (&"b".to_string(), &json!(2))]
        );
    }

    #[test]
    fn kind_and_operation_of_the_wrong_type_read_as_empty() {
        let request = Request {
            kind: json!("Pod"),
            operation: json!(7),
            object: Value::Null,
        };
        assert_eq!((request.kind(), request.operation()), ("", ""));
    }
}
