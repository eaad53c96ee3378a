#!/bin/sh
# Seeds the fuzz corpora from test_data/: every fixture wrapped as a waPC
# `validate` payload, the malformed payloads as they are, and a few settings.
# The corpora live in fuzz/corpus/ (not committed); libFuzzer adds to them.
set -eu
cd "$(dirname "$0")/.."
payloads=fuzz/corpus/validate_payload
settings=fuzz/corpus/validate_settings
nodes=fuzz/corpus/node_answer
mkdir -p "$payloads" "$settings" "$nodes"

n=0
for fixture in test_data/*.json test_data/*/*.json; do
  [ -f "$fixture" ] || continue
  n=$((n + 1))
  { printf '{"request":'; cat "$fixture"; printf ',"settings":{}}'; } >"$payloads/seed-$n"
  { printf '{"request":'; cat "$fixture"; printf ',"settings":{"mode":"validate","unknownFields":"ignore"}}'; } >"$payloads/seed-$n-validate"
done
for raw in test_data/malformed/*.payload test_data/regressions/*.payload; do
  [ -f "$raw" ] && cp "$raw" "$payloads/raw-$(basename "$raw")"
done

i=0
for s in '{}' 'null' '{"mode":"validate"}' '{"placement":"first","addVolumeMounts":false}' \
  '{"sidecarNames":["sidecar"],"detectStreamingSidecars":false}' \
  '{"kubernetesVersion":"1.28","createSharedVolume":true,"allowOptOut":false}' \
  '{"annotationPrefix":"logs.example.com","enabledFeatureGates":["SidecarContainers"]}' \
  '{"droppedFields":"warn","unknownFields":"ignore"}' '{"sidecarName":["x"]}'; do
  i=$((i + 1))
  printf '%s' "$s" >"$settings/seed-$i"
done
# Node answers: a list of new and old kubelets, one node, and an empty list.
printf '\000%s' '{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"a"},"status":{"nodeInfo":{"kubeletVersion":"v1.33.2"}}},{"metadata":{"name":"b"},"status":{"nodeInfo":{"kubeletVersion":"v1.28.3-eks-4f4795d"}}}]}' >"$nodes/seed-list"
printf '\001%s' '{"metadata":{"name":"node-1"},"status":{"nodeInfo":{"kubeletVersion":"v1.30.0+k3s1"}}}' >"$nodes/seed-node"
printf '\000%s' '{"items":[]}' >"$nodes/seed-empty"
echo "seeded $(ls "$payloads" | wc -l) validate payloads, $(ls "$settings" | wc -l) settings and $(ls "$nodes" | wc -l) node answers"
