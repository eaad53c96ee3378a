//! Properties of the `validate` entry point over generated pods and
//! workloads: it always answers, its mutation is idempotent, keeps every
//! value it does not have to move, yields a pod the API server accepts, and
//! validate mode rejects exactly what mutate mode would change.
//!
//! The generators build objects that exercise the conversion (streaming
//! sidecars sharing a volume with an app, with and without their mount,
//! subPaths, the policy's annotations, already native sidecars), then
//! sprinkle unknown keys at every level and, in some cases, replace values
//! with junk. The number of cases is fixed so that `cargo test` stays short.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{ScriptedHost, fixture, respond, respond_to_bytes, respond_with_host};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

/// Cases per property; `PROPTEST_CASES=N` runs more (or fewer).
const CASES: u32 = 128;

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const VOLUMES: [&str; 3] = ["logs", "data", "spool"];
const DIRS: [&str; 3] = ["/var/log", "/var/log/app", "/data"];
const FILES: [&str; 3] = ["app.log", "x.log", "app/err.log"];
const SUB_PATHS: [&str; 2] = ["app", "logs"];
const UNKNOWN_KEYS: [&str; 4] = ["futureField", "xExtra", "x-custom", "imagePullSecretz"];
const KINDS: [(&str, &str); 11] = [
    ("Pod", "CREATE"),
    ("Pod", "CREATE"),
    ("Pod", "CREATE"),
    ("Pod", "CREATE"),
    ("Pod", "CREATE"),
    ("Pod", "UPDATE"),
    ("Deployment", "CREATE"),
    ("Deployment", "UPDATE"),
    ("StatefulSet", "CREATE"),
    ("CronJob", "CREATE"),
    ("ConfigMap", "CREATE"),
];
const TEST_DATA: [&str; 12] = [
    "pod_eshop_cart_app_sidecar_without_mount.json",
    "pod_eshop_cart_app_sidecar_with_mount.json",
    "pod_upstream_counter_two_streaming_sidecars.json",
    "pod_already_converted.json",
    "pod_converted_sidecar_lost_restart_policy.json",
    "pod_tailing_init_container_without_restart_policy.json",
    "pod_annotation_declares_a_log_shipper.json",
    "pod_sidecar_follows_by_descriptor.json",
    "deployment_with_streaming_sidecar.json",
    "cronjob_with_streaming_sidecar.json",
    "pod_log_file_private_to_the_app.json",
    "pod_sidecar_mounts_another_volume.json",
];

/// Any JSON value, small.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z/ ,.-]{0,12}".prop_map(Value::from),
        Just(json!("tail -F /var/log/app.log")),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Mostly the shared `logs` volume at `/var/log`, the setup that converts.
fn volume_index() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0), 1 => 1..VOLUMES.len()]
}

fn dir_index() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0), 1 => 1..DIRS.len()]
}

fn mount() -> impl Strategy<Value = Value> {
    (
        volume_index(),
        dir_index(),
        prop::option::weighted(0.2, 0..SUB_PATHS.len()),
        any::<bool>(),
    )
        .prop_map(|(volume, dir, sub_path, read_only)| {
            let mut mount = json!({"name": VOLUMES[volume], "mountPath": DIRS[dir]});
            if let Some(sub) = sub_path {
                mount["subPath"] = json!(SUB_PATHS[sub]);
            }
            if read_only {
                mount["readOnly"] = json!(true);
            }
            mount
        })
}

/// A command line that follows `file` with tail, in the ways people write it.
fn tail_command(variant: usize, file: &str) -> (Value, Option<Value>) {
    match variant {
        0 => (json!(["sh", "-c", format!("tail -n+1 -F {file}")]), None),
        1 => (
            json!(["/bin/sh", "-c", format!("tail -n +1 -F {file}")]),
            None,
        ),
        2 => (json!(["tail", "-F", file]), None),
        3 => (json!(["tail"]), Some(json!(["-n+1", "-F", file]))),
        4 => (json!(["bash", "-c", format!("tail -f {file}")]), None),
        5 => (json!(["tail", "--follow=name", "--retry", file]), None),
        7 => (
            json!(["/bin/sh", "-c"]),
            Some(json!([format!("tail -n+1 -f {file}\n")])),
        ),
        8 => (json!(["tail", "-qfn", "+1", file]), None),
        9 => (json!(["tail", "-f", "/dev/null"]), None),
        _ => (
            json!(["sh", "-c", format!("tail -F {file} | grep x")]),
            None,
        ),
    }
}

/// Fields that make a sidecar refused, or that the conversion must keep.
fn sidecar_extra() -> impl Strategy<Value = Option<(&'static str, Value)>> {
    prop::option::weighted(
        0.25,
        prop_oneof![
            Just(("restartPolicy", json!("Always"))),
            Just(("restartPolicy", json!("OnFailure"))),
            Just(("startupProbe", json!({"exec": {"command": ["true"]}}))),
            Just((
                "lifecycle",
                json!({"postStart": {"exec": {"command": ["true"]}}})
            )),
            Just(("ports", json!([{"containerPort": 80, "hostPort": 8080}]))),
            Just((
                "resizePolicy",
                json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}])
            )),
            Just(("env", json!([{"name": "POD", "value": "x"}]))),
        ],
    )
}

#[derive(Debug, Clone, Copy)]
enum Role {
    App,
    Sidecar,
    Plain,
}

fn container(role: Role) -> impl Strategy<Value = Value> {
    let mounts = match role {
        // An app mostly mounts a log volume; a sidecar mostly lacks one.
        Role::App => prop::collection::vec(mount(), 1..3).boxed(),
        _ => prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(mount(), 1..3)].boxed(),
    };
    (
        0..10usize,
        dir_index(),
        0..FILES.len(),
        mounts,
        sidecar_extra(),
    )
        .prop_map(move |(variant, dir, file, mounts, extra)| {
            let mut container = json!({"image": "busybox"});
            match role {
                Role::App => {
                    container["command"] = json!([
                        "sh",
                        "-c",
                        format!(
                            "while :; do date >> {}/{}; sleep 1; done",
                            DIRS[dir], FILES[file]
                        )
                    ]);
                }
                Role::Sidecar => {
                    let (command, args) =
                        tail_command(variant, &format!("{}/{}", DIRS[dir], FILES[file]));
                    container["command"] = command;
                    if let Some(args) = args {
                        container["args"] = args;
                    }
                }
                Role::Plain => container["command"] = json!(["sh", "-c", "echo ready"]),
            }
            if !mounts.is_empty() {
                container["volumeMounts"] = Value::Array(mounts);
            }
            if let Some((key, value)) = extra
                && (!matches!(role, Role::App) || key == "ports")
            {
                container[key] = value;
            }
            container
        })
}

/// A pod template: apps and streaming sidecars in `containers`, plain,
/// tailing and native init containers, volumes, the policy's annotations.
fn template() -> impl Strategy<Value = Value> {
    let containers = prop::collection::vec(
        prop_oneof![
            3 => container(Role::App).prop_map(|c| ("app", c)),
            3 => container(Role::Sidecar).prop_map(|c| ("sidecar", c)),
            1 => container(Role::Plain).prop_map(|c| ("plain", c)),
        ],
        0..6,
    );
    let init_containers = prop::collection::vec(
        prop_oneof![
            container(Role::Plain).prop_map(|c| ("init", c)),
            container(Role::Sidecar).prop_map(|mut c| {
                c["restartPolicy"] = json!("Always");
                ("native", c)
            }),
            container(Role::Sidecar).prop_map(|c| ("tailer", c)),
        ],
        0..3,
    );
    let volumes = prop::collection::vec(prop::bool::weighted(0.85), VOLUMES.len());
    let listed = prop::collection::vec(any::<Index>(), 0..3);
    let flags = (
        prop::option::weighted(0.1, Just("false")),
        prop::option::weighted(0.1, any::<Index>()),
        prop::option::weighted(0.05, (any::<Index>(), any::<Index>())),
        any::<bool>(),
    );
    (containers, init_containers, volumes, listed, flags).prop_map(
        |(containers, init_containers, volumes, listed, (native, converted, duplicate, ghost))| {
            let mut names = Vec::new();
            let mut named = |list: Vec<(&str, Value)>| -> Vec<Value> {
                list.into_iter()
                    .map(|(role, mut c)| {
                        let name = format!("{role}-{}", names.len());
                        c.as_object_mut()
                            .expect("a container")
                            .insert("name".into(), json!(name));
                        names.push(name);
                        c
                    })
                    .collect()
            };
            let mut containers = named(containers);
            let init_containers = named(init_containers);
            if let Some((from, to)) = duplicate
                && !containers.is_empty()
            {
                let name = names[from.index(names.len())].clone();
                let i = to.index(containers.len());
                containers[i]["name"] = json!(name);
            }
            let mut annotations = Map::new();
            if !names.is_empty() && !listed.is_empty() {
                let mut value: Vec<&str> = listed
                    .iter()
                    .map(|i| names[i.index(names.len())].as_str())
                    .collect();
                if ghost && value.len() > 2 {
                    value.push("ghost");
                }
                annotations.insert("log-sidecar.io/containers".into(), json!(value.join(", ")));
            }
            if let Some(native) = native {
                annotations.insert("log-sidecar.io/native".into(), json!(native));
            }
            if let Some(converted) = converted
                && !names.is_empty()
            {
                let name = &names[converted.index(names.len())];
                annotations.insert("log-sidecar.io/converted".into(), json!(name));
            }
            let volumes: Vec<Value> = VOLUMES
                .iter()
                .zip(volumes)
                .filter(|(_, present)| *present)
                .map(|(name, _)| json!({"name": name, "emptyDir": {}}))
                .collect();
            let mut spec = Map::new();
            spec.insert("containers".into(), Value::Array(containers));
            if !init_containers.is_empty() {
                spec.insert("initContainers".into(), Value::Array(init_containers));
            }
            if !volumes.is_empty() {
                spec.insert("volumes".into(), Value::Array(volumes));
            }
            let mut metadata = json!({"labels": {"app": "shop"}});
            if !annotations.is_empty() {
                metadata["annotations"] = Value::Object(annotations);
            }
            json!({"metadata": metadata, "spec": spec})
        },
    )
}

/// A pod template that converts cleanly: apps writing to a shared `logs`
/// volume (with or without a subPath), and sidecars streaming from it with
/// the same mount, or none.
fn convertible_template() -> impl Strategy<Value = Value> {
    let sidecar = (
        prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 7, 8]),
        0..FILES.len(),
        0..3usize,
        any::<bool>(),
    );
    (
        prop::option::weighted(0.3, 0..SUB_PATHS.len()),
        1..3usize,
        prop::collection::vec(sidecar, 1..3),
        prop::collection::vec(any::<bool>(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(sub, apps, sidecars, inits, listed, extra_volume)| {
            let mut app_mount = json!({"name": "logs", "mountPath": "/var/log"});
            if let Some(sub) = sub {
                app_mount["subPath"] = json!(SUB_PATHS[sub]);
            }
            let mut containers: Vec<Value> = (0..apps)
                .map(|i| {
                    json!({"name": format!("app-{i}"), "image": "shop",
                           "volumeMounts": [app_mount.clone()]})
                })
                .collect();
            let mut names = Vec::new();
            for (i, (variant, file, mount, read_only)) in sidecars.into_iter().enumerate() {
                let name = format!("sidecar-{i}");
                let (command, args) = tail_command(variant, &format!("/var/log/{}", FILES[file]));
                let mut c = json!({"name": name, "image": "busybox", "command": command});
                if let Some(args) = args {
                    c["args"] = args;
                }
                match mount {
                    0 => {}
                    1 => {
                        let mut m = app_mount.clone();
                        if read_only {
                            m["readOnly"] = json!(true);
                        }
                        c["volumeMounts"] = json!([m]);
                    }
                    _ => c["volumeMounts"] = json!([{"name": "spool", "mountPath": "/spool"}]),
                }
                containers.insert(i % (containers.len() + 1), c);
                names.push(name);
            }
            let init_containers: Vec<Value> = inits
                .into_iter()
                .enumerate()
                .map(|(i, native)| {
                    if native {
                        json!({"name": format!("native-{i}"), "image": "busybox",
                               "restartPolicy": "Always",
                               "command": ["tail", "-F", "/var/log/app.log"],
                               "volumeMounts": [app_mount.clone()]})
                    } else {
                        json!({"name": format!("init-{i}"), "image": "busybox",
                               "command": ["sh", "-c", "echo setup"]})
                    }
                })
                .collect();
            let mut volumes = vec![json!({"name": "logs", "emptyDir": {}})];
            if extra_volume {
                volumes.push(json!({"name": "spool", "emptyDir": {"medium": "Memory"}}));
            }
            let mut template = json!({
                "metadata": {"labels": {"app": "shop"}},
                "spec": {"containers": containers, "volumes": volumes},
            });
            if !init_containers.is_empty() {
                template["spec"]["initContainers"] = Value::Array(init_containers);
            }
            if listed {
                template["metadata"]["annotations"] =
                    json!({"log-sidecar.io/containers": names.join(",")});
            }
            template
        })
}

/// Where the pod template of `kind` is, as a JSON pointer.
fn template_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "",
        "CronJob" => "/spec/jobTemplate/spec/template",
        _ => "/spec/template",
    }
}

fn wrap(kind: &str, template: Value) -> Value {
    match kind {
        "Pod" | "ConfigMap" => {
            let mut pod = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "p"}});
            let map = pod.as_object_mut().expect("an object");
            for (key, value) in template.as_object().expect("a template") {
                if key == "metadata" {
                    for (k, v) in value.as_object().expect("metadata") {
                        map["metadata"][k] = v.clone();
                    }
                } else {
                    map.insert(key.clone(), value.clone());
                }
            }
            pod
        }
        "CronJob" => json!({
            "apiVersion": "batch/v1", "kind": kind, "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
        }),
        _ => json!({
            "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"},
            "spec": {"selector": {"matchLabels": {"app": "shop"}}, "template": template}
        }),
    }
}

/// Every JSON pointer in `value`, the root first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Adds unknown keys to objects picked anywhere in `object`.
fn add_unknown_keys(object: &mut Value, keys: &[(Index, usize, Value)]) {
    for (at, key, value) in keys {
        let mut all = Vec::new();
        pointers(object, String::new(), &mut all);
        let objects: Vec<String> = all
            .into_iter()
            .filter(|p| object.pointer(p).is_some_and(Value::is_object))
            .collect();
        let pointer = &objects[at.index(objects.len())];
        if let Some(map) = object.pointer_mut(pointer).and_then(Value::as_object_mut) {
            map.insert(UNKNOWN_KEYS[*key].to_string(), value.clone());
        }
    }
}

/// Replaces values picked anywhere below the root of `object` with junk.
fn add_junk(object: &mut Value, junk: &[(Index, Value)]) {
    for (at, value) in junk {
        let mut all = Vec::new();
        pointers(object, String::new(), &mut all);
        all.retain(|p| !p.is_empty());
        if all.is_empty() {
            return;
        }
        if let Some(slot) = object.pointer_mut(&all[at.index(all.len())]) {
            *slot = value.clone();
        }
    }
}

fn settings() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::option::weighted(0.2, any::<bool>()),
        prop::option::weighted(0.2, any::<bool>()),
        prop_oneof![6 => Just("1.33"), 1 => Just("1.28"), 1 => Just("1.30")],
        prop::option::weighted(0.15, Just(json!(["sidecar-1", "app-2"]))),
        prop::option::weighted(0.1, Just("logs.example.com")),
        prop::option::weighted(0.2, any::<bool>()),
        prop::option::weighted(0.6, any::<bool>()),
    )
        .prop_map(
            |(first, add_mounts, shared, detect, version, names, prefix, rewrite, templates)| {
                let mut settings = json!({
                    "unknownFields": "ignore",
                    "placement": if first { "first" } else { "last" },
                    "addVolumeMounts": add_mounts,
                    "kubernetesVersion": version,
                });
                if let Some(shared) = shared {
                    settings["createSharedVolume"] = json!(shared);
                }
                if let Some(detect) = detect {
                    settings["detectStreamingSidecars"] = json!(detect);
                }
                if let Some(names) = names {
                    settings["sidecarNames"] = names;
                }
                if let Some(prefix) = prefix {
                    settings["annotationPrefix"] = json!(prefix);
                }
                if let Some(rewrite) = rewrite {
                    settings["rewriteFollow"] = json!(rewrite);
                }
                if let Some(templates) = templates {
                    settings["convertTemplates"] = json!(templates);
                }
                settings
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    request: Value,
    /// Mutate-mode settings.
    settings: Value,
}

impl Case {
    fn object(&self) -> &Value {
        &self.request["object"]
    }

    fn with_object(&self, object: Value) -> Value {
        let mut request = self.request.clone();
        request["object"] = object;
        request
    }

    fn settings_in(&self, mode: &str) -> Value {
        let mut settings = self.settings.clone();
        settings["mode"] = json!(mode);
        settings
    }
}

fn request(kind: &str, operation: &str, object: Value) -> Value {
    json!({
        "uid": "0f0b7c3e-0000-4000-8000-000000000000",
        "kind": {"group": "", "version": "v1", "kind": kind},
        "operation": operation,
        "object": object,
        "oldObject": null,
    })
}

/// Generated objects, or the fixtures of `test_data/`, with unknown keys
/// and, one time in four, junk values.
fn case() -> impl Strategy<Value = Case> {
    let source = prop_oneof![
        3 => (0..KINDS.len(), prop_oneof![template(), convertible_template()]).prop_map(|(k, t)| {
            let (kind, operation) = KINDS[k];
            (kind, request(kind, operation, wrap(kind, t)))
        }),
        1 => (0..TEST_DATA.len()).prop_map(|i| {
            let request = fixture(TEST_DATA[i]);
            let kind = match request["kind"]["kind"].as_str() {
                Some("Pod") => "Pod",
                Some("CronJob") => "CronJob",
                _ => "Deployment",
            };
            (kind, request)
        }),
    ];
    let unknown = prop::collection::vec((any::<Index>(), 0..UNKNOWN_KEYS.len(), junk()), 0..4);
    let junk = prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec((any::<Index>(), junk()), 1..3),
    ];
    (source, unknown, junk, settings()).prop_map(
        |((kind, mut request), unknown, junk, settings)| {
            add_unknown_keys(&mut request["object"], &unknown);
            add_junk(&mut request["object"], &junk);
            Case {
                kind,
                request,
                settings,
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------

/// Checks the answer is a ValidationResponse and returns it.
fn answer(request: &Value, settings: &Value) -> Value {
    let response = respond(request, settings.clone());
    assert_well_formed(&response);
    response
}

fn assert_well_formed(response: &Value) {
    let accepted = response["accepted"]
        .as_bool()
        .unwrap_or_else(|| panic!("no verdict in {response}"));
    if !accepted {
        let message = response["message"].as_str().unwrap_or_default();
        assert!(
            !message.trim().is_empty(),
            "a rejection without a reason: {response}"
        );
        assert!(
            response["mutated_object"].is_null(),
            "a rejection that mutates: {response}"
        );
    }
}

fn mutated(response: &Value) -> Option<&Value> {
    Some(&response["mutated_object"]).filter(|o| !o.is_null())
}

fn list<'v>(template: &'v Value, key: &str) -> &'v [Value] {
    template["spec"][key].as_array().map_or(&[], Vec::as_slice)
}

fn name(container: &Value) -> &str {
    container["name"].as_str().unwrap_or_default()
}

fn annotation_names(template: &Value, key: &str) -> BTreeSet<String> {
    template["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

fn volume_names(template: &Value) -> HashSet<&str> {
    list(template, "volumes").iter().map(name).collect()
}

/// Whether `new` is `old` turned into a native sidecar: the same JSON plus
/// `restartPolicy: Always` and read-only mounts of existing volumes appended.
fn is_converted_from(old: &Value, new: &Value, volumes: &HashSet<&str>) -> bool {
    if !matches!(old["restartPolicy"].as_str(), None | Some("Always"))
        || new["restartPolicy"] != json!("Always")
    {
        return false;
    }
    let mut expected = old.clone();
    expected["restartPolicy"] = json!("Always");
    for key in ["command", "args"] {
        if follow_rewritten(&old[key], &new[key]) {
            expected[key] = new[key].clone();
        }
    }
    appended_mounts(old, new, volumes, true) && {
        if !new["volumeMounts"].is_null() {
            expected["volumeMounts"] = new["volumeMounts"].clone();
        }
        expected == *new
    }
}

/// Whether the strings of `new` are those of `old` with tail's follow
/// options that do not retry rewritten to `-F`, and nothing else changed.
fn follow_rewritten(old: &Value, new: &Value) -> bool {
    let (Some(old), Some(new)) = (old.as_array(), new.as_array()) else {
        return false;
    };
    let word_rewritten = |old: &str, new: &str| {
        old == new
            || (new == "-F"
                && ["-f", "--follow", "--follow=name", "--follow=descriptor"].contains(&old))
            || (old.starts_with('-') && !old.starts_with("--") && old.replacen('f', "F", 1) == new)
    };
    old.len() == new.len()
        && old != new
        && old
            .iter()
            .zip(new)
            .all(|(old, new)| match (old.as_str(), new.as_str()) {
                (Some(old), Some(new)) => {
                    let (old, new): (Vec<&str>, Vec<&str>) =
                        (old.split(' ').collect(), new.split(' ').collect());
                    old.len() == new.len()
                        && old.iter().zip(&new).all(|(o, n)| word_rewritten(o, n))
                }
                _ => old == new,
            })
}

/// Whether `new`'s mounts are `old`'s with mounts of existing volumes
/// appended (read-only ones when `read_only`).
fn appended_mounts(old: &Value, new: &Value, volumes: &HashSet<&str>, read_only: bool) -> bool {
    let before = old["volumeMounts"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let Some(after) = new["volumeMounts"].as_array() else {
        return before.is_empty();
    };
    after.len() >= before.len()
        && after[..before.len()] == *before
        && after[before.len()..].iter().all(|m| {
            let keys_ok = m.as_object().is_some_and(|m| {
                m.keys().all(|k| {
                    ["name", "mountPath", "subPath", "subPathExpr", "readOnly"]
                        .contains(&k.as_str())
                })
            });
            keys_ok
                && volumes.contains(name(m))
                && m["mountPath"].is_string()
                && (!read_only || m["readOnly"] == json!(true))
        })
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// 1. Every payload gets an answer: raw bytes, any JSON, any settings.
    #[test]
    fn every_payload_gets_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..64), value in junk(), settings in junk()) {
        assert_well_formed(&respond_to_bytes(&bytes));
        assert_well_formed(&respond(&value, settings.clone()));
        let payload = serde_json::to_vec(&json!({"request": value, "settings": settings})).unwrap();
        assert_well_formed(&respond_to_bytes(&payload));
        let answer = log_sidecar_policy::settings::validate_settings(&bytes).expect("an answer");
        let answer: Value = serde_json::from_slice(&answer).expect("JSON");
        prop_assert!(answer["valid"].is_boolean());
    }

    /// 1. Every generated request gets an answer, in both modes, whatever the settings.
    #[test]
    fn every_request_gets_an_answer(case in case(), settings in junk()) {
        answer(&case.request, &case.settings_in("mutate"));
        answer(&case.request, &case.settings_in("validate"));
        answer(&case.request, &settings);
    }

    /// 2. Idempotence: the mutated object, fed back, is accepted unchanged.
    #[test]
    fn mutation_is_idempotent(case in case()) {
        let settings = case.settings_in("mutate");
        let first = answer(&case.request, &settings);
        if let Some(object) = mutated(&first) {
            let second = answer(&case.with_object(object.clone()), &settings);
            prop_assert_eq!(&second["accepted"], &json!(true), "fed back: {}", second);
            prop_assert!(mutated(&second).is_none_or(|again| again == object), "changed again: {}", second);
        }
    }

    /// 3. Preservation: the output is the input with the declared sidecars
    /// moved verbatim (plus restartPolicy and added mounts) and the
    /// `converted` annotation; the host's patch removes nothing else.
    #[test]
    fn mutation_keeps_every_value(case in case()) {
        let settings = case.settings_in("mutate");
        let response = answer(&case.request, &settings);
        let Some(output) = mutated(&response) else { return Ok(()); };
        let input = case.object();
        let at = template_pointer(case.kind);
        let (tin, tout) = (input.pointer(at).expect("template"), output.pointer(at).expect("template"));

        // Volumes: kept, new ones only appended.
        let (vin, vout) = (list(tin, "volumes"), list(tout, "volumes"));
        prop_assert!(vout.len() >= vin.len() && vout[..vin.len()] == *vin, "volumes changed");
        // A mount the policy adds names a volume of the output, or one the
        // input's containers already mount (when that volume is missing,
        // the input was already invalid, and stays so).
        let mut volumes = volume_names(tout);
        volumes.extend(list(tin, "containers").iter().flat_map(|c| list_of(c, "volumeMounts")).map(name));
        let new_volumes: HashSet<&str> = vout[vin.len()..].iter().map(name).collect();

        // Regular containers: a subsequence of the input's; an app may only
        // gain a mount of a volume the policy created.
        let (cin, cout) = (list(tin, "containers"), list(tout, "containers"));
        let mut moved = Vec::new();
        let mut kept = cout.iter().peekable();
        for c in cin {
            match kept.peek() {
                Some(next) if name(next) == name(c) => {
                    prop_assert!(*next == c || appended_mounts(c, next, &new_volumes, false),
                        "container {} changed: {} -> {}", name(c), c, next);
                    kept.next();
                }
                _ => moved.push(c),
            }
        }
        prop_assert!(kept.next().is_none(), "containers reordered or invented");

        // Init containers: the input's, each unchanged or restored, with the
        // moved sidecars inserted in one block, in order.
        let (iin, iout) = (list(tin, "initContainers"), list(tout, "initContainers"));
        prop_assert_eq!(iout.len(), iin.len() + moved.len());
        let placement_first = settings["placement"] == json!("first");
        let mut restored = Vec::new();
        let others: Vec<&Value> = {
            // Last: after every init container. First: before the first
            // regular one, which follows the block in the output.
            let at = if placement_first {
                iout.iter()
                    .position(|c| c["restartPolicy"] != json!("Always"))
                    .map_or(iin.len(), |p| p.saturating_sub(moved.len()))
            } else {
                iin.len()
            };
            for (m, c) in moved.iter().zip(&iout[at..at + moved.len()]) {
                prop_assert!(is_converted_from(m, c, &volumes), "moved sidecar {} -> {}", m, c);
            }
            iout[..at].iter().chain(&iout[at + moved.len()..]).collect()
        };
        for (old, new) in iin.iter().zip(others) {
            if old != new {
                prop_assert!(is_converted_from(old, new, &volumes), "init container {} -> {}", old, new);
                restored.push(name(new).to_string());
            }
        }

        // Annotations: the input's, plus the converted names.
        let prefix = settings["annotationPrefix"].as_str().unwrap_or("log-sidecar.io");
        let key = format!("{prefix}/converted");
        let mut ain = tin["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
        let aout = tout["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
        let converted = annotation_names(tout, &key);
        let mut expected_names = annotation_names(tin, &key);
        expected_names.extend(moved.iter().map(|c| name(c).to_string()));
        expected_names.extend(restored.iter().cloned());
        prop_assert_eq!(&converted, &expected_names);
        ain.remove(&key);
        let mut others_out = aout.clone();
        others_out.remove(&key);
        prop_assert_eq!(ain, others_out);

        // Nothing else differs, key order included.
        let mut expected = input.clone();
        {
            let template = expected.pointer_mut(at).expect("template");
            let spec = template["spec"].as_object_mut().expect("spec");
            for key in ["containers", "initContainers", "volumes"] {
                if !tout["spec"][key].is_null() {
                    spec.insert(key.to_string(), tout["spec"][key].clone());
                }
            }
            let template = template.as_object_mut().expect("template");
            let metadata = template.entry("metadata").or_insert_with(|| json!({}));
            if metadata.is_null() {
                *metadata = json!({});
            }
            let metadata = metadata.as_object_mut().expect("metadata");
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            *annotations = Value::Object(aout);
        }
        prop_assert_eq!(serde_json::to_string(&expected).unwrap(), serde_json::to_string(output).unwrap());

        // The host's patch removes nothing outside the two container lists.
        let patch = json_patch::diff(input, output);
        let allowed = [format!("{at}/spec/containers/"), format!("{at}/spec/initContainers/")];
        for op in serde_json::to_value(&patch).unwrap().as_array().unwrap() {
            if op["op"] == json!("remove") {
                let path = op["path"].as_str().unwrap_or_default();
                prop_assert!(allowed.iter().any(|a| path.starts_with(a.as_str())), "patch removes {}", path);
            }
        }
        let mut patched = input.clone();
        json_patch::patch(&mut patched, &patch).expect("the patch applies");
        prop_assert_eq!(&patched, output);
    }

    /// 4. The output is a pod the API server accepts, as far as these rules go.
    #[test]
    fn mutation_yields_a_valid_pod(case in case()) {
        let settings = case.settings_in("mutate");
        let response = answer(&case.request, &settings);
        let Some(output) = mutated(&response) else { return Ok(()); };
        let at = template_pointer(case.kind);
        let (tin, tout) = (case.object().pointer(at).unwrap(), output.pointer(at).unwrap());
        let all = |t: &'_ Value| -> Vec<Value> {
            list(t, "containers").iter().chain(list(t, "initContainers")).cloned().collect()
        };

        let names: Vec<String> = all(tout).iter().map(|c| name(c).to_string()).collect();
        let unique: HashSet<&String> = names.iter().collect();
        prop_assert_eq!(unique.len(), names.len(), "duplicate container names: {:?}", names);

        let mounts_resolve = |t: &Value| {
            let volumes = volume_names(t);
            all(t).iter().all(|c| list_of(c, "volumeMounts").iter().all(|m| volumes.contains(name(m))))
        };
        if mounts_resolve(tin) {
            prop_assert!(mounts_resolve(tout), "a mount names a missing volume: {}", tout);
        }
        let paths_unique = |t: &Value| all(t).iter().all(|c| {
            let paths: Vec<&Value> = list_of(c, "volumeMounts").iter().map(|m| &m["mountPath"]).collect();
            paths.iter().collect::<HashSet<_>>().len() == paths.len()
        });
        if paths_unique(tin) {
            prop_assert!(paths_unique(tout), "a container mounts twice at one path: {}", tout);
        }
        if !list(tin, "containers").is_empty() {
            prop_assert!(!list(tout, "containers").is_empty(), "no regular container left");
        }
        // The converted annotation is a comma-separated list: it can only
        // be read back when names are container names, as the API server
        // requires anyway.
        if !all(tin).iter().all(|c| log_sidecar_policy::settings::is_dns_label(name(c))) {
            return Ok(());
        }
        let prefix = settings["annotationPrefix"].as_str().unwrap_or("log-sidecar.io");
        for sidecar in annotation_names(tout, &format!("{prefix}/converted")) {
            if let Some(c) = list(tout, "initContainers").iter().find(|c| name(c) == sidecar) {
                prop_assert_eq!(&c["restartPolicy"], &json!("Always"), "{} is not native", sidecar);
            } else {
                prop_assert!(annotation_names(tin, &format!("{prefix}/converted")).contains(&sidecar),
                    "{} recorded as converted but not an init container", sidecar);
            }
        }
    }

    /// 5. Validate mode accepts what mutate mode produced, and rejects
    /// exactly what mutate mode would change (or rejects).
    #[test]
    fn validate_mode_agrees_with_mutate_mode(case in case()) {
        let mutate = answer(&case.request, &case.settings_in("mutate"));
        let validate = answer(&case.request, &case.settings_in("validate"));
        prop_assert!(mutated(&validate).is_none(), "validate mode mutated: {}", validate);
        let unchanged = mutate["accepted"] == json!(true) && mutated(&mutate).is_none();
        prop_assert_eq!(validate["accepted"] == json!(true), unchanged,
            "mutate: {}\nvalidate: {}", mutate, validate);
        if let Some(object) = mutated(&mutate) {
            let again = answer(&case.with_object(object.clone()), &case.settings_in("validate"));
            prop_assert_eq!(&again["accepted"], &json!(true), "validate mode refuses the mutated object: {}", again);
        }
    }
}

/// What a host may answer about nodes: lists of new and old kubelets, one
/// node, huge lists, junk of every type, and errors.
fn node_answer() -> impl Strategy<Value = (Result<Value, String>, bool)> {
    let version = prop_oneof![
        Just(json!("v1.33.2")),
        Just(json!("v1.29.4-gke.1043002")),
        Just(json!("v1.28.3-eks-4f4795d")),
        Just(json!("banana")),
        junk(),
    ];
    let node = (0..50usize, version).prop_map(|(i, version)| {
        json!({"metadata": {"name": format!("node-{i}")}, "status": {"nodeInfo": {"kubeletVersion": version}}})
    });
    prop_oneof![
        3 => prop::collection::vec(node.clone(), 0..6).prop_map(|items| Ok(json!({"items": items}))),
        1 => node.clone().prop_map(Ok),
        1 => (1000..3000usize).prop_map(|n| {
            let items: Vec<Value> = (0..n)
                .map(|i| json!({"metadata": {"name": format!("n{i}")}, "status": {"nodeInfo": {"kubeletVersion": "v1.33.0"}}}))
                .collect();
            Ok(json!({"items": items}))
        }),
        2 => junk().prop_map(Ok),
        1 => Just(Err("Policy has not been granted access to Kubernetes v1/Node resources".to_string())),
    ]
    .prop_flat_map(|answer| (Just(answer), any::<bool>()))
}

/// Whether a node answer names a node whose kubelet is not 1.29 or later.
fn has_old_node(answer: &Result<Value, String>) -> bool {
    let Ok(answer) = answer else { return false };
    let items = match answer.get("items") {
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return false,
        None => return false,
    };
    let new = |v: &Value| {
        v.as_str()
            .is_some_and(|v| v.starts_with("v1.33") || v.starts_with("v1.29"))
    };
    // A version that is neither a string nor null makes the answer
    // malformed, and then kubernetesVersion decides.
    let readable = |item: &Value| {
        item.is_object()
            && matches!(
                item["status"]["nodeInfo"]["kubeletVersion"],
                Value::String(_) | Value::Null
            )
    };
    items.iter().all(readable)
        && items
            .iter()
            .any(|item| !new(&item["status"]["nodeInfo"]["kubeletVersion"]))
}

proptest! {
    #![proptest_config(config())]

    /// 6. Whatever the host answers about nodes, the policy answers, and
    /// nothing becomes native where a candidate node is too old.
    #[test]
    fn every_node_answer_gets_an_answer((answer, reject) in node_answer(), case in case()) {
        let old = has_old_node(&answer);
        let host = ScriptedHost::new(answer);
        let mut settings = case.settings_in("mutate");
        settings["sidecarSupport"] = json!("detect");
        settings["fallback"] = json!(if reject { "reject" } else { "legacy" });
        let response = respond_with_host(&case.request, settings, &host);
        assert_well_formed(&response);
        if old
            && !host.calls.borrow().is_empty()
            && let Some(output) = mutated(&response)
        {
            let at = template_pointer(case.kind);
            let before = list(case.object().pointer(at).expect("template"), "initContainers")
                .iter().filter(|c| c["restartPolicy"] == json!("Always")).count();
            let after = list(output.pointer(at).expect("template"), "initContainers")
                .iter().filter(|c| c["restartPolicy"] == json!("Always")).count();
            prop_assert_eq!(before, after, "a sidecar became native on an old node: {}", response);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// 7. The dual form is stable: fed back, in either mode and with either
    /// fallback, it is accepted and changes nothing; and it keeps a regular
    /// container for every sidecar it makes native.
    #[test]
    fn dual_output_is_stable(case in case()) {
        let mut settings = case.settings_in("mutate");
        settings["fallback"] = json!("dual");
        settings["kubernetesVersion"] = json!("1.28");
        let first = answer(&case.request, &settings);
        let Some(output) = mutated(&first) else { return Ok(()); };
        let at = template_pointer(case.kind);
        let template = output.pointer(at).expect("template");
        let prefix = settings["annotationPrefix"].as_str().unwrap_or("log-sidecar.io");
        let pairs = annotation_names(template, &format!("{prefix}/dual"));
        for pair in &pairs {
            let (native, legacy) = pair.split_once('=').expect("NATIVE=LEGACY");
            prop_assert!(list(template, "initContainers").iter().any(|c| name(c) == native), "{}", first);
            prop_assert!(list(template, "containers").iter().any(|c| name(c) == legacy), "{}", first);
        }
        for mode in ["mutate", "validate"] {
            let mut again = settings.clone();
            again["mode"] = json!(mode);
            let second = answer(&case.with_object(output.clone()), &again);
            prop_assert_eq!(&second["accepted"], &json!(true), "{} fed back: {}", mode, second);
            prop_assert!(mutated(&second).is_none_or(|o| o == output), "{} changed it again: {}", mode, second);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// 8. Injection is stable: the pod with its injected streamers, fed
    /// back, is accepted unchanged in both modes, and it is a valid pod.
    #[test]
    fn injection_is_stable(case in case(), file in 0..FILES.len(), named in any::<bool>()) {
        let at = template_pointer(case.kind);
        let mut request = case.request.clone();
        let prefix = case.settings["annotationPrefix"].as_str().unwrap_or("log-sidecar.io").to_string();
        let Some(template) = request["object"].pointer_mut(at).filter(|t| t.is_object()) else { return Ok(()); };
        let entry = format!("/var/log/{}", FILES[file]);
        let entry = if named { format!("streamer={entry}") } else { entry };
        let metadata = &mut template["metadata"];
        if !metadata.is_object() { *metadata = json!({}); }
        let annotations = &mut metadata["annotations"];
        if !annotations.is_object() { *annotations = json!({}); }
        annotations[format!("{prefix}/stream")] = json!(entry);
        let settings = case.settings_in("mutate");
        let first = answer(&request, &settings);
        let Some(output) = mutated(&first) else { return Ok(()); };
        let names: Vec<&str> = list(output.pointer(at).expect("template"), "containers").iter()
            .chain(list(output.pointer(at).expect("template"), "initContainers")).map(name).collect();
        let unique: HashSet<&&str> = names.iter().collect();
        prop_assert_eq!(unique.len(), names.len(), "duplicate names: {}", first);
        request["object"] = output.clone();
        for mode in ["mutate", "validate"] {
            let again = answer(&request, &case.settings_in(mode));
            prop_assert_eq!(&again["accepted"], &json!(true), "{} fed back: {}", mode, again);
            prop_assert!(mutated(&again).is_none_or(|o| o == output), "{} changed it again: {}", mode, again);
        }
    }
}

fn list_of<'v>(container: &'v Value, key: &str) -> &'v [Value] {
    container[key].as_array().map_or(&[], Vec::as_slice)
}

/// The generators reach the conversion often enough for the properties
/// above to mean something.
#[test]
fn generated_cases_exercise_the_conversion() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let (mut mutated_count, mut rejected, total) = (0, 0, 300);
    for _ in 0..total {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let response = answer(&case.request, &case.settings_in("mutate"));
        if mutated(&response).is_some() {
            mutated_count += 1;
        } else if response["accepted"] == json!(false) {
            rejected += 1;
        }
    }
    assert!(
        mutated_count * 5 >= total,
        "only {mutated_count} of {total} cases converted"
    );
    assert!(
        rejected * 10 >= total,
        "only {rejected} of {total} cases rejected"
    );
}
