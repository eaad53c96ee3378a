//! Where the pod template lives in each kind of object, and when to act on it.

/// The pod template of an object: the keys that lead to it from the root
/// (none for a Pod, which is its own template) and its kubectl-style paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLocation {
    pub keys: &'static [&'static str],
    pub metadata_path: &'static str,
    pub spec_path: &'static str,
}

const POD: TemplateLocation = TemplateLocation {
    keys: &[],
    metadata_path: "metadata",
    spec_path: "spec",
};
const TEMPLATE: TemplateLocation = TemplateLocation {
    keys: &["spec", "template"],
    metadata_path: "spec.template.metadata",
    spec_path: "spec.template.spec",
};
const CRONJOB_TEMPLATE: TemplateLocation = TemplateLocation {
    keys: &["spec", "jobTemplate", "spec", "template"],
    metadata_path: "spec.jobTemplate.spec.template.metadata",
    spec_path: "spec.jobTemplate.spec.template.spec",
};

/// The pod template of `kind`, or `None` for kinds that have none.
pub fn template_location(kind: &str) -> Option<TemplateLocation> {
    match kind {
        "Pod" => Some(POD),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(TEMPLATE),
        "CronJob" => Some(CRONJOB_TEMPLATE),
        _ => None,
    }
}

/// Whether the policy acts on this operation. The API server forbids
/// changing the containers of an existing Pod, so Pods are only converted
/// when created; workload templates may change on every update.
pub fn acts_on(kind: &str, operation: &str) -> bool {
    match operation {
        "CREATE" => true,
        "UPDATE" => kind != "Pod",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::pod_is_its_own_template("Pod", "spec")]
    #[case::deployment("Deployment", "spec.template.spec")]
    #[case::replica_set("ReplicaSet", "spec.template.spec")]
    #[case::stateful_set("StatefulSet", "spec.template.spec")]
    #[case::daemon_set("DaemonSet", "spec.template.spec")]
    #[case::job("Job", "spec.template.spec")]
    #[case::replication_controller("ReplicationController", "spec.template.spec")]
    #[case::cron_job_nests_a_job_template("CronJob", "spec.jobTemplate.spec.template.spec")]
    fn every_workload_kind_has_its_pod_spec_path(#[case] kind: &str, #[case] spec_path: &str) {
        let location = template_location(kind).expect("a workload kind");
        assert_eq!(location.spec_path, spec_path, "pod spec path of {kind}");
        assert_eq!(
            location.metadata_path,
            spec_path
                .replace("spec.template.spec", "spec.template.metadata")
                .replacen("spec", "metadata", usize::from(kind == "Pod")),
            "pod metadata path of {kind}"
        );
    }

    #[test]
    fn kinds_without_pods_have_no_template() {
        assert_eq!(template_location("ConfigMap"), None);
    }

    #[rstest]
    #[case::pod_create("Pod", "CREATE", true)]
    #[case::pod_update_cannot_change_containers("Pod", "UPDATE", false)]
    #[case::deployment_create("Deployment", "CREATE", true)]
    #[case::deployment_update("Deployment", "UPDATE", true)]
    #[case::delete_has_nothing_to_convert("Deployment", "DELETE", false)]
    #[case::connect("Pod", "CONNECT", false)]
    fn operations_acted_on(#[case] kind: &str, #[case] operation: &str, #[case] acts: bool) {
        assert_eq!(acts_on(kind, operation), acts, "{kind} {operation}");
    }
}
