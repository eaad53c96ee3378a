//! Which containers of a pod template are declared log sidecars.

use crate::conversion::dual_form::recorded_pairs;
use crate::error::PolicyError;
use crate::name_set::NameSet;
use crate::settings::Settings;
use crate::sidecars::tail_command::{TailFollow, tail_follow};
use crate::value::{Map, Value};

/// The log sidecars of a pod template that are not native yet.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// The sidecars to move from `spec.containers`, in list order.
    pub regular: Vec<Sidecar>,
    /// The log sidecars in `spec.initContainers` that lack `restartPolicy:
    /// Always`, in list order: as init containers they never finish.
    pub stripped: Vec<Sidecar>,
    /// The indices in `spec.containers` of the legacy halves of recorded dual
    /// pairs: sidecars already, and no app.
    pub legacy_halves: Vec<usize>,
}

/// A declared log sidecar.
#[derive(Debug, PartialEq, Eq)]
pub struct Sidecar {
    /// Its index in its container list.
    pub index: usize,
    /// What its command line follows, parsed once for detection and the
    /// conversion.
    pub tail: Option<TailFollow>,
    /// Declared by the user (annotation, `restartPolicy: Always`,
    /// `sidecarNames`, or recorded as converted) rather than found by its
    /// command line. A sidecar that was only found is a guess: when it
    /// cannot be converted safely it is left as it is, never refused.
    pub explicit: bool,
}

/// Names listed in a comma-separated annotation value.
pub fn annotated_names(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_str)
        .map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The `name` of a container or volume (shape-checked before use).
pub fn name(container: &Value) -> &str {
    container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether an init container is a native sidecar.
pub fn is_native(container: &Value) -> bool {
    container.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// Whether a command line found by detection streams a log: following only
/// `/dev/null` and the like is how toolbox and debug containers stay alive.
fn streams_logs(tail: &TailFollow) -> bool {
    !tail.follows_pseudo_files_only()
}

/// The declared log sidecars of a shape-checked pod template.
pub fn declared_sidecars(
    annotations: &Map<String, Value>,
    spec: &Map<String, Value>,
    settings: &Settings,
) -> Result<Declared, Vec<PolicyError>> {
    let empty = Vec::new();
    let list = |key| spec.get(key).and_then(Value::as_array).unwrap_or(&empty);
    let (containers, init_containers) = (list("containers"), list("initContainers"));

    // Sets of names, so that pods with hundreds of containers stay linear;
    // most pods list none, and then hash nothing.
    let listed = annotated_names(settings.annotation_in(annotations, "containers"));
    let names: NameSet = if listed.is_empty() {
        NameSet::default()
    } else {
        containers.iter().chain(init_containers).map(name).collect()
    };
    let unknown: Vec<PolicyError> = listed
        .iter()
        .filter(|n| !names.contains(n))
        .map(|n| PolicyError::UnknownDeclaredContainer {
            annotation: settings.annotation("containers"),
            name: n.to_string(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let listed: NameSet = listed.into_iter().collect();
    let converted: NameSet = annotated_names(settings.annotation_in(annotations, "converted"))
        .into_iter()
        .collect();

    let explicit = |c: &Value| {
        let name = name(c);
        listed.contains(name) || is_native(c) || settings.sidecar_names.iter().any(|n| n == name)
    };
    // The legacy halves of dual pairs are sidecars too, not apps: they count
    // for neither the two containers detection needs nor the one it keeps.
    let legacy_halves: NameSet = settings
        .annotation_in(annotations, "dual")
        .and_then(Value::as_str)
        .map(|pairs| recorded_pairs(pairs).into_iter().map(|(_, l)| l).collect())
        .unwrap_or_default();
    let others = containers.len()
        - if legacy_halves.is_empty() {
            0
        } else {
            containers
                .iter()
                .filter(|c| legacy_halves.contains(name(c)))
                .count()
        };
    let detect = settings.detect_streaming_sidecars && others >= 2;
    let mut regular = Vec::new();
    let mut halves = Vec::new();
    for (index, container) in containers.iter().enumerate() {
        if !legacy_halves.is_empty() && legacy_halves.contains(name(container)) {
            halves.push(index);
            continue;
        }
        let explicit = explicit(container);
        if explicit || detect {
            let tail = tail_follow(container);
            if explicit || tail.as_ref().is_some_and(streams_logs) {
                regular.push(Sidecar {
                    index,
                    tail,
                    explicit,
                });
            }
        }
    }
    // Detection guesses; it must never turn every container into a sidecar.
    if regular.len() == others {
        regular.retain(|sidecar| sidecar.explicit);
    }

    let stripped = init_containers
        .iter()
        .enumerate()
        .filter(|(_, c)| !is_native(c))
        .filter_map(|(index, c)| {
            let tail = tail_follow(c);
            let explicit = converted.contains(name(c)) || explicit(c);
            (explicit || tail.as_ref().is_some_and(streams_logs)).then_some(Sidecar {
                index,
                tail,
                explicit,
            })
        })
        .collect();
    Ok(Declared {
        regular,
        stripped,
        legacy_halves: halves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    fn tailer(name: &str) -> Value {
        json!({"name": name, "command": ["sh", "-c", "tail -n+1 -F /var/log/app.log"]})
    }

    fn app(name: &str) -> Value {
        json!({"name": name, "image": "busybox"})
    }

    fn declared(annotations: Value, spec: Value, settings: Settings) -> Declared {
        let annotations = annotations.as_object().cloned().unwrap_or_default();
        let spec = spec.as_object().cloned().unwrap_or_default();
        declared_sidecars(&annotations, &spec, &settings).expect("no declaration problem")
    }

    /// The indices of the regular and of the stripped sidecars.
    type Indices = (Vec<usize>, Vec<usize>);

    fn indices(declared: &Declared) -> Indices {
        let of = |list: &[Sidecar]| list.iter().map(|s| s.index).collect();
        (of(&declared.regular), of(&declared.stripped))
    }

    fn regular(indices: &[usize]) -> Indices {
        (indices.to_vec(), vec![])
    }

    #[rstest]
    #[case::named_in_the_annotation(
        json!({"log-sidecar.io/containers": " shipper , other"}),
        json!({"containers": [app("app"), app("shipper"), app("other")]}),
        Settings::default(),
        regular(&[1, 2])
    )]
    #[case::restart_policy_always_on_a_regular_container(
        json!({}),
        json!({"containers": [app("app"), {"name": "s", "restartPolicy": "Always"}]}),
        Settings::default(),
        regular(&[1])
    )]
    #[case::named_in_the_sidecar_names_setting(
        json!({}),
        json!({"containers": [app("app"), app("streamer")]}),
        Settings { sidecar_names: vec!["streamer".into()], ..Settings::default() },
        regular(&[1])
    )]
    #[case::detected_by_its_tail_command(
        json!({}),
        json!({"containers": [tailer("s1"), app("app"), tailer("s2")]}),
        Settings::default(),
        regular(&[0, 2])
    )]
    #[case::detection_can_be_turned_off(
        json!({}),
        json!({"containers": [app("app"), tailer("s")]}),
        Settings { detect_streaming_sidecars: false, ..Settings::default() },
        regular(&[])
    )]
    #[case::a_lone_tailing_container_is_an_ordinary_pod(
        json!({}),
        json!({"containers": [tailer("only")]}),
        Settings::default(),
        regular(&[])
    )]
    #[case::detection_never_selects_every_container(
        json!({}),
        json!({"containers": [tailer("a"), tailer("b")]}),
        Settings::default(),
        regular(&[])
    )]
    #[case::detection_never_completes_an_explicit_list_to_every_container(
        json!({"log-sidecar.io/containers": "a"}),
        json!({"containers": [app("a"), tailer("b")]}),
        Settings::default(),
        regular(&[0])
    )]
    #[case::explicit_declarations_may_select_every_container_and_are_refused_later(
        json!({"log-sidecar.io/containers": "a,b"}),
        json!({"containers": [app("a"), app("b")]}),
        Settings::default(),
        regular(&[0, 1])
    )]
    #[case::annotation_with_another_prefix(
        json!({"logs.example.com/containers": "s"}),
        json!({"containers": [app("app"), app("s")]}),
        Settings { annotation_prefix: "logs.example.com".into(), ..Settings::default() },
        regular(&[1])
    )]
    #[case::tailing_init_container_without_restart_policy(
        json!({}),
        json!({"containers": [app("app")], "initContainers": [app("setup"), tailer("s")]}),
        Settings::default(),
        (vec![], vec![1])
    )]
    #[case::recorded_as_converted_but_no_longer_native(
        json!({"log-sidecar.io/converted": "s"}),
        json!({"containers": [app("app")], "initContainers": [app("s")]}),
        Settings::default(),
        (vec![], vec![0])
    )]
    #[case::a_keep_alive_on_dev_null_is_no_log_sidecar(
        json!({}),
        json!({"containers": [app("app"), {"name": "toolbox", "command": ["tail", "-f", "/dev/null"]}]}),
        Settings::default(),
        regular(&[])
    )]
    #[case::a_keep_alive_named_in_the_annotation_is_a_sidecar(
        json!({"log-sidecar.io/containers": "toolbox"}),
        json!({"containers": [app("app"), {"name": "toolbox", "command": ["tail", "-F", "/dev/null"]}]}),
        Settings::default(),
        regular(&[1])
    )]
    #[case::an_init_container_waiting_on_proc_is_not_restored(
        json!({}),
        json!({"containers": [app("app")], "initContainers": [{"name": "wait", "command": ["tail", "-f", "/proc/1/fd/1"]}]}),
        Settings::default(),
        regular(&[])
    )]
    #[case::native_sidecars_are_left_alone(
        json!({"log-sidecar.io/converted": "s", "log-sidecar.io/containers": "s"}),
        json!({"containers": [app("app")], "initContainers": [{"name": "s", "restartPolicy": "Always", "command": ["tail", "-F", "/a"]}]}),
        Settings::default(),
        regular(&[])
    )]
    fn declared_log_sidecars_are_found(
        #[case] annotations: Value,
        #[case] spec: Value,
        #[case] settings: Settings,
        #[case] expected: Indices,
    ) {
        assert_eq!(
            indices(&declared(annotations, spec.clone(), settings)),
            expected,
            "in {spec}"
        );
    }

    #[test]
    fn each_sidecar_carries_the_files_it_follows() {
        let spec = json!({
            "containers": [app("app"), tailer("detected"), app("named")],
            "initContainers": [tailer("stripped")],
        });
        let settings = Settings {
            sidecar_names: vec!["named".to_string()],
            ..Settings::default()
        };
        let found = declared(json!({}), spec, settings);
        let follows =
            |sidecar: &Sidecar| sidecar.tail.as_ref().map(|t| (t.files.clone(), t.retries));
        let file = Some((vec!["/var/log/app.log".to_string()], true));
        assert_eq!(
            found.regular.iter().map(follows).collect::<Vec<_>>(),
            vec![file.clone(), None]
        );
        assert_eq!(
            found.stripped.iter().map(follows).collect::<Vec<_>>(),
            vec![file]
        );
    }

    #[test]
    fn only_declarations_are_explicit_and_detection_is_a_guess() {
        let spec = json!({
            "containers": [app("app"), tailer("detected"), app("named"), tailer("listed")],
            "initContainers": [tailer("stripped"), app("recorded")],
        });
        let settings = Settings {
            sidecar_names: vec!["named".to_string()],
            ..Settings::default()
        };
        let annotations = json!({
            "log-sidecar.io/containers": "listed",
            "log-sidecar.io/converted": "recorded",
        });
        let found = declared(annotations, spec, settings);
        let explicit = |list: &[Sidecar]| list.iter().map(|s| s.explicit).collect::<Vec<_>>();
        assert_eq!(explicit(&found.regular), vec![false, true, true]);
        assert_eq!(explicit(&found.stripped), vec![false, true]);
    }

    #[test]
    fn naming_a_missing_container_is_refused() {
        let annotations = json!({"log-sidecar.io/containers": "app,sidecar,ghost"});
        let spec = json!({"containers": [app("app"), app("sidecar")]});
        let result = declared_sidecars(
            annotations.as_object().unwrap(),
            spec.as_object().unwrap(),
            &Settings::default(),
        );
        assert_eq!(
            result,
            Err(vec![PolicyError::UnknownDeclaredContainer {
                annotation: "log-sidecar.io/containers".into(),
                name: "ghost".into()
            }]),
            "a name that matches no container is a mistake to report"
        );
    }
}
