# Shared by the e2e suites: run the compiled policy the way Kubewarden does.
# KWCTL defaults to the project's waPC runner; set KWCTL=kwctl to run the same
# suites against the real kwctl. Tests that need what only the runner has
# (raw payloads, memory figures and caps) call runner_only and are skipped
# there.

bats_require_minimum_version 1.5.0

ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
RUNNER="${ROOT}/e2e-tests/target/release/log-sidecar-runner"
# Set when the suites run on the binary named by KWCTL rather than the runner.
ON_KWCTL="${KWCTL:+yes}"
KWCTL="${KWCTL:-${RUNNER}}"
POLICY="${POLICY:-${ROOT}/policy.wasm}"
DATA="${ROOT}/test_data"

# run_policy ARG...: runs `$KWCTL run ARG... $POLICY`, with its standard output
# in $output and its standard error in $stderr. kwctl writes log lines there
# (a warning with a back-trace when it cannot reach Sigstore, for example), so
# no test relies on standard error being empty or on its shape; a test looks
# there only for the one error line it is about. $response is
# the AdmissionResponse: the JSON line of standard output, empty when there is
# none.
run_policy() {
  run --separate-stderr "${KWCTL}" run "$@" "${POLICY}"
  echo "status = ${status}"
  echo "stdout = ${output:0:4000}"
  echo "stderr = ${stderr:0:4000}"
  response="$(printf '%s\n' "${output}" | grep '^{' | tail -n 1)"
}

# runner_only REASON: skips the test when the suites run on kwctl (KWCTL set),
# saying why only the runner can run it.
runner_only() {
  if [ -n "${ON_KWCTL}" ]; then
    skip "runner only: $1"
  fi
}

# on_runner: true when the suites run on the runner, for a test whose
# admission part runs on kwctl too, without the runner's own flags.
on_runner() {
  [ -z "${ON_KWCTL}" ]
}

# evaluate FIXTURE [SETTINGS_JSON]: runs the policy on a request of test_data/
# (or at an absolute path);
# it must answer, with the AdmissionResponse in $response.
evaluate() {
  local fixture="$1" settings="${2:-{\}}"
  case "${fixture}" in
    /*) ;;
    *) fixture="${DATA}/${fixture}" ;;
  esac
  run_policy --request-path "${fixture}" --settings-json "${settings}"
  [ "${status}" -eq 0 ]
  [ -n "${response}" ]
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

# settings_refused_with MESSAGE: after run_policy, the settings were refused as
# kwctl refuses them: exit code 1, no response, and the line
# `Error: Provided settings are not valid: MESSAGE` (the policy's message as
# plain text) on standard error, after any log lines.
settings_refused_with() {
  [ "${status}" -eq 1 ]
  [ -z "${response}" ]
  printf '%s\n' "${stderr}" | grep -qxF -- "Error: Provided settings are not valid: $1"
}
