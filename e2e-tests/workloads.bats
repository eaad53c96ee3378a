#!/usr/bin/env bats
# Every workload kind gets its pod template converted.

load helpers

check_template() {
  local fixture="$1" template="$2"
  evaluate "${fixture}"
  patch_has add "${template}/metadata/annotations" '{"log-sidecar.io/converted": "sidecar"}'
  patch_has remove "${template}/spec/containers/1"
  jq_response ".patch | @base64d | fromjson | map(select(.path == \"${template}/spec/initContainers\")) | .[0].value[0].restartPolicy == \"Always\""
}

@test "Deployment" { check_template deployment_with_streaming_sidecar.json /spec/template; }
@test "Deployment UPDATE" { check_template deployment_with_streaming_sidecar_update.json /spec/template; }
@test "ReplicaSet" { check_template replicaset_with_streaming_sidecar.json /spec/template; }
@test "StatefulSet" { check_template statefulset_with_streaming_sidecar.json /spec/template; }
@test "DaemonSet" { check_template daemonset_with_streaming_sidecar.json /spec/template; }
@test "Job" { check_template job_with_streaming_sidecar.json /spec/template; }
@test "CronJob" { check_template cronjob_with_streaming_sidecar.json /spec/jobTemplate/spec/template; }
@test "ReplicationController" { check_template replicationcontroller_with_streaming_sidecar.json /spec/template; }
