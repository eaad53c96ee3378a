"""Wraps a manifest (YAML or JSON, one document) in the AdmissionRequest an
API server sends for its CREATE, envelope complete, on standard output."""

import json
import sys
import uuid

import yaml

# The resource of each kind the policy reads, as the API server names it.
RESOURCES = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}


def request(manifest):
    group, _, version = manifest["apiVersion"].rpartition("/")
    kind = manifest["kind"]
    resource = RESOURCES.get(kind, kind.lower() + "s")
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    metadata = manifest.get("metadata") or {}
    return {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(manifest, sort_keys=True))),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", "default"),
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": manifest,
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(request(yaml.safe_load(source)), sys.stdout)
    sys.stdout.write("\n")
