#!/usr/bin/env bats
# sidecarSupport: detect, with the host's answers replayed from the kwctl
# session files of test_data/sessions/. Access to Nodes is granted as kwctl
# grants it: from the module's own metadata. Under KWCTL=kwctl the module is
# annotated first; the runner takes policy-metadata.yml with --metadata-path.

load helpers

setup_file() {
  if [ -n "${ON_KWCTL}" ]; then
    "${KWCTL}" annotate -m "${ROOT}/policy-metadata.yml" -o "${BATS_FILE_TMPDIR}/annotated.wasm" "${POLICY}"
  fi
}

setup() {
  if [ -n "${ON_KWCTL}" ]; then
    POLICY="${BATS_FILE_TMPDIR}/annotated.wasm"
    GRANT=()
  else
    GRANT=(--metadata-path "${ROOT}/policy-metadata.yml")
  fi
}

# detect REQUEST SESSION [SETTINGS_JSON]: the policy's answer with access to
# Nodes, the host's answers replayed from test_data/sessions/SESSION.yml.
detect() {
  local request="$1" session="$2" settings="${3:-{\"sidecarSupport\": \"detect\"\}}"
  run_policy --allow-context-aware "${GRANT[@]}" \
    --replay-host-capabilities-interactions "${DATA}/sessions/${session}.yml" \
    --request-path "${DATA}/${request}" --settings-json "${settings}"
  [ "${status}" -eq 0 ]
  [ -n "${response}" ]
}

SEED=pod_eshop_cart_app_sidecar_without_mount.json

converted() {
  patch_has add /spec/initContainers
  jq_response '.patch | @base64d | fromjson | map(select(.path == "/spec/initContainers")) | .[0].value[0].restartPolicy == "Always"'
}

unchanged() {
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "all nodes new: the sidecar becomes native" {
  detect "${SEED}" all_nodes_new
  converted
}

@test "one old node in the list: the sidecar stays a regular container, and the node is named" {
  detect "${SEED}" one_old_node
  unchanged
  warned 'not converted: native sidecars need kubelet 1.29+, and the pod may run on worker-3 (v1.28.3-eks-4f4795d)'
}

@test "a pod pinned by nodeName to a new node gets a native sidecar" {
  detect pod_eshop_cart_app_on_node_7.json pinned_new_node
  converted
}

@test "a pod pinned by nodeName to an old node keeps a regular container" {
  detect pod_eshop_cart_app_on_node_7.json pinned_old_node
  unchanged
  warned 'not converted: native sidecars need kubelet 1.29+, and the pod may run on node-7 (v1.27.16)'
}

@test "a DaemonSet pod, pinned by its affinity, is decided by its own node" {
  detect pod_daemonset_sidecar_pinned_to_node_7.json pinned_new_node
  converted
  detect pod_daemonset_sidecar_pinned_to_node_7.json pinned_old_node
  unchanged
}

@test "a nodeSelector narrows a mixed cluster to its new pool" {
  detect pod_eshop_cart_app_on_the_new_pool.json new_pool_by_node_selector
  converted
}

@test "an empty node list leaves kubernetesVersion to decide, with a warning" {
  detect "${SEED}" empty_list
  converted
  warned 'no nodes, so kubernetesVersion 1.33 decides whether sidecars become native'
}

@test "a host error leaves kubernetesVersion to decide, with a warning quoting it" {
  detect "${SEED}" host_error
  converted
  jq_response '.warnings | any(startswith("cannot read the pod'"'"'s nodes, so kubernetesVersion 1.33 decides (grant the policy contextAwareResources v1/Node)"))'
  jq_response '.warnings | any(contains("connection refused"))'
}

@test "a kubelet version that cannot be read counts as too old" {
  detect "${SEED}" unparseable_version
  unchanged
  warned 'not converted: native sidecars need kubelet 1.29+, and the pod may run on odd-1 (v-next)'
}

@test "fallback reject refuses, naming the old node" {
  detect "${SEED}" one_old_node '{"sidecarSupport": "detect", "fallback": "reject"}'
  rejected_with 'spec: native sidecars need kubelet 1.29+ on every node the pod may run on, but it may run on worker-3 (v1.28.3-eks-4f4795d); upgrade those nodes, keep the pod off them with a nodeSelector, or set fallback: legacy to keep log sidecars regular containers'
}

@test "fallback dual on a mixed cluster gives the dual form" {
  detect "${SEED}" one_old_node '{"sidecarSupport": "detect", "fallback": "dual"}'
  # The diff turns the sidecar's place into its legacy form.
  patch_has replace /spec/containers/1/name '"sidecar-legacy"'
  patch_has add /spec/volumes/1 '{"name": "log-sidecar-state", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}'
  warned 'nodes of this pod are mixed: worker-3 (v1.28.3-eks-4f4795d); "sidecar" runs in dual form, with "sidecar-legacy"'
}

@test "validate mode makes the same decision" {
  detect "${SEED}" one_old_node '{"sidecarSupport": "detect", "mode": "validate"}'
  jq_response '.allowed == true'
  detect "${SEED}" all_nodes_new '{"sidecarSupport": "detect", "mode": "validate"}'
  jq_response '.allowed == false'
}

@test "a pod without log sidecars makes no host call" {
  # The session holds no exchange: any call would fail and leave a warning.
  detect pod_toolbox_keep_alive_next_to_app.json no_calls
  jq_response '.allowed == true and (has("patch") | not) and ((.warnings // []) | length == 0)'
}

@test "without access granted, kubernetesVersion decides and the warning says how to grant it" {
  run_policy --replay-host-capabilities-interactions "${DATA}/sessions/all_nodes_new.yml" \
    --request-path "${DATA}/${SEED}" --settings-json '{"sidecarSupport": "detect"}'
  [ "${status}" -eq 0 ]
  converted
  jq_response '.warnings | any(contains("has not been granted access to Kubernetes v1/Node resources"))'
}
