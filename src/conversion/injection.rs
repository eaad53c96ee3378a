//! Injecting a streaming sidecar: `PREFIX/stream` asks for one native
//! sidecar per log file, running `tail -n +1 -F FILE`, with the mount of
//! the container that writes the file.

use std::collections::HashSet;

use crate::error::PolicyError;
use crate::settings::{Settings, is_dns_label};
use crate::sidecars::log_sidecars::name;
use crate::sidecars::tail_command::{is_pseudo_file, tail_follow};
use crate::value::{Map, Value, object};

/// One entry of `PREFIX/stream`: the file to stream, and the sidecar's name
/// when the entry gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Option<String>,
    pub path: String,
}

/// Reads `PREFIX/stream` (`annotation` is its full key): comma-separated
/// `PATH` or `NAME=PATH` entries. Every malformed entry is a problem.
pub fn entries(annotation: &str, value: &str) -> Result<Vec<Entry>, Vec<PolicyError>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    for raw in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, path) = match raw.split_once('=') {
            Some((name, path)) => (Some(name.trim()), path.trim()),
            None => (None, raw),
        };
        let broken = |rule: &'static str| PolicyError::StreamEntry {
            annotation: annotation.to_string(),
            entry: raw.to_string(),
            rule,
        };
        let rule = if name.is_some_and(|n| !is_dns_label(n)) {
            Some("NAME must be a DNS-1123 label (lowercase letters, digits and '-')")
        } else if name.is_some_and(|n| !names.insert(n.to_string())) {
            Some("NAME is given twice")
        } else {
            path_rule(path)
        };
        match rule {
            Some(rule) => problems.push(broken(rule)),
            None => found.push(Entry {
                name: name.map(str::to_string),
                path: path.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The rule a file path breaks, if any.
fn path_rule(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        Some("PATH must be absolute")
    } else if path.ends_with('/') {
        Some("PATH must be a file, not a directory")
    } else if path.split('/').any(|part| part == "..") {
        Some("PATH must not contain ..")
    } else if path.contains(['*', '?', '[']) {
        Some("PATH must not be a glob")
    } else if is_pseudo_file(path) {
        Some("PATH must not be under /dev, /proc or /sys")
    } else if path.contains(char::is_whitespace) {
        Some("PATH must not contain blanks")
    } else {
        None
    }
}

/// `log-` and the file's name without its extension, made a DNS label:
/// `/var/log/cart-app.log` gives `log-cart-app`.
pub fn default_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split_once('.').map_or(file, |(stem, _)| stem);
    let mut label = String::new();
    for c in stem.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (label.is_empty() || label.ends_with('-'))) {
            label.push(c);
        }
    }
    let mut name = match label.trim_end_matches('-') {
        "" => "log".to_string(),
        label => format!("log-{label}"),
    };
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

/// `base`, or `base-2`, `base-3`... the first that is not `taken`, as a DNS
/// label.
pub fn free_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    (1..)
        .map(|n| match n {
            1 => base.to_string(),
            n => {
                let suffix = format!("-{n}");
                let keep = base.len().min(63 - suffix.len());
                format!("{}{suffix}", base[..keep].trim_end_matches('-'))
            }
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_default()
}

/// The streamer's script. `$1` is the file, never spliced into the script.
/// On SIGTERM, which native sidecars get right after the app exits, it
/// keeps streaming for `drain` seconds, since BusyBox `tail` reads the file
/// about once a second, then stops and exits 0. Without a handler, as PID 1
/// of its container, it would ignore the signal until the grace period ends.
pub fn streamer_script(drain: u32) -> String {
    if drain == 0 {
        return "exec tail -n +1 -F \"$1\"".to_string();
    }
    format!(
        "tail -n +1 -F \"$1\" & pid=$!; trap 'sleep {drain}; kill \"$pid\"; exit 0' TERM INT; \
         wait \"$pid\""
    )
}

/// Whether `container` already streams `path`: a `tail` that follows it, or
/// a command line (the policy's own, in any form) that ends with it.
pub fn streams(container: &Value, path: &str) -> bool {
    let follows = tail_follow(container).is_some_and(|t| t.files.iter().any(|f| f == path));
    let last = ["args", "command"].iter().find_map(|key| {
        container
            .get(key)
            .and_then(Value::as_array)
            .filter(|list| !list.is_empty())
            .and_then(|list| list.last())
    });
    follows || last.and_then(Value::as_str) == Some(path)
}

/// The security context of the streamer: what the `restricted` Pod
/// Security Standard asks for, and the user and group of the container that
/// writes the file, so that it reads the file as its writer. A pod that must
/// run as non-root without saying as whom gets the `nobody` user, since the
/// streamer image's own user is root.
pub fn security_context(writer: Option<&Value>, pod_context: Option<&Value>) -> Value {
    let mut context = Map::of([
        ("allowPrivilegeEscalation", false.into()),
        (
            "capabilities",
            object([("drop", vec!["ALL".into()].into())]),
        ),
        ("readOnlyRootFilesystem", true.into()),
        (
            "seccompProfile",
            object([("type", "RuntimeDefault".into())]),
        ),
    ]);
    let from_writer = writer.and_then(|w| w.get("securityContext"));
    for key in ["runAsUser", "runAsGroup", "runAsNonRoot"] {
        if let Some(value) = from_writer
            .and_then(|c| c.get(key))
            .filter(|v| !v.is_null())
        {
            context.insert(key.to_string(), value.clone());
        }
    }
    let set = |key| {
        context.get(key).is_some_and(|v| !v.is_null())
            || pod_context
                .and_then(|p| p.get(key))
                .is_some_and(|v| !v.is_null())
    };
    let non_root = context.get("runAsNonRoot") == Some(&Value::Bool(true))
        || pod_context.and_then(|p| p.get("runAsNonRoot")) == Some(&Value::Bool(true));
    if non_root && !set("runAsUser") {
        context.insert("runAsUser".to_string(), 65534u64.into());
    }
    Value::Object(context)
}

/// The injected streamer for `path`, without its log volume mount.
pub fn streamer(name: &str, path: &str, settings: &Settings, security: Value) -> Value {
    let mut container = Map::new();
    container.insert("name".into(), name.into());
    container.insert("image".into(), settings.streamer_image.as_str().into());
    container.insert("imagePullPolicy".into(), "IfNotPresent".into());
    container.insert(
        "command".into(),
        Value::Array(vec![
            "/bin/sh".into(),
            "-c".into(),
            streamer_script(settings.drain_seconds).into(),
            name.into(),
            path.into(),
        ]),
    );
    container.insert("resources".into(), settings.streamer_resources.clone());
    container.insert("securityContext".into(), security);
    Value::Object(container)
}

/// Volume sources that hold credentials or configuration, never logs:
/// streaming them would leak them into the log pipeline.
const NOT_LOG_SOURCES: [&str; 4] = ["secret", "configMap", "projected", "downwardAPI"];

/// The source of `volume` when it is one of [`NOT_LOG_SOURCES`].
pub fn not_a_log_volume(volumes: &[Value], volume: &str) -> Option<&'static str> {
    let volume = volumes.iter().find(|v| name(v) == volume)?;
    NOT_LOG_SOURCES
        .iter()
        .find(|source| volume.get(source).is_some_and(|s| !s.is_null()))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    const KEY: &str = "log-sidecar.io/stream";

    #[rstest]
    #[case::a_path("/var/log/cart-app.log", vec![Entry { name: None, path: "/var/log/cart-app.log".into() }])]
    #[case::a_name_and_a_path(
        " sidecar = /var/log/cart-app.log , /var/log/b.log",
        vec![
            Entry { name: Some("sidecar".into()), path: "/var/log/cart-app.log".into() },
            Entry { name: None, path: "/var/log/b.log".into() },
        ]
    )]
    #[case::empty_items_are_skipped(",/a.log,,", vec![Entry { name: None, path: "/a.log".into() }])]
    fn entries_are_read(#[case] value: &str, #[case] expected: Vec<Entry>) {
        assert_eq!(entries(KEY, value), Ok(expected));
    }

    #[rstest]
    #[case::relative("logs/app.log", "PATH must be absolute")]
    #[case::directory("/var/log/", "PATH must be a file, not a directory")]
    #[case::parent("/var/log/../etc/passwd", "PATH must not contain ..")]
    #[case::glob("/var/log/*.log", "PATH must not be a glob")]
    #[case::pseudo_file("/proc/1/fd/1", "PATH must not be under /dev, /proc or /sys")]
    #[case::bad_name(
        "Side_Car=/a.log",
        "NAME must be a DNS-1123 label (lowercase letters, digits and '-')"
    )]
    #[case::blank_in_the_path("/var/log/my app.log", "PATH must not contain blanks")]
    fn malformed_entries_are_refused_with_the_rule(#[case] value: &str, #[case] rule: &str) {
        assert_eq!(
            entries(KEY, value).unwrap_err()[0].to_string(),
            format!("annotation {KEY}: entry \"{value}\": {rule}")
        );
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let problems = entries(KEY, "a=/a.log,a=/b.log").unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            format!("annotation {KEY}: entry \"a=/b.log\": NAME is given twice")
        );
    }

    #[rstest]
    #[case::seed("/var/log/cart-app.log", "log-cart-app")]
    #[case::no_extension("/srv/out", "log-out")]
    #[case::odd_characters("/var/log/My_App..2024.log", "log-my-app")]
    #[case::nothing_usable("/var/log/.log", "log")]
    #[case::long(&format!("/l/{}.log", "x".repeat(80)), &format!("log-{}", "x".repeat(59)))]
    fn default_names_come_from_the_file(#[case] path: &str, #[case] expected: &str) {
        let name = default_name(path);
        assert_eq!(name, expected);
        assert!(is_dns_label(&name), "{name}");
    }

    #[test]
    fn names_avoid_collisions() {
        assert_eq!(free_name("log-app", |n| n == "log-app"), "log-app-2");
    }

    #[rstest]
    #[case::drain(
        2,
        "tail -n +1 -F \"$1\" & pid=$!; trap 'sleep 2; kill \"$pid\"; exit 0' TERM INT; wait \"$pid\""
    )]
    #[case::no_drain(0, "exec tail -n +1 -F \"$1\"")]
    fn the_streamer_drains_on_sigterm(#[case] drain: u32, #[case] script: &str) {
        assert_eq!(streamer_script(drain), script);
    }

    #[test]
    fn the_streamer_reads_as_its_writer_and_stays_restricted() {
        let writer = json!({"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "privileged": false}});
        assert_eq!(
            security_context(Some(&writer), None),
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
                   "readOnlyRootFilesystem": true, "seccompProfile": {"type": "RuntimeDefault"},
                   "runAsUser": 1000, "runAsGroup": 3000})
        );
        let pod = json!({"runAsNonRoot": true});
        assert_eq!(
            security_context(None, Some(&pod))["runAsUser"],
            json!(65534)
        );
        let pod = json!({"runAsNonRoot": true, "runAsUser": 1001});
        assert_eq!(security_context(None, Some(&pod)).get("runAsUser"), None);
    }

    #[rstest]
    #[case::a_tail_of_the_file(json!({"command": ["tail", "-F", "/a.log"]}), true)]
    #[case::the_policys_own_streamer(json!({"command": ["/bin/sh", "-c", "...", "s", "/a.log"]}), true)]
    #[case::another_file(json!({"command": ["tail", "-F", "/b.log"]}), false)]
    #[case::an_app(json!({"image": "shop"}), false)]
    fn a_container_that_streams_the_file_is_recognised(
        #[case] container: Value,
        #[case] expected: bool,
    ) {
        assert_eq!(streams(&container, "/a.log"), expected);
    }

    #[rstest]
    #[case::secret(json!({"name": "v", "secret": {"secretName": "s"}}), Some("secret"))]
    #[case::config_map(json!({"name": "v", "configMap": {"name": "c"}}), Some("configMap"))]
    #[case::projected_token(json!({"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}), Some("projected"))]
    #[case::downward_api(json!({"name": "v", "downwardAPI": {"items": []}}), Some("downwardAPI"))]
    #[case::empty_dir(json!({"name": "v", "emptyDir": {}}), None)]
    fn only_log_volumes_are_streamed(#[case] volume: Value, #[case] expected: Option<&str>) {
        assert_eq!(not_a_log_volume(&[volume], "v"), expected);
    }
}
