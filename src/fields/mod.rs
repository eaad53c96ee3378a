//! Field checks: fields the API server would drop, and keys the schema does not
//! know.

pub mod dropped_fields;
pub mod field_checks;
pub mod unknown_fields;
