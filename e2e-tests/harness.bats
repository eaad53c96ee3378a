#!/usr/bin/env bats
# The harness itself. The helpers read the AdmissionResponse from the JSON
# line on standard output only: kwctl writes log lines on standard error
# (warnings, back-traces, JSON log events), before and after its own output.
# And the tests that need the runner's own flags skip on kwctl, which refuses
# them.

load helpers

# noisy_kwctl: points KWCTL at a wrapper of the real one that writes such log
# lines on standard error around its output.
noisy_kwctl() {
  local wrapper="${BATS_TEST_TMPDIR}/noisy-kwctl"
  cat >"${wrapper}" <<EOF
#!/usr/bin/env bash
echo '2026-01-01T00:00:00.000000Z  WARN kwctl: cannot fetch Sigstore data, running offline' >&2
"${KWCTL}" "\$@"
status=\$?
printf '%s\n' '{"level":"warn","message":"a log event that looks like a response","allowed":false}' \
  'Stack backtrace:' '   0: anyhow::error::<impl anyhow::Error>::msg' >&2
exit \$status
EOF
  chmod +x "${wrapper}"
  KWCTL="${wrapper}"
}

@test "the response is read from standard output, whatever standard error holds" {
  noisy_kwctl
  evaluate pod_eshop_cart_app_sidecar_without_mount.json
  jq_response '.allowed == true and .patchType == "JSONPatch"'
  warned 'added read-only volumeMount "varlog" at /var/log to "sidecar"'
}

@test "a rejection is read from standard output too" {
  noisy_kwctl
  evaluate pod_sidecar_with_startup_probe.json
  rejected_with 'spec.containers[1]: as a native sidecar, its startupProbe would hold back every later container, so the app that writes its log file might never start; remove the startupProbe'
}

@test "a settings error is found among the log lines" {
  noisy_kwctl
  run_policy --request-path "${DATA}/pod_eshop_cart_app_sidecar_with_mount.json" --settings-json '{"sidecarName": ["x"]}'
  settings_refused_with 'unknown setting "sidecarName": did you mean "sidecarNames"?'
}

# RUNNER_FLAGS: the options of the runner's `run` that kwctl does not have.
RUNNER_FLAGS='--payload-path|--report-memory|--max-memory|--timeout-ms'

@test "on a kwctl without the runner's flags, the tests that use them skip, saying why, and the rest pass" {
  # A stand-in for kwctl: KWCTL, refusing the runner's own flags the way
  # kwctl's argument parser does.
  local stand_in="${BATS_TEST_TMPDIR}/kwctl"
  cat >"${stand_in}" <<EOF
#!/usr/bin/env bash
for arg in "\$@"; do
  case "\${arg%%=*}" in
    ${RUNNER_FLAGS})
      echo "error: unexpected argument '\${arg%%=*}' found" >&2
      exit 2 ;;
  esac
done
exec "${KWCTL}" "\$@"
EOF
  chmod +x "${stand_in}"
  run "${stand_in}" run --payload-path x "${POLICY}"
  [ "${status}" -eq 2 ]

  local suites=() suite
  for suite in "${ROOT}"/e2e-tests/*.bats; do
    if [ "${suite}" != "${BATS_TEST_FILENAME}" ] && grep -qE -- "${RUNNER_FLAGS}" "${suite}"; then
      suites+=("${suite}")
    fi
  done
  [ "${#suites[@]}" -ge 1 ]
  run env KWCTL="${stand_in}" bats --tap "${suites[@]}"
  echo "${output}"
  [ "${status}" -eq 0 ]
  local skipped
  skipped="$(printf '%s\n' "${output}" | grep -c ' # skip ')"
  # The six raw payloads and the memory figure.
  [ "${skipped}" -ge 7 ]
  [ "$(printf '%s\n' "${output}" | grep -c ' # skip runner only: kwctl has no ')" -eq "${skipped}" ]
}
