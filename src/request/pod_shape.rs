//! Checks that the parts of a pod template the policy reads have the JSON
//! types Kubernetes gives them, so that bad input is refused with its path
//! instead of being misread.

use crate::error::PolicyError;
use crate::kube_path::Path;
use crate::name_set::NameSet;
use crate::settings::is_dns_label;
use crate::value::{Map, Value};

/// The container lists the policy reads and writes.
pub const CONTAINER_LISTS: [&str; 2] = ["containers", "initContainers"];

/// Every type problem of a pod template, plus duplicate container names.
pub fn shape_problems(template: &Value, metadata_path: &str, spec_path: &str) -> Vec<PolicyError> {
    let mut problems = Vec::new();
    let mut check = Checker {
        problems: &mut problems,
    };
    let metadata_path = Path::Root(metadata_path);
    if let Some(metadata) = check.object(template.get("metadata"), &metadata_path) {
        let path = metadata_path.field("annotations");
        if let Some(annotations) = check.object(metadata.get("annotations"), &path) {
            for (key, value) in annotations {
                check.string(Some(value), &path.key(key));
            }
        }
    }
    let spec_path = Path::Root(spec_path);
    let Some(spec) = check.object(template.get("spec"), &spec_path) else {
        return problems;
    };
    let mut names = NameSet::default();
    for list in CONTAINER_LISTS {
        let list_path = spec_path.field(list);
        for (i, container) in check.list(spec.get(list), &list_path).iter().enumerate() {
            let path = list_path.index(i);
            check_container(&mut check, container, &path);
            let Some(name) = container.get("name").and_then(Value::as_str) else {
                continue;
            };
            // The API server requires DNS labels, and the policy records
            // converted names in a comma-separated annotation.
            if !name.is_empty() && !is_dns_label(name) {
                check.problems.push(PolicyError::InvalidContainerName {
                    path: path.field("name").to_string(),
                    name: name.to_string(),
                });
            } else if !names.insert(name) {
                check.problems.push(PolicyError::DuplicateContainerName {
                    path: path.field("name").to_string(),
                    name: name.to_string(),
                });
            }
        }
    }
    let volumes_path = spec_path.field("volumes");
    for (i, volume) in check
        .list(spec.get("volumes"), &volumes_path)
        .iter()
        .enumerate()
    {
        let path = volumes_path.index(i);
        if check.element(volume, &path).is_some() {
            check.required_string(volume, &path, "name");
        }
    }
    problems
}

fn check_container(check: &mut Checker, container: &Value, path: &Path) {
    if check.element(container, path).is_none() {
        return;
    }
    check.required_string(container, path, "name");
    check.string(container.get("restartPolicy"), &path.field("restartPolicy"));
    for key in ["command", "args"] {
        let list_path = path.field(key);
        for (i, word) in check
            .list(container.get(key), &list_path)
            .iter()
            .enumerate()
        {
            check.string(Some(word), &list_path.index(i));
        }
    }
    let mounts_path = path.field("volumeMounts");
    for (i, mount) in check
        .list(container.get("volumeMounts"), &mounts_path)
        .iter()
        .enumerate()
    {
        let mount_path = mounts_path.index(i);
        if check.element(mount, &mount_path).is_some() {
            check.required_string(mount, &mount_path, "name");
            check.required_string(mount, &mount_path, "mountPath");
            check.string(mount.get("subPath"), &mount_path.field("subPath"));
            check.string(mount.get("subPathExpr"), &mount_path.field("subPathExpr"));
            check.boolean(mount.get("readOnly"), &mount_path.field("readOnly"));
        }
    }
    let env_path = path.field("env");
    for (i, var) in check
        .list(container.get("env"), &env_path)
        .iter()
        .enumerate()
    {
        let var_path = env_path.index(i);
        if check.element(var, &var_path).is_some() {
            check.required_string(var, &var_path, "name");
        }
    }
    let ports_path = path.field("ports");
    for (i, port) in check
        .list(container.get("ports"), &ports_path)
        .iter()
        .enumerate()
    {
        let port_path = ports_path.index(i);
        if check.element(port, &port_path).is_some() {
            check.integer(port.get("hostPort"), &port_path.field("hostPort"));
            check.string(port.get("protocol"), &port_path.field("protocol"));
            check.string(port.get("hostIP"), &port_path.field("hostIP"));
        }
    }
    check.object(container.get("lifecycle"), &path.field("lifecycle"));
}

/// Records a problem for each value of the wrong type; absent and `null`
/// values are fine (Kubernetes treats them as unset).
struct Checker<'p> {
    problems: &'p mut Vec<PolicyError>,
}

impl Checker<'_> {
    fn wrong(&mut self, path: &Path, expected: &'static str) {
        self.problems.push(PolicyError::WrongType {
            path: path.to_string(),
            expected,
        });
    }

    fn object<'v>(
        &mut self,
        value: Option<&'v Value>,
        path: &Path,
    ) -> Option<&'v Map<String, Value>> {
        match value {
            Some(Value::Object(map)) => Some(map),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.wrong(path, "an object");
                None
            }
        }
    }

    /// An element of a list must be an object: unlike an absent field,
    /// `null` there is an entry (one the API server decodes as empty).
    fn element<'v>(&mut self, value: &'v Value, path: &Path) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            _ => {
                self.wrong(path, "an object");
                None
            }
        }
    }

    fn list<'v>(&mut self, value: Option<&'v Value>, path: &Path) -> &'v [Value] {
        match value {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => &[],
            Some(_) => {
                self.wrong(path, "a list");
                &[]
            }
        }
    }

    fn string(&mut self, value: Option<&Value>, path: &Path) {
        if !matches!(value, None | Some(Value::Null) | Some(Value::String(_))) {
            self.wrong(path, "a string");
        }
    }

    /// A string that must be set: empty counts as missing, as the API
    /// server's "Required value" does.
    fn required_string(&mut self, object: &Value, path: &Path, key: &str) {
        let path = path.field(key);
        match object.get(key) {
            Some(Value::String(text)) if !text.is_empty() => {}
            None | Some(Value::Null | Value::String(_)) => {
                self.problems.push(PolicyError::Missing {
                    path: path.to_string(),
                })
            }
            Some(_) => self.wrong(&path, "a string"),
        }
    }

    fn boolean(&mut self, value: Option<&Value>, path: &Path) {
        if !matches!(value, None | Some(Value::Null) | Some(Value::Bool(_))) {
            self.wrong(path, "true or false");
        }
    }

    fn integer(&mut self, value: Option<&Value>, path: &Path) {
        let whole = value.is_some_and(|v| v.is_i64() || v.is_u64());
        if !(whole || matches!(value, None | Some(Value::Null))) {
            self.wrong(path, "an integer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    fn messages(template: Value) -> Vec<String> {
        shape_problems(&template, "metadata", "spec")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_well_formed_pod_has_no_problems() {
        let pod = json!({
            "metadata": {"annotations": {"a": "b"}},
            "spec": {
                "containers": [{
                    "name": "app", "command": ["sh"], "args": ["-c", "x"],
                    "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": true, "subPath": "s"}],
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}],
                    "lifecycle": {"preStop": {}}
                }],
                "initContainers": null,
                "volumes": [{"name": "v", "emptyDir": {}}]
            }
        });
        assert_eq!(
            messages(pod),
            Vec::<String>::new(),
            "nothing to complain about"
        );
    }

    #[rstest]
    #[case::spec_not_an_object(json!({"spec": []}), "spec must be an object")]
    #[case::containers_not_a_list(json!({"spec": {"containers": {}}}), "spec.containers must be a list")]
    #[case::container_not_an_object(json!({"spec": {"containers": ["app"]}}), "spec.containers[0] must be an object")]
    #[case::container_without_name(json!({"spec": {"initContainers": [{"image": "x"}]}}), "spec.initContainers[0].name is required")]
    #[case::empty_container_name(json!({"spec": {"containers": [{"name": ""}]}}), "spec.containers[0].name is required")]
    #[case::empty_mount_path(json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": ""}]}]}}), "spec.containers[0].volumeMounts[0].mountPath is required")]
    #[case::container_name_not_a_dns_label(json!({"spec": {"containers": [{"name": "Log Tail"}]}}), "spec.containers[0].name: container name \"Log Tail\" is not a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters")]
    #[case::null_container(json!({"spec": {"containers": [{"name": "a"}, null]}}), "spec.containers[1] must be an object")]
    #[case::null_volume_mount(json!({"spec": {"containers": [{"name": "a", "volumeMounts": [null]}]}}), "spec.containers[0].volumeMounts[0] must be an object")]
    #[case::name_not_a_string(json!({"spec": {"containers": [{"name": 3}]}}), "spec.containers[0].name must be a string")]
    #[case::command_not_a_list(json!({"spec": {"containers": [{"name": "a", "command": "tail -F /x"}]}}), "spec.containers[0].command must be a list")]
    #[case::arg_not_a_string(json!({"spec": {"containers": [{"name": "a", "args": ["-F", 1]}]}}), "spec.containers[0].args[1] must be a string")]
    #[case::mounts_not_a_list(json!({"spec": {"containers": [{"name": "a", "volumeMounts": "v"}]}}), "spec.containers[0].volumeMounts must be a list")]
    #[case::mount_without_path(json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"name": "v"}]}]}}), "spec.containers[0].volumeMounts[0].mountPath is required")]
    #[case::read_only_as_string(json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": "true"}]}]}}), "spec.containers[0].volumeMounts[0].readOnly must be true or false")]
    #[case::host_port_as_string(json!({"spec": {"containers": [{"name": "a", "ports": [{"hostPort": "80"}]}]}}), "spec.containers[0].ports[0].hostPort must be an integer")]
    #[case::env_without_name(json!({"spec": {"containers": [{"name": "a", "env": [{"value": "1"}]}]}}), "spec.containers[0].env[0].name is required")]
    #[case::restart_policy_as_bool(json!({"spec": {"containers": [{"name": "a", "restartPolicy": true}]}}), "spec.containers[0].restartPolicy must be a string")]
    #[case::volume_without_name(json!({"spec": {"volumes": [{"emptyDir": {}}]}}), "spec.volumes[0].name is required")]
    #[case::annotation_value_as_number(json!({"metadata": {"annotations": {"n": 1}}}), "metadata.annotations[n] must be a string")]
    #[case::metadata_not_an_object(json!({"metadata": "x"}), "metadata must be an object")]
    #[case::duplicate_name_across_lists(
        json!({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "a"}]}}),
        "spec.initContainers[0].name: container name \"a\" is used more than once"
    )]
    fn bad_shapes_are_reported_with_their_path(#[case] template: Value, #[case] message: &str) {
        assert_eq!(
            messages(template.clone()),
            vec![message.to_string()],
            "checking {template}"
        );
    }

    #[rstest]
    #[case::among_few(4)]
    #[case::as_many_as_the_list_holds(NameSet::FEW)]
    #[case::one_more_so_the_repeats_go_to_the_set(NameSet::FEW + 1)]
    #[case::among_many(3 * NameSet::FEW)]
    fn a_repeated_name_is_found_however_many_containers(#[case] count: usize) {
        let mut containers: Vec<Value> = (0..count)
            .map(|i| json!({"name": format!("c{i}")}))
            .collect();
        containers.push(json!({"name": "c1"}));
        containers.push(json!({"name": format!("c{}", count - 1)}));
        let messages = messages(json!({"spec": {"containers": containers}}));
        assert_eq!(
            messages,
            [
                format!(
                    "spec.containers[{count}].name: container name \"c1\" is used more than once"
                ),
                format!(
                    "spec.containers[{}].name: container name \"c{}\" is used more than once",
                    count + 1,
                    count - 1
                ),
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let pod = json!({"spec": {"containers": [{"name": 1}, {"image": "x"}], "volumes": {}}});
        assert_eq!(
            messages(pod),
            vec![
                "spec.containers[0].name must be a string",
                "spec.containers[1].name is required",
                "spec.volumes must be a list"
            ],
            "all problems at once"
        );
    }
}
