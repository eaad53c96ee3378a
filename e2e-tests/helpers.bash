# Shared by the e2e suites: run the compiled policy the way Kubewarden does.
# KWCTL defaults to the project's waPC runner; set KWCTL=kwctl to run the same
# suites against the real kwctl.

ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
KWCTL="${KWCTL:-${ROOT}/e2e-tests/target/release/log-sidecar-runner}"
POLICY="${POLICY:-${ROOT}/policy.wasm}"
DATA="${ROOT}/test_data"

# evaluate FIXTURE [SETTINGS_JSON]: runs the policy, keeps the AdmissionResponse in $response.
evaluate() {
  local fixture="$1" settings="${2:-{\}}"
  run "${KWCTL}" run --request-path "${DATA}/${fixture}" --settings-json "${settings}" "${POLICY}"
  echo "status = ${status}"
  echo "output = ${output}"
  [ "${status}" -eq 0 ]
  response="$(printf '%s\n' "${output}" | grep '^{' | tail -n 1)"
}

# jq_response FILTER: a jq filter over the last response; fails when it is false or null.
jq_response() {
  printf '%s' "${response}" | jq -e "$1"
}

# patch_has OP PATH [VALUE_JSON]: the decoded JSON patch has that operation.
patch_has() {
  local op="$1" path="$2" value="${3:-}"
  local filter=".patch | @base64d | fromjson | map(select(.op == \"${op}\" and .path == \"${path}\""
  if [ -n "${value}" ]; then
    filter="${filter} and .value == ${value}"
  fi
  filter="${filter})) | length == 1"
  jq_response "${filter}"
}

# patch_length N: the decoded patch has exactly N operations.
patch_length() {
  jq_response ".patch | @base64d | fromjson | length == $1"
}

# rejected_with MESSAGE: rejected, and MESSAGE is one line of the rejection.
rejected_with() {
  printf '%s' "${response}" | jq -e --arg m "$1" \
    '.allowed == false and (.status.message | split("\n") | index($m) != null)'
}

# warned WARNING: WARNING is one of the response's warnings.
warned() {
  printf '%s' "${response}" | jq -e --arg w "$1" '.warnings | index($w) != null'
}
