# The kubelet model (kubelet.py beside this file) for the bats suites: run a
# pod's containers as processes and read what they did. Loaded after
# ../helpers.bash, which sets ROOT and DATA.

KUBELET="${ROOT}/e2e-tests/kubelet/kubelet.py"
KUBELET_DATA="${DATA}/kubelet"

# kubelet_check_host: asks kubelet.py once whether this host can run its
# containers, for kubelet_available; call it from setup_file.
kubelet_check_host() {
  KUBELET_HOST_STATUS=0
  KUBELET_HOST_WHY="$(python3 "${KUBELET}" --check 2>&1)" || KUBELET_HOST_STATUS=$?
  export KUBELET_HOST_STATUS KUBELET_HOST_WHY
}

# kubelet_available: skips the test, saying why, when this host cannot run
# the model's containers (no /bin/busybox, no mount or PID namespaces: exit
# 3 of the check). Any other failure of the check fails the test.
kubelet_available() {
  [ -n "${KUBELET_HOST_STATUS:-}" ] || kubelet_check_host
  if [ "${KUBELET_HOST_STATUS}" -eq 3 ]; then
    skip "the kubelet model cannot run here: ${KUBELET_HOST_WHY#kubelet.py: }"
  fi
  if [ "${KUBELET_HOST_STATUS}" -ne 0 ]; then
    echo "kubelet.py --check failed (exit ${KUBELET_HOST_STATUS}): ${KUBELET_HOST_WHY}"
    return 1
  fi
}

# kubelet_run POD MODE [OPTION...]: runs POD (a file of test_data/kubelet/, a
# path, or - for standard input) on a node of MODE: `supported` (or
# --native-sidecars) or `unsupported` (or --no-native-sidecars). The OPTIONs
# go to kubelet.py (--duration S, --reboot-after S, --time-scale F,
# --patch-from RESPONSE...). The run is killed if it outlives its duration
# by 30 s, so a test never hangs. Sets $report (the JSON report) and
# $run_dir (volumes/, logs/); fails when the model does.
kubelet_run() {
  local pod="$1" mode="$2"
  shift 2
  case "${pod}" in
    /* | -) ;;
    *) pod="${KUBELET_DATA}/${pod}" ;;
  esac
  case "${mode}" in
    supported | --native-sidecars) mode=--native-sidecars ;;
    unsupported | --no-native-sidecars) mode=--no-native-sidecars ;;
    *) echo "kubelet_run: mode ${mode} is neither supported nor unsupported" >&2; return 2 ;;
  esac
  local duration=5 arg prev=""
  for arg in "$@"; do
    [ "${prev}" = --duration ] && duration="${arg}"
    prev="${arg}"
  done
  KUBELET_RUNS=$((${KUBELET_RUNS:-0} + 1))
  run_dir="${BATS_TEST_TMPDIR}/kubelet.${KUBELET_RUNS}"
  local limit status=0
  limit="$(awk -v d="${duration}" 'BEGIN { printf "%d", d + 30 }')"
  report="$(timeout --kill-after=5 "${limit}" python3 "${KUBELET}" "${pod}" "${mode}" --run-dir "${run_dir}" "$@")" || status=$?
  echo "kubelet.py ${pod##*/} ${mode} $*: exit ${status}"
  kubelet_summary
  [ "${status}" -eq 0 ]
  no_container_left "${run_dir}"
  # What each start wrote, one line per start and stream, for output_of:
  # container, boot, stream, from, to, file.
  printf '%s' "${report}" | jq -r '
    .containers | to_entries[] | .key as $n | .value as $c
    | $c.instances[] | .boot as $b | .logs | to_entries[]
    | [$n, $b, .key, .value[0], .value[1], $c[.key]] | @tsv' >"${run_dir}/outputs.tsv"
}

# no_container_left RUN_DIR: no process runs in a root under RUN_DIR: every
# container of that run has been stopped.
no_container_left() {
  local dir proc root left=""
  dir="$(realpath "$1")"
  for proc in /proc/[0-9]*; do
    root="$(readlink "${proc}/root" 2>/dev/null)" || continue
    case "${root}" in
      "${dir}"/*) left="${left} ${proc#/proc/}" ;;
    esac
  done
  if [ -n "${left}" ]; then
    echo "processes still running in containers of $1:${left}"
    return 1
  fi
}

# kubelet_run_response REQUEST MODE [OPTION...]: kubelet_run on the pod that
# the policy's last $response (from evaluate or run_policy) makes of REQUEST.
kubelet_run_response() {
  local request="$1" mode="$2"
  shift 2
  case "${request}" in
    /*) ;;
    *) request="${DATA}/${request}" ;;
  esac
  printf '%s\n' "${response}" >"${BATS_TEST_TMPDIR}/response.json"
  kubelet_run "${request}" "${mode}" --patch-from "${BATS_TEST_TMPDIR}/response.json" "$@"
}

# kubelet_summary: what a failing test shows: phase, and per container its
# starts, exit codes and logs.
kubelet_summary() {
  [ -n "${report}" ] || return 0
  printf '%s' "${report}" | jq -r '
    "phase \(.phase), initialized \(.initialized), completed \(.completed), boots \(.boots)",
    (.containers | to_entries[] | "  \(.key): starts \(.value.starts), exit codes \(.value.exit_codes), running \(.value.running)"),
    (.events[] | "  | \(.)")'
  local log
  for log in "${run_dir}"/logs/*.log; do
    case "${log}" in *.stdout.log | *.stderr.log) continue ;; esac
    echo "--- ${log##*/}"
    head -c 2000 "${log}"
  done
}

# report_has FILTER: a jq filter over the last report is true.
report_has() {
  printf '%s' "${report}" | jq -e "$@" >/dev/null || {
    echo "not true of the report: $*"
    return 1
  }
}

# output_of CONTAINER [BOOT [STREAM]]: what CONTAINER wrote on STREAM (stdout,
# stderr or log for both; stdout by default) in boot BOOT (0 the first, 1
# after the first reboot; every boot when BOOT is empty or `all`).
output_of() {
  local name="$1" boot="${2:-all}" stream="${3:-stdout}"
  awk -F '\t' -v n="${name}" -v b="${boot}" -v s="${stream}" \
    '$1 == n && (b == "all" || $2 == b) && $3 == s { print $4 "\t" $5 "\t" $6 }' "${run_dir}/outputs.tsv" |
    while IFS=$'\t' read -r from to file; do
      tail -c +"$((from + 1))" "${file}" | head -c "$((to - from))"
    done
}

# app_file [VOLUME [FILE]]: the path of the app's log file in its volume
# (varlog and cart-app.log by default).
app_file() {
  printf '%s/%s' "$(printf '%s' "${report}" | jq -r --arg v "${1:-varlog}" '.volumes[$v]')" "${2:-cart-app.log}"
}

# app_lines_by BOOT: the number of the last line the app (cart-app) wrote by
# the end of boot BOOT, from the `wrote line N` it prints for each line.
app_lines_by() {
  local boot="$1" b last=0 n
  for ((b = 0; b <= boot; b++)); do
    n="$(output_of cart-app "${b}" | sed -n 's/^wrote line \([0-9]*\)$/\1/p' | tail -n 1)"
    [ -n "${n}" ] && last="${n}"
  done
  echo "${last}"
}

# TAIL_LAG: how many of the app's last lines a streamer may not have printed
# when its boot ends. The app writes a line every 0.5 s and BusyBox tail looks
# for new data about once a second, so up to 3 lines; one more for a loaded
# machine.
TAIL_LAG=4

# streams_in CONTAINER BOOT: in boot BOOT, CONTAINER's standard output is the
# app's file from its first line, in order, each line once: the first k
# lines of the file, whole, where k >= 1 and k is at most TAIL_LAG short of
# the last line the app wrote by the end of that boot.
streams_in() {
  local name="$1" boot="$2" out file written printed
  out="${BATS_TEST_TMPDIR}/${name}.${boot}.out"
  output_of "${name}" "${boot}" >"${out}"
  file="$(app_file)"
  written="$(app_lines_by "${boot}")"
  printed="$(wc -l <"${out}")"
  echo "${name} printed ${printed} lines in boot ${boot}; the app had written ${written}"
  [ "${printed}" -ge 1 ]
  [ "${printed}" -ge "$((written - TAIL_LAG))" ]
  # Whole lines, and exactly the file's first ones.
  [ -z "$(tail -c 1 "${out}")" ]
  cmp -s "${out}" <(head -n "${printed}" "${file}")
}

# silent_in CONTAINER BOOT: CONTAINER printed nothing on standard output in
# boot BOOT (`all`: in any).
silent_in() {
  local printed
  printed="$(output_of "$1" "$2" | wc -c)"
  echo "$1 printed ${printed} bytes in boot $2"
  [ "${printed}" -eq 0 ]
}

# only_streamer CONTAINER BOOT: no container but CONTAINER printed a line of
# the app's file in boot BOOT.
only_streamer() {
  local name="$1" boot="$2" other file
  file="$(app_file)"
  for other in $(cut -f 1 "${run_dir}/outputs.tsv" | sort -u); do
    [ "${other}" = "${name}" ] && continue
    if output_of "${other}" "${boot}" | grep -qFx -f "${file}"; then
      echo "${other} printed lines of the app's file in boot ${boot}"
      return 1
    fi
  done
}
