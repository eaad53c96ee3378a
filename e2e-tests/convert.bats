#!/usr/bin/env bats
# `convert`: the policy applied to the manifests of a repository. A command of
# the runner, which kwctl does not have: these tests run the runner even when
# KWCTL is set.

load helpers

@test "convert rewrites a multi-document file and leaves other documents as they were" {
  run --separate-stderr "${RUNNER}" convert --policy "${POLICY}" "${DATA}/e2e/manifests.yaml"
  echo "status = ${status}"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "${status}" -eq 0 ]
  # Three documents out, the first converted.
  [ "$(printf '%s\n' "${output}" | grep -c '^kind:')" -eq 3 ]
  [[ "${output}" == *"restartPolicy: Always"* ]]
  [[ "${output}" == *"log-sidecar.io/converted: sidecar"* ]]
  [[ "${output}" == *"level: debug   # comments inside untouched documents are kept"* ]]
  [[ "${stderr}" == *'Pod/eshop-cart-app: warning: spec.containers[1] ("sidecar") moved to initContainers[0] with restartPolicy: Always'* ]]
  [[ "${stderr}" == *'Pod/eshop-cart-app: warning: added read-only volumeMount "varlog" at /var/log to "sidecar"'* ]]
  [[ "${stderr}" != *"Deployment/already-native"* ]]
}

@test "convert reads standard input" {
  run --separate-stderr bash -c "cat '${ROOT}/examples/eshop-cart-app.yaml' | '${RUNNER}' convert --policy '${POLICY}' -"
  [ "${status}" -eq 0 ]
  [[ "${output}" == *"initContainers:"* ]]
}

@test "convert rewrites workload templates, which the policy in a cluster only reviews" {
  run --separate-stderr "${RUNNER}" convert --policy "${POLICY}" "${ROOT}/examples/deployment-with-streaming-sidecar.yaml"
  echo "status = ${status}"
  echo "output = ${output}"
  [ "${status}" -eq 0 ]
  [[ "${output}" == *"initContainers:"* ]]
  [[ "${output}" == *"restartPolicy: Always"* ]]
}

@test "convert writes nothing and exits 1 when a document is rejected, so a pipe applies nothing" {
  run --separate-stderr "${RUNNER}" convert --policy "${POLICY}" "${DATA}/e2e/manifests_with_a_refusal.yaml"
  echo "status = ${status}"
  echo "output = ${output}"
  echo "stderr = ${stderr}"
  [ "${status}" -eq 1 ]
  [ -z "${output}" ]
  [[ "${stderr}" == *"Pod/probed: rejected: spec.containers[1]: as a native sidecar, its startupProbe would hold back every later container"* ]]
  # The other document's warnings still say what it would have become.
  [[ "${stderr}" == *'Pod/converts: warning: spec.containers[1] ("sidecar") moved to initContainers[0] with restartPolicy: Always'* ]]
}

@test "in a pipe, a rejected document leaves the next command nothing to read" {
  run bash -c "'${RUNNER}' convert --policy '${POLICY}' '${DATA}/e2e/manifests_with_a_refusal.yaml' 2>/dev/null | wc -c"
  [ "${output}" -eq 0 ]
}
