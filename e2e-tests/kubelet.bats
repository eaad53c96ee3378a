#!/usr/bin/env bats
# The forms of a sidecar run for real: each container of a pod is a process
# (BusyBox for every image) under e2e-tests/kubelet/kubelet.py, a model of the
# kubelet's rules for init containers, native sidecars, restarts and back-off
# (e2e-tests/kubelet/README.md). The pods are hand-written in
# test_data/kubelet/, in the shapes the policy produces: the plain conversion
# of the seed pod, and the dual form (`fallback: dual`): the native form
# `sidecar` in initContainers and the legacy form `sidecar-legacy` in
# containers, which agree through a memory-backed emptyDir which one streams.
#
# The app, cart-app, appends a numbered line to /var/log/cart-app.log every
# 0.5 s and prints `wrote line N` for each; a sidecar streams the file with
# `tail -n +1 -F`. "Streams" and "silent" are defined in kubelet/helpers.bash
# (streams_in, silent_in): the streaming form prints the file's lines from the
# first, in order, each once, up to the last ones written in the final second
# or two of a boot; every other container prints none of them.

load helpers
load kubelet/helpers

setup_file() {
  kubelet_check_host
}

setup() {
  kubelet_available
}

# --- 0. the model itself, on the plain conversion of the seed pod ---------

@test "model: plain conversion, node with native sidecars: the sidecar starts first, the app's lines are streamed" {
  kubelet_run seed_plain_conversion.json supported --duration 2.5
  report_has '.initialized and .phase == "Running"'
  report_has '.containers.sidecar | .restartable and .starts == 1 and .running'
  report_has '.containers["cart-app"].instances[0].started_at > .containers.sidecar.instances[0].started_at'
  streams_in sidecar 0
  only_streamer sidecar 0
}

@test "model: plain conversion, node without native sidecars: stuck in init, the app never starts" {
  # The failure the dual form exists to prevent: a plain init container that
  # follows a file never exits, and nothing after it ever runs.
  kubelet_run seed_plain_conversion.json unsupported --duration 2.5
  report_has '(.initialized | not) and .phase == "Pending"'
  report_has '.containers.sidecar | (.restartable | not) and .starts == 1 and .running'
  report_has '.containers["cart-app"].starts == 0'
  [ ! -e "$(app_file)" ]
}

@test "model: a restartable init container that exits is restarted at once, then after a back-off, and holds the app back" {
  # --time-scale 0.1: back-off of 1 s, then 2 s, instead of 10 s, then 20 s.
  kubelet_run model_crash_looping_sidecar.json supported --duration 3.2 --time-scale 0.1
  report_has '.containers.crasher.starts == 3 and .containers.crasher.exit_codes == [1, 1, 1]'
  report_has '.containers.crasher.instances as $i
    | ($i[1].started_at - $i[0].finished_at) < 1
    and ($i[2].started_at - $i[1].finished_at) >= 1'
  report_has '.containers.app.starts == 0 and (.initialized | not)'
}

@test "model: a failing init container fails a pod whose restartPolicy is Never" {
  kubelet_run model_failing_init_container_restart_never.json supported --duration 3
  report_has '.phase == "Failed" and .completed and .completed_at < 2'
  report_has '.containers.setup.exit_codes == [3] and .containers.app.starts == 0'
}

@test "model: subPath, readOnly, env, \$(VAR) expansion, args as argv, one PID namespace and one root per container" {
  kubelet_run model_mounts_env_and_namespaces.json supported --duration 3
  report_has '.phase == "Succeeded"'
  [ "$(output_of reader)" = "$(printf '%s\n' hello 'hello $(GREETING)' read-only 'no /out' 'pid 1')" ]
  [ "$(output_of args-only)" = "args are the argv" ]
  # The host's paths are untouched: the mounts lived in the containers' namespaces.
  [ ! -e /in ] && [ ! -e /out ]
}

@test "model: stopped by SIGTERM (a test's timeout), the model kills every container and exits 130" {
  local dir="${BATS_TEST_TMPDIR}/interrupted"
  python3 "${KUBELET}" "${KUBELET_DATA}/seed_dual_form.json" --native-sidecars --duration 60 --run-dir "${dir}" \
    >"${BATS_TEST_TMPDIR}/report" 2>"${BATS_TEST_TMPDIR}/stderr" &
  local pid=$!
  sleep 1.5
  kill -TERM "${pid}"
  local status=0
  wait "${pid}" || status=$?
  cat "${BATS_TEST_TMPDIR}/stderr"
  [ "${status}" -eq 130 ]
  no_container_left "${dir}"
  # It had got as far as the app.
  [ -s "${dir}/volumes/varlog/cart-app.log" ]
}

@test "model: the policy's own plain conversion of the seed pod streams on a node with native sidecars" {
  [ -f "${POLICY}" ] || skip "${POLICY} is not built (make policy.wasm)"
  [ -x "${KWCTL}" ] || command -v "${KWCTL}" >/dev/null || skip "no ${KWCTL} to run the policy"
  evaluate pod_eshop_cart_app_sidecar_without_mount.json
  kubelet_run_response pod_eshop_cart_app_sidecar_without_mount.json supported --duration 3.5
  report_has '.initialized and .containers.sidecar.restartable and .containers.sidecar.running'
  # The seed app writes a line every 2 s: one at least in 3.5 s.
  [ "$(output_of sidecar | grep -c 'Price:')" -ge 1 ]
}

# --- 1, 2. the dual form -----------------------------------------------------

@test "dual form, node with native sidecars: the native form restarts once and streams, the legacy form idles" {
  kubelet_run seed_dual_form.json supported --duration 3
  report_has '.initialized and .phase == "Running"'
  # The first run records that it ran and exits 0; the kubelet restarts it
  # at once, and the second run streams.
  report_has '.containers.sidecar | .restartable and .starts == 2 and .exit_codes[0] == 0 and .running'
  report_has '.containers.sidecar.instances[0].logs.log | .[0] == .[1]'
  [ -e "${run_dir}/volumes/log-sidecar-state/sidecar.native" ]
  # The app starts only once the native form is seen running.
  report_has '.containers["cart-app"].instances[0].started_at > .containers.sidecar.instances[1].started_at'
  streams_in sidecar 0
  only_streamer sidecar 0
  # The legacy form idles, and exits 0 on SIGTERM.
  report_has '.containers["sidecar-legacy"] | .starts == 1 and .running and .exit_codes == [0]'
  silent_in sidecar-legacy all
  [ "$(output_of sidecar-legacy all log | wc -c)" -eq 0 ]
}

@test "dual form, node without native sidecars: the native form runs once and exits 0, the app starts, the legacy form streams" {
  kubelet_run seed_dual_form.json unsupported --duration 3
  report_has '.initialized and .phase == "Running"'
  report_has '.containers.sidecar | (.restartable | not) and .starts == 1 and .exit_codes == [0] and (.running | not)'
  [ -e "${run_dir}/volumes/log-sidecar-state/sidecar.ran" ]
  [ ! -e "${run_dir}/volumes/log-sidecar-state/sidecar.native" ]
  report_has '.containers["cart-app"].starts == 1 and .containers["sidecar-legacy"].starts == 1'
  report_has '.containers["sidecar-legacy"].running'
  silent_in sidecar all
  streams_in sidecar-legacy 0
  only_streamer sidecar-legacy 0
}

# --- 3. a Job-shaped pod -------------------------------------------------------

@test "Job-shaped dual form, node with native sidecars: the legacy form exits 0 at once and the pod completes" {
  kubelet_run job_dual_form.json supported --duration 6
  report_has '.phase == "Succeeded" and .completed and .completed_at < 6'
  report_has '.containers["sidecar-legacy"] | .exit_codes == [0] and (.instances[0].finished_at - .instances[0].started_at) < 1'
  report_has '.containers["cart-app"].exit_codes == [0]'
  # The kubelet stops the native sidecar once the app is done.
  report_has '.completed_at as $done | .containers.sidecar | .starts == 2 and .instances[1].reason == "terminated" and .instances[1].started_at < $done'
  silent_in sidecar-legacy all
  only_streamer sidecar 0
}

# The parts of a run of a Job-shaped pod that say whether it completes:
# phase, whether the app succeeded, whether the streamer (the container
# named $1) still ran at the end and how often it started.
job_outcome() {
  printf '%s' "${report}" | jq -c --arg s "$1" '{
    phase, initialized, completed,
    app: .containers["cart-app"].exit_codes,
    streamer: (.containers[$s] | {kind, starts, running})}'
}

@test "Job-shaped dual form, node without native sidecars: the legacy form streams and keeps the Job from completing, as the original pod does" {
  kubelet_run job_dual_form.json unsupported --duration 3.5
  report_has '(.completed | not) and .containers["cart-app"].exit_codes == [0]'
  report_has '.containers["sidecar-legacy"].running and .containers.sidecar.exit_codes == [0]'
  streams_in sidecar-legacy 0
  only_streamer sidecar-legacy 0
  local dual original
  dual="$(job_outcome sidecar-legacy)"
  # The original pod: the same app, its sidecar a regular container.
  kubelet_run job_legacy_sidecar.json unsupported --duration 3.5
  original="$(job_outcome sidecar)"
  echo "dual: ${dual}"
  echo "original: ${original}"
  [ "${dual}" = "${original}" ]
  streams_in sidecar 0
}

# --- 4. a node reboot ---------------------------------------------------------
#
# The reboot at 2.5 s kills every process, empties the memory-backed state
# volume and keeps varlog (a disk emptyDir) and its file, then runs the init
# containers again. In each boot exactly one form streams: it prints the file
# from its first line again (tail -n +1, as the original sidecar would), the
# lines written before the reboot and after, each once in that boot; the
# other form prints nothing.

@test "after a reboot on a node with native sidecars, the native form again restarts once and is the only one to stream" {
  kubelet_run seed_dual_form.json supported --duration 5 --reboot-after 2.5
  report_has '.boots | length == 2 and all(.initialized_at != null)'
  report_has '[.containers.sidecar.instances[] | select(.boot == 1)] | length == 2 and .[0].exit_code == 0'
  for boot in 0 1; do
    streams_in sidecar "${boot}"
    only_streamer sidecar "${boot}"
    silent_in sidecar-legacy "${boot}"
  done
  # The lines written after the reboot are streamed too.
  [ "$(app_lines_by 1)" -gt "$(app_lines_by 0)" ]
  [ "$(output_of sidecar 1 | wc -l)" -gt "$(app_lines_by 0)" ]
}

@test "after a reboot on a node without native sidecars, the native form again runs once and the legacy form is the only one to stream" {
  kubelet_run seed_dual_form.json unsupported --duration 5 --reboot-after 2.5
  report_has '.boots | length == 2 and all(.initialized_at != null)'
  report_has '[.containers.sidecar.instances[] | .boot] == [0, 1] and .containers.sidecar.exit_codes == [0, 0]'
  for boot in 0 1; do
    streams_in sidecar-legacy "${boot}"
    only_streamer sidecar-legacy "${boot}"
    silent_in sidecar "${boot}"
  done
  [ "$(output_of sidecar-legacy 1 | wc -l)" -gt "$(app_lines_by 0)" ]
}

@test "why the state volume is memory-backed: kept on disk, a reboot on a node without native sidecars gets stuck in init" {
  # The state says "ran", so the native form's first run of the new boot
  # streams, as a plain init container that never exits.
  kubelet_run seed_dual_form_state_on_disk.json unsupported --duration 5 --reboot-after 2.5
  report_has '.boots[1].initialized_at == null and (.initialized | not)'
  report_has '[.containers["cart-app"].instances[] | select(.boot == 1)] | length == 0'
  report_has '.containers.sidecar.instances[-1] | .boot == 1 and .reason == "terminated"'
}

# --- the policy's own output -------------------------------------------------

# policy_output REQUEST SETTINGS_JSON: the policy's answer for a request of
# test_data/, to run with kubelet_run_response.
policy_output() {
  [ -f "${POLICY}" ] || skip "${POLICY} is not built (make policy.wasm)"
  evaluate "$1" "$2"
  jq_response '.patch != null'
}

@test "the policy's dual form of the seed pod, node with native sidecars: the native form streams, the legacy form idles" {
  policy_output pod_eshop_cart_app_sidecar_without_mount.json '{"fallback": "dual", "kubernetesVersion": "1.28"}'
  kubelet_run_response pod_eshop_cart_app_sidecar_without_mount.json supported --duration 3
  report_has '.containers.sidecar | .restartable and .starts == 2 and .exit_codes[0] == 0 and .running'
  streams_in sidecar 0
  only_streamer sidecar 0
  silent_in sidecar-legacy all
}

@test "the policy's dual form of the seed pod, node without native sidecars: the legacy form streams" {
  policy_output pod_eshop_cart_app_sidecar_without_mount.json '{"fallback": "dual", "kubernetesVersion": "1.28"}'
  kubelet_run_response pod_eshop_cart_app_sidecar_without_mount.json unsupported --duration 3
  report_has '.containers.sidecar | .starts == 1 and .exit_codes == [0]'
  silent_in sidecar all
  streams_in sidecar-legacy 0
  only_streamer sidecar-legacy 0
}

@test "the policy's dual form after a reboot, on either node, still streams exactly once" {
  policy_output pod_eshop_cart_app_sidecar_without_mount.json '{"fallback": "dual", "kubernetesVersion": "1.28"}'
  kubelet_run_response pod_eshop_cart_app_sidecar_without_mount.json supported --duration 5 --reboot-after 2.5
  only_streamer sidecar 1
  kubelet_run_response pod_eshop_cart_app_sidecar_without_mount.json unsupported --duration 5 --reboot-after 2.5
  only_streamer sidecar-legacy 1
}

# --- the injected streamer -----------------------------------------------------

# The Job of pod_job_app_stream_annotation.json writes 15 lines, one every
# 0.2 s, then exits; its streamer is injected from the annotation.
JOB=pod_job_app_stream_annotation.json

# job_run SETTINGS_JSON GRACE: the injected Job on a node with native
# sidecars, with that grace period; sets $lag, the seconds from the app's
# exit to the streamer's, when the pod is done, and $lines, what the
# streamer printed.
job_run() {
  policy_output "${JOB}" "$1"
  kubelet_run_response "${JOB}" supported --duration 12 --grace-period "$2"
  report_has '.phase == "Succeeded" and .containers["cart-app"].exit_codes == [0]'
  lag="$(printf '%s' "${report}" | jq '.containers.sidecar.instances[-1].finished_at - .containers["cart-app"].instances[0].finished_at')"
  lines="$(output_of sidecar all | grep -c '^line ' || true)"
  echo "the streamer stopped ${lag} s after the app; it printed ${lines} of 15 lines"
}

@test "the injected streamer prints every line, the last ones too, and the Job completes within drainSeconds of the app" {
  job_run '{}' 30
  [ "${lines}" -eq 15 ]
  awk -v l="${lag}" 'BEGIN { exit !(l <= 2 + 1) }'
  report_has '.containers.sidecar.exit_codes[-1] == 0'
}

@test "a streamer that execs tail ignores SIGTERM as PID 1 and holds the Job until the grace period ends" {
  job_run '{"drainSeconds": 0}' 4
  awk -v l="${lag}" 'BEGIN { exit !(l >= 4) }'
}

@test "a streamer that stops at once on SIGTERM loses the lines since its last read" {
  policy_output "${JOB}" '{}'
  # The injected script, with the drain taken out.
  response="$(printf '%s' "${response}" | jq -c '.patch |= (@base64d | fromjson
    | map(if .path == "/spec/initContainers" then .value[0].command[2] = "tail -n +1 -F \"$1\" & pid=$!; trap '"'"'kill \"$pid\"; exit 0'"'"' TERM INT; wait \"$pid\"" else . end)
    | tojson | @base64)')"
  kubelet_run_response "${JOB}" supported --duration 12 --grace-period 30
  lines="$(output_of sidecar all | grep -c '^line ' || true)"
  echo "the streamer that stops at once printed ${lines} of 15 lines"
  # BusyBox tail reads about once a second: up to five lines of 0.2 s.
  [ "${lines}" -ge 10 ]
  [ "${lines}" -le 15 ]
}
