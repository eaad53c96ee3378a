# Generates the AdmissionRequests of `make bench` that are too big to commit:
#
#   jq -n --arg kind Pod --argjson apps 50 --argjson sidecars 50 -f bench/requests.jq
#
# App container i writes /var/log/app-i/app.log on its own emptyDir volume;
# log sidecar i (i < sidecars <= apps) streams that file with `tail -F` and
# has no mount, so the policy moves it to initContainers and adds the mount.
# Every sidecar therefore costs the same work, and a series that grows apps
# and sidecars together measures how the conversion scales with the size of
# the pod. kind is Pod or Deployment.

def app($i):
  {
    name: "app-\($i)",
    image: "registry.example.com/shop/app:1.\($i)",
    command: ["/bin/sh", "-c", "exec /app/server >> /var/log/app-\($i)/app.log 2>&1"],
    env: [
      {name: "APP_ID", value: "\($i)"},
      {name: "POD_NAME", valueFrom: {fieldRef: {fieldPath: "metadata.name"}}}
    ],
    ports: [{name: "http", containerPort: (8000 + $i), protocol: "TCP"}],
    resources: {requests: {cpu: "50m", memory: "64Mi"}, limits: {memory: "128Mi"}},
    readinessProbe: {httpGet: {path: "/healthz", port: (8000 + $i)}, periodSeconds: 10},
    volumeMounts: [{name: "logs-\($i)", mountPath: "/var/log/app-\($i)"}]
  };

def sidecar($i):
  {
    name: "log-\($i)",
    image: "registry.example.com/tools/busybox:1.37",
    command: ["/bin/sh", "-c", "tail -n +1 -F /var/log/app-\($i)/app.log"],
    resources: {requests: {cpu: "5m", memory: "8Mi"}, limits: {memory: "16Mi"}}
  };

def pod_spec:
  {
    containers: ([range($apps) | app(.)] + [range($sidecars) | sidecar(.)]),
    volumes: [range($apps) | {name: "logs-\(.)", emptyDir: {}}]
  };

def meta($name): {name: $name, labels: {app: "bench"}};

def object:
  if $kind == "Pod" then
    {apiVersion: "v1", kind: "Pod", metadata: meta("bench"), spec: pod_spec}
  else
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta("bench"),
      spec: {
        replicas: 3,
        selector: {matchLabels: {app: "bench"}},
        template: {metadata: {labels: {app: "bench"}}, spec: pod_spec}
      }
    }
  end;

def resource: if $kind == "Pod" then {group: "", version: "v1", resource: "pods"}
  else {group: "apps", version: "v1", resource: "deployments"} end;

def kind: {group: resource.group, version: "v1", kind: $kind};

{
  uid: "00000000-0000-0000-0000-000000000000",
  kind: kind,
  resource: resource,
  requestKind: kind,
  requestResource: resource,
  name: "bench",
  namespace: "default",
  operation: "CREATE",
  userInfo: {username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"]},
  object: object,
  oldObject: null,
  dryRun: false,
  options: {kind: "CreateOptions", apiVersion: "meta.k8s.io/v1"}
}
