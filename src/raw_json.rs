//! Reading and editing raw JSON in place, so that every field the policy
//! does not mean to change stays exactly as it came.

use serde_json::{Map, Value};

/// The value at `key` of a JSON object; `None` when absent or when `value`
/// is not an object. Pod specs and containers hold a dozen keys or so, and
/// comparing that many keys costs less than hashing one (serde_json's maps
/// hash with SipHash), so small objects are searched in order.
pub fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object()?.field(key)
}

/// The `metadata.annotations` of an object (a pod template), when they are
/// an object.
pub fn annotations(object: &Value) -> Option<&Map<String, Value>> {
    object.field("metadata")?.field("annotations")?.as_object()
}

/// [`field`] as a method of JSON values and objects.
pub trait Field {
    fn field(&self, key: &str) -> Option<&Value>;
}

impl Field for Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        if self.len() <= SEARCHED_IN_ORDER {
            self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        } else {
            self.get(key)
        }
    }
}

impl Field for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        field(self, key)
    }
}

/// Objects up to this many keys are searched in order by [`field`].
const SEARCHED_IN_ORDER: usize = 12;

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
    fn fields_are_found_in_small_and_large_objects_alike() {
        let small = json!({"a": 1, "b": null});
        let large: Value = (0..3 * SEARCHED_IN_ORDER)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        assert_eq!(field(&small, "a"), Some(&json!(1)));
        assert_eq!(field(&small, "b"), Some(&Value::Null));
        assert_eq!(field(&small, "c"), None);
        assert_eq!(field(&large, "k30"), Some(&json!(30)));
        assert_eq!(field(&large, "k99"), None);
        assert_eq!(field(&json!(["a"]), "a"), None, "not an object");
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
