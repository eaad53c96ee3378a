#!/usr/bin/env bats
# Settings are validated before any request is evaluated.

load helpers

# refused_settings SETTINGS MESSAGE: the policy refuses SETTINGS with MESSAGE.
refused_settings() {
  run_policy --request-path "${DATA}/pod_eshop_cart_app_sidecar_with_mount.json" --settings-json "$1"
  settings_refused_with "$2"
}

@test "an unknown setting is refused with the nearest name" {
  refused_settings '{"sidecarName": ["x"]}' 'unknown setting "sidecarName": did you mean "sidecarNames"?'
}

@test "a bad mode is refused" {
  refused_settings '{"mode": "audit"}' 'setting mode: unknown variant `audit`, expected `mutate` or `validate`'
}

@test "a version that is not MAJOR.MINOR is refused" {
  refused_settings '{"kubernetesVersion": "1.33.2"}' 'setting kubernetesVersion: "1.33.2" is not a Kubernetes version MAJOR.MINOR, such as "1.33"'
}

@test "a prefix that is not a DNS subdomain is refused" {
  refused_settings '{"annotationPrefix": "Not_DNS"}' 'setting annotationPrefix: "Not_DNS" is not a DNS subdomain (lowercase letters, digits, '"'-'"' and '"'.'"', at most 253 characters)'
}

@test "a sidecar name that is not a DNS-1123 label is refused" {
  refused_settings '{"sidecarNames": ["UPPER"]}' 'setting sidecarNames: "UPPER" is not a container name (a DNS-1123 label: lowercase letters, digits and '"'-'"', at most 63 characters)'
}

@test "valid settings are accepted" {
  evaluate pod_eshop_cart_app_sidecar_with_mount.json '{"mode": "mutate", "placement": "last", "kubernetesVersion": "1.30", "sidecarNames": ["sidecar"]}'
  jq_response '.allowed == true'
}
