#!/usr/bin/env bats
# Validate mode never mutates; it rejects what would break after admission.

load helpers

VALIDATE='{"mode": "validate"}'

@test "validate mode rejects a log sidecar that still runs as a regular container" {
  evaluate pod_eshop_cart_app_sidecar_without_mount.json "${VALIDATE}"
  jq_response 'has("patch") | not'
  rejected_with 'spec.containers[1]: log sidecar "sidecar" runs as a regular container; move it to spec.initContainers[0] with restartPolicy: Always to make it a native sidecar'
  rejected_with 'container "sidecar" cannot read the app'"'"'s log file: add volumeMount {name: varlog, mountPath: /var/log, readOnly: true}'
}

@test "validate mode accepts the converted pod" {
  evaluate pod_already_converted.json "${VALIDATE}"
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "validate mode rejects a native sidecar that lost restartPolicy, saying why the pod would hang" {
  evaluate pod_converted_sidecar_lost_restart_policy.json "${VALIDATE}"
  rejected_with 'spec.initContainers[0]: native sidecar "sidecar" lost restartPolicy: Always, so the pod would hang in Init forever; likely causes: the SidecarContainers feature gate is off, an API server or kubelet is older than 1.29, or a webhook built with client libraries older than 1.28 stripped the field'
}

@test "mutate mode restores a stripped restartPolicy" {
  evaluate pod_converted_sidecar_lost_restart_policy.json
  patch_has add /spec/initContainers/0/restartPolicy '"Always"'
}

@test "a native sidecar at kubernetesVersion 1.28 would lose its restartPolicy" {
  evaluate pod_already_converted.json '{"mode": "validate", "kubernetesVersion": "1.28"}'
  rejected_with 'spec.initContainers[0].restartPolicy: the API server drops this field unless feature gate SidecarContainers is on, on by default from Kubernetes 1.29; kubernetesVersion is 1.28: remove the field, or list SidecarContainers in enabledFeatureGates if the cluster enables it'
}

@test "the same pod at 1.29 is accepted" {
  evaluate pod_already_converted.json '{"mode": "validate", "kubernetesVersion": "1.29"}'
  jq_response '.allowed == true'
}

@test "enabledFeatureGates unlocks a gated field" {
  evaluate pod_with_host_users.json '{"kubernetesVersion": "1.32", "enabledFeatureGates": ["UserNamespacesSupport"]}'
  jq_response '.allowed == true'
}

@test "typos are rejected with a suggestion" {
  evaluate pod_with_typos_at_pod_container_and_volume_level.json "${VALIDATE}"
  rejected_with 'spec.restartpolicy: not a field of the Kubernetes schema, so it is dropped when the object is decoded; did you mean "restartPolicy"?'
  rejected_with 'spec.containers[0].volumeMount: not a field of the Kubernetes schema, so it is dropped when the object is decoded; did you mean "volumeMounts"?'
  rejected_with 'spec.volumes[0].emptydir: not a field of the Kubernetes schema, so it is dropped when the object is decoded; did you mean "emptyDir"?'
}

@test "warn modes accept with one warning per field" {
  evaluate pod_already_converted.json '{"kubernetesVersion": "1.28", "droppedFields": "warn"}'
  jq_response '.allowed == true'
  warned 'spec.initContainers[0].restartPolicy: dropped unless gate SidecarContainers is on (default from 1.29)'
}
