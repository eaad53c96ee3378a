//! The policy's settings: defaults, strict parsing and validation.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;

use crate::fields::dropped_fields::known_gates;
use crate::suggest::nearest;
use crate::value::{Map, Value, object};
use crate::version::KubeVersion;

/// What the policy does with a declared log sidecar that is not yet native.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Convert it (a mutating policy).
    #[default]
    Mutate,
    /// Never change anything; reject what the conversion would change.
    Validate,
}

/// Where converted sidecars go in `initContainers`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// After every existing init container: same start order, same pod requests.
    #[default]
    Last,
    /// Before the first regular init container, to also stream their logs.
    First,
}

/// How to treat a field that would be dropped after admission.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FieldPolicy {
    #[default]
    Reject,
    Warn,
    Ignore,
}

/// How the policy knows whether a pod's nodes run native sidecars.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SidecarSupport {
    /// Trust `kubernetesVersion`; ask the host nothing.
    #[default]
    Assume,
    /// Ask the host for the kubelet versions of the pod's candidate nodes.
    Detect,
}

/// What becomes of a sidecar that should be native where native sidecars
/// do not work.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// Leave it a regular container, with a warning.
    #[default]
    Legacy,
    /// Refuse the object.
    Reject,
    /// Inject the sidecar twice, as a native sidecar and as a regular
    /// container that agree at run time which of them streams; also where
    /// the nodes are unknown.
    Dual,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    pub mode: Mode,
    pub annotation_prefix: String,
    pub sidecar_names: Vec<String>,
    pub detect_streaming_sidecars: bool,
    pub placement: Placement,
    pub kubernetes_version: KubeVersion,
    pub add_volume_mounts: bool,
    pub create_shared_volume: bool,
    pub allow_opt_out: bool,
    pub enabled_feature_gates: Vec<String>,
    pub dropped_fields: FieldPolicy,
    pub unknown_fields: FieldPolicy,
    pub rewrite_follow: bool,
    pub convert_templates: bool,
    pub sidecar_support: SidecarSupport,
    pub fallback: Fallback,
    pub streamer_image: String,
    pub streamer_resources: Value,
    pub drain_seconds: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Mutate,
            annotation_prefix: "log-sidecar.io".to_string(),
            sidecar_names: Vec::new(),
            detect_streaming_sidecars: true,
            placement: Placement::Last,
            kubernetes_version: KubeVersion::new(1, 33),
            add_volume_mounts: true,
            create_shared_volume: false,
            allow_opt_out: true,
            enabled_feature_gates: Vec::new(),
            dropped_fields: FieldPolicy::Reject,
            unknown_fields: FieldPolicy::Reject,
            rewrite_follow: true,
            convert_templates: false,
            sidecar_support: SidecarSupport::Assume,
            fallback: Fallback::Legacy,
            streamer_image: "busybox:1.37".to_string(),
            streamer_resources: object([
                (
                    "requests",
                    object([("cpu", "10m".into()), ("memory", "16Mi".into())]),
                ),
                ("limits", object([("memory", "64Mi".into())])),
            ]),
            drain_seconds: 2,
        }
    }
}

/// The settings' names as users write them, for unknown-key suggestions.
pub const SETTING_NAMES: [&str; 19] = [
    "mode",
    "annotationPrefix",
    "sidecarNames",
    "detectStreamingSidecars",
    "placement",
    "kubernetesVersion",
    "addVolumeMounts",
    "createSharedVolume",
    "allowOptOut",
    "enabledFeatureGates",
    "droppedFields",
    "unknownFields",
    "rewriteFollow",
    "convertTemplates",
    "sidecarSupport",
    "fallback",
    "streamerImage",
    "streamerResources",
    "drainSeconds",
];

impl Settings {
    /// Parses and validates settings, with a message that names the setting
    /// at fault. `null` means "all defaults", as Kubewarden sends it.
    pub fn from_value(value: &Value) -> Result<Settings, String> {
        use serde_json::{Map, Value};
        // serde reads the settings through serde_json's own value; they are
        // read once per instance (see `cached`).
        let value = match Value::from(value.clone()) {
            Value::Null => Value::Object(Map::new()),
            value => value,
        };
        let Some(fields) = value.as_object() else {
            return Err("settings must be an object".to_string());
        };
        for key in fields.keys() {
            if !SETTING_NAMES.contains(&key.as_str()) {
                return Err(match nearest(key, SETTING_NAMES) {
                    Some(known) => format!("unknown setting \"{key}\": did you mean \"{known}\"?"),
                    None => format!(
                        "unknown setting \"{key}\"; known settings: {}",
                        SETTING_NAMES.join(", ")
                    ),
                });
            }
        }
        let settings = match Settings::deserialize(&value) {
            Ok(settings) => settings,
            Err(whole) => {
                // Again one key at a time, so that a type error names its
                // setting; valid settings, the usual case, are read once.
                for (key, field) in fields {
                    let single = Value::Object(Map::from_iter([(key.clone(), field.clone())]));
                    Settings::deserialize(&single).map_err(|e| format!("setting {key}: {e}"))?;
                }
                return Err(whole.to_string());
            }
        };
        settings.check()?;
        Ok(settings)
    }

    /// [`Settings::from_value`], remembered for the settings last read: a
    /// policy-server sends the same settings with every request, so the
    /// instance parses and checks them once.
    pub fn cached(value: &Value) -> Result<Rc<Settings>, String> {
        thread_local! {
            static LAST: RefCell<Option<(Value, Rc<Settings>)>> = const { RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| match last {
            Some((raw, settings)) if raw == value => Ok(Rc::clone(settings)),
            _ => {
                let settings = Rc::new(Settings::from_value(value)?);
                *last = Some((value.clone(), Rc::clone(&settings)));
                Ok(settings)
            }
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.streamer_image.is_empty()
            || self.streamer_image.contains(char::is_whitespace)
            || self.streamer_image.len() > 4096
        {
            return Err(format!(
                "setting streamerImage: \"{}\" is not an image reference \
                 (such as busybox:1.37 or a name@sha256:digest)",
                self.streamer_image
            ));
        }
        check_resources(&self.streamer_resources)?;
        if self.drain_seconds > MAX_DRAIN_SECONDS {
            return Err(format!(
                "setting drainSeconds: {} is more than {MAX_DRAIN_SECONDS}: a streamer that \
                 drains longer than the default grace period is killed before it is done",
                self.drain_seconds
            ));
        }
        if !is_dns_subdomain(&self.annotation_prefix) {
            return Err(format!(
                "setting annotationPrefix: \"{}\" is not a DNS subdomain \
                 (lowercase letters, digits, '-' and '.', at most 253 characters)",
                self.annotation_prefix
            ));
        }
        if let Some(bad) = self.sidecar_names.iter().find(|n| !is_dns_label(n)) {
            return Err(format!(
                "setting sidecarNames: \"{bad}\" is not a container name \
                 (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters)"
            ));
        }
        if let Some(gate) = self
            .enabled_feature_gates
            .iter()
            .find(|g| !known_gates().any(|known| known == g.as_str()))
        {
            return Err(match nearest(gate, known_gates()) {
                Some(known) => format!(
                    "setting enabledFeatureGates: \"{gate}\" is not a feature gate that drops pod \
                     fields: did you mean \"{known}\"?"
                ),
                None => format!(
                    "setting enabledFeatureGates: \"{gate}\" is not a feature gate that drops pod \
                     fields; known gates: {}",
                    known_gates().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Ok(())
    }

    /// Whether the cluster enables `gate` beyond the defaults of `kubernetesVersion`.
    pub fn gate_enabled(&self, gate: &str) -> bool {
        self.enabled_feature_gates.iter().any(|g| g == gate)
    }

    /// The full name of one of the policy's annotations, e.g. `log-sidecar.io/containers`.
    pub fn annotation(&self, name: &str) -> String {
        format!("{}/{name}", self.annotation_prefix)
    }

    /// The value of the policy's annotation `name` in `annotations`, found
    /// without building its full name: most pods carry none of them.
    pub fn annotation_in<'a>(
        &self,
        annotations: &'a Map<String, Value>,
        name: &str,
    ) -> Option<&'a Value> {
        annotations.iter().find_map(|(key, value)| {
            let rest = key.strip_prefix(self.annotation_prefix.as_str())?;
            (rest.strip_prefix('/')? == name).then_some(value)
        })
    }
}

/// The default `terminationGracePeriodSeconds`: a longer drain is cut short.
const MAX_DRAIN_SECONDS: u32 = 30;

/// `streamerResources`: `requests` and `limits`, each a map of resource
/// names to Kubernetes quantities.
fn check_resources(resources: &Value) -> Result<(), String> {
    let Some(parts) = resources.as_object() else {
        return Err("setting streamerResources: must be an object with requests and limits".into());
    };
    for (part, values) in parts {
        if part != "requests" && part != "limits" {
            return Err(format!(
                "setting streamerResources: unknown key \"{part}\"; use requests and limits"
            ));
        }
        let Some(values) = values.as_object() else {
            return Err(format!(
                "setting streamerResources.{part}: must be an object"
            ));
        };
        for (resource, quantity) in values {
            if !quantity.as_str().is_some_and(is_quantity) {
                return Err(format!(
                    "setting streamerResources.{part}.{resource}: {quantity} is not a Kubernetes \
                     quantity (such as \"10m\", \"16Mi\" or \"1\")"
                ));
            }
        }
    }
    Ok(())
}

/// A Kubernetes quantity: a decimal number, then a binary (`Ki`...`Ei`) or
/// decimal (`m`, `k`, `M`...`E`) suffix or an exponent.
pub fn is_quantity(text: &str) -> bool {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let exponent = |s: &str| {
        s.strip_prefix(['e', 'E']).is_some_and(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        })
    };
    number_ok
        && (matches!(
            suffix,
            "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        ) || exponent(suffix))
}

/// A DNS-1123 label: what Kubernetes requires of container names.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    name.len() <= 63
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A DNS-1123 subdomain: what Kubernetes requires of annotation prefixes.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// The waPC `validate_settings` entry point.
pub fn validate_settings(payload: &[u8]) -> wapc_guest::CallResult {
    let verdict = crate::raw_json::parse::<Value>(payload)
        .map_err(|e| format!("settings are not valid JSON: {e}"))
        .and_then(|value| Settings::from_value(&value));
    let response = kubewarden_policy_sdk::settings::SettingsValidationResponse {
        valid: verdict.is_ok(),
        message: verdict.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    #[rstest]
    #[case::null_means_defaults(json!(null))]
    #[case::empty_object_means_defaults(json!({}))]
    fn missing_settings_take_every_default(#[case] value: Value) {
        assert_eq!(
            Settings::from_value(&value),
            Ok(Settings::default()),
            "no settings should mean the documented defaults"
        );
    }

    #[test]
    fn every_setting_is_read_in_camel_case() {
        let settings = Settings::from_value(&json!({
            "mode": "validate",
            "annotationPrefix": "logs.example.com",
            "sidecarNames": ["streamer"],
            "detectStreamingSidecars": false,
            "placement": "first",
            "kubernetesVersion": "1.30",
            "addVolumeMounts": false,
            "createSharedVolume": true,
            "allowOptOut": false,
            "enabledFeatureGates": ["SidecarContainers"],
            "droppedFields": "warn",
            "unknownFields": "ignore",
            "rewriteFollow": false,
            "convertTemplates": true,
            "sidecarSupport": "detect",
            "fallback": "reject",
            "streamerImage": "registry.example.com/busybox@sha256:0123",
            "streamerResources": {"requests": {"cpu": "5m"}},
            "drainSeconds": 0,
        }))
        .expect("valid settings");
        let expected = Settings {
            mode: Mode::Validate,
            annotation_prefix: "logs.example.com".to_string(),
            sidecar_names: vec!["streamer".to_string()],
            detect_streaming_sidecars: false,
            placement: Placement::First,
            kubernetes_version: KubeVersion::new(1, 30),
            add_volume_mounts: false,
            create_shared_volume: true,
            allow_opt_out: false,
            enabled_feature_gates: vec!["SidecarContainers".to_string()],
            dropped_fields: FieldPolicy::Warn,
            unknown_fields: FieldPolicy::Ignore,
            rewrite_follow: false,
            convert_templates: true,
            sidecar_support: SidecarSupport::Detect,
            fallback: Fallback::Reject,
            streamer_image: "registry.example.com/busybox@sha256:0123".to_string(),
            streamer_resources: json!({"requests": {"cpu": "5m"}}),
            drain_seconds: 0,
        };
        assert_eq!(settings, expected, "each key should set its field");
    }

    #[rstest]
    #[case::unknown_key_gets_the_nearest_name(
        json!({"sidecarName": ["a"]}),
        "unknown setting \"sidecarName\": did you mean \"sidecarNames\"?"
    )]
    #[case::snake_case_key_gets_the_camel_case_name(
        json!({"allow_opt_out": true}),
        "unknown setting \"allow_opt_out\"; known settings: mode, annotationPrefix, sidecarNames, \
         detectStreamingSidecars, placement, kubernetesVersion, addVolumeMounts, \
         createSharedVolume, allowOptOut, enabledFeatureGates, droppedFields, unknownFields, \
         rewriteFollow, convertTemplates, sidecarSupport, fallback, streamerImage, \
         streamerResources, drainSeconds"
    )]
    #[case::image_with_a_blank(
        json!({"streamerImage": "busy box"}),
        "setting streamerImage: \"busy box\" is not an image reference (such as busybox:1.37 or a name@sha256:digest)"
    )]
    #[case::empty_image(
        json!({"streamerImage": ""}),
        "setting streamerImage: \"\" is not an image reference (such as busybox:1.37 or a name@sha256:digest)"
    )]
    #[case::resources_of_the_wrong_shape(
        json!({"streamerResources": ["10m"]}),
        "setting streamerResources: must be an object with requests and limits"
    )]
    #[case::unknown_resources_key(
        json!({"streamerResources": {"request": {"cpu": "1"}}}),
        "setting streamerResources: unknown key \"request\"; use requests and limits"
    )]
    #[case::quantity_that_is_not_one(
        json!({"streamerResources": {"limits": {"memory": "64MB"}}}),
        "setting streamerResources.limits.memory: \"64MB\" is not a Kubernetes quantity (such as \"10m\", \"16Mi\" or \"1\")"
    )]
    #[case::quantity_as_a_number(
        json!({"streamerResources": {"limits": {"cpu": 1}}}),
        "setting streamerResources.limits.cpu: 1 is not a Kubernetes quantity (such as \"10m\", \"16Mi\" or \"1\")"
    )]
    #[case::drain_too_long(
        json!({"drainSeconds": 31}),
        "setting drainSeconds: 31 is more than 30: a streamer that drains longer than the default grace period is killed before it is done"
    )]
    #[case::negative_drain(
        json!({"drainSeconds": -1}),
        "setting drainSeconds: invalid value: integer `-1`, expected u32"
    )]
    #[case::bad_sidecar_support(
        json!({"sidecarSupport": "guess"}),
        "setting sidecarSupport: unknown variant `guess`, expected `assume` or `detect`"
    )]
    #[case::fallback_without_a_known_value(
        json!({"fallback": "twice"}),
        "setting fallback: unknown variant `twice`, expected one of `legacy`, `reject`, `dual`"
    )]
    #[case::misspelt_new_setting(
        json!({"convertTemplate": true}),
        "unknown setting \"convertTemplate\": did you mean \"convertTemplates\"?"
    )]
    #[case::rewrite_follow_as_a_string(
        json!({"rewriteFollow": "true"}),
        "setting rewriteFollow: invalid type: string \"true\", expected a boolean"
    )]
    #[case::convert_templates_as_a_number(
        json!({"convertTemplates": 1}),
        "setting convertTemplates: invalid type: integer `1`, expected a boolean"
    )]
    #[case::bad_mode(
        json!({"mode": "audit"}),
        "setting mode: unknown variant `audit`, expected `mutate` or `validate`"
    )]
    #[case::bad_placement(
        json!({"placement": "middle"}),
        "setting placement: unknown variant `middle`, expected `last` or `first`"
    )]
    #[case::version_with_patch_level(
        json!({"kubernetesVersion": "1.33.1"}),
        "setting kubernetesVersion: \"1.33.1\" is not a Kubernetes version MAJOR.MINOR, \
         such as \"1.33\""
    )]
    #[case::version_as_a_number(
        json!({"kubernetesVersion": 1.33}),
        "setting kubernetesVersion: invalid type: floating point `1.33`, expected a string"
    )]
    #[case::boolean_as_a_string(
        json!({"addVolumeMounts": "yes"}),
        "setting addVolumeMounts: invalid type: string \"yes\", expected a boolean"
    )]
    #[case::prefix_that_is_not_a_dns_subdomain(
        json!({"annotationPrefix": "Log_Sidecar"}),
        "setting annotationPrefix: \"Log_Sidecar\" is not a DNS subdomain (lowercase letters, \
         digits, '-' and '.', at most 253 characters)"
    )]
    #[case::sidecar_name_that_is_not_a_dns_label(
        json!({"sidecarNames": ["ok", "-bad"]}),
        "setting sidecarNames: \"-bad\" is not a container name (a DNS-1123 label: lowercase \
         letters, digits and '-', at most 63 characters)"
    )]
    #[case::misspelt_feature_gate(
        json!({"enabledFeatureGates": ["SidecarContainer"]}),
        "setting enabledFeatureGates: \"SidecarContainer\" is not a feature gate that drops \
         pod fields: did you mean \"SidecarContainers\"?"
    )]
    #[case::bad_dropped_fields_policy(
        json!({"droppedFields": "drop"}),
        "setting droppedFields: unknown variant `drop`, expected one of `reject`, `warn`, `ignore`"
    )]
    #[case::settings_that_are_not_an_object(json!(["mode"]), "settings must be an object")]
    fn invalid_settings_are_refused_with_a_message_naming_the_setting(
        #[case] value: Value,
        #[case] message: &str,
    ) {
        assert_eq!(
            Settings::from_value(&value),
            Err(message.to_string()),
            "settings {value} should be refused"
        );
    }

    #[test]
    fn validate_settings_answers_in_the_sdk_format() {
        let answer = validate_settings(br#"{"mode":"nope"}"#).expect("an answer, not an error");
        let answer: Value = serde_json::from_slice(&answer).expect("JSON answer");
        assert_eq!(
            answer,
            json!({"valid": false, "message": "setting mode: unknown variant `nope`, expected `mutate` or `validate`"}),
            "invalid settings should be reported as invalid, not as an error"
        );
        let answer = validate_settings(b"not json").expect("an answer, not an error");
        let answer: Value = serde_json::from_slice(&answer).expect("JSON answer");
        assert_eq!(
            answer["valid"],
            json!(false),
            "non-JSON settings are invalid"
        );
    }

    #[test]
    fn annotation_names_use_the_configured_prefix() {
        let settings = Settings {
            annotation_prefix: "example.com".to_string(),
            ..Settings::default()
        };
        assert_eq!(settings.annotation("converted"), "example.com/converted");
    }

    #[rstest]
    #[case::the_policy_annotation(json!({"example.com/converted": "a"}), Some(json!("a")))]
    #[case::another_prefix(json!({"example.org/converted": "a"}), None)]
    #[case::a_longer_prefix(json!({"example.com.evil/converted": "a"}), None)]
    #[case::another_name(json!({"example.com/converted-x": "a"}), None)]
    #[case::no_slash(json!({"example.comconverted": "a"}), None)]
    #[case::among_others(json!({"app": "x", "example.com/converted": "b"}), Some(json!("b")))]
    fn annotations_are_found_by_prefix_and_name(
        #[case] annotations: Value,
        #[case] found: Option<Value>,
    ) {
        let settings = Settings {
            annotation_prefix: "example.com".to_string(),
            ..Settings::default()
        };
        let annotations = annotations.as_object().expect("an object");
        assert_eq!(
            settings.annotation_in(annotations, "converted"),
            found.as_ref()
        );
    }

    #[test]
    fn the_settings_last_read_are_remembered_and_replaced_when_they_change() {
        let validate = json!({"mode": "validate"});
        let mutate = json!({"placement": "first"});
        assert_eq!(
            Settings::cached(&validate).map(|s| s.mode),
            Ok(Mode::Validate)
        );
        assert_eq!(
            Settings::cached(&validate).map(|s| s.mode),
            Ok(Mode::Validate)
        );
        let other = Settings::cached(&mutate).expect("valid settings");
        assert_eq!(
            (other.mode, other.placement),
            (Mode::Mutate, Placement::First)
        );
        assert_eq!(
            Settings::cached(&json!({"mode": "nope"})).map(|s| s.mode),
            Err(
                "setting mode: unknown variant `nope`, expected `mutate` or `validate`".to_string()
            )
        );
        assert_eq!(
            Settings::cached(&validate).map(|s| s.mode),
            Ok(Mode::Validate)
        );
    }
}
