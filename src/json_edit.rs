//! Editing raw JSON in place, so that every field the policy does not mean to
//! change stays exactly as it came.

use serde_json::Value;

/// The value at `key` of a JSON object, set to `empty` first when it is
/// absent or `null`. `None` when `object` is not an object.
pub fn child_or_insert<'a>(
    object: &'a mut Value,
    key: &str,
    empty: Value,
) -> Option<&'a mut Value> {
    let child = object.as_object_mut()?.entry(key).or_insert(Value::Null);
    if child.is_null() {
        *child = empty;
    }
    Some(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
