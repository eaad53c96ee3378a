//! The dual form: a log sidecar injected twice, as a native sidecar and as a
//! regular container, that agree at run time, through a file in a memory
//! volume, which of them streams. It works whether or not the node runs
//! native sidecars:
//!
//! - with support, the native form's first run records that it ran and
//!   exits 0; the kubelet restarts it at once, and the second run records
//!   that it runs natively and streams; the app starts after it, and the
//!   legacy form, seeing the record, idles;
//! - without support, the native form is a plain init container: its one run
//!   records and exits 0, the app starts, and the legacy form, finding no
//!   record of a native run, streams.

use std::collections::HashSet;

use crate::conversion::change::Change;
use crate::settings::is_dns_label;
use crate::sidecars::log_sidecars::name;
use crate::value::{Map, Value, object};

/// Where the two forms keep their records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVolume {
    pub name: String,
    pub mount_path: String,
}

/// The memory volume's size: a couple of empty files per sidecar.
const STATE_SIZE_LIMIT: &str = "1Mi";

impl StateVolume {
    /// A volume name that no volume of the pod has, and a mount path that no
    /// mount of `containers` has or lies under.
    pub fn free(volumes: &[Value], containers: &[&Value]) -> StateVolume {
        let name = first_free("log-sidecar-state", |candidate| {
            volumes.iter().any(|v| name(v) == candidate)
        });
        let mount_paths: Vec<&str> = containers
            .iter()
            .flat_map(|c| {
                c.get("volumeMounts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter_map(|m| m.get("mountPath").and_then(Value::as_str))
            .map(|p| p.trim_end_matches('/'))
            .collect();
        // The same path would be a duplicate mount; a parent of another
        // mount would stand between it and its volume's files for nothing.
        // Below another mount is fine: the kubelet mounts the deeper last.
        // Each candidate can be refused by at most one path, so this ends.
        let taken = |candidate: &str| {
            mount_paths.iter().any(|path| {
                *path == candidate
                    || path
                        .strip_prefix(candidate)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        let mount_path = first_free("/run/log-sidecar-state", taken);
        StateVolume { name, mount_path }
    }

    pub fn volume(&self) -> Value {
        object([
            ("name", self.name.as_str().into()),
            (
                "emptyDir",
                object([
                    ("medium", "Memory".into()),
                    ("sizeLimit", STATE_SIZE_LIMIT.into()),
                ]),
            ),
        ])
    }

    fn mount(&self) -> Value {
        object([
            ("name", self.name.as_str().into()),
            ("mountPath", self.mount_path.as_str().into()),
        ])
    }
}

/// `base`, or `base-2`, `base-3`... the first that is not `taken`.
fn first_free(base: &str, taken: impl Fn(&str) -> bool) -> String {
    (1..)
        .map(|n| match n {
            1 => base.to_string(),
            n => format!("{base}-{n}"),
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_default()
}

/// The name of the legacy form of `sidecar`: `NAME-legacy`, shortened to a
/// DNS label when needed, and never one of `taken`.
pub fn legacy_name(sidecar: &str, taken: impl Fn(&str) -> bool) -> String {
    (1..)
        .map(|n| {
            let suffix = match n {
                1 => "-legacy".to_string(),
                n => format!("-legacy-{n}"),
            };
            let keep = sidecar.len().min(63 - suffix.len());
            format!("{}{suffix}", sidecar[..keep].trim_end_matches('-'))
        })
        .find(|candidate| is_dns_label(candidate) && !taken(candidate))
        .unwrap_or_default()
}

/// The argv the kubelet runs for `container`: `command` then `args`. Without
/// `command` the image's entrypoint runs, which is unknown here: `args` is
/// taken as the argv only when it starts with a shell or `tail`.
pub fn argv(container: &Value) -> Option<Vec<Value>> {
    let strings = |key| -> Option<Vec<Value>> {
        match container.get(key) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => items.iter().all(Value::is_string).then(|| items.clone()),
            Some(_) => None,
        }
    };
    let (command, args) = (strings("command")?, strings("args")?);
    if command.is_empty() {
        let program = args.first()?.as_str()?;
        let base = program.rsplit('/').next().unwrap_or(program);
        if !matches!(base, "sh" | "bash" | "tail") {
            return None;
        }
    }
    Some(command.into_iter().chain(args).collect())
}

/// The native form's script: the first run records and exits 0, later runs
/// record that they run natively and run the sidecar's own argv (`"$@"`).
fn native_script(dir: &str, sidecar: &str) -> String {
    format!(
        "if [ -e {dir}/{sidecar}.ran ]; then : > {dir}/{sidecar}.native; exec \"$@\"; fi; \
         : > {dir}/{sidecar}.ran"
    )
}

/// The legacy form's script: idle when the native form runs natively (until
/// stopped in a pod that restarts its containers, at once otherwise, so that
/// a Job completes), else run the sidecar's own argv.
fn legacy_script(dir: &str, sidecar: &str, restarts_always: bool) -> String {
    let idle = if restarts_always {
        "trap 'exit 0' TERM INT; sleep 2147483647 & wait; exit 0"
    } else {
        "exit 0"
    };
    format!("if [ -e {dir}/{sidecar}.native ]; then {idle}; fi; exec \"$@\"")
}

/// `container` with its argv wrapped in `script`, passed byte for byte as
/// the script's positional parameters, and the state volume mounted. The
/// wrapper takes the place of `command` (or of `args`, when there was no
/// `command`), so that the other keys keep their order.
fn wrapped(container: &Value, script: String, argv: &[Value], state: &StateVolume) -> Value {
    let sidecar = name(container).to_string();
    let mut command = vec!["/bin/sh".into(), "-c".into(), script.into(), sidecar.into()];
    command.extend(argv.iter().cloned());
    let source = container.as_object().cloned().unwrap_or_default();
    let had_command = !matches!(source.get("command"), None | Some(Value::Null));
    // Collected, not inserted one by one: a repeated `command` keeps the
    // first place, and a container of many keys costs no quadratic search.
    let mut out: Map<String, Value> = source
        .into_iter()
        .filter_map(|(key, value)| match key.as_str() {
            "command" => Some((key, Value::Array(command.clone()))),
            "args" if had_command => None,
            "args" => Some(("command".to_string(), Value::Array(command.clone()))),
            _ => Some((key, value)),
        })
        .collect();
    if !out.contains_key("command") {
        out.insert("command".to_string(), Value::Array(command));
    }
    let mut out = Value::Object(out);
    if let Some(Value::Array(mounts)) =
        crate::raw_json::child_or_insert(&mut out, "volumeMounts", Value::Array(Vec::new()))
    {
        mounts.push(state.mount());
    }
    out
}

/// The two forms of a converted sidecar (`native`, already carrying
/// `restartPolicy: Always` and its log mounts): the native form, and the
/// legacy form named `legacy`. `None` when its argv cannot be known.
pub fn dual_forms(
    native: &Value,
    legacy: &str,
    state: &StateVolume,
    restarts_always: bool,
) -> Option<(Value, Value)> {
    let argv = argv(native)?;
    let sidecar = name(native);
    let native_form = wrapped(
        native,
        native_script(&state.mount_path, sidecar),
        &argv,
        state,
    );
    let mut legacy_form = wrapped(
        native,
        legacy_script(&state.mount_path, sidecar, restarts_always),
        &argv,
        state,
    );
    if let Some(object) = legacy_form.as_object_mut() {
        object.shift_remove("restartPolicy");
        object.insert("name".to_string(), legacy.into());
    }
    Some((native_form, legacy_form))
}

/// The dual pairs made in one pod template, and what they share.
pub struct DualPairs {
    state: StateVolume,
    restarts_always: bool,
    /// Every container name of the pod, and the legacy names given so far.
    taken: HashSet<String>,
    reason: String,
    /// The native halves of pairs recorded before: never split again.
    recorded: HashSet<String>,
    /// (native, legacy) names, in the order they were made.
    pub pairs: Vec<(String, String)>,
}

impl DualPairs {
    /// `reason`: why this pod's sidecars run in dual form. `restart_policy`:
    /// the pod's `restartPolicy`, `Always` when absent.
    pub fn new(
        reason: String,
        volumes: &[Value],
        containers: &[&Value],
        restart_policy: Option<&str>,
        recorded: &str,
    ) -> DualPairs {
        DualPairs {
            state: StateVolume::free(volumes, containers),
            restarts_always: restart_policy.is_none_or(|p| p == "Always"),
            taken: containers.iter().map(|c| name(c).to_string()).collect(),
            reason,
            recorded: recorded_pairs(recorded)
                .into_iter()
                .map(|(native, _)| native.to_string())
                .collect(),
            pairs: Vec::new(),
        }
    }

    /// Turns `native`, a converted sidecar at kubectl path `path`, into the
    /// native form of a pair and returns the legacy form, with the change
    /// to report. `None` (and `native` unchanged) when its argv is unknown.
    pub fn split(&mut self, native: &mut Value, path: &str) -> Option<(Value, Change)> {
        let sidecar = name(native).to_string();
        if self.recorded.contains(&sidecar) {
            // The native half of a pair, restored: its legacy half is there.
            return None;
        }
        let legacy = legacy_name(&sidecar, |n| self.taken.contains(n));
        let (native_form, legacy_form) =
            dual_forms(native, &legacy, &self.state, self.restarts_always)?;
        *native = native_form;
        self.taken.insert(legacy.clone());
        self.pairs.push((sidecar.clone(), legacy.clone()));
        let change = Change::DualForm {
            name: sidecar,
            legacy,
            path: path.to_string(),
            reason: self.reason.clone(),
        };
        Some((legacy_form, change))
    }

    /// The memory volume the pairs share, once a pair was made.
    pub fn volume(&self) -> Option<Value> {
        (!self.pairs.is_empty()).then(|| self.state.volume())
    }
}

/// The kubectl paths of the `restartPolicy` of the native halves recorded
/// in `PREFIX/dual` (`annotation`) among `init_containers` of the pod spec
/// at `spec_path`: losing that field is what the dual form survives.
pub fn native_halves(
    annotation: Option<&str>,
    init_containers: &[Value],
    spec_path: &str,
) -> Vec<String> {
    let Some(annotation) = annotation else {
        return Vec::new();
    };
    let natives: HashSet<&str> = recorded_pairs(annotation)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    init_containers
        .iter()
        .enumerate()
        .filter(|(_, c)| natives.contains(name(c)))
        .map(|(i, _)| format!("{spec_path}.initContainers[{i}].restartPolicy"))
        .collect()
}

/// The pairs recorded in `PREFIX/dual`: `NATIVE=LEGACY`, comma-separated.
pub fn recorded_pairs(value: &str) -> Vec<(&str, &str)> {
    value
        .split(',')
        .filter_map(|pair| {
            let (native, legacy) = pair.trim().split_once('=')?;
            Some((native.trim(), legacy.trim()))
        })
        .filter(|(native, legacy)| !native.is_empty() && !legacy.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    fn sidecar() -> Value {
        json!({
            "name": "sidecar",
            "image": "busybox",
            "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"],
            "restartPolicy": "Always",
            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": true}]
        })
    }

    const STATE: fn() -> StateVolume = || StateVolume {
        name: "log-sidecar-state".into(),
        mount_path: "/run/log-sidecar-state".into(),
    };

    #[test]
    fn the_native_form_records_its_first_run_and_streams_on_the_next() {
        let (native, _) = dual_forms(&sidecar(), "sidecar-legacy", &STATE(), true).unwrap();
        assert_eq!(
            native,
            json!({
                "name": "sidecar",
                "image": "busybox",
                "command": [
                    "/bin/sh", "-c",
                    "if [ -e /run/log-sidecar-state/sidecar.ran ]; then : > /run/log-sidecar-state/sidecar.native; exec \"$@\"; fi; : > /run/log-sidecar-state/sidecar.ran",
                    "sidecar", "/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"
                ],
                "restartPolicy": "Always",
                "volumeMounts": [
                    {"name": "varlog", "mountPath": "/var/log", "readOnly": true},
                    {"name": "log-sidecar-state", "mountPath": "/run/log-sidecar-state"}
                ]
            })
        );
    }

    #[rstest]
    #[case::pod_that_restarts_containers(
        true,
        "if [ -e /run/log-sidecar-state/sidecar.native ]; then trap 'exit 0' TERM INT; sleep 2147483647 & wait; exit 0; fi; exec \"$@\""
    )]
    #[case::job_that_must_complete(
        false,
        "if [ -e /run/log-sidecar-state/sidecar.native ]; then exit 0; fi; exec \"$@\""
    )]
    fn the_legacy_form_idles_when_the_native_form_streams(
        #[case] restarts_always: bool,
        #[case] script: &str,
    ) {
        let (_, legacy) =
            dual_forms(&sidecar(), "sidecar-legacy", &STATE(), restarts_always).unwrap();
        assert_eq!(
            legacy,
            json!({
                "name": "sidecar-legacy",
                "image": "busybox",
                "command": ["/bin/sh", "-c", script, "sidecar", "/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"],
                "volumeMounts": [
                    {"name": "varlog", "mountPath": "/var/log", "readOnly": true},
                    {"name": "log-sidecar-state", "mountPath": "/run/log-sidecar-state"}
                ]
            })
        );
    }

    #[rstest]
    #[case::command_and_args(
        json!({"command": ["tail"], "args": ["-F", "/a.log"]}),
        Some(json!(["tail", "-F", "/a.log"]))
    )]
    #[case::args_starting_with_a_shell(
        json!({"args": ["/bin/sh", "-c", "tail -F /a.log"]}),
        Some(json!(["/bin/sh", "-c", "tail -F /a.log"]))
    )]
    #[case::args_starting_with_tail(json!({"args": ["tail", "-F", "/a.log"]}), Some(json!(["tail", "-F", "/a.log"])))]
    #[case::args_for_an_unknown_entrypoint(json!({"args": ["-F", "/a.log"]}), None)]
    #[case::no_command_at_all(json!({"image": "fluent-bit"}), None)]
    #[case::a_number_in_the_command(json!({"command": ["tail", 1]}), None)]
    fn the_argv_is_known_only_from_command_or_a_shell(
        #[case] container: Value,
        #[case] expected: Option<Value>,
    ) {
        assert_eq!(argv(&container).map(Value::from), expected, "{container}");
    }

    #[test]
    fn args_without_command_become_the_wrapped_command_in_their_place() {
        let container = json!({"name": "s", "args": ["tail", "-F", "/a.log"], "image": "busybox"});
        let (native, _) = dual_forms(&container, "s-legacy", &STATE(), true).unwrap();
        let keys: Vec<&String> = native.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["name", "command", "image", "volumeMounts"]);
        assert_eq!(native["command"][4], json!("tail"));
    }

    #[test]
    fn legacy_names_are_dns_labels_that_collide_with_nothing() {
        assert_eq!(legacy_name("sidecar", |_| false), "sidecar-legacy");
        assert_eq!(
            legacy_name("sidecar", |n| n == "sidecar-legacy"),
            "sidecar-legacy-2"
        );
        let long = "a".repeat(60);
        let name = legacy_name(&long, |_| false);
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-legacy"));
        assert_eq!(legacy_name("abc-defgh", |_| false), "abc-defgh-legacy");
        let edge = format!("{}-x", "a".repeat(55));
        assert!(is_dns_label(&legacy_name(&edge, |_| false)));
    }

    #[test]
    fn the_state_volume_avoids_every_name_and_mount_of_the_pod() {
        let volumes = vec![json!({"name": "log-sidecar-state"})];
        let run = json!({"volumeMounts": [{"name": "x", "mountPath": "/run"}]});
        let state = StateVolume::free(&volumes, &[&run]);
        assert_eq!(state.name, "log-sidecar-state-2");
        assert_eq!(
            state.mount_path, "/run/log-sidecar-state",
            "below another mount is fine"
        );
        let same = json!({"volumeMounts": [{"name": "x", "mountPath": "/run/log-sidecar-state/"}]});
        let parent =
            json!({"volumeMounts": [{"name": "y", "mountPath": "/run/log-sidecar-state-2/x"}]});
        assert_eq!(
            StateVolume::free(&[], &[&same, &parent]).mount_path,
            "/run/log-sidecar-state-3"
        );
    }

    #[test]
    fn recorded_pairs_are_read_back() {
        assert_eq!(
            recorded_pairs(" a=a-legacy ,b=b-legacy-2,broken,=x"),
            vec![("a", "a-legacy"), ("b", "b-legacy-2")]
        );
    }
}
