"""Facts about the Kubernetes API that the chart checks rely on."""
from __future__ import annotations

# Verbs the API server authorizes. There is no "describe": kubectl describe is gets and lists.
RBAC_VERBS = frozenset(
    {
        "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
        "use", "bind", "escalate", "impersonate", "approve", "sign",
    }
)

# Cluster-scoped resources (by plural name). A Role granting one of them grants nothing:
# a Role only ever applies inside its namespace.
CLUSTER_SCOPED_RESOURCES = frozenset(
    {
        "nodes", "namespaces", "persistentvolumes", "componentstatuses",
        "clusterroles", "clusterrolebindings", "customresourcedefinitions", "apiservices",
        "storageclasses", "csidrivers", "csinodes", "volumeattachments", "priorityclasses",
        "runtimeclasses", "ingressclasses", "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations", "validatingadmissionpolicies",
        "certificatesigningrequests", "tokenreviews", "subjectaccessreviews",
        "selfsubjectaccessreviews", "selfsubjectrulesreviews",
        # Kueue
        "clusterqueues", "resourceflavors", "workloadpriorityclasses", "cohorts", "topologies",
    }
)

# The cluster-scoped kinds a chart renders: an object of one of these has no namespace, whatever
# its manifest says; any other kind rendered without one lands in the release namespace.
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "PriorityClass", "StorageClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
})

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)
