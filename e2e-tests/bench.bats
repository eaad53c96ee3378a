#!/usr/bin/env bats
# The plumbing of `make bench` for `sidecarSupport: detect`: the kwctl
# session of 5,000 nodes that bench/nodes.jq writes, and list-floor, the
# floor that makes the policy's call for the nodes. The floors come from
# `make floors`.

load helpers

FLOORS="${ROOT}/target/floors"

setup() {
  SESSION="${BATS_TEST_TMPDIR}/nodes-5000.yml"
  jq -nr --argjson nodes 5000 -f "${ROOT}/bench/nodes.jq" > "${SESSION}"
}

@test "the bench session holds one list exchange of 5,000 nodes pruned to their names and kubelet versions" {
  run grep -c '^- type: Exchange$' "${SESSION}"
  [ "${output}" = 1 ]
  # The request, as kwctl records list_resources_all with field_masks.
  run sed -n '2,10p' "${SESSION}"
  [ "${output}" = "  request: |
    !KubernetesListResourceAll
    api_version: v1
    kind: Node
    label_selector: null
    field_selector: null
    field_masks:
    - metadata.name
    - status.nodeInfo.kubeletVersion" ]
  sed -n "s/^    payload: '\(.*\)'\$/\1/p" "${SESSION}" | sed "s/''/'/g" > "${BATS_TEST_TMPDIR}/payload.json"
  jq -e '.apiVersion == "v1" and .kind == "List" and (.items | length) == 5000
    and all(.items[]; (keys == ["metadata", "status"]) and (.metadata | keys) == ["name"]
      and (.status | keys) == ["nodeInfo"] and (.status.nodeInfo | keys) == ["kubeletVersion"])
    and ([.items[].status.nodeInfo.kubeletVersion] | unique) == ["v1.31.4-gke.1043002", "v1.33.2"]
    and ([.items[].metadata.name] | unique | length) == 5000' "${BATS_TEST_TMPDIR}/payload.json"
}

@test "list-floor makes the policy's call for the nodes, granted by its own metadata and answered from the session" {
  runner_only "kwctl bench replays each exchange once, so it cannot time a host call"
  run --separate-stderr "${RUNNER}" bench --request-path "${DATA}/pod_eshop_cart_app_sidecar_without_mount.json" \
    --allow-context-aware --replay-host-capabilities-interactions "${SESSION}" \
    --warm-up 1 --iterations 3 --floor "${FLOORS}/list_floor.wasm" "${POLICY}"
  echo "status = ${status}"
  echo "stdout = ${output}"
  echo "stderr = ${stderr}"
  [ "${status}" -eq 0 ]
  printf '%s' "${output}" | jq -e '.floor.kubernetes_calls == 1 and .floor.median_us > 0'
  # The floor used the exchange on every evaluation: no leftovers for it.
  [[ "${stderr}" != *"list_floor.wasm: warning"* ]]
}

@test "list-floor fails rather than be timed without the nodes" {
  runner_only "kwctl bench replays each exchange once, so it cannot time a host call"
  run --separate-stderr "${RUNNER}" bench --request-path "${DATA}/pod_eshop_cart_app_sidecar_without_mount.json" \
    --replay-host-capabilities-interactions "${SESSION}" \
    --warm-up 1 --iterations 3 --floor "${FLOORS}/list_floor.wasm" "${POLICY}"
  echo "stderr = ${stderr}"
  [ "${status}" -eq 2 ]
  [[ "${stderr}" == *"Policy has not been granted access to Kubernetes v1/Node resources."* ]]
}
