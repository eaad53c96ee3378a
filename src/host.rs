//! The one seam between the policy and its host: Kubewarden's host
//! capabilities, reached over waPC in the module and replaced by tests.

/// Kubernetes lookups the host answers (`kubewarden`/`kubernetes` calls).
pub trait Host {
    /// Calls `operation` (`list_resources_all`, `get_resource`) with a JSON
    /// request; the answer is the JSON the host returns, or its error.
    fn kubernetes(&self, operation: &str, request: &[u8]) -> Result<Vec<u8>, String>;
}

/// The host the module runs in: Kubewarden's policy-server, or kwctl.
pub struct Wapc;

impl Host for Wapc {
    #[cfg(target_arch = "wasm32")]
    fn kubernetes(&self, operation: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        wapc_guest::host_call("kubewarden", "kubernetes", operation, request)
            .map_err(|e| e.to_string())
    }

    /// Outside wasm there is no waPC host to ask.
    #[cfg(not(target_arch = "wasm32"))]
    fn kubernetes(&self, operation: &str, _request: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!(
            "no waPC host outside WebAssembly to answer {operation}"
        ))
    }
}
