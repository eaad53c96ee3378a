//! Keys of an object that the Kubernetes schema of its kind does not define.
//! Decoding drops such keys without a word, so a typo such as
//! `restartpolicy` or `volumeMount` would otherwise reach the cluster as if
//! the field had never been written.
//!
//! The schema is [`SCHEMA`], a table of the field names of every object type
//! the supported kinds can hold, taken from the k8s-openapi structs (the
//! `latest` feature, Kubernetes 1.36). Decoding into those structs would find
//! the same keys, but every struct's `Deserialize` impl is then compiled into
//! the policy: more than a megabyte of wasm for these kinds. A test rebuilds
//! the table from those impls, so it cannot drift from k8s-openapi.

use std::sync::OnceLock;

use crate::kube_path::Path;
use crate::value::Value;

/// A key that the schema of its object does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// kubectl style: `spec.containers[0].restartpolicy`, with the keys of
    /// free-form maps in brackets: `metadata.annotations[a.b/c]`.
    pub path: String,
    /// A known field of the same object that differs only by case or by at
    /// most two edits.
    pub suggestion: Option<&'static str>,
}

/// The kinds whose schema [`SCHEMA`] holds, each the name of its root type.
const KINDS: [&str; 8] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// The keys of `object` that the Kubernetes 1.36 schema of `kind` does not
/// define, in document order. `kind` is the request's kind: Pod, Deployment,
/// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or ReplicationController;
/// any other kind gives `None`. `Some(vec![])` means every key is known.
///
/// Keys of free-form maps (labels, annotations, resource quantities, ...)
/// are never unknown. Keys below an unknown key are not looked at: only the
/// outermost unknown key is reported. `apiVersion` and `kind` are known
/// fields whatever their values.
///
/// Types are not judged here (the caller does that): a value of the wrong
/// type (a string where a list belongs, an object where a string belongs) is
/// passed over, keys inside it included, and the search goes on everywhere
/// else, so one type error hides no typo outside it. Null counts as absent.
/// No input panics, and a known field is never reported.
pub fn unknown_fields(kind: &str, object: &Value) -> Option<Vec<UnknownField>> {
    if !KINDS.contains(&kind) {
        return None;
    }
    let mut found = Vec::new();
    let root = Shape::Object(type_index(kind)?);
    visit(object, &root, &Path::Root(""), &mut found);
    Some(found)
}

/// What the schema says a value is, with object types linked to their
/// fields, so that a walk never looks a type up by name.
#[derive(Debug)]
enum Shape {
    /// A string, a number, free-form JSON: nothing to look into.
    Opaque,
    /// An object of the type at this index of [`schema_types`].
    Object(usize),
    List(Box<Shape>),
    /// A map with keys of any name.
    Map(Box<Shape>),
}

/// Looks through `value`, which the schema says has `shape`.
///
/// Recursion follows the value, which serde_json parses at most 128 deep.
fn visit(value: &Value, shape: &Shape, path: &Path, found: &mut Vec<UnknownField>) {
    match shape {
        Shape::Opaque => {}
        Shape::List(item_shape) => {
            for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                visit(item, item_shape, &path.index(index), found);
            }
        }
        Shape::Map(entry_shape) => {
            for (key, entry) in value.as_object().into_iter().flatten() {
                visit(entry, entry_shape, &path.key(key), found);
            }
        }
        Shape::Object(index) => {
            let Some(object) = value.as_object() else {
                return;
            };
            let object_type = &schema_types()[*index];
            let fields = &object_type.fields;
            for (key, entry) in object {
                match object_type.field(key) {
                    // Most fields are strings and numbers: no call for them.
                    Some(Shape::Opaque) => {}
                    Some(field_shape) => visit(entry, field_shape, &path.field(key), found),
                    None => found.push(UnknownField {
                        path: path.field(key).to_string(),
                        suggestion: crate::suggest::nearest(
                            key,
                            fields.iter().map(|(name, _)| *name),
                        ),
                    }),
                }
            }
        }
    }
}

/// An object type of [`SCHEMA`] and its fields.
struct ObjectType {
    name: &'static str,
    fields: Vec<(&'static str, Shape)>,
    /// An open-addressing table of the fields: at [`slot`] of a name, or at
    /// a later slot, `1 +` its index in `fields`; 0 marks the end of a probe.
    /// Every key of every object visited is looked up: comparing it with
    /// each field in turn took most of the walk.
    slots: [u8; SLOTS],
}

/// Twice the fields of the largest type (PodSpec, 42), a power of two: with
/// the table at most a third full, a lookup rarely compares more than one
/// name. A key the schema lacks ends at the first empty slot, so whatever
/// the keys of the request, a lookup takes at most `SLOTS` steps.
const SLOTS: usize = 128;

/// Where the search for `name` starts: its length and three of its bytes,
/// mixed. Not secret, nor needs to be: the table holds schema names only.
fn slot(name: &str) -> usize {
    let bytes = name.as_bytes();
    let (first, last) = match bytes {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    let middle = bytes.get(bytes.len() / 2).copied().unwrap_or_default();
    let mixed = (bytes.len() as u32)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(u32::from(first).wrapping_mul(0x85eb_ca6b))
        .wrapping_add(u32::from(middle).wrapping_mul(0xc2b2_ae35))
        .wrapping_add(u32::from(last).wrapping_mul(0x27d4_eb2f));
    (mixed >> 25) as usize % SLOTS
}

impl ObjectType {
    fn new(name: &'static str, fields: Vec<(&'static str, Shape)>) -> Self {
        let mut slots = [0; SLOTS];
        for (index, (field, _)) in fields.iter().enumerate() {
            let mut at = slot(field);
            while slots[at] != 0 {
                at = (at + 1) % SLOTS;
            }
            // Fewer fields than slots (and than u8::MAX): a test checks.
            slots[at] = u8::try_from(index + 1).unwrap_or(u8::MAX);
        }
        ObjectType {
            name,
            fields,
            slots,
        }
    }

    /// The shape of field `key`, if the type has it.
    fn field(&self, key: &str) -> Option<&Shape> {
        let mut at = slot(key);
        for _ in 0..SLOTS {
            let index = usize::from(self.slots[at]).checked_sub(1)?;
            let (name, shape) = self.fields.get(index)?;
            if *name == key {
                return Some(shape);
            }
            at = (at + 1) % SLOTS;
        }
        None
    }
}

/// The index of an object type in [`schema_types`].
fn type_index(name: &str) -> Option<usize> {
    schema_types()
        .binary_search_by_key(&name, |object_type| object_type.name)
        .ok()
}

/// [`SCHEMA`] as a list of types sorted by name, each with its fields and
/// their shapes, parsed once per module instance: scanning the text for
/// every object visited took most of an evaluation.
fn schema_types() -> &'static [ObjectType] {
    static TYPES: OnceLock<Vec<ObjectType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut definitions: Vec<(&str, &str)> = SCHEMA
            .split(';')
            .filter_map(|definition| definition.split_once('='))
            .map(|(name, fields)| (name.trim(), fields))
            .collect();
        definitions.sort_unstable_by_key(|(name, _)| *name);
        let names: Vec<&str> = definitions.iter().map(|(name, _)| *name).collect();
        definitions
            .iter()
            .map(|(name, fields)| {
                let fields = fields
                    .split_whitespace()
                    .map(|field| {
                        let (field, shape) = field.split_once(':').unwrap_or((field, ""));
                        (field, parse_shape(shape, &names))
                    })
                    .collect();
                ObjectType::new(name, fields)
            })
            .collect()
    })
}

/// A shape of [`SCHEMA`]: `[S]` a list of S, `{S}` a map of S, a type name
/// an object of that type, and anything else opaque. `names` are the types,
/// sorted.
fn parse_shape(text: &str, names: &[&str]) -> Shape {
    if let Some(item) = text.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Shape::List(Box::new(parse_shape(item, names)))
    } else if let Some(entry) = text.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Shape::Map(Box::new(parse_shape(entry, names)))
    } else {
        names
            .binary_search(&text)
            .map_or(Shape::Opaque, Shape::Object)
    }
}

/// Every object type the supported kinds can hold: `Type = field field:Shape
/// ...;`, shapes as in [`parse_shape`]. Generated by the test
/// `the_schema_is_the_one_k8s_openapi_decodes`, which prints it anew when
/// k8s-openapi changes.
const SCHEMA: &str = "
AWSElasticBlockStoreVolumeSource = fsType partition readOnly volumeID;
Affinity = nodeAffinity:NodeAffinity podAffinity:PodAffinity podAntiAffinity:PodAntiAffinity;
AppArmorProfile = localhostProfile type;
AzureDiskVolumeSource = cachingMode diskName diskURI fsType kind readOnly;
AzureFileVolumeSource = readOnly secretName shareName;
CSIVolumeSource = driver fsType nodePublishSecretRef:LocalObjectReference readOnly
    volumeAttributes;
Capabilities = add drop;
CephFSVolumeSource = monitors path readOnly secretFile secretRef:LocalObjectReference user;
CinderVolumeSource = fsType readOnly secretRef:LocalObjectReference volumeID;
ClusterTrustBundleProjection = labelSelector:LabelSelector name optional path signerName;
ConfigMapEnvSource = name optional;
ConfigMapKeySelector = key name optional;
ConfigMapProjection = items:[KeyToPath] name optional;
ConfigMapVolumeSource = defaultMode items:[KeyToPath] name optional;
Container = args command env:[EnvVar] envFrom:[EnvFromSource] image imagePullPolicy
    lifecycle:Lifecycle livenessProbe:Probe name ports:[ContainerPort] readinessProbe:Probe
    resizePolicy:[ContainerResizePolicy] resources:ResourceRequirements restartPolicy
    restartPolicyRules:[ContainerRestartRule] securityContext:SecurityContext startupProbe:Probe
    stdin stdinOnce terminationMessagePath terminationMessagePolicy tty
    volumeDevices:[VolumeDevice] volumeMounts:[VolumeMount] workingDir;
ContainerExtendedResourceRequest = containerName requestName resourceName;
ContainerPort = containerPort hostIP hostPort name protocol;
ContainerResizePolicy = resourceName restartPolicy;
ContainerRestartRule = action exitCodes:ContainerRestartRuleOnExitCodes;
ContainerRestartRuleOnExitCodes = operator values;
ContainerState = running:ContainerStateRunning terminated:ContainerStateTerminated
    waiting:ContainerStateWaiting;
ContainerStateRunning = startedAt;
ContainerStateTerminated = containerID exitCode finishedAt message reason signal startedAt;
ContainerStateWaiting = message reason;
ContainerStatus = allocatedResources allocatedResourcesStatus:[ResourceStatus] containerID image
    imageID lastState:ContainerState name ready resources:ResourceRequirements restartCount
    started state:ContainerState stopSignal user:ContainerUser volumeMounts:[VolumeMountStatus];
ContainerUser = linux:LinuxContainerUser;
CronJob = apiVersion kind metadata:ObjectMeta spec:CronJobSpec status:CronJobStatus;
CronJobSpec = concurrencyPolicy failedJobsHistoryLimit jobTemplate:JobTemplateSpec schedule
    startingDeadlineSeconds successfulJobsHistoryLimit suspend timeZone;
CronJobStatus = active:[ObjectReference] lastScheduleTime lastSuccessfulTime;
DaemonSet = apiVersion kind metadata:ObjectMeta spec:DaemonSetSpec status:DaemonSetStatus;
DaemonSetCondition = lastTransitionTime message reason status type;
DaemonSetSpec = minReadySeconds revisionHistoryLimit selector:LabelSelector
    template:PodTemplateSpec updateStrategy:DaemonSetUpdateStrategy;
DaemonSetStatus = collisionCount conditions:[DaemonSetCondition] currentNumberScheduled
    desiredNumberScheduled numberAvailable numberMisscheduled numberReady numberUnavailable
    observedGeneration updatedNumberScheduled;
DaemonSetUpdateStrategy = rollingUpdate:RollingUpdateDaemonSet type;
Deployment = apiVersion kind metadata:ObjectMeta spec:DeploymentSpec status:DeploymentStatus;
DeploymentCondition = lastTransitionTime lastUpdateTime message reason status type;
DeploymentSpec = minReadySeconds paused progressDeadlineSeconds replicas revisionHistoryLimit
    selector:LabelSelector strategy:DeploymentStrategy template:PodTemplateSpec;
DeploymentStatus = availableReplicas collisionCount conditions:[DeploymentCondition]
    observedGeneration readyReplicas replicas terminatingReplicas unavailableReplicas
    updatedReplicas;
DeploymentStrategy = rollingUpdate:RollingUpdateDeployment type;
DownwardAPIProjection = items:[DownwardAPIVolumeFile];
DownwardAPIVolumeFile = fieldRef:ObjectFieldSelector mode path
    resourceFieldRef:ResourceFieldSelector;
DownwardAPIVolumeSource = defaultMode items:[DownwardAPIVolumeFile];
EmptyDirVolumeSource = medium sizeLimit;
EnvFromSource = configMapRef:ConfigMapEnvSource prefix secretRef:SecretEnvSource;
EnvVar = name value valueFrom:EnvVarSource;
EnvVarSource = configMapKeyRef:ConfigMapKeySelector fieldRef:ObjectFieldSelector
    fileKeyRef:FileKeySelector resourceFieldRef:ResourceFieldSelector
    secretKeyRef:SecretKeySelector;
EphemeralContainer = args command env:[EnvVar] envFrom:[EnvFromSource] image imagePullPolicy
    lifecycle:Lifecycle livenessProbe:Probe name ports:[ContainerPort] readinessProbe:Probe
    resizePolicy:[ContainerResizePolicy] resources:ResourceRequirements restartPolicy
    restartPolicyRules:[ContainerRestartRule] securityContext:SecurityContext startupProbe:Probe
    stdin stdinOnce targetContainerName terminationMessagePath terminationMessagePolicy tty
    volumeDevices:[VolumeDevice] volumeMounts:[VolumeMount] workingDir;
EphemeralVolumeSource = volumeClaimTemplate:PersistentVolumeClaimTemplate;
ExecAction = command;
FCVolumeSource = fsType lun readOnly targetWWNs wwids;
FileKeySelector = key optional path volumeName;
FlexVolumeSource = driver fsType options readOnly secretRef:LocalObjectReference;
FlockerVolumeSource = datasetName datasetUUID;
GCEPersistentDiskVolumeSource = fsType partition pdName readOnly;
GRPCAction = port service;
GitRepoVolumeSource = directory repository revision;
GlusterfsVolumeSource = endpoints path readOnly;
HTTPGetAction = host httpHeaders:[HTTPHeader] path port scheme;
HTTPHeader = name value;
HostAlias = hostnames ip;
HostIP = ip;
HostPathVolumeSource = path type;
ISCSIVolumeSource = chapAuthDiscovery chapAuthSession fsType initiatorName iqn iscsiInterface
    lun portals readOnly secretRef:LocalObjectReference targetPortal;
ImageVolumeSource = pullPolicy reference;
ImageVolumeStatus = imageRef;
Job = apiVersion kind metadata:ObjectMeta spec:JobSpec status:JobStatus;
JobCondition = lastProbeTime lastTransitionTime message reason status type;
JobSpec = activeDeadlineSeconds backoffLimit backoffLimitPerIndex completionMode completions
    managedBy manualSelector maxFailedIndexes parallelism podFailurePolicy:PodFailurePolicy
    podReplacementPolicy selector:LabelSelector successPolicy:SuccessPolicy suspend
    template:PodTemplateSpec ttlSecondsAfterFinished;
JobStatus = active completedIndexes completionTime conditions:[JobCondition] failed
    failedIndexes ready startTime succeeded terminating
    uncountedTerminatedPods:UncountedTerminatedPods;
JobTemplateSpec = metadata:ObjectMeta spec:JobSpec;
KeyToPath = key mode path;
LabelSelector = matchExpressions:[LabelSelectorRequirement] matchLabels;
LabelSelectorRequirement = key operator values;
Lifecycle = postStart:LifecycleHandler preStop:LifecycleHandler stopSignal;
LifecycleHandler = exec:ExecAction httpGet:HTTPGetAction sleep:SleepAction
    tcpSocket:TCPSocketAction;
LinuxContainerUser = gid supplementalGroups uid;
LocalObjectReference = name;
ManagedFieldsEntry = apiVersion fieldsType fieldsV1 manager operation subresource time;
ModifyVolumeStatus = status targetVolumeAttributesClassName;
NFSVolumeSource = path readOnly server;
NodeAffinity = preferredDuringSchedulingIgnoredDuringExecution:[PreferredSchedulingTerm]
    requiredDuringSchedulingIgnoredDuringExecution:NodeSelector;
NodeAllocatableResourceClaimStatus = containers resourceClaimName resources;
NodeSelector = nodeSelectorTerms:[NodeSelectorTerm];
NodeSelectorRequirement = key operator values;
NodeSelectorTerm = matchExpressions:[NodeSelectorRequirement]
    matchFields:[NodeSelectorRequirement];
ObjectFieldSelector = apiVersion fieldPath;
ObjectMeta = annotations creationTimestamp deletionGracePeriodSeconds deletionTimestamp
    finalizers generateName generation labels managedFields:[ManagedFieldsEntry] name namespace
    ownerReferences:[OwnerReference] resourceVersion selfLink uid;
ObjectReference = apiVersion fieldPath kind name namespace resourceVersion uid;
OwnerReference = apiVersion blockOwnerDeletion controller kind name uid;
PersistentVolumeClaim = apiVersion kind metadata:ObjectMeta spec:PersistentVolumeClaimSpec
    status:PersistentVolumeClaimStatus;
PersistentVolumeClaimCondition = lastProbeTime lastTransitionTime message reason status type;
PersistentVolumeClaimSpec = accessModes dataSource:TypedLocalObjectReference
    dataSourceRef:TypedObjectReference resources:VolumeResourceRequirements
    selector:LabelSelector storageClassName volumeAttributesClassName volumeMode volumeName;
PersistentVolumeClaimStatus = accessModes allocatedResourceStatuses allocatedResources capacity
    conditions:[PersistentVolumeClaimCondition] currentVolumeAttributesClassName
    modifyVolumeStatus:ModifyVolumeStatus phase;
PersistentVolumeClaimTemplate = metadata:ObjectMeta spec:PersistentVolumeClaimSpec;
PersistentVolumeClaimVolumeSource = claimName readOnly;
PhotonPersistentDiskVolumeSource = fsType pdID;
Pod = apiVersion kind metadata:ObjectMeta spec:PodSpec status:PodStatus;
PodAffinity = preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]
    requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm];
PodAffinityTerm = labelSelector:LabelSelector matchLabelKeys mismatchLabelKeys
    namespaceSelector:LabelSelector namespaces topologyKey;
PodAntiAffinity = preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]
    requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm];
PodCertificateProjection = certificateChainPath credentialBundlePath keyPath keyType
    maxExpirationSeconds signerName userAnnotations;
PodCondition = lastProbeTime lastTransitionTime message observedGeneration reason status type;
PodDNSConfig = nameservers options:[PodDNSConfigOption] searches;
PodDNSConfigOption = name value;
PodExtendedResourceClaimStatus = requestMappings:[ContainerExtendedResourceRequest]
    resourceClaimName;
PodFailurePolicy = rules:[PodFailurePolicyRule];
PodFailurePolicyOnExitCodesRequirement = containerName operator values;
PodFailurePolicyOnPodConditionsPattern = status type;
PodFailurePolicyRule = action onExitCodes:PodFailurePolicyOnExitCodesRequirement
    onPodConditions:[PodFailurePolicyOnPodConditionsPattern];
PodIP = ip;
PodOS = name;
PodReadinessGate = conditionType;
PodResourceClaim = name resourceClaimName resourceClaimTemplateName;
PodResourceClaimStatus = name resourceClaimName;
PodSchedulingGate = name;
PodSchedulingGroup = podGroupName;
PodSecurityContext = appArmorProfile:AppArmorProfile fsGroup fsGroupChangePolicy runAsGroup
    runAsNonRoot runAsUser seLinuxChangePolicy seLinuxOptions:SELinuxOptions
    seccompProfile:SeccompProfile supplementalGroups supplementalGroupsPolicy sysctls:[Sysctl]
    windowsOptions:WindowsSecurityContextOptions;
PodSpec = activeDeadlineSeconds affinity:Affinity automountServiceAccountToken
    containers:[Container] dnsConfig:PodDNSConfig dnsPolicy enableServiceLinks
    ephemeralContainers:[EphemeralContainer] hostAliases:[HostAlias] hostIPC hostNetwork hostPID
    hostUsers hostname hostnameOverride imagePullSecrets:[LocalObjectReference]
    initContainers:[Container] nodeName nodeSelector os:PodOS overhead preemptionPolicy priority
    priorityClassName readinessGates:[PodReadinessGate] resourceClaims:[PodResourceClaim]
    resources:ResourceRequirements restartPolicy runtimeClassName schedulerName
    schedulingGates:[PodSchedulingGate] schedulingGroup:PodSchedulingGroup
    securityContext:PodSecurityContext serviceAccount serviceAccountName setHostnameAsFQDN
    shareProcessNamespace subdomain terminationGracePeriodSeconds tolerations:[Toleration]
    topologySpreadConstraints:[TopologySpreadConstraint] volumes:[Volume];
PodStatus = allocatedResources conditions:[PodCondition] containerStatuses:[ContainerStatus]
    ephemeralContainerStatuses:[ContainerStatus]
    extendedResourceClaimStatus:PodExtendedResourceClaimStatus hostIP hostIPs:[HostIP]
    initContainerStatuses:[ContainerStatus] message
    nodeAllocatableResourceClaimStatuses:[NodeAllocatableResourceClaimStatus] nominatedNodeName
    observedGeneration phase podIP podIPs:[PodIP] qosClass reason resize
    resourceClaimStatuses:[PodResourceClaimStatus] resources:ResourceRequirements startTime;
PodTemplateSpec = metadata:ObjectMeta spec:PodSpec;
PortworxVolumeSource = fsType readOnly volumeID;
PreferredSchedulingTerm = preference:NodeSelectorTerm weight;
Probe = exec:ExecAction failureThreshold grpc:GRPCAction httpGet:HTTPGetAction
    initialDelaySeconds periodSeconds successThreshold tcpSocket:TCPSocketAction
    terminationGracePeriodSeconds timeoutSeconds;
ProjectedVolumeSource = defaultMode sources:[VolumeProjection];
QuobyteVolumeSource = group readOnly registry tenant user volume;
RBDVolumeSource = fsType image keyring monitors pool readOnly secretRef:LocalObjectReference
    user;
ReplicaSet = apiVersion kind metadata:ObjectMeta spec:ReplicaSetSpec status:ReplicaSetStatus;
ReplicaSetCondition = lastTransitionTime message reason status type;
ReplicaSetSpec = minReadySeconds replicas selector:LabelSelector template:PodTemplateSpec;
ReplicaSetStatus = availableReplicas conditions:[ReplicaSetCondition] fullyLabeledReplicas
    observedGeneration readyReplicas replicas terminatingReplicas;
ReplicationController = apiVersion kind metadata:ObjectMeta spec:ReplicationControllerSpec
    status:ReplicationControllerStatus;
ReplicationControllerCondition = lastTransitionTime message reason status type;
ReplicationControllerSpec = minReadySeconds replicas selector template:PodTemplateSpec;
ReplicationControllerStatus = availableReplicas conditions:[ReplicationControllerCondition]
    fullyLabeledReplicas observedGeneration readyReplicas replicas;
ResourceClaim = name request;
ResourceFieldSelector = containerName divisor resource;
ResourceHealth = health message resourceID;
ResourceRequirements = claims:[ResourceClaim] limits requests;
ResourceStatus = name resources:[ResourceHealth];
RollingUpdateDaemonSet = maxSurge maxUnavailable;
RollingUpdateDeployment = maxSurge maxUnavailable;
RollingUpdateStatefulSetStrategy = maxUnavailable partition;
SELinuxOptions = level role type user;
ScaleIOVolumeSource = fsType gateway protectionDomain readOnly secretRef:LocalObjectReference
    sslEnabled storageMode storagePool system volumeName;
SeccompProfile = localhostProfile type;
SecretEnvSource = name optional;
SecretKeySelector = key name optional;
SecretProjection = items:[KeyToPath] name optional;
SecretVolumeSource = defaultMode items:[KeyToPath] optional secretName;
SecurityContext = allowPrivilegeEscalation appArmorProfile:AppArmorProfile
    capabilities:Capabilities privileged procMount readOnlyRootFilesystem runAsGroup
    runAsNonRoot runAsUser seLinuxOptions:SELinuxOptions seccompProfile:SeccompProfile
    windowsOptions:WindowsSecurityContextOptions;
ServiceAccountTokenProjection = audience expirationSeconds path;
SleepAction = seconds;
StatefulSet = apiVersion kind metadata:ObjectMeta spec:StatefulSetSpec status:StatefulSetStatus;
StatefulSetCondition = lastTransitionTime message reason status type;
StatefulSetOrdinals = start;
StatefulSetPersistentVolumeClaimRetentionPolicy = whenDeleted whenScaled;
StatefulSetSpec = minReadySeconds ordinals:StatefulSetOrdinals
    persistentVolumeClaimRetentionPolicy:StatefulSetPersistentVolumeClaimRetentionPolicy
    podManagementPolicy replicas revisionHistoryLimit selector:LabelSelector serviceName
    template:PodTemplateSpec updateStrategy:StatefulSetUpdateStrategy
    volumeClaimTemplates:[PersistentVolumeClaim];
StatefulSetStatus = availableReplicas collisionCount conditions:[StatefulSetCondition]
    currentReplicas currentRevision observedGeneration readyReplicas replicas updateRevision
    updatedReplicas;
StatefulSetUpdateStrategy = rollingUpdate:RollingUpdateStatefulSetStrategy type;
StorageOSVolumeSource = fsType readOnly secretRef:LocalObjectReference volumeName
    volumeNamespace;
SuccessPolicy = rules:[SuccessPolicyRule];
SuccessPolicyRule = succeededCount succeededIndexes;
Sysctl = name value;
TCPSocketAction = host port;
Toleration = effect key operator tolerationSeconds value;
TopologySpreadConstraint = labelSelector:LabelSelector matchLabelKeys maxSkew minDomains
    nodeAffinityPolicy nodeTaintsPolicy topologyKey whenUnsatisfiable;
TypedLocalObjectReference = apiGroup kind name;
TypedObjectReference = apiGroup kind name namespace;
UncountedTerminatedPods = failed succeeded;
Volume = awsElasticBlockStore:AWSElasticBlockStoreVolumeSource azureDisk:AzureDiskVolumeSource
    azureFile:AzureFileVolumeSource cephfs:CephFSVolumeSource cinder:CinderVolumeSource
    configMap:ConfigMapVolumeSource csi:CSIVolumeSource downwardAPI:DownwardAPIVolumeSource
    emptyDir:EmptyDirVolumeSource ephemeral:EphemeralVolumeSource fc:FCVolumeSource
    flexVolume:FlexVolumeSource flocker:FlockerVolumeSource
    gcePersistentDisk:GCEPersistentDiskVolumeSource gitRepo:GitRepoVolumeSource
    glusterfs:GlusterfsVolumeSource hostPath:HostPathVolumeSource image:ImageVolumeSource
    iscsi:ISCSIVolumeSource name nfs:NFSVolumeSource
    persistentVolumeClaim:PersistentVolumeClaimVolumeSource
    photonPersistentDisk:PhotonPersistentDiskVolumeSource portworxVolume:PortworxVolumeSource
    projected:ProjectedVolumeSource quobyte:QuobyteVolumeSource rbd:RBDVolumeSource
    scaleIO:ScaleIOVolumeSource secret:SecretVolumeSource storageos:StorageOSVolumeSource
    vsphereVolume:VsphereVirtualDiskVolumeSource;
VolumeDevice = devicePath name;
VolumeMount = mountPath mountPropagation name readOnly recursiveReadOnly subPath subPathExpr;
VolumeMountStatus = mountPath name readOnly recursiveReadOnly volumeStatus:VolumeStatus;
VolumeProjection = clusterTrustBundle:ClusterTrustBundleProjection configMap:ConfigMapProjection
    downwardAPI:DownwardAPIProjection podCertificate:PodCertificateProjection
    secret:SecretProjection serviceAccountToken:ServiceAccountTokenProjection;
VolumeResourceRequirements = limits requests;
VolumeStatus = image:ImageVolumeStatus;
VsphereVirtualDiskVolumeSource = fsType storagePolicyID storagePolicyName volumePath;
WeightedPodAffinityTerm = podAffinityTerm:PodAffinityTerm weight;
WindowsSecurityContextOptions = gmsaCredentialSpec gmsaCredentialSpecName hostProcess
    runAsUserName;
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;
    use rstest::rstest;

    fn unknown(path: &str, suggestion: Option<&'static str>) -> UnknownField {
        UnknownField {
            path: path.to_owned(),
            suggestion,
        }
    }

    fn found(kind: &str, object: &Value) -> Vec<UnknownField> {
        unknown_fields(kind, object).unwrap_or_else(|| panic!("{kind} should be a supported kind"))
    }

    /// A pod that uses many corners of the schema: free-form maps,
    /// quantities, int-or-string ports, times, byte strings, nulls.
    fn full_pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "creationTimestamp": null,
                "labels": {"app.kubernetes.io/name": "web", "restartpolicy": "x"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "volumeMount": "not a field, just an annotation",
                    "": "empty key"
                },
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                    "uid": "0000", "controller": true, "blockOwnerDeletion": true
                }],
                "managedFields": [{
                    "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                    "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
                }]
            },
            "spec": {
                "restartPolicy": "Always",
                "serviceAccountName": "web",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "overhead": {"cpu": "250m"},
                "securityContext": {"runAsNonRoot": true, "fsGroup": 2000,
                    "seccompProfile": {"type": "RuntimeDefault"}},
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule",
                    "tolerationSeconds": 30}],
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app": "web"},
                            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}}
                }]}},
                "initContainers": [{
                    "name": "log-shipper", "image": "busybox", "restartPolicy": "Always",
                    "command": ["sh", "-c", "tail -F /var/log/app.log"],
                    "volumeMounts": [{"name": "logs", "mountPath": "/var/log", "readOnly": true}]
                }],
                "containers": [{
                    "name": "app",
                    "image": "nginx:1.27",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--port", "8080"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [
                        {"name": "PLAIN", "value": "1"},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": false}}},
                        {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}
                    ],
                    "envFrom": [{"configMapRef": {"name": "web-config"}, "prefix": "WEB_"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": 1},
                        "limits": {"cpu": 1, "memory": "1Gi"}
                    },
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080,
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                        "initialDelaySeconds": 5, "periodSeconds": 10},
                    "readinessProbe": {"tcpSocket": {"port": "http"}},
                    "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "runAsUser": 1000
                    },
                    "volumeMounts": [{"name": "logs", "mountPath": "/var/log"}],
                    "terminationMessagePolicy": "FallbackToLogsOnError"
                }],
                "volumes": [
                    {"name": "logs", "emptyDir": {"sizeLimit": "500Mi"}},
                    {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420,
                        "items": [{"key": "a", "path": "a.conf"}]}},
                    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {
                        "path": "token", "expirationSeconds": 3600}}]}}
                ]
            },
            "status": {"phase": "Pending", "startTime": "2024-05-01T10:00:00Z",
                "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": null}]}
        })
    }

    fn pod_spec(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    fn app_container() -> Value {
        json!({"name": "app", "image": "nginx"})
    }

    #[rstest]
    #[case::pod_level_typo_is_found_with_its_right_spelling(
        pod_spec(json!({"restartpolicy": "Never", "containers": [app_container()]})),
        vec![unknown("spec.restartpolicy", Some("restartPolicy"))],
    )]
    #[case::container_level_typo_names_the_container_by_index(
        pod_spec(json!({"containers": [
            app_container(),
            {"name": "b", "image": "b", "volumeMount": [{"name": "v", "mountPath": "/v"}]}
        ]})),
        vec![unknown("spec.containers[1].volumeMount", Some("volumeMounts"))],
    )]
    #[case::volume_level_typo_is_found(
        pod_spec(json!({"containers": [app_container()], "volumes": [
            {"name": "a", "emptyDir": {}},
            {"name": "b", "emptydir": {}}
        ]})),
        vec![unknown("spec.volumes[1].emptydir", Some("emptyDir"))],
    )]
    #[case::typo_in_an_init_container_is_found(
        pod_spec(json!({"containers": [app_container()], "initContainers": [
            {"name": "sidecar", "image": "busybox", "restartpolicy": "Always"}
        ]})),
        vec![unknown("spec.initContainers[0].restartpolicy", Some("restartPolicy"))],
    )]
    #[case::typo_in_metadata_is_found(
        json!({"metadata": {"name": "p", "annotation": {"a": "b"}}, "spec": {"containers": [app_container()]}}),
        vec![unknown("metadata.annotation", Some("annotations"))],
    )]
    #[case::typo_at_the_root_is_found(
        json!({"apiversion": "v1", "spec": {"containers": [app_container()]}}),
        vec![unknown("apiversion", Some("apiVersion"))],
    )]
    #[case::a_key_with_no_near_name_gets_no_suggestion(
        pod_spec(json!({"containers": [{"name": "a", "image": "a", "sidecar": true}]})),
        vec![unknown("spec.containers[0].sidecar", None)],
    )]
    #[case::several_unknown_keys_come_in_document_order(
        pod_spec(json!({
            "containers": [{"name": "a", "image": "a", "imagepullpolicy": "Always", "portz": []}],
            "nodeselector": {"a": "b"}
        })),
        vec![
            unknown("spec.containers[0].imagepullpolicy", Some("imagePullPolicy")),
            unknown("spec.containers[0].portz", Some("ports")),
            unknown("spec.nodeselector", Some("nodeSelector")),
        ],
    )]
    #[case::only_the_outermost_unknown_key_is_reported(
        pod_spec(json!({"containers": [app_container()], "extra": {"deeper": {"restartpolicy": 1}}})),
        vec![unknown("spec.extra", None)],
    )]
    #[case::typo_deep_in_a_probe_is_found(
        pod_spec(json!({"containers": [{"name": "a", "image": "a",
            "livenessProbe": {"httpGet": {"port": 80, "paht": "/"}}}]})),
        vec![unknown("spec.containers[0].livenessProbe.httpGet.paht", Some("path"))],
    )]
    #[case::a_missing_required_field_does_not_stop_the_search(
        pod_spec(json!({"containers": [{"image": "a", "volumeMount": []}, {"name": "b", "tyy": true}]})),
        vec![
            unknown("spec.containers[0].volumeMount", Some("volumeMounts")),
            unknown("spec.containers[1].tyy", Some("tty")),
        ],
    )]
    #[case::null_counts_as_absent(
        pod_spec(json!({"containers": null, "volumes": null, "hostPid": true})),
        vec![unknown("spec.hostPid", Some("hostPID"))],
    )]
    fn unknown_keys_of_a_pod_are_found(#[case] pod: Value, #[case] expected: Vec<UnknownField>) {
        assert_eq!(found("Pod", &pod), expected, "unknown fields of {pod}");
    }

    #[test]
    fn a_full_valid_pod_has_no_unknown_keys() {
        assert_eq!(
            found("Pod", &full_pod()),
            vec![],
            "nothing in the full pod is unknown"
        );
    }

    #[rstest]
    fn every_key_k8s_openapi_itself_writes_is_known(
        #[values(
            "Pod",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "ReplicationController"
        )]
        kind: &str,
    ) {
        use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
        fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(object: Value) -> Value {
            let typed: T = serde_json::from_value(object.into()).expect("the fixture decodes");
            serde_json::to_value(typed)
                .expect("the typed object serializes")
                .into()
        }
        let pod = full_pod();
        let object = match kind {
            "Pod" => pod,
            _ => workload(
                kind,
                json!({"metadata": pod["metadata"], "spec": pod["spec"]}),
            ),
        };
        let written = match kind {
            "Pod" => round_trip::<core::Pod>(object),
            "Deployment" => round_trip::<apps::Deployment>(object),
            "ReplicaSet" => round_trip::<apps::ReplicaSet>(object),
            "StatefulSet" => round_trip::<apps::StatefulSet>(object),
            "DaemonSet" => round_trip::<apps::DaemonSet>(object),
            "Job" => round_trip::<batch::Job>(object),
            "CronJob" => round_trip::<batch::CronJob>(object),
            _ => round_trip::<core::ReplicationController>(object),
        };
        assert_eq!(found(kind, &written), vec![], "unknown fields of {written}");
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [app_container()]}})
    }

    fn template_with_typo() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "image": "a", "imagepullpolicy": "Always"}]}})
    }

    fn workload(kind: &str, template: Value) -> Value {
        let selector = json!({"matchLabels": {"app": "web"}});
        let (api_version, spec) = match kind {
            "Deployment" | "ReplicaSet" | "DaemonSet" => (
                "apps/v1",
                json!({"selector": selector, "template": template}),
            ),
            "StatefulSet" => (
                "apps/v1",
                json!({"selector": selector, "serviceName": "web", "template": template,
                    "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}),
            ),
            "Job" => ("batch/v1", json!({"template": template, "backoffLimit": 3})),
            "CronJob" => (
                "batch/v1",
                json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}),
            ),
            "ReplicationController" => (
                "v1",
                json!({"selector": {"app": "web"}, "template": template}),
            ),
            other => panic!("no workload fixture for {other}"),
        };
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "web"}, "spec": spec})
    }

    #[rstest]
    fn a_valid_workload_has_no_unknown_keys(
        #[values(
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "ReplicationController"
        )]
        kind: &str,
    ) {
        let object = workload(kind, template());
        assert_eq!(found(kind, &object), vec![], "unknown fields of {object}");
    }

    #[rstest]
    #[case::deployment("Deployment", "spec.template.spec.containers[0].imagepullpolicy")]
    #[case::replica_set("ReplicaSet", "spec.template.spec.containers[0].imagepullpolicy")]
    #[case::stateful_set("StatefulSet", "spec.template.spec.containers[0].imagepullpolicy")]
    #[case::daemon_set("DaemonSet", "spec.template.spec.containers[0].imagepullpolicy")]
    #[case::job("Job", "spec.template.spec.containers[0].imagepullpolicy")]
    #[case::cron_job(
        "CronJob",
        "spec.jobTemplate.spec.template.spec.containers[0].imagepullpolicy"
    )]
    #[case::replication_controller(
        "ReplicationController",
        "spec.template.spec.containers[0].imagepullpolicy"
    )]
    fn a_typo_in_a_workload_template_is_found_at_its_full_path(
        #[case] kind: &str,
        #[case] path: &str,
    ) {
        let object = workload(kind, template_with_typo());
        assert_eq!(
            found(kind, &object),
            vec![unknown(path, Some("imagePullPolicy"))],
            "unknown fields of {object}"
        );
    }

    #[rstest]
    #[case::deployment_strategy("Deployment", "strategy", json!({"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailible": 0}}),
        "spec.strategy.rollingUpdate.maxUnavailible", Some("maxUnavailable"))]
    #[case::cron_job_spec("CronJob", "concurrencypolicy", json!("Forbid"),
        "spec.concurrencypolicy", Some("concurrencyPolicy"))]
    #[case::job_spec("Job", "backofLimit", json!(2), "spec.backofLimit", Some("backoffLimit"))]
    fn a_typo_in_a_workload_spec_is_found(
        #[case] kind: &str,
        #[case] key: &str,
        #[case] value: Value,
        #[case] path: &str,
        #[case] suggestion: Option<&'static str>,
    ) {
        let mut object = workload(kind, template());
        object["spec"][key] = value;
        assert_eq!(
            found(kind, &object),
            vec![unknown(path, suggestion)],
            "unknown fields of {object}"
        );
    }

    #[rstest]
    #[case::service("Service")]
    #[case::config_map("ConfigMap")]
    #[case::lower_case_pod("pod")]
    #[case::empty("")]
    fn other_kinds_are_not_looked_at(#[case] kind: &str) {
        assert_eq!(
            unknown_fields(kind, &full_pod()),
            None,
            "{kind:?} is not a supported kind"
        );
    }

    #[rstest]
    #[case::an_old_api_version("extensions/v1beta1", "Deployment")]
    #[case::a_kind_that_disagrees("v2", "Pod")]
    fn the_root_api_version_and_kind_never_hide_typos(
        #[case] api_version: &str,
        #[case] kind: &str,
    ) {
        let mut object = workload("Deployment", template_with_typo());
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        assert_eq!(
            found("Deployment", &object),
            vec![unknown(
                "spec.template.spec.containers[0].imagepullpolicy",
                Some("imagePullPolicy")
            )],
            "unknown fields of {object}"
        );
    }

    #[rstest]
    #[case::a_string_where_a_list_belongs(json!({"containers": "nginx", "restartpolicy": "Never"}),
        vec![unknown("spec.restartpolicy", Some("restartPolicy"))])]
    #[case::a_list_where_an_object_belongs(json!({"containers": [app_container()], "restartpolicy": "Never",
        "securityContext": []}),
        vec![unknown("spec.restartpolicy", Some("restartPolicy"))])]
    #[case::a_container_that_is_a_string(json!({"containers": ["nginx",
        {"name": "b", "image": "b", "imagepullpolicy": "Always"}]}),
        vec![unknown("spec.containers[1].imagepullpolicy", Some("imagePullPolicy"))])]
    #[case::a_bad_container_between_two_with_typos_keeps_the_numbering(json!({"containers": [
        {"name": "a", "image": "a", "volumeMount": []}, [1], {"name": "b", "image": "b", "tyy": true}]}),
        vec![
            unknown("spec.containers[0].volumeMount", Some("volumeMounts")),
            unknown("spec.containers[2].tyy", Some("tty")),
        ])]
    #[case::a_bad_value_before_a_typo_in_the_same_container(json!({"containers": [
        {"name": "a", "image": "a", "ports": "80", "imagepullpolicy": "Always"}]}),
        vec![unknown("spec.containers[0].imagepullpolicy", Some("imagePullPolicy"))])]
    #[case::an_int_or_string_that_is_neither(json!({"containers": [{"name": "a", "image": "a",
        "readinessProbe": {"tcpSocket": {"port": {"number": 80}}, "periodsSeconds": 1}}]}),
        vec![unknown("spec.containers[0].readinessProbe.periodsSeconds", Some("periodSeconds"))])]
    #[case::a_port_out_of_range(json!({"containers": [{"name": "a", "image": "a",
        "ports": [{"containerPort": 99999999999_u64, "protocl": "TCP"}]}]}),
        vec![unknown("spec.containers[0].ports[0].protocl", Some("protocol"))])]
    #[case::bad_quantities(json!({"containers": [{"name": "a", "image": "a",
        "resources": {"limits": {"cpu": ["1"]}}}], "overhead": {"cpu": {}}, "hostnetwork": true}),
        vec![unknown("spec.hostnetwork", Some("hostNetwork"))])]
    #[case::a_bool_where_a_string_belongs(json!({"containers": [{"name": "a", "image": true}],
        "hostPid": true}),
        vec![unknown("spec.hostPid", Some("hostPID"))])]
    fn wrong_types_do_not_hide_typos_elsewhere(
        #[case] spec: Value,
        #[case] expected: Vec<UnknownField>,
    ) {
        let pod = pod_spec(spec);
        let decoded = serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(pod.clone().into());
        assert!(decoded.is_err(), "the pod should have a type error: {pod}");
        assert_eq!(found("Pod", &pod), expected, "unknown fields of {pod}");
    }

    #[rstest]
    #[case::a_string(json!("pod"))]
    #[case::a_list(json!([{"restartpolicy": 1}]))]
    #[case::null(Value::Null)]
    #[case::a_number(json!(1))]
    #[case::spec_is_a_string(json!({"spec": "x"}))]
    #[case::bad_timestamp(json!({"metadata": {"creationTimestamp": "yesterday"}}))]
    #[case::labels_that_are_not_strings(json!({"metadata": {"labels": {"a": {"b": 1}}}}))]
    fn wrong_types_at_the_top_give_nothing_and_do_not_panic(#[case] object: Value) {
        for kind in ["Pod", "Deployment", "CronJob"] {
            assert_eq!(
                found(kind, &object),
                vec![],
                "unknown fields of {object} as a {kind}"
            );
        }
    }

    #[test]
    fn many_type_errors_still_leave_every_typo_found() {
        let mut containers: Vec<Value> = (0..40).map(|_| json!("not a container")).collect();
        containers.push(json!({"name": "a", "image": "a", "imagepullpolicy": "Always"}));
        let pod = pod_spec(json!({"hostnetwork": true, "containers": containers}));
        assert_eq!(
            found("Pod", &pod),
            vec![
                unknown("spec.hostnetwork", Some("hostNetwork")),
                unknown(
                    "spec.containers[40].imagepullpolicy",
                    Some("imagePullPolicy")
                ),
            ],
            "typos before and after the bad containers are found"
        );
    }

    #[test]
    fn nesting_as_deep_as_serde_json_parses_does_not_overflow() {
        // serde_json refuses to parse past 128 levels; fieldsV1 is free-form.
        let depth = 120;
        let text = format!(
            r#"{{"metadata": {{"managedFields": [{{"fieldsV1": {}1{}}}], "labelz": {}1{}}}}}"#,
            r#"{"f:a": "#.repeat(depth),
            "}".repeat(depth),
            r#"{"f:a": "#.repeat(depth),
            "}".repeat(depth),
        );
        let pod: Value = serde_json::from_str(&text).expect("the deep pod parses");
        assert_eq!(
            found("Pod", &pod),
            vec![unknown("metadata.labelz", Some("labels"))]
        );
    }

    #[test]
    fn keys_of_free_form_maps_are_bracketed_in_paths() {
        // No supported kind has objects inside a free-form map today, so
        // look at one directly.
        let mut found = Vec::new();
        let map = json!({"a.b/c": {"name": "x", "nme": "y"}});
        let names: Vec<&str> = schema_types().iter().map(|t| t.name).collect();
        let shape = parse_shape("{Container}", &names);
        visit(&map, &shape, &Path::Root("spec"), &mut found);
        assert_eq!(found, vec![unknown("spec[a.b/c].nme", Some("name"))]);
    }

    #[test]
    fn every_field_of_every_type_is_found_and_nothing_else() {
        let every_name: Vec<&str> = schema_types()
            .iter()
            .flat_map(|t| t.fields.iter().map(|(name, _)| *name))
            .collect();
        for object_type in schema_types() {
            assert!(
                object_type.fields.len() * 2 <= SLOTS,
                "{}",
                object_type.name
            );
            for (name, shape) in &object_type.fields {
                let found = object_type.field(name).expect("a field of the type");
                assert!(std::ptr::eq(found, shape), "{}.{name}", object_type.name);
            }
            for name in every_name
                .iter()
                .chain(&["", "a", "restartpolicy", "volumeMount"])
            {
                let has = object_type.fields.iter().any(|(field, _)| field == name);
                assert_eq!(
                    object_type.field(name).is_some(),
                    has,
                    "{}.{name}",
                    object_type.name
                );
            }
        }
    }

    #[test]
    fn the_schema_is_the_one_k8s_openapi_decodes() {
        let generated = schema_probe::schema(&KINDS);
        let tokens = |text: &str| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert!(
            tokens(SCHEMA) == tokens(&generated),
            "SCHEMA differs from the k8s-openapi structs; replace it with:\n{generated}"
        );
    }

    #[test]
    fn every_type_named_in_the_schema_is_defined() {
        for definition in SCHEMA.split(';').filter(|d| !d.trim().is_empty()) {
            let (name, fields) = definition.split_once('=').expect("a definition has '='");
            for (field, shape) in fields.split_whitespace().filter_map(|f| f.split_once(':')) {
                let type_name = shape.trim_matches(['[', ']', '{', '}']);
                assert!(
                    type_index(type_name).is_some(),
                    "{}.{field} names the undefined type {type_name}",
                    name.trim()
                );
            }
        }
    }

    /// Rebuilds [`SCHEMA`] by decoding each kind from a deserializer that
    /// offers every field a struct names and notes what each value asks for.
    mod schema_probe {
        use std::cell::RefCell;
        use std::collections::BTreeMap;

        use serde::Deserializer;
        use serde::de::value::{BorrowedStrDeserializer, Error};
        use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
        use serde::forward_to_deserialize_any;

        type Fields = Vec<(&'static str, String)>;

        #[derive(Default)]
        struct Types(RefCell<BTreeMap<&'static str, (&'static [&'static str], Fields)>>);

        pub fn schema(kinds: &[&str]) -> String {
            use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
            let types = Types::default();
            for kind in kinds {
                let shape = RefCell::new(String::new());
                let probe = Probe {
                    types: &types,
                    shape: &shape,
                    timestamp: false,
                };
                let decoded = match *kind {
                    "Pod" => core::Pod::deserialize(probe).map(drop),
                    "ReplicationController" => {
                        core::ReplicationController::deserialize(probe).map(drop)
                    }
                    "Deployment" => apps::Deployment::deserialize(probe).map(drop),
                    "ReplicaSet" => apps::ReplicaSet::deserialize(probe).map(drop),
                    "StatefulSet" => apps::StatefulSet::deserialize(probe).map(drop),
                    "DaemonSet" => apps::DaemonSet::deserialize(probe).map(drop),
                    "Job" => batch::Job::deserialize(probe).map(drop),
                    "CronJob" => batch::CronJob::deserialize(probe).map(drop),
                    other => panic!("no k8s-openapi type for {other}"),
                };
                decoded.unwrap_or_else(|e| panic!("probing {kind}: {e}"));
                assert_eq!(
                    shape.into_inner(),
                    *kind,
                    "the root type of {kind} is named {kind}"
                );
            }
            let mut out = String::from("\n");
            for (name, (_, fields)) in types.0.into_inner() {
                let mut line = format!("{name} =");
                for (field, shape) in fields {
                    let item = if shape.is_empty() {
                        field.to_owned()
                    } else {
                        format!("{field}:{shape}")
                    };
                    if line.len() + 1 + item.len() > 96 {
                        out.push_str(&line);
                        out.push('\n');
                        line = String::from("   ");
                    }
                    line.push(' ');
                    line.push_str(&item);
                }
                out.push_str(&line);
                out.push_str(";\n");
            }
            out
        }

        use serde::Deserialize as _;

        /// Numbers of every width read as 0.
        macro_rules! numbers {
            ($($method:ident)*) => {$(
                fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                    visitor.visit_u64(0)
                }
            )*};
        }

        /// One value; writes its shape to `shape`.
        struct Probe<'a> {
            types: &'a Types,
            shape: &'a RefCell<String>,
            timestamp: bool,
        }

        impl<'de> Deserializer<'de> for Probe<'_> {
            type Error = Error;

            fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_str(visitor)
            }
            fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                visitor.visit_bool(false)
            }
            numbers! {
                deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
                deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
                deserialize_f32 deserialize_f64
            }
            fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                // Empty suits strings, quantities and base64 alike; times need a time.
                visitor.visit_borrowed_str(if self.timestamp {
                    "1970-01-01T00:00:00Z"
                } else {
                    ""
                })
            }
            fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                visitor.visit_some(self)
            }
            fn deserialize_newtype_struct<V: Visitor<'de>>(
                self,
                name: &'static str,
                visitor: V,
            ) -> Result<V::Value, Error> {
                visitor.visit_newtype_struct(Probe {
                    timestamp: name.ends_with("Time"),
                    ..self
                })
            }
            fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let item = RefCell::new(String::new());
                let value = visitor.visit_seq(One {
                    types: self.types,
                    shape: &item,
                    key: None,
                })?;
                let item = item.into_inner();
                if !item.is_empty() {
                    *self.shape.borrow_mut() = format!("[{item}]");
                }
                Ok(value)
            }
            fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let entry = RefCell::new(String::new());
                let value = visitor.visit_map(One {
                    types: self.types,
                    shape: &entry,
                    key: Some("key"),
                })?;
                let entry = entry.into_inner();
                if !entry.is_empty() {
                    *self.shape.borrow_mut() = format!("{{{entry}}}");
                }
                Ok(value)
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                name: &'static str,
                fields: &'static [&'static str],
                visitor: V,
            ) -> Result<V::Value, Error> {
                *self.shape.borrow_mut() = name.to_owned();
                let seen = self.types.0.borrow().get(name).map(|(known, _)| *known);
                if let Some(known) = seen {
                    assert_eq!(known, fields, "two types are named {name}");
                    // Already probed (or being probed): its fields are not needed again.
                    return visitor.visit_map(Each {
                        types: self.types,
                        fields: [].iter(),
                        found: None,
                        pending: None,
                    });
                }
                self.types.0.borrow_mut().insert(name, (fields, Vec::new()));
                let found = RefCell::new(Vec::new());
                let value = visitor.visit_map(Each {
                    types: self.types,
                    fields: fields.iter(),
                    found: Some(&found),
                    pending: None,
                })?;
                let mut found = found.into_inner();
                // Every field is known, including those not probed.
                let all = fields
                    .iter()
                    .map(|field| {
                        let at = found.iter().position(|(name, _)| name == field);
                        (
                            *field,
                            at.map(|at| found.swap_remove(at).1).unwrap_or_default(),
                        )
                    })
                    .collect();
                self.types.0.borrow_mut().insert(name, (fields, all));
                Ok(value)
            }
            fn deserialize_enum<V: Visitor<'de>>(
                self,
                name: &'static str,
                _variants: &'static [&'static str],
                _visitor: V,
            ) -> Result<V::Value, Error> {
                Err(de::Error::custom(format!(
                    "the probe cannot read the enum {name}"
                )))
            }
            fn deserialize_ignored_any<V: Visitor<'de>>(
                self,
                visitor: V,
            ) -> Result<V::Value, Error> {
                visitor.visit_unit()
            }

            forward_to_deserialize_any! {
                char string bytes byte_buf unit unit_struct
                tuple tuple_struct identifier
            }
        }

        /// A list of one item, or a map of one entry.
        struct One<'a> {
            types: &'a Types,
            shape: &'a RefCell<String>,
            key: Option<&'static str>,
        }

        impl<'de> SeqAccess<'de> for One<'_> {
            type Error = Error;
            fn next_element_seed<T: DeserializeSeed<'de>>(
                &mut self,
                seed: T,
            ) -> Result<Option<T::Value>, Error> {
                if self.key.take().is_some() {
                    return Ok(None);
                }
                self.key = Some("done");
                seed.deserialize(Probe {
                    types: self.types,
                    shape: self.shape,
                    timestamp: false,
                })
                .map(Some)
            }
        }

        impl<'de> MapAccess<'de> for One<'_> {
            type Error = Error;
            fn next_key_seed<K: DeserializeSeed<'de>>(
                &mut self,
                seed: K,
            ) -> Result<Option<K::Value>, Error> {
                match self.key.take() {
                    Some(key) => seed
                        .deserialize(BorrowedStrDeserializer::new(key))
                        .map(Some),
                    None => Ok(None),
                }
            }
            fn next_value_seed<V: DeserializeSeed<'de>>(
                &mut self,
                seed: V,
            ) -> Result<V::Value, Error> {
                seed.deserialize(Probe {
                    types: self.types,
                    shape: self.shape,
                    timestamp: false,
                })
            }
        }

        /// Every field of a struct, each with a probe for its value.
        struct Each<'a> {
            types: &'a Types,
            fields: std::slice::Iter<'static, &'static str>,
            found: Option<&'a RefCell<Fields>>,
            pending: Option<&'static str>,
        }

        impl<'de> MapAccess<'de> for Each<'_> {
            type Error = Error;
            fn next_key_seed<K: DeserializeSeed<'de>>(
                &mut self,
                seed: K,
            ) -> Result<Option<K::Value>, Error> {
                // k8s-openapi checks these against the type's own values; both are strings.
                let Some(&field) = self
                    .fields
                    .by_ref()
                    .find(|f| !matches!(**f, "apiVersion" | "kind"))
                else {
                    return Ok(None);
                };
                self.pending = Some(field);
                seed.deserialize(BorrowedStrDeserializer::new(field))
                    .map(Some)
            }
            fn next_value_seed<V: DeserializeSeed<'de>>(
                &mut self,
                seed: V,
            ) -> Result<V::Value, Error> {
                let shape = RefCell::new(String::new());
                let value = seed.deserialize(Probe {
                    types: self.types,
                    shape: &shape,
                    timestamp: false,
                })?;
                if let (Some(found), Some(field)) = (self.found, self.pending.take()) {
                    found.borrow_mut().push((field, shape.into_inner()));
                }
                Ok(value)
            }
        }
    }
}
