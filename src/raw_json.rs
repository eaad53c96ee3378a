//! Reading and editing raw JSON in place, so that every field the policy
//! does not mean to change stays exactly as it came.

use serde::Deserialize;

use crate::value::{Map, Value};

/// Reads JSON from bytes. The UTF-8 is checked first and whole, and then
/// serde_json's reader of text parses: the policy holds one JSON reader, not
/// also the one for bytes (their number parsers alone are 20 KB of the
/// module each), and strings that are only skipped are checked too. The
/// error is serde_json's, or the place of the first byte that is not UTF-8.
pub fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_str(utf8(bytes)?).map_err(|e| e.to_string())
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

/// The `metadata.annotations` of an object (a pod template), when they are
/// an object.
pub fn annotations(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.get("annotations")?.as_object()
}

/// The value at `key` of a JSON object, set to `empty` first when it is
/// absent or `null`. `None` when `object` is not an object.
pub fn child_or_insert<'a>(
    object: &'a mut Value,
    key: &str,
    empty: Value,
) -> Option<&'a mut Value> {
    let object = object.as_object_mut()?;
    let child = object.get_or_insert_null(key);
    if child.is_null() {
        *child = empty;
    }
    Some(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

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
    #[case::repeated_keys_in_a_large_object(repeated_keys(40))]
    #[case::repeated_keys_in_the_largest_object_compared_in_turn(repeated_keys(13))]
    #[case::repeated_keys_in_the_smallest_object_whose_keys_are_hashed(repeated_keys(14))]
    #[case::repeated_keys_in_a_small_object(repeated_keys(5))]
    #[case::a_syntax_error(r#"{"a": }"#.to_string())]
    #[case::trailing_characters("[1] x".to_string())]
    #[case::too_deep("[".repeat(200) + &"]".repeat(200))]
    #[case::escapes(r#""\u00e9\n\ud83e\udeb5""#.to_string())]
    #[case::a_lone_surrogate(r#""\ud800""#.to_string())]
    fn values_are_built_as_serde_json_builds_them(#[case] text: String) {
        // Written out, so that the order of keys counts too.
        let written = |value: Result<Value, String>| value.map(|v| v.to_string());
        let expected = serde_json::from_str::<serde_json::Value>(&text)
            .map(|v| v.to_string())
            .map_err(|e| e.to_string());
        let from_text = serde_json::from_str::<Value>(&text).map_err(|e| e.to_string());
        assert_eq!(written(from_text), expected, "{text}");
        assert_eq!(written(parse::<Value>(text.as_bytes())), expected, "{text}");
    }

    /// An object of `keys` keys, the third and the fifth written again at
    /// its end with other values, the third twice.
    fn repeated_keys(keys: usize) -> String {
        let mut entries: Vec<String> = (0..keys).map(|i| format!("\"k{i}\": {i}")).collect();
        entries.extend([r#""k2": "again""#, r#""k4": [4]"#, r#""k2": "last""#].map(String::from));
        format!("{{{}}}", entries.join(", "))
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
