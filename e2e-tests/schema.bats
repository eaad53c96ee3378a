#!/usr/bin/env bats
# An outside oracle: every object the policy outputs passes the upstream
# Kubernetes schema in strict mode (kubernetes-validate, from PyPI), at the
# first release with native sidecars and at the default kubernetesVersion.
# The objects come from the runner's `convert`, even when KWCTL is set.

load helpers

@test "every object the policy accepts or produces passes the Kubernetes schema in strict mode" {
  command -v kubernetes-validate || skip "kubernetes-validate is not installed (make e2e-tools installs it)"
  local accepted=0
  for fixture in "${DATA}"/*.json "${DATA}"/e2e/*.json; do
    jq '.object' "${fixture}" > "${BATS_TEST_TMPDIR}/object.json"
    if "${RUNNER}" convert --policy "${POLICY}" "${BATS_TEST_TMPDIR}/object.json" \
        > "${BATS_TEST_TMPDIR}/out.yaml" 2>/dev/null; then
      for version in 1.29.0 1.33.0; do
        run kubernetes-validate --strict --quiet -k "${version}" "${BATS_TEST_TMPDIR}/out.yaml"
        echo "${fixture} at ${version}: ${output}"
        [ "${status}" -eq 0 ]
      done
      accepted=$((accepted + 1))
    fi
  done
  echo "accepted fixtures: ${accepted}"
  [ "${accepted}" -ge 15 ]
}
