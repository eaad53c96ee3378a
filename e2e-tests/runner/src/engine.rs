//! A waPC engine on wasmtime, plugged into `wapc::WapcHost`.
//!
//! wasmtime-provider (what Kubewarden uses) keeps its `Store` private, so it
//! can neither report how large the module's linear memory grew nor tell a
//! trap from a timeout except by matching message text. This engine speaks
//! the same waPC host ABI but owns the store, so it can do both. The waPC
//! conversation state itself stays in `wapc::ModuleState`.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use wapc::{ModuleState, WebAssemblyEngineProvider, wapc_functions};
use wasmtime::{
    Caller, Config, Engine, Extern, InstancePre, Linker, Memory, Module, ResourceLimiter, Store,
    Trap, TypedFunc, WasmBacktrace,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long one epoch tick lasts: the granularity of the timeout.
const TICK: Duration = Duration::from_millis(10);

/// Limits applied to every instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Wall-clock budget of one waPC call (and of the module's start-up code).
    pub timeout: Duration,
    /// Cap on the linear memory, in bytes; `None` for no cap.
    pub max_memory: Option<usize>,
}

/// Why the last guest call did not complete, as seen by the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Abort {
    Trap(String),
    Timeout,
}

/// What the host observed, shared with the caller of `WapcHost`.
#[derive(Debug, Default)]
pub struct Probe {
    /// Set when the last call ended in a trap or a timeout.
    pub abort: Option<Abort>,
    /// Size of the linear memory after the last call, in bytes.
    pub memory_bytes: usize,
    /// Largest size the module asked for, granted or not, in bytes.
    pub peak_requested_bytes: usize,
    /// Set when a memory growth was denied by `Limits::max_memory`.
    pub denied_growth: Option<usize>,
}

pub type SharedProbe = Arc<Mutex<Probe>>;

pub fn lock(probe: &SharedProbe) -> std::sync::MutexGuard<'_, Probe> {
    probe.lock().unwrap_or_else(PoisonError::into_inner)
}

struct HostState {
    wasi: WasiP1Ctx,
    wapc: Option<Arc<ModuleState>>,
    limiter: MemoryLimiter,
}

struct MemoryLimiter {
    max_memory: Option<usize>,
    probe: SharedProbe,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let mut probe = lock(&self.probe);
        probe.peak_requested_bytes = probe.peak_requested_bytes.max(desired);
        if self.max_memory.is_some_and(|max| desired > max) {
            probe.denied_growth = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Compiles modules; one per process is enough.
pub struct Runtime {
    engine: Engine,
}

impl Runtime {
    pub fn new() -> Result<Self, String> {
        let mut config = Config::new();
        // Interruption by epochs, as the policy-server does for its timeouts.
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| format!("cannot set up wasmtime: {e}"))?;
        let ticker = engine.clone();
        thread::Builder::new()
            .name("epoch-ticker".to_owned())
            .spawn(move || {
                loop {
                    thread::sleep(TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
        Ok(Self { engine })
    }

    /// Compiles `wasm` and links it against WASI preview 1 and the waPC host ABI.
    pub fn prepare(&self, wasm: &[u8]) -> Result<Prepared, String> {
        // wasmtime's parse errors span several lines; keep messages to one.
        let module = Module::new(&self.engine, wasm).map_err(|e| {
            format!("{e:#}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })?;
        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| format!("cannot link WASI: {e:#}"))?;
        add_wapc_to_linker(&mut linker).map_err(|e| format!("cannot link waPC: {e:#}"))?;
        let instance_pre = linker
            .instantiate_pre(&module)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Prepared {
            engine: self.engine.clone(),
            instance_pre,
        })
    }
}

/// A compiled and linked module, ready to be instantiated.
pub struct Prepared {
    engine: Engine,
    instance_pre: InstancePre<HostState>,
}

impl Prepared {
    /// An engine for `wapc::WapcHost::new`, reporting into `probe`.
    pub fn engine_provider(&self, limits: Limits, probe: SharedProbe) -> WapcEngine {
        WapcEngine {
            engine: self.engine.clone(),
            instance_pre: self.instance_pre.clone(),
            limits,
            probe,
            running: None,
        }
    }
}

struct Running {
    store: Store<HostState>,
    guest_call: TypedFunc<(i32, i32), i32>,
    memory: Option<Memory>,
    wapc: Arc<ModuleState>,
}

pub struct WapcEngine {
    engine: Engine,
    instance_pre: InstancePre<HostState>,
    limits: Limits,
    probe: SharedProbe,
    running: Option<Running>,
}

impl WapcEngine {
    fn deadline_ticks(&self) -> u64 {
        // Capped well below u64::MAX: wasmtime adds the current epoch to it.
        const NO_DEADLINE: u64 = 1 << 48;
        let ticks = self.limits.timeout.as_millis() / TICK.as_millis();
        u64::try_from(ticks)
            .unwrap_or(NO_DEADLINE)
            .clamp(1, NO_DEADLINE)
    }

    fn record_memory(&self, running: &Running) {
        if let Some(memory) = running.memory {
            lock(&self.probe).memory_bytes = memory.data_size(&running.store);
        }
    }
}

/// Turns an error out of wasm execution into what the runner reports.
fn classify(err: &wasmtime::Error) -> Abort {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return Abort::Timeout;
        }
        let mut message = trap.to_string();
        if let Some(backtrace) = err.downcast_ref::<WasmBacktrace>() {
            message.push_str(&format!("\n{backtrace}"));
        }
        return Abort::Trap(message);
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Abort::Trap(format!("module exited with status {}", exit.0));
    }
    Abort::Trap(format!("{err:#}"))
}

impl WebAssemblyEngineProvider for WapcEngine {
    fn init(&mut self, wapc: Arc<ModuleState>) -> Result<(), BoxError> {
        // No arguments, no environment, no preopened directories, empty stdin;
        // the module's stdout goes to stderr so it cannot corrupt our output.
        let wasi = WasiCtxBuilder::new()
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .build_p1();
        let state = HostState {
            wasi,
            wapc: Some(wapc.clone()),
            limiter: MemoryLimiter {
                max_memory: self.limits.max_memory,
                probe: self.probe.clone(),
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.deadline_ticks());

        let instance = self
            .instance_pre
            .instantiate(&mut store)
            .map_err(|e| instantiation_error(&e))?;
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, wapc_functions::GUEST_CALL)
            .map_err(|_| "the module exports no waPC `__guest_call` function".to_owned())?;
        let memory = instance.get_memory(&mut store, "memory");

        // waPC start-up: TinyGo's `_start`, then `wapc_init` where the guest
        // registers its functions.
        for name in wapc_functions::REQUIRED_STARTS {
            let Ok(start) = instance.get_typed_func::<(), ()>(&mut store, name) else {
                continue;
            };
            store.set_epoch_deadline(self.deadline_ticks());
            if let Err(err) = start.call(&mut store, ()) {
                let clean_exit = err
                    .downcast_ref::<wasmtime_wasi::I32Exit>()
                    .is_some_and(|exit| exit.0 == 0);
                if !clean_exit {
                    let abort = classify(&err);
                    lock(&self.probe).abort = Some(abort.clone());
                    return Err(format!("`{name}` failed: {}", describe(&abort)).into());
                }
            }
        }

        let running = Running {
            store,
            guest_call,
            memory,
            wapc,
        };
        self.record_memory(&running);
        self.running = Some(running);
        Ok(())
    }

    fn call(&mut self, op_length: i32, msg_length: i32) -> Result<i32, BoxError> {
        let ticks = self.deadline_ticks();
        let Some(mut running) = self.running.take() else {
            return Err("the module was not initialised".into());
        };
        lock(&self.probe).abort = None;
        running.store.set_epoch_deadline(ticks);
        let result = running
            .guest_call
            .call(&mut running.store, (op_length, msg_length));
        self.record_memory(&running);
        let outcome = match result {
            Ok(code) => Ok(code),
            Err(err) => {
                let abort = classify(&err);
                running.wapc.set_guest_error(describe(&abort));
                lock(&self.probe).abort = Some(abort);
                // 0 tells wapc the call failed; it then reports the guest error.
                Ok(0)
            }
        };
        self.running = Some(running);
        outcome
    }

    fn replace(&mut self, _bytes: &[u8]) -> Result<(), BoxError> {
        Err("replacing the module is not supported".into())
    }
}

fn describe(abort: &Abort) -> String {
    match abort {
        Abort::Trap(message) => format!("trap: {message}"),
        Abort::Timeout => "execution deadline exceeded".to_owned(),
    }
}

fn instantiation_error(err: &wasmtime::Error) -> String {
    format!("cannot instantiate the module: {err:#}")
}

// --- waPC host ABI (imports of the `wapc` module) ---------------------------

fn guest_memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the module exports no `memory`"),
    }
}

fn wapc_state(caller: &Caller<'_, HostState>) -> wasmtime::Result<Arc<ModuleState>> {
    match &caller.data().wapc {
        Some(state) => Ok(state.clone()),
        None => wasmtime::bail!("waPC host state missing"),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory, bounds-checked.
fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let (Ok(start), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        wasmtime::bail!("negative pointer or length from the guest");
    };
    let data = memory.data(&caller);
    match start.checked_add(len).and_then(|end| data.get(start..end)) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => wasmtime::bail!("guest buffer {start}+{len} is outside linear memory"),
    }
}

fn read_str(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    what: &str,
) -> wasmtime::Result<String> {
    let bytes = read_bytes(caller, ptr, len)?;
    String::from_utf8(bytes).map_err(|_| wasmtime::format_err!("{what} is not UTF-8"))
}

fn write_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = guest_memory(caller)?;
    let Ok(start) = usize::try_from(ptr) else {
        wasmtime::bail!("negative pointer from the guest");
    };
    memory
        .write(caller, start, bytes)
        .map_err(|e| wasmtime::format_err!("cannot write into guest memory: {e}"))
}

fn len_as_i32(len: usize) -> wasmtime::Result<i32> {
    i32::try_from(len)
        .map_err(|_| wasmtime::format_err!("buffer of {len} bytes is too large for waPC"))
}

fn add_wapc_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let ns = wapc::HOST_NAMESPACE;

    linker.func_wrap(
        ns,
        wapc_functions::GUEST_REQUEST_FN,
        |mut caller: Caller<'_, HostState>, op_ptr: i32, ptr: i32| -> wasmtime::Result<()> {
            let state = wapc_state(&caller)?;
            if let Some(invocation) = state.get_guest_request() {
                write_bytes(&mut caller, ptr, &invocation.msg)?;
                write_bytes(&mut caller, op_ptr, invocation.operation.as_bytes())?;
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::GUEST_RESPONSE_FN,
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_bytes(&mut caller, ptr, len)?;
            wapc_state(&caller)?.set_guest_response(bytes);
            Ok(())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::GUEST_ERROR_FN,
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_bytes(&mut caller, ptr, len)?;
            let message = String::from_utf8_lossy(&bytes).into_owned();
            wapc_state(&caller)?.set_guest_error(message);
            Ok(())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_CALL,
        |mut caller: Caller<'_, HostState>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         ptr: i32,
         len: i32|
         -> wasmtime::Result<i32> {
            let binding = read_str(&mut caller, bd_ptr, bd_len, "host call binding")?;
            let namespace = read_str(&mut caller, ns_ptr, ns_len, "host call namespace")?;
            let operation = read_str(&mut caller, op_ptr, op_len, "host call operation")?;
            let payload = read_bytes(&mut caller, ptr, len)?;
            let state = wapc_state(&caller)?;
            // wapc records the callback's answer or error for the guest to fetch.
            Ok(state
                .do_host_call(&binding, &namespace, &operation, &payload)
                .unwrap_or(0))
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_RESPONSE_FN,
        |mut caller: Caller<'_, HostState>, ptr: i32| -> wasmtime::Result<()> {
            let state = wapc_state(&caller)?;
            if let Some(result) =
                state.with_host_response(|bytes| write_bytes(&mut caller, ptr, bytes))
            {
                result?;
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_RESPONSE_LEN_FN,
        |caller: Caller<'_, HostState>| -> wasmtime::Result<i32> {
            len_as_i32(wapc_state(&caller)?.host_response_len())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_ERROR_FN,
        |mut caller: Caller<'_, HostState>, ptr: i32| -> wasmtime::Result<()> {
            if let Some(error) = wapc_state(&caller)?.get_host_error() {
                write_bytes(&mut caller, ptr, error.as_bytes())?;
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_ERROR_LEN_FN,
        |caller: Caller<'_, HostState>| -> wasmtime::Result<i32> {
            len_as_i32(wapc_state(&caller)?.get_host_error().map_or(0, |e| e.len()))
        },
    )?;

    linker.func_wrap(
        ns,
        wapc_functions::HOST_CONSOLE_LOG,
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_bytes(&mut caller, ptr, len)?;
            eprintln!("policy console: {}", String::from_utf8_lossy(&bytes));
            Ok(())
        },
    )?;

    Ok(())
}
