//! A loaded policy module: settings validation and request validation over waPC.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use wapc::WapcHost;

use crate::access::{
    ContextAwareArgs, Metadata, effective_metadata, grant, module_metadata, read_module,
};
use crate::engine::{Abort, Limits, Prepared, Runtime, SharedProbe, lock};
use crate::error::Failure;
use crate::host::Host;
use crate::input::read_text;
use crate::session::Session;

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

/// A compiled module and the metadata `kwctl annotate` left in it.
pub struct Module {
    pub prepared: Prepared,
    /// The `io.kubewarden.metadata` section; `None` for a plain module.
    pub metadata: Option<Metadata>,
}

/// Reads and compiles a module, and reads its metadata section.
pub fn prepare(runtime: &Runtime, path: &Path) -> Result<Module, Failure> {
    let wasm = read_module(path)?;
    let prepared = runtime.prepare(&wasm).map_err(|e| {
        Failure::Module(format!("cannot load policy module {}: {e}", path.display()))
    })?;
    let metadata = module_metadata(&wasm).map_err(|e| {
        Failure::Module(format!("cannot load policy module {}: {e}", path.display()))
    })?;
    Ok(Module { prepared, metadata })
}

/// How the host calls of the modules of one command are answered: the
/// context-aware options, with the session file they name read and checked.
pub struct HostSetup {
    allow: bool,
    session: Option<Arc<Session>>,
    metadata_path: Option<String>,
}

impl HostSetup {
    pub fn load(args: &ContextAwareArgs) -> Result<Self, Failure> {
        let session = match &args.replay {
            None => None,
            Some(path) => {
                let text = read_text(path, "host capabilities interactions file")?;
                let session = Session::parse(&text).map_err(|e| {
                    Failure::Input(format!("cannot deserialize contents of {path}: {e}"))
                })?;
                Some(Arc::new(session))
            }
        };
        Ok(Self {
            allow: args.allow,
            session,
            metadata_path: args.metadata_path.clone(),
        })
    }

    /// The host of `module`: the grant kwctl would give it (notes on
    /// stderr), and its own replay of the session. The `--metadata-path`
    /// file applies to the policy module only, and only when the module
    /// has no metadata section of its own.
    pub fn host(&self, module: &Module, role: Role) -> Result<Arc<Host>, Failure> {
        let metadata_path = match role {
            Role::Policy => self.metadata_path.as_deref(),
            Role::Floor(_) => None,
        };
        let metadata = effective_metadata(module.metadata.clone(), metadata_path)?;
        let grant = grant(self.allow, metadata.as_ref());
        for note in &grant.notes {
            match role {
                Role::Policy => eprintln!("{note}"),
                Role::Floor(path) => eprintln!("{}: {note}", path.display()),
            }
        }
        Ok(Host::new(grant.allowed, self.session.clone()))
    }
}

/// What a module is to the command that loads it.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// The module under test.
    Policy,
    /// `bench`'s baseline module, named in its notes.
    Floor(&'a Path),
}

impl Policy {
    /// Reads, compiles and instantiates the module at `path` with the host
    /// `setup` gives it.
    pub fn load(
        runtime: &Runtime,
        path: &Path,
        limits: Limits,
        setup: &HostSetup,
        role: Role,
    ) -> Result<(Self, Arc<Host>), Failure> {
        let module = prepare(runtime, path)?;
        let host = setup.host(&module, role)?;
        let policy = Self::instantiate(&module.prepared, limits, &host)?;
        Ok((policy, host))
    }

    /// Instantiates the module and runs its waPC start-up code; `host`
    /// answers its host calls.
    pub fn instantiate(
        prepared: &Prepared,
        limits: Limits,
        host: &Arc<Host>,
    ) -> Result<Self, Failure> {
        let probe = SharedProbe::default();
        let engine = prepared.engine_provider(limits, probe.clone());
        match WapcHost::new(Box::new(engine), Some(host.callback())) {
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
