#!/usr/bin/env bats
# The conversion, checked on the JSON patch the host derives from the policy's answer.

load helpers

@test "the seed pod's sidecar becomes a native sidecar with the log volume mount" {
  evaluate pod_eshop_cart_app_sidecar_without_mount.json
  jq_response '.allowed == true and .patchType == "JSONPatch"'
  patch_length 3
  patch_has add /metadata/annotations '{"log-sidecar.io/converted": "sidecar"}'
  patch_has remove /spec/containers/1
  patch_has add /spec/initContainers '[{"name": "sidecar", "image": "ghcr.io/shclub/busybox", "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"], "restartPolicy": "Always", "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": true}]}]'
  warned 'spec.containers[1] ("sidecar") moved to initContainers[0] with restartPolicy: Always'
  warned 'added read-only volumeMount "varlog" at /var/log to "sidecar"'
}

@test "a sidecar that already mounts the volume is moved without a second mount" {
  evaluate pod_eshop_cart_app_sidecar_with_mount.json
  patch_has add /spec/initContainers '[{"name": "sidecar", "image": "ghcr.io/shclub/busybox", "command": ["/bin/sh", "-c", "tail -n +1 -F /var/log/cart-app.log"], "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}], "restartPolicy": "Always"}]'
}

@test "the upstream example converts both streaming sidecars in their order" {
  evaluate pod_upstream_counter_two_streaming_sidecars.json
  patch_has add /metadata/annotations '{"log-sidecar.io/converted": "count-log-1,count-log-2"}'
  jq_response '.patch | @base64d | fromjson | map(select(.path == "/spec/initContainers")) | .[0].value | map(.name) == ["count-log-1", "count-log-2"]'
}

@test "fields unknown to the schema are not touched by the patch" {
  evaluate pod_with_fields_unknown_to_the_schema.json '{"unknownFields": "ignore"}'
  patch_length 3
  jq_response '.patch | @base64d | fromjson | map(.path) | all(test("futureField|futurePodField|creationTimestamp") | not)'
}

@test "an already converted pod produces no patch" {
  evaluate pod_already_converted.json
  jq_response '.allowed == true'
  jq_response 'has("patch") | not'
}

@test "a Pod UPDATE is accepted unchanged" {
  evaluate pod_eshop_cart_app_update.json
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "an opted-out pod is accepted unchanged with a warning" {
  evaluate pod_opted_out.json
  jq_response 'has("patch") | not'
  warned 'log-sidecar.io/native=false: log sidecars left as they are'
}

@test "an init container that tails without restartPolicy gets it back" {
  evaluate pod_tailing_init_container_without_restart_policy.json
  patch_has add /spec/initContainers/0/restartPolicy '"Always"'
}

@test "below Kubernetes 1.29 nothing is converted" {
  evaluate pod_eshop_cart_app_sidecar_with_mount.json '{"kubernetesVersion": "1.28"}'
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "placement first puts the sidecar before the regular init containers" {
  evaluate e2e/pod_with_init_containers.json '{"placement": "first"}'
  warned 'spec.containers[1] ("sidecar") moved to initContainers[1] with restartPolicy: Always'
  # The diff rewrites index 1 in place and appends the regular init container after it.
  patch_has replace /spec/initContainers/1/name '"sidecar"'
  jq_response '.patch | @base64d | fromjson | map(select(.op == "add" and .path == "/spec/initContainers/2")) | .[0].value.name == "migrate"'
}

@test "tail -f in sh -c becomes -F, the rest of the script byte for byte" {
  evaluate pod_sidecar_tail_f_in_sh_c.json
  patch_has add /spec/initContainers '[{"name": "log-tailer", "image": "busybox:1.37", "command": ["/bin/sh", "-c", "tail -n+1 -F /var/log/app/app.log"], "volumeMounts": [{"name": "logs", "mountPath": "/var/log/app"}], "restartPolicy": "Always"}]'
  warned 'spec.containers[1] ("log-tailer"): tail -f became -F, to wait for a missing file as a native sidecar'
}

@test "a sidecar mounting the app's volume at another path gets no second mount" {
  evaluate pod_app_logs_read_only_sidecar_at_another_path.json
  jq_response '.patch | @base64d | fromjson | map(select(.path == "/spec/initContainers")) | .[0].value[0].volumeMounts == [{"name": "app-logs", "mountPath": "/logs-ro", "readOnly": true}]'
}

@test "a detected sidecar that cannot be converted is left with a warning" {
  evaluate pod_sidecar_tail_f_in_sh_c.json '{"rewriteFollow": false}'
  jq_response '.allowed == true and (has("patch") | not)'
  warned 'spec.containers[1] ("log-tailer") not converted: tail exits on a missing file; use tail -F'
}

@test "a tail -f /dev/null toolbox is not a log sidecar" {
  evaluate pod_toolbox_keep_alive_next_to_app.json
  jq_response '.allowed == true and (has("patch") | not) and ((.warnings // []) | length == 0)'
}

@test "a native tail -f sidecar that would hang in Init is accepted with a warning" {
  evaluate pod_native_tail_f_sidecar_hangs.json
  jq_response '.allowed == true and (has("patch") | not)'
  warned 'spec.initContainers[0] ("log-tailer"): its tail exits on a missing file, so the pod hangs in Init; use tail -F'
}
