//! What a conversion changes, told as a warning (mutate mode) or as the
//! reason for a rejection (validate mode).

/// One change the conversion makes to a pod template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A regular container became a native sidecar.
    Moved {
        name: String,
        from: String,
        to: String,
    },
    /// An init container that streams logs got back `restartPolicy: Always`.
    Restored { name: String, path: String },
    /// A sidecar got the volume mount it needs to read the app's log file.
    AddedMount {
        container: String,
        volume: String,
        mount_path: String,
    },
    /// A new emptyDir volume shares the log directory of the only app container.
    CreatedVolume {
        volume: String,
        directory: String,
        app: String,
    },
    /// A sidecar's `tail` follows by name with retry instead of exiting on a
    /// missing file: its follow options (`options`, as written) became `-F`.
    RewroteFollow {
        name: String,
        path: String,
        options: String,
        rewritten: String,
    },
    /// The regular copy of a recorded native sidecar, put back by a client
    /// that merges the manifest it applied, was removed.
    DroppedLegacyCopy { name: String, path: String },
    /// A streaming sidecar was injected at `path` for `file`, as `PREFIX/stream`
    /// asks (`container`: its JSON).
    Injected {
        name: String,
        file: String,
        path: String,
        container: String,
    },
    /// A sidecar runs in dual form: as native sidecar `name` and as regular
    /// container `legacy`, for `reason`.
    DualForm {
        name: String,
        legacy: String,
        path: String,
        reason: String,
    },
}

/// Kubernetes clients show warnings on one line; longer ones get cut.
pub const WARNING_LIMIT: usize = 120;

impl Change {
    pub fn warning(&self) -> String {
        let text = match self {
            // The two warnings of every conversion are joined without the
            // formatting machinery, which costs more than the copies.
            Change::Moved { name, from, to } => {
                let to = to.rsplit('.').next().unwrap_or(to);
                [
                    from,
                    " (\"",
                    name,
                    "\") moved to ",
                    to,
                    " with restartPolicy: Always",
                ]
                .concat()
            }
            Change::Restored { name, path } => format!(
                "{path} (\"{name}\") streams logs but lacked restartPolicy: Always \
                 (stripped?); restored it"
            ),
            Change::AddedMount {
                container,
                volume,
                mount_path,
            } => [
                "added read-only volumeMount \"",
                volume,
                "\" at ",
                mount_path,
                " to \"",
                container,
                "\"",
            ]
            .concat(),
            Change::CreatedVolume {
                volume,
                directory,
                app,
            } => format!(
                "added emptyDir volume \"{volume}\" at {directory} in \"{app}\"; it hides what the image had there"
            ),
            Change::RewroteFollow {
                name,
                path,
                options,
                rewritten,
            } => format!(
                "{path} (\"{name}\"): tail {options} became {rewritten}, to wait for a missing file \
                 as a native sidecar"
            ),
            Change::DroppedLegacyCopy { name, path } => format!(
                "{path} (\"{name}\") removed: a merging client re-applied it next to its native form"
            ),
            Change::Injected {
                name, file, path, ..
            } => {
                let at = path.rsplit('.').next().unwrap_or(path);
                format!("injected \"{name}\" at {at} to stream {file}")
            }
            Change::DualForm {
                name,
                legacy,
                reason,
                ..
            } => {
                format!("{reason}; \"{name}\" runs in dual form, with \"{legacy}\"")
            }
        };
        shorten(text)
    }

    /// What validate mode says instead of making the change.
    pub fn violation(&self) -> String {
        match self {
            Change::Moved { name, from, to } => format!(
                "{from}: log sidecar \"{name}\" runs as a regular container; move it to {to} \
                 with restartPolicy: Always to make it a native sidecar"
            ),
            Change::Restored { name, path } => format!(
                "{path}: native sidecar \"{name}\" lost restartPolicy: Always, so the pod would \
                 hang in Init forever; likely causes: the SidecarContainers feature gate is off, \
                 an API server or kubelet is older than 1.29, or a webhook built with client \
                 libraries older than 1.28 stripped the field"
            ),
            Change::AddedMount {
                container,
                volume,
                mount_path,
            } => format!(
                "container \"{container}\" cannot read the app's log file: add volumeMount \
                 {{name: {volume}, mountPath: {mount_path}, readOnly: true}}"
            ),
            Change::CreatedVolume {
                volume,
                directory,
                app,
            } => format!(
                "the log directory {directory} is private to \"{app}\": add an emptyDir volume \
                 \"{volume}\" mounted there in the app and in its log sidecars"
            ),
            Change::RewroteFollow {
                name,
                path,
                options,
                ..
            } => format!(
                "{path}: log sidecar \"{name}\" follows with tail {options}, which exits while the \
                 file does not exist, so as a native sidecar it would crash-loop; use tail -F"
            ),
            Change::DroppedLegacyCopy { name, path } => format!(
                "{path}: \"{name}\" is both a regular container and a recorded native sidecar; \
                 remove the regular copy"
            ),
            Change::Injected {
                file,
                path,
                container,
                ..
            } => format!(
                "{path}: the annotation asks for a streaming sidecar for {file}; add {container}"
            ),
            Change::DualForm {
                name,
                legacy,
                path,
                reason,
            } => format!(
                "{path}: log sidecar \"{name}\" must run in dual form ({reason}): as a native \
                 sidecar \"{name}\" and as the regular container \"{legacy}\""
            ),
        }
    }
}

/// The API server may cut a warning past this length; a warning that quotes
/// a message the policy does not write (a host's error) may use it all.
pub const QUOTING_WARNING_LIMIT: usize = 256;

/// Cuts a warning to the length clients display, on a character boundary.
pub fn shorten(text: String) -> String {
    shorten_to(text, WARNING_LIMIT)
}

/// Cuts a warning to `limit` characters, on a character boundary.
pub fn shorten_to(text: String, limit: usize) -> String {
    // No more bytes than the limit: no more characters either.
    if text.len() <= limit || text.chars().count() <= limit {
        return text;
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_warnings_are_cut_on_a_character_boundary() {
        let long = format!("é{}", "x".repeat(300));
        let cut = shorten(long);
        assert_eq!(cut.chars().count(), WARNING_LIMIT, "cut to the limit");
        assert!(cut.ends_with('…'), "a cut warning says it was cut");
    }

    #[test]
    fn warnings_with_the_longest_names_fit_the_limit() {
        let name = "n".repeat(63);
        let changes = [
            Change::Moved {
                name: name.clone(),
                from: "spec.jobTemplate.spec.template.spec.containers[10]".into(),
                to: "spec.jobTemplate.spec.template.spec.initContainers[10]".into(),
            },
            Change::AddedMount {
                container: name.clone(),
                volume: name.clone(),
                mount_path: "/var/log/".repeat(20),
            },
            Change::RewroteFollow {
                name: name.clone(),
                path: "spec.containers[10]".into(),
                options: "--follow=descriptor".into(),
                rewritten: "-F".into(),
            },
            Change::DroppedLegacyCopy {
                name: name.clone(),
                path: "spec.template.spec.containers[10]".into(),
            },
        ];
        for change in changes {
            let warning = change.warning();
            assert!(
                warning.chars().count() <= WARNING_LIMIT,
                "warning too long: {warning}"
            );
        }
    }
}
