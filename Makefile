# Build, test and run log-sidecar-policy. `make run` shows it at work,
# `make test` runs every check CI runs.

CARGO_FLAGS ?= --locked
SOURCE_FILES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock
WASM_TARGET := wasm32-wasip1

RUNNER := e2e-tests/target/release/log-sidecar-runner
RUNNER_SOURCES := $(shell find e2e-tests/runner/src -name '*.rs') e2e-tests/runner/Cargo.toml e2e-tests/runner/Cargo.lock

.PHONY: all test unit-tests fmt lint wasm-target e2e-tools e2e-tests run clean

all: policy.wasm

# A fresh machine has the toolchain but not the wasm target.
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

policy.wasm: $(SOURCE_FILES) | wasm-target
	cargo build $(CARGO_FLAGS) --target=$(WASM_TARGET) --release --lib
	cp target/$(WASM_TARGET)/release/log_sidecar_policy.wasm policy.wasm

annotated-policy.wasm: policy.wasm policy-metadata.yml README.md
	@command -v kwctl >/dev/null || { echo "kwctl is needed to annotate the policy: https://github.com/kubewarden/kubewarden-controller/releases" >&2; exit 1; }
	kwctl annotate -m policy-metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

# The waPC runner that hosts policy.wasm like kwctl and the policy-server.
$(RUNNER): $(RUNNER_SOURCES)
	cargo build $(CARGO_FLAGS) --release --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target

# bats and jq come from the distribution when missing; kubernetes-validate
# (the upstream schema, an outside oracle for the policy's output) from PyPI.
e2e-tools:
	@command -v bats >/dev/null && command -v jq >/dev/null || { \
		SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y bats jq; }
	@command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate

# KWCTL=kwctl runs the same suites against the real kwctl.
e2e-tests: policy.wasm $(RUNNER) e2e-tools
	bats e2e-tests/

# The policy at work on the seed pod: the converted manifest, then the warnings.
run: policy.wasm $(RUNNER)
	@warnings=$$(mktemp); \
	$(RUNNER) convert --policy policy.wasm examples/eshop-cart-app.yaml 2>"$$warnings"; status=$$?; \
	echo; echo "# warnings"; cat "$$warnings"; rm -f "$$warnings"; exit $$status

fmt:
	cargo fmt --all -- --check
	cargo fmt --manifest-path e2e-tests/runner/Cargo.toml -- --check

lint:
	cargo clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	cargo clippy $(CARGO_FLAGS) --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target --all-targets -- -D warnings

# The runner's tests build in release mode to reuse the runner's own build of wasmtime.
unit-tests:
	cargo test $(CARGO_FLAGS)
	cargo test $(CARGO_FLAGS) --release --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target

test: fmt lint unit-tests e2e-tests

clean:
	cargo clean
	rm -rf e2e-tests/target
	rm -f policy.wasm annotated-policy.wasm
