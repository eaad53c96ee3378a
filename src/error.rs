//! Every message the policy can reject with, in one place.

use thiserror::Error;

/// Why a request or a setting is refused. Each variant names the path of the
/// offending value and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    // The request itself.
    #[error("the validation payload is not valid JSON: {0}")]
    PayloadNotJson(String),
    #[error("{path} must be {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path} is required")]
    Missing { path: String },
    #[error(
        "{path}: container name \"{name}\" is not a DNS-1123 label: lowercase letters, digits and '-', \
         starting and ending with a letter or digit, at most 63 characters"
    )]
    InvalidContainerName { path: String, name: String },
    #[error("{path}: container name \"{name}\" is used more than once")]
    DuplicateContainerName { path: String, name: String },
    #[error("{path}: invalid settings: {reason}")]
    SettingsInPayload { path: &'static str, reason: String },

    // Declarations.
    #[error(
        "annotation {annotation} names container \"{name}\", which is not in spec.containers \
         or spec.initContainers: fix the name or remove it from the list"
    )]
    UnknownDeclaredContainer { annotation: String, name: String },

    // Where native sidecars cannot run, with `fallback: reject`.
    #[error(
        "{path}: native sidecars need Kubernetes 1.29+ on every API server and node, and \
         kubernetesVersion is {version}; raise kubernetesVersion if the cluster allows it, or set \
         fallback: legacy to keep log sidecars regular containers"
    )]
    KubernetesTooOld { path: String, version: String },
    #[error(
        "{path}: native sidecars need kubelet 1.29+ on every node the pod may run on, but it may \
         run on {nodes}; upgrade those nodes, keep the pod off them with a nodeSelector, or set \
         fallback: legacy to keep log sidecars regular containers"
    )]
    NodesTooOld { path: String, nodes: String },

    #[error(
        "{path}: the dual pair \"{native}\" (native) and \"{legacy}\" (regular) recorded in the \
         annotations lost \"{missing}\": the remaining half alone does not stream on every node; \
         restore both or neither"
    )]
    DualPairBroken {
        path: String,
        native: String,
        legacy: String,
        missing: String,
    },

    // Injection (`PREFIX/stream`).
    #[error("annotation {annotation}: entry \"{entry}\": {rule}")]
    StreamEntry {
        annotation: String,
        entry: String,
        rule: &'static str,
    },
    #[error(
        "{path}: annotation {annotation} asks for a container \"{name}\" streaming {file}, but \
         that name is taken by a container that does something else; give the entry another \
         name (NAME=PATH)"
    )]
    StreamNameTaken {
        path: String,
        annotation: String,
        name: String,
        file: String,
    },
    #[error(
        "{path}: {file} is on volume \"{volume}\", a {kind} volume: streaming it would copy \
         credentials or configuration into the logs; stream a log file instead"
    )]
    StreamNotALogVolume {
        path: String,
        file: String,
        volume: String,
        kind: &'static str,
    },

    // Refusals to convert.
    #[error(
        "{path}: fallback dual wraps the sidecar's command, but it has no command and its args \
         do not start with sh, bash or tail, so what the image runs is unknown; set command"
    )]
    DualFormWithoutArgv { path: String },
    #[error(
        "{path}: converting {names} would leave no regular container; \
         keep the container that writes the logs in spec.containers"
    )]
    NoRegularContainerLeft { path: String, names: String },
    #[error(
        "{path}: restartPolicyRules cannot be kept on a native sidecar; \
         remove them to convert this log sidecar"
    )]
    RestartPolicyRules { path: String },
    #[error(
        "{path}: restartPolicy is \"{value}\", but a native sidecar needs \"Always\"; \
         remove the field or set it to Always"
    )]
    RestartPolicyNotAlways { path: String, value: String },
    #[error(
        "{path}: as a native sidecar, its startupProbe would hold back every later container, \
         so the app that writes its log file might never start; remove the startupProbe"
    )]
    StartupProbe { path: String },
    #[error(
        "{path}: as a native sidecar, its postStart hook would hold back every later container, \
         so the app that writes its log file might never start; remove lifecycle.postStart"
    )]
    PostStart { path: String },
    #[error(
        "{path}: tail follows {file} without --retry and exits while the file does not exist, \
         so as a native sidecar it would crash-loop before the app starts; use tail -F{fix}"
    )]
    FollowWithoutRetry {
        path: String,
        file: String,
        /// What else would fix it: `rewriteFollow`, or unquoting the option.
        fix: &'static str,
    },
    #[error(
        "{path}: as a native sidecar, its hostPort {port} would clash with container \"{other}\", \
         and the API server does not check ports across initContainers and containers; use \
         another hostPort"
    )]
    HostPortClash {
        path: String,
        port: String,
        other: String,
    },
    #[error(
        "{path}: resizePolicy on a native sidecar needs Kubernetes 1.33 or later \
         (kubernetesVersion is {version}); remove resizePolicy or raise kubernetesVersion"
    )]
    ResizePolicyTooOld { path: String, version: String },

    // The shared volume mount.
    #[error(
        "{path}: streams {file} from volume \"{sidecar_volume}\" but the app writes it to \
         volume \"{app_volume}\" ({app_mount}): it would stream an empty file forever; \
         mount {app_mount} instead"
    )]
    ReadsAnotherVolume {
        path: String,
        file: String,
        sidecar_volume: String,
        app_volume: String,
        app_mount: String,
    },
    #[error(
        "{path}: streams {file}, but containers mount different volumes there \
         ({first} and {second}); the file to stream is ambiguous"
    )]
    AmbiguousAppVolume {
        path: String,
        file: String,
        first: String,
        second: String,
    },
    #[error(
        "{path}: streams {file}, but no regular container mounts a volume there, so the file \
         stays private to the app; add a volume (for example emptyDir {{}} named {volume}) and \
         mount it at {directory} in the app container and in this sidecar"
    )]
    NoAppVolume {
        path: String,
        file: String,
        volume: String,
        directory: String,
    },
    #[error(
        "{path}: has no volumeMount for {file}, so it cannot read it; \
         add {mount} to this container"
    )]
    MissingSidecarMount {
        path: String,
        file: String,
        mount: String,
    },
    #[error(
        "{path}: streams {file} from volume \"{volume}\"{sub}, but no regular container sees \
         that file through its mounts, so no app writes it there; mount volume \
         \"{volume}\"{sub} in the container that writes {file}, or mount here the volume that \
         container writes it to"
    )]
    VolumeNoAppMounts {
        path: String,
        file: String,
        volume: String,
        /// ` (subPath x)`, or empty for the whole volume.
        sub: String,
    },
    #[error(
        "{path}: the app mounts {file} with subPathExpr \"{expr}\", which uses $({variable}); \
         define env {variable} in this container exactly as the app does"
    )]
    SubPathExprEnvMismatch {
        path: String,
        file: String,
        expr: String,
        variable: String,
    },

    // Fields that would vanish after admission.
    #[error(
        "{path}: the API server drops this field unless feature gate {gate} is on, {enabled}; \
         kubernetesVersion is {version}: remove the field, or list {gate} in \
         enabledFeatureGates if the cluster enables it"
    )]
    DroppedField {
        path: String,
        gate: &'static str,
        enabled: String,
        version: String,
    },
    #[error(
        "{path}: not a field of the Kubernetes schema, so it is dropped when the object is \
         decoded{hint}"
    )]
    UnknownField { path: String, hint: String },
}

impl PolicyError {
    /// Why a detected log sidecar was left as it is, short enough for a
    /// warning line (the full message is the refusal of a declared one).
    pub fn brief(&self) -> String {
        match self {
            PolicyError::RestartPolicyRules { .. } => {
                "it has restartPolicyRules, which a native sidecar cannot keep".to_string()
            }
            PolicyError::RestartPolicyNotAlways { value, .. } => {
                format!("its restartPolicy is {value}, not Always")
            }
            PolicyError::StartupProbe { .. } => {
                "its startupProbe would hold back the app; remove it".to_string()
            }
            PolicyError::PostStart { .. } => {
                "its postStart hook would hold back the app; remove it".to_string()
            }
            PolicyError::FollowWithoutRetry { .. } => {
                "tail exits on a missing file; use tail -F".to_string()
            }
            PolicyError::HostPortClash { port, other, .. } => {
                format!("hostPort {port} would clash with \"{other}\"")
            }
            PolicyError::ResizePolicyTooOld { .. } => {
                "resizePolicy on a sidecar needs Kubernetes 1.33".to_string()
            }
            PolicyError::ReadsAnotherVolume { app_volume, .. } => {
                format!("it mounts another volume than the app's \"{app_volume}\" at its log")
            }
            PolicyError::AmbiguousAppVolume { .. } => {
                "apps mount different volumes at its log path".to_string()
            }
            PolicyError::NoAppVolume { directory, .. } => {
                format!("no volume shares {directory} with the app")
            }
            PolicyError::MissingSidecarMount { .. } => {
                "it lacks the app's log volume mount (addVolumeMounts: false)".to_string()
            }
            PolicyError::VolumeNoAppMounts { volume, .. } => {
                format!("no app sees its file in volume \"{volume}\"")
            }
            PolicyError::DualFormWithoutArgv { .. } => {
                "the dual form needs its command; set command".to_string()
            }
            PolicyError::SubPathExprEnvMismatch { variable, .. } => {
                format!("its env {variable} differs from the app's")
            }
            other => other.to_string(),
        }
    }
}
