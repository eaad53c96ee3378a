#!/usr/bin/env bats
# The helpers read the AdmissionResponse from the JSON line on standard output
# only: kwctl writes log lines on standard error (warnings, back-traces, JSON
# log events), before and after its own output.

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
  rejected_with 'spec.containers[1]: a native sidecar with a startupProbe holds back every later container, so the app that writes its log file might never start; remove the startupProbe'
}

@test "a settings error is found among the log lines" {
  noisy_kwctl
  run_policy --request-path "${DATA}/pod_eshop_cart_app_sidecar_with_mount.json" --settings-json '{"sidecarName": ["x"]}'
  settings_refused_with 'unknown setting "sidecarName": did you mean "sidecarNames"?'
}
