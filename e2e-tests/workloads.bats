#!/usr/bin/env bats
# Workload templates: reviewed by default, rewritten with convertTemplates.

load helpers

check_reviewed() {
  local fixture="$1" template="$2"
  evaluate "${fixture}"
  jq_response '.allowed == true and (has("patch") | not)'
  warned "${template}: its pods get \"sidecar\" as native sidecar(s); convert rewrites the manifest itself"
}

check_converted() {
  local fixture="$1" template="$2"
  evaluate "${fixture}" '{"convertTemplates": true}'
  patch_has add "${template}/metadata/annotations" '{"log-sidecar.io/converted": "sidecar"}'
  patch_has remove "${template}/spec/containers/1"
  jq_response ".patch | @base64d | fromjson | map(select(.path == \"${template}/spec/initContainers\")) | .[0].value[0].restartPolicy == \"Always\""
}

@test "Deployment is reviewed" { check_reviewed deployment_with_streaming_sidecar.json spec.template; }
@test "Deployment UPDATE is reviewed" { check_reviewed deployment_with_streaming_sidecar_update.json spec.template; }
@test "CronJob is reviewed" { check_reviewed cronjob_with_streaming_sidecar.json spec.jobTemplate.spec.template; }

@test "Deployment with convertTemplates" { check_converted deployment_with_streaming_sidecar.json /spec/template; }
@test "Deployment UPDATE with convertTemplates" { check_converted deployment_with_streaming_sidecar_update.json /spec/template; }
@test "ReplicaSet with convertTemplates" { check_converted replicaset_with_streaming_sidecar.json /spec/template; }
@test "StatefulSet with convertTemplates" { check_converted statefulset_with_streaming_sidecar.json /spec/template; }
@test "DaemonSet with convertTemplates" { check_converted daemonset_with_streaming_sidecar.json /spec/template; }
@test "Job with convertTemplates" { check_converted job_with_streaming_sidecar.json /spec/template; }
@test "CronJob with convertTemplates" { check_converted cronjob_with_streaming_sidecar.json /spec/jobTemplate/spec/template; }
@test "ReplicationController with convertTemplates" { check_converted replicationcontroller_with_streaming_sidecar.json /spec/template; }

@test "a Job UPDATE is never rewritten: its template is immutable" {
  evaluate job_update_with_streaming_sidecar.json '{"convertTemplates": true}'
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "a ReplicaSet its Deployment owns is never rewritten" {
  evaluate replicaset_owned_by_deployment.json '{"convertTemplates": true}'
  jq_response '.allowed == true and (has("patch") | not)'
}

@test "a re-applied legacy copy of a converted sidecar is removed" {
  evaluate deployment_reapplied_legacy_sidecar.json '{"convertTemplates": true}'
  patch_length 1
  patch_has remove /spec/template/spec/containers/1
}

@test "an update that leaves a refused template as it was is let through" {
  evaluate deployment_update_unchanged_template_with_a_refusal.json
  jq_response '.allowed == true and (has("patch") | not)'
  warned 'spec.template is unchanged by this update, so it is let through as it was admitted; it has 1 problem(s):'
}
