//! Which Kubernetes resources a module may read, decided as kwctl decides:
//! with `--allow-context-aware`, exactly the `contextAwareResources` of the
//! module's own metadata; without it, none.
//!
//! kwctl reads a module's metadata from its `io.kubewarden.metadata` custom
//! section, the JSON `kwctl annotate` writes there. A module without the
//! section is not annotated and gets no access. The runner may take the
//! metadata of an unannotated module from a policy-metadata.yml instead
//! (`--metadata-path`, runner-only); the section wins when there is one.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::error::Failure;

/// The custom section `kwctl annotate` writes.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// A Kubernetes resource type a policy may read (kwctl's
/// `ContextAwareResource`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// The part of kwctl's policy `Metadata` the runner needs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
}

/// The metadata of the module `wasm`, from its `io.kubewarden.metadata`
/// section; `None` when the module is not annotated.
pub fn module_metadata(wasm: &[u8]) -> Result<Option<Metadata>, String> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| e.to_string())?;
        if let wasmparser::Payload::CustomSection(reader) = payload
            && reader.name() == METADATA_SECTION
        {
            return serde_json::from_slice(reader.data())
                .map(Some)
                .map_err(|e| format!("invalid {METADATA_SECTION} section: {e}"));
        }
    }
    Ok(None)
}

/// The metadata in a policy-metadata.yml (YAML or JSON).
pub fn metadata_file(path: &str) -> Result<Metadata, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("cannot read metadata file {path}: {e}")))?;
    serde_yaml::from_str(&text)
        .map_err(|e| Failure::Input(format!("cannot parse metadata file {path}: {e}")))
}

/// The context-aware options of `run`, `bench` and `convert`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextAwareArgs {
    /// `--allow-context-aware`.
    pub allow: bool,
    /// `--replay-host-capabilities-interactions FILE`.
    pub replay: Option<String>,
    /// `--metadata-path FILE` (runner-only).
    pub metadata_path: Option<String>,
}

/// What a module may read, and what to say about it on stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grant {
    pub allowed: BTreeSet<ContextAwareResource>,
    /// kwctl's warnings and notes, in the order kwctl logs them.
    pub notes: Vec<String>,
}

/// kwctl's rules (`build_context_aware_allowed_resources` in kwctl's
/// `command/run/evaluator.rs`): without `--allow-context-aware` nothing is
/// granted, with a warning when the metadata asks for resources; with it,
/// the metadata's `contextAwareResources`, or nothing for a module without
/// metadata.
pub fn grant(allow: bool, metadata: Option<&Metadata>) -> Grant {
    let mut notes = Vec::new();
    let allowed = match (allow, metadata) {
        (false, metadata) => {
            if metadata.is_some_and(|m| !m.context_aware_resources.is_empty()) {
                notes.push(
                    "warning: Policy requires access to Kubernetes resources at evaluation time. \
                     During this execution the access to Kubernetes resources is denied. \
                     This can cause the policy to not behave properly"
                        .to_owned(),
                );
                notes.push(
                    "warning: Carefully review which types of Kubernetes resources the policy \
                     needs via the `inspect` command, then run the policy using the \
                     `--allow-context-aware` flag."
                        .to_owned(),
                );
            }
            BTreeSet::new()
        }
        (true, Some(metadata)) => metadata.context_aware_resources.clone(),
        (true, None) => {
            notes.push(
                "info: Policy is not annotated, access to Kubernetes resources is not allowed"
                    .to_owned(),
            );
            BTreeSet::new()
        }
    };
    Grant { allowed, notes }
}

/// The metadata that decides a module's access: its section, else the
/// `--metadata-path` file when one is given.
pub fn effective_metadata(
    annotation: Option<Metadata>,
    metadata_path: Option<&str>,
) -> Result<Option<Metadata>, Failure> {
    match (annotation, metadata_path) {
        (Some(metadata), _) => Ok(Some(metadata)),
        (None, Some(path)) => metadata_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads the whole module file: used once to read its metadata section.
pub fn read_module(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::Module(format!("cannot read policy module {}: {e}", path.display())))
}

/// `wasm` with a custom section appended: how `kwctl annotate` stores the
/// metadata. For tests.
#[cfg(test)]
pub fn with_custom_section(mut wasm: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    wasm.push(0);
    leb128(body.len(), &mut wasm);
    wasm.extend(body);
    wasm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest module: the magic number and the version.
    const EMPTY_MODULE: [u8; 8] = [0, b'a', b's', b'm', 1, 0, 0, 0];

    fn node() -> ContextAwareResource {
        ContextAwareResource {
            api_version: "v1".into(),
            kind: "Node".into(),
        }
    }

    const ANNOTATION: &str = r#"{"protocolVersion":"v1","rules":[],"mutating":true,"contextAwareResources":[{"apiVersion":"v1","kind":"Node"}],"executionMode":"kubewarden-wapc","annotations":{"io.kubewarden.policy.title":"t"}}"#;

    #[test]
    fn reads_the_metadata_section_of_an_annotated_module() {
        let wasm = with_custom_section(
            EMPTY_MODULE.to_vec(),
            METADATA_SECTION,
            ANNOTATION.as_bytes(),
        );
        let metadata = module_metadata(&wasm).unwrap().unwrap();
        assert_eq!(metadata.context_aware_resources, BTreeSet::from([node()]));
    }

    #[test]
    fn a_plain_module_has_no_metadata() {
        assert_eq!(module_metadata(&EMPTY_MODULE).unwrap(), None);
        let other = with_custom_section(EMPTY_MODULE.to_vec(), "producers", b"\0");
        assert_eq!(module_metadata(&other).unwrap(), None);
    }

    #[test]
    fn an_annotation_without_resources_grants_none() {
        let wasm = with_custom_section(
            EMPTY_MODULE.to_vec(),
            METADATA_SECTION,
            br#"{"protocolVersion":"v1","rules":[],"mutating":false}"#,
        );
        let metadata = module_metadata(&wasm).unwrap().unwrap();
        assert!(metadata.context_aware_resources.is_empty());
        assert!(grant(true, Some(&metadata)).allowed.is_empty());
    }

    #[test]
    fn a_broken_section_is_an_error() {
        let wasm = with_custom_section(EMPTY_MODULE.to_vec(), METADATA_SECTION, b"{");
        assert!(
            module_metadata(&wasm)
                .unwrap_err()
                .starts_with("invalid io.kubewarden.metadata section")
        );
        assert!(module_metadata(b"not wasm").is_err());
    }

    #[test]
    fn grants_follow_kwctl() {
        let metadata = Metadata {
            context_aware_resources: BTreeSet::from([node()]),
        };
        let allowed = grant(true, Some(&metadata));
        assert_eq!(allowed.allowed, BTreeSet::from([node()]));
        assert!(allowed.notes.is_empty());

        let denied = grant(false, Some(&metadata));
        assert!(denied.allowed.is_empty());
        assert_eq!(denied.notes.len(), 2);
        assert!(denied.notes[1].contains("`--allow-context-aware`"));

        let plain = grant(true, None);
        assert!(plain.allowed.is_empty());
        assert_eq!(
            plain.notes,
            ["info: Policy is not annotated, access to Kubernetes resources is not allowed"]
        );

        assert_eq!(grant(false, None), Grant::default());
    }

    #[test]
    fn reads_policy_metadata_files() {
        let path = std::env::temp_dir().join(format!("access-metadata-{}.yml", std::process::id()));
        std::fs::write(
            &path,
            "rules: []\nmutating: true\ncontextAwareResources:\n- apiVersion: v1\n  kind: Node\n",
        )
        .unwrap();
        let path_text = path.to_str().unwrap();
        let metadata = effective_metadata(None, Some(path_text)).unwrap().unwrap();
        assert_eq!(metadata.context_aware_resources, BTreeSet::from([node()]));
        // The module's own section wins over the file.
        let metadata = effective_metadata(Some(Metadata::default()), Some(path_text))
            .unwrap()
            .unwrap();
        assert!(metadata.context_aware_resources.is_empty());
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            effective_metadata(None, Some(path_text)),
            Err(Failure::Input(_))
        ));
        assert_eq!(effective_metadata(None, None).unwrap(), None);
    }
}
