#!/usr/bin/env bats
# Each refusal of an explicitly declared sidecar, with its exact message.

load helpers

@test "a startupProbe is refused" {
  evaluate pod_sidecar_with_startup_probe.json
  rejected_with 'spec.containers[1]: as a native sidecar, its startupProbe would hold back every later container, so the app that writes its log file might never start; remove the startupProbe'
}

@test "a postStart hook is refused" {
  evaluate pod_sidecar_with_post_start_hook.json
  rejected_with 'spec.containers[1]: as a native sidecar, its postStart hook would hold back every later container, so the app that writes its log file might never start; remove lifecycle.postStart'
}

@test "tail -f without --retry is refused when rewriteFollow is off" {
  evaluate pod_sidecar_follows_by_descriptor.json '{"rewriteFollow": false}'
  rejected_with 'spec.containers[1]: tail follows /var/log/cart-app.log without --retry and exits while the file does not exist, so as a native sidecar it would crash-loop before the app starts; use tail -F (or set rewriteFollow: true)'
}

@test "restartPolicyRules and a restartPolicy other than Always are both refused" {
  evaluate pod_sidecar_with_restart_policy_rules.json '{"kubernetesVersion": "1.35"}'
  rejected_with 'spec.containers[1]: restartPolicyRules cannot be kept on a native sidecar; remove them to convert this log sidecar'
  rejected_with 'spec.containers[1]: restartPolicy is "Never", but a native sidecar needs "Always"; remove the field or set it to Always'
}

@test "a hostPort clash with the app is refused" {
  evaluate pod_sidecar_host_port_clashes_with_app.json
  rejected_with 'spec.containers[1]: as a native sidecar, its hostPort 9000/TCP would clash with container "cart-app", and the API server does not check ports across initContainers and containers; use another hostPort'
}

@test "resizePolicy before 1.33 is refused" {
  evaluate pod_sidecar_with_resize_policy.json '{"kubernetesVersion": "1.32"}'
  rejected_with 'spec.containers[1].resizePolicy: the API server drops this field unless feature gate InPlacePodVerticalScaling is on, on by default from Kubernetes 1.33; kubernetesVersion is 1.32: remove the field, or list InPlacePodVerticalScaling in enabledFeatureGates if the cluster enables it'
  rejected_with 'spec.containers[1]: resizePolicy on a native sidecar needs Kubernetes 1.33 or later (kubernetesVersion is 1.32); remove resizePolicy or raise kubernetesVersion'
}

@test "a sidecar that mounts another volume at the log path is refused" {
  evaluate pod_sidecar_mounts_another_volume.json
  rejected_with 'spec.containers[1]: streams /var/log/cart-app.log from volume "scratch" but the app writes it to volume "varlog" (/var/log): it would stream an empty file forever; mount /var/log instead'
}

@test "two apps mounting different volumes at the log path are ambiguous" {
  evaluate pod_two_apps_mount_different_volumes_at_the_log_path.json
  rejected_with 'spec.containers[2]: streams /var/log/cart-app.log, but containers mount different volumes there (volume "varlog" and volume "auditlog"); the file to stream is ambiguous'
}

@test "a log file private to the app is refused with the fix" {
  evaluate pod_log_file_private_to_the_app.json
  rejected_with 'spec.containers[1]: streams /var/log/cart-app.log, but no regular container mounts a volume there, so the file stays private to the app; add a volume (for example emptyDir {} named shared-logs) and mount it at /var/log in the app container and in this sidecar'
}

@test "declaring every container a sidecar is refused" {
  evaluate pod_every_container_declared_a_sidecar.json
  rejected_with 'spec.containers: converting cart-app, sidecar would leave no regular container; keep the container that writes the logs in spec.containers'
}

@test "an annotation naming a missing container is refused" {
  evaluate pod_annotation_names_a_missing_container.json
  rejected_with 'annotation log-sidecar.io/containers names container "fluentbit", which is not in spec.containers or spec.initContainers: fix the name or remove it from the list'
}

@test "a sidecar that reads a volume no app mounts is refused" {
  evaluate pod_sidecar_reads_a_volume_no_app_mounts.json
  rejected_with 'spec.containers[1]: streams /var/log/orders/app.log from volume "scratch", but no regular container sees that file through its mounts, so no app writes it there; mount volume "scratch" in the container that writes /var/log/orders/app.log, or mount here the volume that container writes it to'
}

@test "every problem of a declared sidecar is listed at once" {
  evaluate pod_declared_sidecar_with_several_problems.json '{"rewriteFollow": false}'
  jq_response '.status.message | split("\n") | length == 3'
  rejected_with 'spec.containers[1]: tail follows /var/log/app/app.log without --retry and exits while the file does not exist, so as a native sidecar it would crash-loop before the app starts; use tail -F (or set rewriteFollow: true)'
  rejected_with 'spec.containers[1]: streams /var/log/app/app.log, but no regular container mounts a volume there, so the file stays private to the app; add a volume (for example emptyDir {} named shared-logs) and mount it at /var/log/app in the app container and in this sidecar'
}
