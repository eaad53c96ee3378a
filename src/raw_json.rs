//! Reading and editing raw JSON in place, so that every field the policy
//! does not mean to change stays exactly as it came.

use crate::value::{Build, Map, Value};
use serde::Deserialize;
use serde::de::DeserializeSeed;

/// Reads JSON from bytes. The UTF-8 is checked first and whole, and then
/// serde_json's reader of text parses: the policy holds one JSON reader, not
/// also the one for bytes (their number parsers alone are 20 KB of the
/// module each), and strings that are only skipped are checked too. The
/// error is serde_json's, or the place of the first byte that is not UTF-8.
pub fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_str(utf8(bytes)?).map_err(|e| e.to_string())
}

/// [`parse`] for a `Value`, built by [`Build`].
pub fn parse_value(bytes: &[u8]) -> Result<Value, String> {
    value_from_str(utf8(bytes)?)
}

/// JSON text as a `Value`, built by [`Build`]; the error is serde_json's.
pub fn value_from_str(text: &str) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Build::default()
        .deserialize(&mut deserializer)
        .map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// `bytes` as text, or where the first byte that is not UTF-8 is, counted as
/// serde_json counts lines and columns.
pub fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        format!("invalid UTF-8 at line {line} column {column}")
    })
}

/// The value at `key` of a JSON object; `None` when absent or when `value`
/// is not an object.
pub fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object()?.get(key)
}

/// The `metadata.annotations` of an object (a pod template), when they are
/// an object.
pub fn annotations(object: &Value) -> Option<&Map<String, Value>> {
    object.field("metadata")?.field("annotations")?.as_object()
}

/// [`field`] as a method of JSON values and objects, to read and to change.
pub trait Field {
    fn field(&self, key: &str) -> Option<&Value>;
    fn field_mut(&mut self, key: &str) -> Option<&mut Value>;
}

impl Field for Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }

    fn field_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.get_mut(key)
    }
}

impl Field for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        field(self, key)
    }

    fn field_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.field_mut(key)
    }
}

/// The value at `key` of a JSON object, set to `empty` first when it is
/// absent or `null`. `None` when `object` is not an object.
pub fn child_or_insert<'a>(
    object: &'a mut Value,
    key: &str,
    empty: Value,
) -> Option<&'a mut Value> {
    let object = object.as_object_mut()?;
    if object.field(key).is_none() {
        object.insert(key.to_string(), Value::Null);
    }
    let child = object.field_mut(key)?;
    if child.is_null() {
        *child = empty;
    }
    Some(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    #[test]
    fn fields_are_found_in_small_and_large_objects_alike() {
        let small = json!({"a": 1, "b": null});
        let large: Value = (0..36)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect::<Map<_, _>>()
            .into();
        assert_eq!(field(&small, "a"), Some(&json!(1)));
        assert_eq!(field(&small, "b"), Some(&Value::Null));
        assert_eq!(field(&small, "c"), None);
        assert_eq!(field(&large, "k30"), Some(&json!(30)));
        assert_eq!(field(&large, "k99"), None);
        assert_eq!(field(&json!(["a"]), "a"), None, "not an object");
    }

    #[test]
    fn fields_are_changed_in_small_and_large_objects_alike() {
        let mut small = json!({"a": 1, "b": null});
        let mut large: Value = (0..36)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect::<crate::value::Map<_, _>>()
            .into();
        *small.field_mut("b").expect("b") = json!(2);
        *large.field_mut("k30").expect("k30") = json!("thirty");
        assert_eq!(small, json!({"a": 1, "b": 2}));
        assert_eq!(large["k30"], json!("thirty"));
        assert_eq!(small.field_mut("c"), None);
        assert_eq!(large.field_mut("k99"), None);
        assert_eq!(json!(["a"]).field_mut("a"), None, "not an object");
    }

    #[rstest::rstest]
    #[case::on_the_first_line(b"{\"a\": \"\xff\"}", "invalid UTF-8 at line 1 column 8")]
    #[case::after_a_newline(b"{\n  \"ab\xc3\"}", "invalid UTF-8 at line 2 column 6")]
    #[case::in_a_key(b"\n\n{\"\xe2\x82\": 1}", "invalid UTF-8 at line 3 column 3")]
    fn bytes_that_are_not_utf8_are_refused_at_their_place(
        #[case] bytes: &[u8],
        #[case] expected: &str,
    ) {
        assert_eq!(parse::<Value>(bytes), Err(expected.to_string()));
    }

    #[rstest::rstest]
    #[case::an_object(r#"{"b": [1, -2.5, 1e300, null], "a": {"": true}, "b": "again"}"#.to_string())]
    #[case::a_syntax_error(r#"{"a": }"#.to_string())]
    #[case::trailing_characters("[1] x".to_string())]
    #[case::too_deep("[".repeat(200) + &"]".repeat(200))]
    #[case::escapes(r#""\u00e9\n\ud83e\udeb5""#.to_string())]
    #[case::a_lone_surrogate(r#""\ud800""#.to_string())]
    fn values_are_built_as_serde_json_builds_them(#[case] text: String) {
        // Written out, so that the order of keys counts too.
        let written = |value: Result<Value, String>| value.map(|v| v.to_string());
        let expected = written(serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
        assert_eq!(written(value_from_str(&text)), expected, "{text}");
        assert_eq!(written(parse_value(text.as_bytes())), expected, "{text}");
    }

    #[test]
    fn json_text_reads_as_serde_json_reads_it() {
        assert_eq!(parse::<Value>(br#"{"a": [1.5]}"#), Ok(json!({"a": [1.5]})));
        assert_eq!(
            parse::<Value>(b"{\"a\": }"),
            Err("expected value at line 1 column 7".to_string())
        );
    }

    #[test]
    fn absent_and_null_children_are_created_and_others_kept() {
        let mut object = json!({"kept": [1], "null": null});
        child_or_insert(&mut object, "null", json!([]));
        child_or_insert(&mut object, "absent", json!({}));
        child_or_insert(&mut object, "kept", json!([]));
        assert_eq!(object, json!({"kept": [1], "null": [], "absent": {}}));
        assert_eq!(
            child_or_insert(&mut json!([]), "a", json!({})),
            None,
            "not an object"
        );
    }
}
