#!/usr/bin/env bats
# The AdmissionRequest envelope: kwctl builds a typed AdmissionRequest from the
# request file before anything else, and refuses a file it cannot build one
# from with exit code 1 and `Error: cannot build AdmissionRequest object from
# given input: …`; the policy never runs. The runner does the same.

load helpers

SEED="${DATA}/pod_eshop_cart_app_sidecar_without_mount.json"

# request_from FILTER: the seed request changed by the jq FILTER, in $request.
request_from() {
  request="${BATS_TEST_TMPDIR}/request.json"
  jq "$1" "${SEED}" >"${request}"
}

# refused_with LINE: exit code 1, no response, and LINE on standard error.
refused_with() {
  [ "${status}" -eq 1 ]
  [ -z "${response}" ]
  printf '%s\n' "${stderr}" | grep -qxF -- "$1"
}

@test "a request without userInfo is refused before the policy runs" {
  request_from 'del(.userInfo)'
  run_policy --request-path "${request}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: missing field `userInfo`'
}

@test "the first missing field is named, in the order of kwctl's AdmissionRequest" {
  request_from 'del(.userInfo, .operation, .uid)'
  run_policy --request-path "${request}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: missing field `uid`'
}

@test "a kind without its group is refused" {
  request_from 'del(.kind.group)'
  run_policy --request-path "${request}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: missing field `group`'
}

@test "a kind that is a string is refused" {
  request_from '.kind = "Pod"'
  run_policy --request-path "${request}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: invalid type: string "Pod", expected struct GroupVersionKind'
}

@test "groups that are not a list are refused" {
  request_from '.userInfo.groups = "system:masters"'
  run_policy --request-path "${request}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: invalid type: string "system:masters", expected a sequence'
}

@test "the request is refused before the settings are validated" {
  request_from 'del(.userInfo)'
  run_policy --request-path "${request}" --settings-json '{"sidecarName": ["x"]}'
  refused_with 'Error: cannot build AdmissionRequest object from given input: missing field `userInfo`'
}

@test "an AdmissionReview gives the same answer as its request" {
  evaluate pod_eshop_cart_app_sidecar_without_mount.json
  local bare="${response}"
  local review="${BATS_TEST_TMPDIR}/review.json"
  jq '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: .}' "${SEED}" >"${review}"
  run_policy --request-path "${review}" --settings-json '{}'
  [ "${status}" -eq 0 ]
  [ "${response}" = "${bare}" ]
}

@test "an AdmissionReview whose request lacks userInfo is refused" {
  local review="${BATS_TEST_TMPDIR}/review.json"
  jq '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: del(.userInfo)}' "${SEED}" >"${review}"
  run_policy --request-path "${review}"
  refused_with 'Error: cannot build AdmissionRequest object from given input: missing field `userInfo`'
}

@test "an AdmissionReview without a request is refused" {
  local review="${BATS_TEST_TMPDIR}/review.json"
  echo '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}' >"${review}"
  run_policy --request-path "${review}"
  refused_with 'Error: invalid AdmissionReview object'
}

@test "fields kwctl does not know are ignored" {
  request_from '. + {futureEnvelopeField: {"x": 1}} | .userInfo.futureUserField = true'
  run_policy --request-path "${request}" --settings-json '{}'
  [ "${status}" -eq 0 ]
  jq_response '.allowed == true and .patchType == "JSONPatch"'
}
