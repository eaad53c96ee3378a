//! The JSON value the policy reads, changes and writes: serde_json's
//! `Value` in shape and in methods, with objects kept as a list of entries
//! in their order. Pods are made of many small objects; a list of up to
//! 16 entries is built without hashing a key or making a table, and a few
//! keys are found by comparing them in turn. Numbers are serde_json's own.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Number;

#[derive(Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map<String, Value>),
}

/// A JSON object: its entries in order, each key once. Equal to another
/// object with the same entries in any order, as JSON objects are. Generic
/// in name only, as serde_json's is, so that it is written
/// `Map<String, Value>` as before.
#[derive(Clone)]
pub struct Map<K, V> {
    entries: Vec<(K, V)>,
}

// Numbers are never NaN: equality is one.
impl Eq for Value {}
impl Eq for Map<String, Value> {}

static NULL: Value = Value::Null;

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_u64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_u64())
    }

    pub fn is_i64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_i64())
    }

    /// The value, leaving `null` in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

/// `value["key"]`: `null` when absent or not an object, as serde_json reads.
impl std::ops::Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: `null` when out of range or not an array.
impl std::ops::Index<usize> for Value {
    type Output = Value;

    fn index(&self, index: usize) -> &Value {
        self.as_array().and_then(|a| a.get(index)).unwrap_or(&NULL)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Value {
        Value::Number(value.into())
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<Map<String, Value>> for Value {
    fn from(object: Map<String, Value>) -> Value {
        Value::Object(object)
    }
}

/// An object of `entries`, written in place of `json!({...})`.
pub fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(Map::of(entries))
}

/// The same value as serde_json's, for what is handed to serde_json's own
/// deserializers (the settings).
impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(value) => serde_json::Value::Bool(value),
            Value::Number(number) => serde_json::Value::Number(number),
            Value::String(text) => serde_json::Value::String(text),
            Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(Into::into).collect())
            }
            Value::Object(object) => {
                serde_json::Value::Object(object.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

/// Compact JSON, as serde_json's `Value` displays.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// Written as JSON, the form test failures are read in.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(value) => serializer.serialize_bool(*value),
            Value::Number(number) => number.serialize(serializer),
            Value::String(text) => serializer.serialize_str(text),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Map<String, Value> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        Build::default().deserialize(deserializer)
    }
}

impl Map<String, Value> {
    pub fn new() -> Self {
        Map {
            entries: Vec::new(),
        }
    }

    /// The object of `entries`.
    pub fn of<const N: usize>(entries: [(&str, Value); N]) -> Self {
        Map::from_entries(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`; a key already there keeps its place, as in serde_json's
    /// map. The value it had is returned.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.get_mut(&key) {
            Some(old) => Some(std::mem::replace(old, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// The value at `key`, set to `null` at the end first when absent.
    pub fn get_or_insert_null(&mut self, key: &str) -> &mut Value {
        let at = match self.entries.iter().position(|(k, _)| k == key) {
            Some(at) => at,
            None => {
                self.entries.push((key.to_string(), Value::Null));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    /// Removes `key`, the keys after it keeping their order.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    pub fn iter(&self) -> Iter<'_> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Keeps the first place and the last value of each repeated key, as
    /// serde_json's map does, without a quadratic search in large objects.
    fn from_entries(mut entries: Vec<(String, Value)>) -> Self {
        if entries.len() <= COMPARED_IN_TURN {
            let mut at = 1;
            while at < entries.len() {
                match entries[..at].iter().position(|(k, _)| *k == entries[at].0) {
                    Some(first) => {
                        let (_, value) = entries.remove(at);
                        entries[first].1 = value;
                    }
                    None => at += 1,
                }
            }
            return Map { entries };
        }
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        let repeated: Vec<(usize, usize)> = entries
            .iter()
            .enumerate()
            .filter_map(|(at, (key, _))| match first.get(key.as_str()) {
                Some(&place) => Some((place, at)),
                None => {
                    first.insert(key, at);
                    None
                }
            })
            .collect();
        if repeated.is_empty() {
            return Map { entries };
        }
        let mut slots: Vec<Option<(String, Value)>> = entries.into_iter().map(Some).collect();
        for (place, at) in repeated {
            let value = slots[at].take().map(|(_, v)| v).unwrap_or_default();
            if let Some((_, kept)) = &mut slots[place] {
                *kept = value;
            }
        }
        Map {
            entries: slots.into_iter().flatten().collect(),
        }
    }
}

/// Objects up to this many entries are checked for repeated keys, and
/// compared, by comparing keys in turn; larger ones hash their keys.
const COMPARED_IN_TURN: usize = 16;

impl Default for Map<String, Value> {
    fn default() -> Self {
        Map::new()
    }
}

impl PartialEq for Map<String, Value> {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.len() <= COMPARED_IN_TURN {
            return self.iter().all(|(k, v)| other.get(k) == Some(v));
        }
        let theirs: HashMap<&str, &Value> = other.iter().map(|(k, v)| (k.as_str(), v)).collect();
        self.iter().all(|(k, v)| theirs.get(k.as_str()) == Some(&v))
    }
}

impl fmt::Debug for Map<String, Value> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl FromIterator<(String, Value)> for Map<String, Value> {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(entries: I) -> Self {
        Map::from_entries(entries.into_iter().collect())
    }
}

/// As inserting each entry in turn, without a search of the object per
/// entry.
impl Extend<(String, Value)> for Map<String, Value> {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, entries: I) {
        let mut all = std::mem::take(&mut self.entries);
        all.extend(entries);
        *self = Map::from_entries(all);
    }
}

pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Value)>,
    fn(&'a (String, Value)) -> (&'a String, &'a Value),
>;

pub type IterMut<'a> = std::iter::Map<
    std::slice::IterMut<'a, (String, Value)>,
    fn(&'a mut (String, Value)) -> (&'a String, &'a mut Value),
>;

impl IntoIterator for Map<String, Value> {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map<String, Value> {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<'a> IntoIterator for &'a mut Map<String, Value> {
    type Item = (&'a String, &'a mut Value);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }
}

/// Builds a [`Value`] from any serde deserializer (its `Deserialize`); the
/// entries of the objects being read wait on one stack, so that each
/// object's list is made once at its final size.
#[derive(Default)]
struct Build<'s> {
    entries: Option<&'s mut Vec<(String, Value)>>,
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.entries {
            Some(entries) => deserializer.deserialize_any(BuildVisitor { entries }),
            None => deserializer.deserialize_any(BuildVisitor {
                entries: &mut Vec::new(),
            }),
        }
    }
}

struct BuildVisitor<'s> {
    entries: &'s mut Vec<(String, Value)>,
}

impl<'de> Visitor<'de> for BuildVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Build {
            entries: Some(&mut *self.entries),
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.entries.len();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Build {
                entries: Some(&mut *self.entries),
            })?;
            self.entries.push((key, value));
        }
        Ok(Value::Object(Map::from_entries(
            self.entries.drain(start..).collect(),
        )))
    }
}

/// `serde_json::json!`, as a [`Value`]: for tests.
#[cfg(test)]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::value::Value::from(serde_json::json!($($json)+))
    };
}

#[cfg(test)]
pub(crate) use json;

/// `value["key"] = ...` in tests, as serde_json allows it: `null` becomes
/// an object; anything else but an object panics.
#[cfg(test)]
impl std::ops::IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        let Value::Object(object) = self else {
            panic!("cannot index {self} with \"{key}\"");
        };
        if !object.contains_key(key) {
            object.insert(key.to_string(), Value::Null);
        }
        object.get_mut(key).expect("inserted")
    }
}

#[cfg(test)]
impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(value) => Value::Bool(value),
            serde_json::Value::Number(number) => Value::Number(number),
            serde_json::Value::String(text) => Value::String(text),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Into::into).collect())
            }
            serde_json::Value::Object(object) => {
                Value::Object(object.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn numbered(keys: usize) -> Value {
        (0..keys)
            .map(|i| (format!("k{i}"), Value::from(i as u64)))
            .collect::<Map<_, _>>()
            .into()
    }

    #[rstest]
    #[case::in_a_small_object(3)]
    #[case::in_a_large_object(40)]
    fn fields_are_found_and_changed_by_their_key(#[case] keys: usize) {
        let mut object = numbered(keys);
        assert_eq!(object.get("k2"), Some(&Value::from(2)));
        assert_eq!(object.get("missing"), None);
        *object.get_mut("k2").expect("k2") = "two".into();
        assert_eq!(object["k2"], "two");
        assert_eq!(object.get_mut("missing"), None);
        assert_eq!(Value::Array(vec![]).get("k2"), None, "not an object");
    }

    #[test]
    fn a_key_set_again_keeps_its_place() {
        let mut object = Map::of([("a", 1u64.into()), ("b", 2u64.into())]);
        assert_eq!(
            object.insert("a".to_string(), 3u64.into()),
            Some(1u64.into())
        );
        assert_eq!(object.insert("c".to_string(), 4u64.into()), None);
        assert_eq!(Value::Object(object).to_string(), r#"{"a":3,"b":2,"c":4}"#);
    }

    #[test]
    fn entries_added_at_once_are_set_as_one_by_one() {
        let mut object = Map::of([("a", 1u64.into()), ("b", 2u64.into())]);
        object.extend([
            ("c".to_string(), 3u64.into()),
            ("a".to_string(), 4u64.into()),
            ("c".to_string(), 5u64.into()),
        ]);
        assert_eq!(Value::Object(object).to_string(), r#"{"a":4,"b":2,"c":5}"#);
    }

    #[test]
    fn a_missing_key_is_added_as_null_at_the_end() {
        let mut object = Map::of([("a", 1u64.into())]);
        assert_eq!(object.get_or_insert_null("a"), &Value::from(1u64));
        assert!(object.get_or_insert_null("b").is_null());
        assert_eq!(Value::Object(object).to_string(), r#"{"a":1,"b":null}"#);
    }

    #[test]
    fn a_removed_key_leaves_the_others_in_order() {
        let mut object = Map::of([("a", 1u64.into()), ("b", 2u64.into()), ("c", 3u64.into())]);
        assert_eq!(object.shift_remove("a"), Some(1u64.into()));
        assert_eq!(object.shift_remove("a"), None);
        assert_eq!(Value::Object(object).to_string(), r#"{"b":2,"c":3}"#);
    }

    #[rstest]
    #[case::in_a_small_object(5)]
    #[case::in_a_large_object(40)]
    fn repeated_keys_keep_their_first_place_and_last_value(#[case] keys: usize) {
        let entries = (0..keys)
            .map(|i| (format!("k{i}"), Value::from(i as u64)))
            .chain([
                ("k1".to_string(), "again".into()),
                ("k1".to_string(), "last".into()),
            ]);
        let object: Map<String, Value> = entries.collect();
        assert_eq!(object.len(), keys);
        assert_eq!(object.keys().nth(1).map(String::as_str), Some("k1"));
        assert_eq!(object.get("k1"), Some(&"last".into()));
    }

    #[test]
    fn objects_are_equal_whatever_the_order_of_their_keys() {
        let ab = object([("a", 1u64.into()), ("b", true.into())]);
        let ba = object([("b", true.into()), ("a", 1u64.into())]);
        assert_eq!(ab, ba);
        assert_ne!(ab, object([("a", 1u64.into())]));
        assert_ne!(ab, object([("a", 1u64.into()), ("b", false.into())]));
    }

    #[rstest]
    #[case::compared_in_turn(16)]
    #[case::through_a_table(17)]
    #[case::large(40)]
    fn large_objects_are_equal_whatever_the_order_of_their_keys(#[case] keys: usize) {
        let forward = numbered(keys);
        let backward: Map<String, Value> = forward
            .as_object()
            .expect("an object")
            .clone()
            .into_iter()
            .rev()
            .collect();
        assert_eq!(forward, Value::Object(backward.clone()));
        let mut changed = backward;
        changed.insert("k0".to_string(), "other".into());
        assert_ne!(forward, Value::Object(changed));
    }

    #[test]
    fn values_are_written_and_handed_over_as_serde_json_writes_them() {
        let text = r#"{"z":[1,-2,2.5,null,true,"\u0007é"],"a":{"":{}}}"#;
        let ours: Value = serde_json::from_str(text).expect("JSON");
        let theirs: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(ours.to_string(), theirs.to_string());
        assert_eq!(format!("{ours:?}"), theirs.to_string());
        assert_eq!(
            serde_json::Value::from(ours).to_string(),
            theirs.to_string()
        );
    }

    #[test]
    fn indexing_what_is_not_there_reads_null() {
        let value = numbered(2);
        assert!(value["missing"].is_null());
        assert!(value[0].is_null(), "not an array");
        assert_eq!(Value::Array(vec!["x".into()])[0], "x");
        assert!(Value::Array(vec![])[3].is_null());
    }
}
