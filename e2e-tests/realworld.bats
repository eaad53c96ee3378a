#!/usr/bin/env bats
# The manifests of test_data/realworld/, in the shapes public repositories,
# the Kubernetes docs, exam answers and tutorials use, each with the outcome
# its header states:
#
#   # expect: converted | reviewed | unchanged | warned | rejected
#   # expect-warning: TEXT   (a warning contains TEXT)
#   # expect-message: TEXT   (the rejection contains TEXT)
#
# converted: accepted with a patch; reviewed: a workload template accepted
# unchanged with the review warning; unchanged: accepted, no patch, no
# warning; warned: accepted, no patch, with warnings; rejected: refused.

load helpers

CORPUS="${DATA}/realworld"

# header FILE KEY: the value of the `# KEY: ` line of FILE, or nothing.
header() {
  sed -n "s/^# $2: //p" "$1" | head -n 1
}

# outcome: the outcome of the last response, in the words of the headers.
outcome() {
  printf '%s' "${response}" | jq -r '
    if .allowed != true then "rejected"
    elif has("patch") and .patch != null then "converted"
    elif ((.warnings // []) | any(test("as native sidecar\\(s\\); convert rewrites"))) then "reviewed"
    elif ((.warnings // []) | length) > 0 then "warned"
    else "unchanged" end'
}

@test "every manifest of the corpus gets the outcome it expects" {
  local count=0 failures=0
  for manifest in "${CORPUS}"/*.yaml; do
    local name expected warning message got
    name="$(basename "${manifest}")"
    expected="$(header "${manifest}" expect)"
    warning="$(header "${manifest}" expect-warning)"
    message="$(header "${manifest}" expect-message)"
    python3 "${ROOT}/e2e-tests/admission-request.py" "${manifest}" > "${BATS_TEST_TMPDIR}/${name}.json"
    evaluate "${BATS_TEST_TMPDIR}/${name}.json"
    got="$(outcome)"
    if [ "${got}" != "${expected}" ]; then
      echo "${name}: expected ${expected}, got ${got}: ${response}"
      failures=$((failures + 1))
    elif [ -n "${warning}" ] && ! printf '%s' "${response}" | jq -e --arg w "${warning}" '.warnings | any(contains($w))' >/dev/null; then
      echo "${name}: no warning contains '${warning}': ${response}"
      failures=$((failures + 1))
    elif [ -n "${message}" ] && ! printf '%s' "${response}" | jq -e --arg m "${message}" '.status.message | contains($m)' >/dev/null; then
      echo "${name}: the rejection lacks '${message}': ${response}"
      failures=$((failures + 1))
    else
      echo "${name}: ${got}"
    fi
    count=$((count + 1))
  done
  echo "${count} manifests, ${failures} failures"
  [ "${count}" -ge 25 ]
  [ "${failures}" -eq 0 ]
}

@test "every manifest of the corpus states its outcome" {
  for manifest in "${CORPUS}"/*.yaml; do
    header "${manifest}" expect | grep -Eqx 'converted|reviewed|unchanged|warned|rejected' || {
      echo "$(basename "${manifest}") has no valid '# expect:' line"
      return 1
    }
  done
}

# The runner's convert, on kwctl too, as in schema.bats.
@test "what the policy makes of the corpus passes the Kubernetes schema in strict mode" {
  command -v kubernetes-validate || skip "kubernetes-validate is not installed (make e2e-tools installs it)"
  for manifest in "${CORPUS}"/*.yaml; do
    [ "$(header "${manifest}" expect)" = rejected ] && continue
    "${RUNNER}" convert --policy "${POLICY}" "${manifest}" > "${BATS_TEST_TMPDIR}/out.yaml" 2>/dev/null
    run kubernetes-validate --strict --quiet -k 1.33.0 "${BATS_TEST_TMPDIR}/out.yaml"
    echo "$(basename "${manifest}"): ${output}"
    [ "${status}" -eq 0 ]
  done
}
