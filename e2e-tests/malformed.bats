#!/usr/bin/env bats
# The malformed-input corpus of test_data/malformed/ on the compiled policy:
# every bad input gets a clear rejection, never a trap. *.payload files are
# raw `validate` payloads, sent with the runner's --payload-path: kwctl has no
# such flag, and builds the payload itself from a request file, so these tests
# are skipped on kwctl. *.json files are complete AdmissionRequests, malformed
# only in the object. The large inputs are generated, as in tests/malformed.rs.

load helpers

MALFORMED="${DATA}/malformed"

# evaluate_payload FILE WHY: sends FILE as the raw `validate` payload, on the
# runner only; WHY says why no request file can give kwctl that payload.
evaluate_payload() {
  runner_only "kwctl has no --payload-path, and $2"
  run_policy --payload-path "$1"
  [ "${status}" -eq 0 ]
  [ -n "${response}" ]
}

# rejected_exactly LINE...: rejected, with exactly these lines.
rejected_exactly() {
  local expected
  expected="$(jq -cn '$ARGS.positional' --args "$@")"
  printf '%s' "${response}" | jq -e --argjson e "${expected}" \
    '.allowed == false and (.status.message | split("\n")) == $e and (has("patch") | not)'
}

@test "an empty payload" {
  evaluate_payload "${MALFORMED}/empty.payload" \
    "an empty payload cannot come from a request file"
  rejected_exactly 'the validation payload is not valid JSON: EOF while parsing a value at line 1 column 0'
}

@test "a payload that is not JSON" {
  evaluate_payload "${MALFORMED}/not_json.payload" \
    "it refuses a request file that is not JSON before the policy runs"
  rejected_exactly 'the validation payload is not valid JSON: expected value at line 1 column 1'
}

@test "a payload with invalid UTF-8" {
  evaluate_payload "${MALFORMED}/invalid_utf8.payload" \
    "it refuses a request file that is not UTF-8 before the policy runs"
  rejected_exactly 'the validation payload is not valid JSON: invalid UTF-8 at line 1 column 298'
}

@test "JSON nested deeper than the parser allows" {
  evaluate_payload "${MALFORMED}/nesting_deeper_than_the_parser_allows.payload" \
    "its own JSON parser refuses this nesting in the request file before the policy runs"
  rejected_exactly 'the validation payload is not valid JSON: recursion limit exceeded at line 1 column 433'
}

@test "settings that are not an object" {
  evaluate_payload "${MALFORMED}/settings_not_an_object.payload" \
    "it sends validate only settings that validate_settings accepted"
  rejected_exactly 'settings: invalid settings: settings must be an object'
}

@test "a number where a setting needs a string" {
  evaluate_payload "${MALFORMED}/settings_number_for_a_string.payload" \
    "it sends validate only settings that validate_settings accepted"
  rejected_exactly 'settings: invalid settings: setting kubernetesVersion: invalid type: floating point `1.33`, expected a string'
}

@test "a request without an object" {
  evaluate malformed/object_missing.json
  rejected_exactly 'request.object is required'
}

@test "a request whose object is null" {
  evaluate malformed/object_null.json
  rejected_exactly 'request.object is required'
}

@test "a spec of the wrong type" {
  evaluate malformed/spec_wrong_type.json
  rejected_exactly 'spec must be an object'
}

@test "containers that are not a list" {
  evaluate malformed/containers_not_a_list.json
  rejected_exactly 'spec.containers must be a list'
}

@test "a container that is not an object" {
  evaluate malformed/container_not_an_object.json
  rejected_exactly 'spec.containers[1] must be an object'
}

@test "a container without a name" {
  evaluate malformed/container_without_name.json
  rejected_exactly 'spec.containers[1].name is required'
}

@test "volumeMounts that are not a list" {
  evaluate malformed/volume_mounts_not_a_list.json
  rejected_exactly 'spec.containers[0].volumeMounts must be a list'
}

@test "a command that is not a list" {
  evaluate malformed/command_not_a_list.json
  rejected_exactly 'spec.containers[1].command must be a list'
}

@test "args with a number" {
  evaluate malformed/args_with_a_number.json
  rejected_exactly 'spec.containers[1].args[2] must be a string'
}

@test "duplicate container names" {
  evaluate malformed/duplicate_container_names.json
  rejected_exactly 'spec.containers[1].name: container name "app" is used more than once'
}

@test "numbers where strings belong" {
  evaluate malformed/numbers_where_strings_belong.json
  rejected_exactly \
    'metadata.annotations[log-sidecar.io/containers] must be a string' \
    'spec.containers[0].name must be a string' \
    'spec.containers[0].volumeMounts[0].mountPath must be a string' \
    'spec.containers[1].restartPolicy must be a string'
}

# Generated inputs, too large to commit.

# pod_request ANNOTATIONS < CONTAINERS: a complete Pod CREATE request on
# stdout, as the API server sends it (kwctl refuses one without its envelope).
pod_request() {
  jq -c --argjson annotations "$1" '. as $containers | {
    uid: "7d3c1c8e-malformed",
    kind: {group: "", version: "v1", kind: "Pod"},
    resource: {group: "", version: "v1", resource: "pods"},
    requestKind: {group: "", version: "v1", kind: "Pod"},
    requestResource: {group: "", version: "v1", resource: "pods"},
    name: "shop",
    namespace: "default",
    operation: "CREATE",
    userInfo: {username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"]},
    object: {apiVersion: "v1", kind: "Pod",
             metadata: {name: "shop", annotations: $annotations},
             spec: {containers: $containers, volumes: [{name: "varlog", emptyDir: {}}]}},
    oldObject: null,
    dryRun: false,
    options: {kind: "CreateOptions", apiVersion: "meta.k8s.io/v1"}
  }'
}

APP='{"name": "app", "image": "busybox", "command": ["sh", "-c", "while :; do date >> /var/log/app.log; sleep 1; done"], "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]}'

# big_pod FILE [DUPLICATE]: 1 app and 999 streaming sidecars padded to 1.5 MiB;
# with DUPLICATE, the last sidecar is named like the app.
big_pod() {
  jq -cn --argjson app "${APP}" --arg dup "${2:-}" '
    [$app] + [range(1; 1000) | {
      name: (if $dup != "" and . == 999 then "app" else "sidecar-\(.)" end),
      image: "busybox",
      command: ["sh", "-c", "tail -n+1 -F /var/log/app.log"],
      env: [{name: "PADDING", value: ("x" * 1500)}]
    }]' | pod_request '{}' >"$1"
}

@test "an annotation with 10,000 names is rejected in 50 lines" {
  local names request="${BATS_TEST_TMPDIR}/names.json"
  names="$(jq -cn '{"log-sidecar.io/containers": ([range(10000) | "c\(.)"] | join(","))}')"
  printf '[%s, {"name": "sidecar", "image": "busybox"}]' "${APP}" | pod_request "${names}" >"${request}"
  run_policy --request-path "${request}"
  [ "${status}" -eq 0 ]
  jq_response '.allowed == false and (.status.message | split("\n") | length == 50)'
  rejected_with 'annotation log-sidecar.io/containers names container "c0", which is not in spec.containers or spec.initContainers: fix the name or remove it from the list'
  rejected_with '...and 9951 more problems'
}

@test "a 1.5 MiB pod with 1,000 containers is converted" {
  local request="${BATS_TEST_TMPDIR}/big.json"
  big_pod "${request}"
  [ "$(wc -c <"${request}")" -ge $((3 << 19)) ]
  # The runner also caps the module's linear memory; kwctl has no such flag.
  local limits=()
  if on_runner; then limits=(--max-memory 64Mi); fi
  run_policy --request-path "${request}" "${limits[@]}"
  [ "${status}" -eq 0 ]
  jq_response '.allowed == true'
  jq_response '.patch | @base64d | fromjson | map(select(.path | startswith("/spec/initContainers"))) | length > 0'
}

@test "a 1.5 MiB pod with 1,000 containers is converted within 64 MiB of linear memory" {
  runner_only "kwctl has no --report-memory or --max-memory to show or cap the module's linear memory"
  local request="${BATS_TEST_TMPDIR}/big.json"
  big_pod "${request}"
  run_policy --request-path "${request}" --report-memory --max-memory 64Mi
  [ "${status}" -eq 0 ]
  local peak
  peak="$(printf '%s\n' "${stderr}" | sed -n 's/^peak linear memory: \([0-9]*\) bytes$/\1/p')"
  echo "peak linear memory: ${peak} bytes"
  [ -n "${peak}" ]
  [ "${peak}" -lt $((64 << 20)) ]
  jq_response '.allowed == true'
  jq_response '.patch | @base64d | fromjson | map(select(.path | startswith("/spec/initContainers"))) | length > 0'
}

@test "a 1.5 MiB pod with a duplicate container name is rejected" {
  local request="${BATS_TEST_TMPDIR}/big-duplicate.json"
  big_pod "${request}" duplicate
  # The runner also caps the module's linear memory; kwctl has no such flag.
  local limits=()
  if on_runner; then limits=(--max-memory 64Mi); fi
  run_policy --request-path "${request}" "${limits[@]}"
  [ "${status}" -eq 0 ]
  rejected_exactly 'spec.containers[999].name: container name "app" is used more than once'
}
