# Build, test and run log-sidecar-policy. `make run` shows it at work,
# `make test` runs every check CI runs.

CARGO_FLAGS ?= --locked
SOURCE_FILES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock
WASM_TARGET := wasm32-wasip1

.PHONY: all test unit-tests fmt lint wasm-target clean

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

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy $(CARGO_FLAGS) --all-targets -- -D warnings

unit-tests:
	cargo test $(CARGO_FLAGS)

test: fmt lint unit-tests policy.wasm

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm
