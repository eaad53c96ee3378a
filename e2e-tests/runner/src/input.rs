//! Reading requests, settings and manifests.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::Failure;
use crate::request::admission_request;

/// Where the settings come from, as with kwctl's `--settings-json` and
/// `--settings-path`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SettingsSource {
    #[default]
    Empty,
    Json(String),
    Path(String),
}

/// Reads a file, or standard input for `-`.
pub fn read_text(path: &str, what: &str) -> Result<String, Failure> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Input(format!("cannot read {what} from stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("cannot read {what} {path}: {e}")))
}

/// Reads a file, or standard input for `-`, as bytes.
pub fn read_bytes(path: &str, what: &str) -> Result<Vec<u8>, Failure> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Input(format!("cannot read {what} from stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| Failure::Input(format!("cannot read {what} {path}: {e}")))
}

/// Parses JSON, or YAML when it is not JSON.
pub fn parse_json_or_yaml(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(json_err) => serde_yaml::from_str(text).map_err(|yaml_err| {
            if text.trim_start().starts_with(['{', '[']) {
                json_err.to_string()
            } else {
                yaml_err.to_string()
            }
        }),
    }
}

/// The AdmissionRequest of a request file (JSON or YAML): the file's
/// AdmissionRequest, or the `request` of its AdmissionReview, checked and
/// rebuilt as kwctl does (see `request.rs`).
pub fn load_request(path: &str) -> Result<Value, Failure> {
    let text = read_text(path, "request file")?;
    let value = parse_json_or_yaml(&text)
        .map_err(|e| Failure::Input(format!("cannot parse request file {path}: {e}")))?;
    admission_request(value).map_err(|refusal| Failure::Request(refusal.to_string()))
}

/// The settings as a JSON object; no settings and `null` both give `{}`.
pub fn load_settings(source: &SettingsSource) -> Result<Value, Failure> {
    let value = match source {
        SettingsSource::Empty => Value::Null,
        SettingsSource::Json(json) => serde_json::from_str(json)
            .map_err(|e| Failure::Input(format!("cannot parse settings JSON: {e}")))?,
        SettingsSource::Path(path) => {
            let text = read_text(path, "settings file")?;
            let is_json = Path::new(path)
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
            let parsed = if is_json {
                serde_json::from_str(&text).map_err(|e| e.to_string())
            } else {
                serde_yaml::from_str(&text).map_err(|e| e.to_string())
            };
            parsed.map_err(|e| Failure::Input(format!("cannot parse settings file {path}: {e}")))?
        }
    };
    match value {
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        object @ Value::Object(_) => Ok(object),
        _ => Err(Failure::Input(
            "settings must be a JSON object (a YAML mapping)".to_owned(),
        )),
    }
}

/// Splits a multi-document YAML stream into the text of each document, on
/// `---` lines. Text after `---` on the same line starts the next document;
/// `...` (end of document) lines are dropped. Nothing is parsed here, so
/// each document's text, comments included, can be given back unchanged.
pub fn split_documents(text: &str) -> Vec<String> {
    let mut documents = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = bare.strip_prefix("---")
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            documents.push(std::mem::take(&mut current));
            let rest = rest.trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                current.push_str(rest);
                current.push('\n');
            }
            continue;
        }
        if bare == "..." {
            continue;
        }
        current.push_str(line);
    }
    documents.push(current);
    // A stream opening with `---` leaves an empty first piece; a blank piece
    // is not a document.
    documents.retain(|doc| !doc.trim().is_empty());
    documents
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_may_be_yaml() {
        let value = parse_json_or_yaml("uid: x\nobject:\n  kind: Pod\n").unwrap();
        assert_eq!(value, json!({"uid": "x", "object": {"kind": "Pod"}}));
        assert!(parse_json_or_yaml("{\"uid\": ").is_err());
    }

    /// Every request file the e2e suites send through `run` must be one
    /// kwctl accepts, so that only what a test is about can be wrong.
    #[test]
    fn every_request_fixture_is_a_complete_admission_request() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data");
        let mut checked = 0;
        for dir in ["", "e2e", "malformed"] {
            let entries = std::fs::read_dir(data.join(dir)).expect("a fixture directory");
            for entry in entries {
                let path = entry.expect("an entry").path();
                if path.extension().is_some_and(|ext| ext == "json") {
                    let path = path.to_string_lossy();
                    if let Err(failure) = load_request(&path) {
                        panic!("{path}: {failure}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 40, "only {checked} fixtures found");
    }

    #[test]
    fn a_request_file_kwctl_refuses_is_refused_with_its_message() {
        let path = std::env::temp_dir().join(format!("runner-request-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}}"#,
        )
        .unwrap();
        let refused = load_request(&path.to_string_lossy());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            refused,
            Err(Failure::Request(
                "cannot build AdmissionRequest object from given input: missing field `resource`"
                    .to_owned()
            ))
        );
    }

    #[test]
    fn settings_default_to_an_empty_object() {
        assert_eq!(load_settings(&SettingsSource::Empty).unwrap(), json!({}));
        let null = SettingsSource::Json("null".into());
        assert_eq!(load_settings(&null).unwrap(), json!({}));
        let list = SettingsSource::Json("[1]".into());
        assert!(load_settings(&list).is_err());
        let bad = SettingsSource::Json("{".into());
        assert!(matches!(load_settings(&bad), Err(Failure::Input(_))));
    }

    #[test]
    fn splits_documents_on_separator_lines() {
        let text = "---\n# first\na: 1\n---\nb: 2\n...\n--- # note\nc: |\n  ---not a separator\n";
        assert_eq!(
            split_documents(text),
            vec!["# first\na: 1\n", "b: 2\n", "c: |\n  ---not a separator\n"]
        );
    }

    #[test]
    fn content_after_the_separator_starts_the_next_document() {
        assert_eq!(
            split_documents("a: 1\n--- {b: 2}\n"),
            vec!["a: 1\n", "{b: 2}\n"]
        );
    }

    #[test]
    fn single_document_and_empty_stream() {
        assert_eq!(split_documents("a: 1"), vec!["a: 1"]);
        assert!(split_documents("---\n\n---\n").is_empty());
        assert_eq!(split_documents("----\n"), vec!["----\n"]);
    }
}
