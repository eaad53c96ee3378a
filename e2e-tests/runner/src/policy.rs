//! A loaded policy module: settings validation and request validation over waPC.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use wapc::WapcHost;

use crate::engine::{Abort, Limits, Prepared, Runtime, SharedProbe, lock};
use crate::error::Failure;
use crate::host;

/// The `validate` answer of a Kubewarden policy (the SDK's `ValidationResponse`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// The `validate_settings` answer (the SDK's `SettingsValidationResponse`).
#[derive(Debug, Deserialize)]
struct SettingsValidationResponse {
    valid: bool,
    #[serde(default)]
    message: Option<String>,
}

pub struct Policy {
    host: WapcHost,
    probe: SharedProbe,
    limits: Limits,
}

/// Reads and compiles a module.
pub fn prepare(runtime: &Runtime, path: &Path) -> Result<Prepared, Failure> {
    let wasm = std::fs::read(path).map_err(|e| {
        Failure::Module(format!("cannot read policy module {}: {e}", path.display()))
    })?;
    runtime
        .prepare(&wasm)
        .map_err(|e| Failure::Module(format!("cannot load policy module {}: {e}", path.display())))
}

impl Policy {
    /// Instantiates the module and runs its waPC start-up code.
    pub fn instantiate(prepared: &Prepared, limits: Limits) -> Result<Self, Failure> {
        let probe = SharedProbe::default();
        let engine = prepared.engine_provider(limits, probe.clone());
        match WapcHost::new(Box::new(engine), Some(host::callback())) {
            Ok(host) => Ok(Self {
                host,
                probe,
                limits,
            }),
            Err(err) => {
                let abort = lock(&probe).abort.take();
                Err(match abort {
                    Some(abort) => abort_failure(abort, &probe, limits),
                    None => Failure::Module(format!("cannot start the policy module: {err}")),
                })
            }
        }
    }

    pub fn load(runtime: &Runtime, path: &Path, limits: Limits) -> Result<Self, Failure> {
        Self::instantiate(&prepare(runtime, path)?, limits)
    }

    /// Size of the module's linear memory now. Linear memory never shrinks,
    /// so this is also its peak so far.
    pub fn linear_memory_bytes(&self) -> usize {
        lock(&self.probe).memory_bytes
    }

    /// One waPC call; traps, timeouts and guest errors come back as `Failure`.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        match self.host.call(operation, payload) {
            Ok(answer) => Ok(answer),
            Err(err) => {
                let abort = lock(&self.probe).abort.take();
                Err(match (abort, err) {
                    (Some(abort), _) => abort_failure(abort, &self.probe, self.limits),
                    (None, wapc::errors::Error::GuestCallFailure(message)) => {
                        Failure::Guest(message)
                    }
                    (None, other) => Failure::Guest(other.to_string()),
                })
            }
        }
    }

    /// Runs `validate_settings`; kwctl's behaviour on errors: a policy error
    /// makes the settings invalid.
    pub fn validate_settings(&self, settings: &Value) -> Result<(), Failure> {
        let payload = serde_json::to_vec(settings)
            .map_err(|e| Failure::Input(format!("cannot serialize settings: {e}")))?;
        let answer = match self.call("validate_settings", &payload) {
            Ok(answer) => answer,
            Err(Failure::Guest(message)) => {
                return Err(Failure::InvalidSettings(format!(
                    "Error invoking settings validation callback: {message}"
                )));
            }
            Err(other) => return Err(other),
        };
        let response: SettingsValidationResponse =
            serde_json::from_slice(&answer).map_err(|e| malformed(&answer, &e))?;
        if response.valid {
            Ok(())
        } else {
            Err(Failure::InvalidSettings(
                response.message.unwrap_or_default(),
            ))
        }
    }

    /// The payload of a `validate` call, as the policy-server builds it.
    pub fn validate_payload(request: &Value, settings: &Value) -> Result<Vec<u8>, Failure> {
        serde_json::to_vec(&json!({ "request": request, "settings": settings }))
            .map_err(|e| Failure::Input(format!("cannot serialize the validation payload: {e}")))
    }

    pub fn validate_raw(&self, payload: &[u8]) -> Result<ValidationResponse, Failure> {
        let answer = self.call("validate", payload)?;
        serde_json::from_slice(&answer).map_err(|e| malformed(&answer, &e))
    }

    pub fn validate(
        &self,
        request: &Value,
        settings: &Value,
    ) -> Result<ValidationResponse, Failure> {
        self.validate_raw(&Self::validate_payload(request, settings)?)
    }
}

fn abort_failure(abort: Abort, probe: &SharedProbe, limits: Limits) -> Failure {
    match abort {
        Abort::Timeout => Failure::Timeout,
        Abort::Trap(message) => match (lock(probe).denied_growth, limits.max_memory) {
            (Some(asked), Some(max)) => Failure::Trap(format!(
                "{message}\n(linear memory limit of {max} bytes reached: the module asked for {asked} bytes)"
            )),
            _ => Failure::Trap(message),
        },
    }
}

fn malformed(answer: &[u8], err: &serde_json::Error) -> Failure {
    const SHOWN: usize = 200;
    let text = String::from_utf8_lossy(answer);
    let excerpt: String = text.chars().take(SHOWN).collect();
    let ellipsis = if text.chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    Failure::Malformed(format!("{err}: {excerpt:?}{ellipsis}"))
}
