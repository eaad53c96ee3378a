//! `convert`: the policy applied to Kubernetes manifests.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::cli::ConvertArgs;
use crate::engine::Runtime;
use crate::error::Failure;
use crate::input::{load_settings, read_text, split_documents};
use crate::policy::{HostSetup, Policy, Role};

/// One YAML document of the input.
struct Document {
    /// Its text as written, given back when the policy leaves it alone.
    text: String,
    /// `None` for a document of comments only.
    object: Option<Value>,
}

pub fn convert(args: &ConvertArgs) -> Result<(), Failure> {
    // Read and check every input before evaluating anything, so bad input
    // never leaves half an output behind.
    let mut documents = Vec::new();
    for source in &args.inputs {
        let text = read_text(source, "manifest file")?;
        for (index, text) in split_documents(&text).into_iter().enumerate() {
            let object = parse_document(&text)
                .map_err(|e| Failure::Input(format!("{source}: document {}: {e}", index + 1)))?;
            documents.push(Document { text, object });
        }
    }

    let settings = rewriting_templates(load_settings(&args.settings)?);
    let setup = HostSetup::load(&args.context)?;
    let runtime = Runtime::new().map_err(Failure::Module)?;
    let (policy, host) = Policy::load(&runtime, &args.policy, args.limits, &setup, Role::Policy)?;
    policy.validate_settings(&settings)?;

    let mut output = Vec::new();
    let mut rejected = 0;
    for (index, document) in documents.iter().enumerate() {
        let converted = match &document.object {
            None => None,
            Some(object) => {
                let request = admission_request(object, &format!("convert-{}", index + 1));
                let label = label(object, index);
                // Every document is evaluated against the recorded cluster
                // as it was: the session starts over for each.
                host.rewind();
                let outcome = policy.validate(&request, &settings);
                if host.consumed() > 0
                    && let Some(warning) = host.leftover_warning()
                {
                    eprintln!("{label}: warning: {warning}");
                }
                match outcome {
                    Ok(response) => {
                        for warning in response.warnings.iter().flatten() {
                            eprintln!("{label}: warning: {warning}");
                        }
                        if response.accepted {
                            response
                                .mutated_object
                                .filter(|mutated| mutated != object)
                                .map(|mutated| in_original_order(mutated, object))
                        } else {
                            rejected += 1;
                            let message = response.message.as_deref().unwrap_or("no message");
                            eprintln!("{label}: rejected: {message}");
                            None
                        }
                    }
                    Err(Failure::Guest(message)) => {
                        rejected += 1;
                        eprintln!("{label}: policy error: {message}");
                        None
                    }
                    Err(other) => return Err(other),
                }
            }
        };
        let text = match converted {
            Some(mutated) => serde_yaml::to_string(&mutated)
                .map_err(|e| Failure::Malformed(format!("cannot write the mutated object: {e}")))?,
            None => document.text.clone(),
        };
        output.push(text);
    }

    // Nothing on standard output when a document is refused, so that
    // `convert ... | kubectl apply -f -` applies nothing.
    if rejected == 0 {
        write_stream(&output)
            .map_err(|e| Failure::Input(format!("cannot write the converted manifests: {e}")))?;
    } else {
        return Err(Failure::Rejected {
            rejected,
            total: documents.iter().filter(|d| d.object.is_some()).count(),
        });
    }
    Ok(())
}

/// The settings with `convertTemplates: true` unless they say otherwise:
/// the manifests of a repository are where a workload's template should
/// change, while the policy in a cluster only reviews templates by default.
fn rewriting_templates(mut settings: Value) -> Value {
    if let Some(fields) = settings.as_object_mut() {
        fields
            .entry("convertTemplates")
            .or_insert(Value::Bool(true));
    }
    settings
}

fn parse_document(text: &str) -> Result<Option<Value>, String> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    match &value {
        Value::Null => Ok(None),
        Value::Object(object)
            if object.get("apiVersion").is_some_and(Value::is_string)
                && object.get("kind").is_some_and(Value::is_string) =>
        {
            Ok(Some(value))
        }
        _ => {
            Err("not a Kubernetes object: a mapping with apiVersion and kind is needed".to_owned())
        }
    }
}

fn write_stream(documents: &[String]) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (index, text) in documents.iter().enumerate() {
        if index > 0 {
            out.write_all(b"---\n")?;
        }
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

/// `Kind/name`, as the document is named in messages.
fn label(object: &Value, index: usize) -> String {
    let kind = str_at(object, "/kind").unwrap_or("Object");
    match str_at(object, "/metadata/name").or_else(|| str_at(object, "/metadata/generateName")) {
        Some(name) => format!("{kind}/{name}"),
        None => format!("{kind}/(document {})", index + 1),
    }
}

/// `mutated` with its keys in the order they have in `original`, keys the
/// policy added coming after them: the policy may serialize objects in any
/// key order, and a converted manifest should read like its source.
fn in_original_order(mutated: Value, original: &Value) -> Value {
    match (mutated, original) {
        (Value::Object(mut mutated), Value::Object(original)) => {
            let mut ordered = Map::new();
            for (key, original_value) in original {
                if let Some(value) = mutated.shift_remove(key) {
                    ordered.insert(key.clone(), in_original_order(value, original_value));
                }
            }
            ordered.extend(mutated);
            Value::Object(ordered)
        }
        (Value::Array(items), Value::Array(original)) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match original.get(i) {
                    Some(original_item) => in_original_order(item, original_item),
                    None => item,
                })
                .collect(),
        ),
        (mutated, _) => mutated,
    }
}

/// The CREATE AdmissionRequest the API server would send for `object`.
pub fn admission_request(object: &Value, uid: &str) -> Value {
    let api_version = str_at(object, "/apiVersion").unwrap_or_default();
    let kind = str_at(object, "/kind").unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": plural(kind)});

    let mut request = Map::new();
    request.insert("uid".into(), json!(uid));
    request.insert("kind".into(), gvk.clone());
    request.insert("resource".into(), gvr.clone());
    request.insert("requestKind".into(), gvk);
    request.insert("requestResource".into(), gvr);
    if let Some(name) = str_at(object, "/metadata/name") {
        request.insert("name".into(), json!(name));
    }
    if let Some(namespace) = str_at(object, "/metadata/namespace") {
        request.insert("namespace".into(), json!(namespace));
    }
    request.insert("operation".into(), json!("CREATE"));
    request.insert("userInfo".into(), json!({"username": "log-sidecar-runner"}));
    request.insert("object".into(), object.clone());
    request.insert("oldObject".into(), Value::Null);
    request.insert("dryRun".into(), json!(false));
    request.insert(
        "options".into(),
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}),
    );
    Value::Object(request)
}

/// The resource name of a kind, by the API's usual pluralisation.
fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_create_request_from_a_manifest() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "web", "namespace": "shop"}});
        let request = admission_request(&pod, "convert-1");
        assert_eq!(
            request["kind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(request["resource"]["resource"], "pods");
        assert_eq!(request["name"], "web");
        assert_eq!(request["namespace"], "shop");
        assert_eq!(request["operation"], "CREATE");
        assert_eq!(request["object"], pod);

        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}});
        let request = admission_request(&deployment, "convert-2");
        assert_eq!(request["kind"]["group"], "apps");
        assert_eq!(request["resource"]["resource"], "deployments");
        assert!(request.get("name").is_none());
    }

    #[test]
    fn convert_rewrites_templates_unless_the_settings_say_otherwise() {
        assert_eq!(
            rewriting_templates(json!({"mode": "mutate"})),
            json!({"mode": "mutate", "convertTemplates": true})
        );
        assert_eq!(
            rewriting_templates(json!({"convertTemplates": false})),
            json!({"convertTemplates": false})
        );
    }

    #[test]
    fn mutated_objects_keep_the_source_key_order() {
        let original: Value = serde_yaml::from_str(
            "kind: Pod\nmetadata:\n  name: a\n  namespace: b\nspec:\n  containers:\n  - name: c\n    image: i\n",
        )
        .unwrap();
        let mutated = json!({
            "kind": "Pod",
            "metadata": {"labels": {"x": "y"}, "name": "a", "namespace": "b"},
            "spec": {"containers": [{"image": "i", "name": "c"}, {"image": "j", "name": "d"}]}
        });
        let ordered = in_original_order(mutated.clone(), &original);
        assert_eq!(ordered, mutated);
        assert_eq!(
            serde_json::to_string(&ordered).unwrap(),
            r#"{"kind":"Pod","metadata":{"name":"a","namespace":"b","labels":{"x":"y"}},"spec":{"containers":[{"name":"c","image":"i"},{"image":"j","name":"d"}]}}"#
        );
    }

    #[test]
    fn pluralises_kinds() {
        assert_eq!(plural("DaemonSet"), "daemonsets");
        assert_eq!(plural("Ingress"), "ingresses");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural("Gateway"), "gateways");
    }

    #[test]
    fn documents_must_be_kubernetes_objects() {
        assert_eq!(parse_document("# only a comment\n").unwrap(), None);
        assert!(
            parse_document("apiVersion: v1\nkind: Pod\n")
                .unwrap()
                .is_some()
        );
        assert!(parse_document("- a\n- b\n").is_err());
        assert!(parse_document("kind: Pod\n").is_err());
        assert!(parse_document("a: [\n").is_err());
    }

    #[test]
    fn labels_name_the_document() {
        let named = json!({"kind": "Pod", "metadata": {"name": "eshop-cart-app"}});
        assert_eq!(label(&named, 0), "Pod/eshop-cart-app");
        let generated = json!({"kind": "Job", "metadata": {"generateName": "run-"}});
        assert_eq!(label(&generated, 0), "Job/run-");
        assert_eq!(label(&json!({"kind": "Pod"}), 2), "Pod/(document 3)");
    }
}
