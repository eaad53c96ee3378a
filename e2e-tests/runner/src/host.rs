//! The host side of the policy's waPC host calls.

use serde_json::Value;
use wapc::HostCallback;

/// Environment variable that makes the runner print the policy's log events.
pub const LOG_ENV: &str = "RUNNER_LOG";

/// The policy's log events are printed on stderr when `RUNNER_LOG` is set to
/// anything but empty or `0`; they are dropped otherwise, so test output stays
/// readable. Every other host capability (Kubernetes lookups, sigstore, DNS…)
/// is refused: this policy must not need any.
pub fn callback() -> Box<HostCallback> {
    let print_logs = std::env::var(LOG_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    Box::new(move |_id, binding, namespace, operation, payload| {
        match (binding, namespace, operation) {
            ("kubewarden", "tracing", "log") => {
                if print_logs {
                    eprintln!("{}", format_log_event(payload));
                }
                Ok(Vec::new())
            }
            _ => Err(format!(
                "host call not supported by log-sidecar-runner: \
                 binding {binding:?}, namespace {namespace:?}, operation {operation:?}"
            )
            .into()),
        }
    })
}

/// `policy log: INFO message key=value …` out of the SDK's JSON log event.
pub fn format_log_event(payload: &[u8]) -> String {
    let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(payload) else {
        return format!("policy log: {}", String::from_utf8_lossy(payload));
    };
    let level = match event.shift_remove("level") {
        Some(Value::String(level)) => level.to_uppercase(),
        _ => "INFO".to_owned(),
    };
    let message = match event.shift_remove("message") {
        Some(Value::String(message)) => message,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut line = format!("policy log: {level} {message}");
    for (key, value) in &event {
        match value {
            Value::String(s) => line.push_str(&format!(" {key}={s}")),
            other => line.push_str(&format!(" {key}={other}")),
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sdk_log_events() {
        let event = br#"{"level":"info","message":"validating","name":"web","count":2}"#;
        assert_eq!(
            format_log_event(event),
            "policy log: INFO validating name=web count=2"
        );
    }

    #[test]
    fn passes_non_json_log_payloads_through() {
        assert_eq!(format_log_event(b"plain"), "policy log: plain");
    }

    #[test]
    fn refuses_other_host_calls_by_name() {
        let callback = callback();
        let err = callback(0, "kubewarden", "oci", "v2/verify", b"{}").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"kubewarden\""), "{message}");
        assert!(message.contains("\"oci\""), "{message}");
        assert!(message.contains("\"v2/verify\""), "{message}");
        assert!(callback(0, "kubewarden", "tracing", "log", b"{}").is_ok());
    }
}
