# Generates the kwctl session file of `make bench` whose nodes are too many
# to commit:
#
#   jq -nr --argjson nodes 5000 -f bench/nodes.jq > nodes-5000.yml
#
# One exchange: the list_resources_all call the policy makes for a pod
# without nodeSelector (and list-floor makes), answered with a v1 List of
# $nodes nodes as the host sends it back under the call's field_masks: each
# node has only metadata.name and status.nodeInfo.kubeletVersion. Three
# nodes in five are in a pool on v1.33.2, the others in a GKE pool on
# v1.31.4-gke.1043002: every node runs native sidecars, the oldest is 1.31.
# The same file works with `kwctl run --replay-host-capabilities-interactions`.

def pad($width): tostring | ("0" * ($width - length)) + .;

def node($i):
  if $i % 5 < 3 then
    {name: "shop-pool-a-\($i | pad(5))", version: "v1.33.2"}
  else
    {name: "gke-shop-pool-b-\($i | pad(5))", version: "v1.31.4-gke.1043002"}
  end
  | {metadata: {name: .name}, status: {nodeInfo: {kubeletVersion: .version}}};

# A YAML single-quoted scalar: only the quote itself is escaped, by doubling.
def single_quoted: "'" + gsub("'"; "''") + "'";

{apiVersion: "v1", kind: "List", items: [range($nodes) | node(.)]}
| tojson
| [
    "- type: Exchange",
    "  request: |",
    "    !KubernetesListResourceAll",
    "    api_version: v1",
    "    kind: Node",
    "    label_selector: null",
    "    field_selector: null",
    "    field_masks:",
    "    - metadata.name",
    "    - status.nodeInfo.kubeletVersion",
    "  response:",
    "    type: Success",
    "    payload: \(single_quoted)"
  ]
| join("\n")
