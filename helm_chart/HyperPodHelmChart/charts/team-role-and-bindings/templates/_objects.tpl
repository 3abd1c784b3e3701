{{- /*
Task-governance RBAC for one team. Object and group names are HyperPod's
(see WIRE-CONTRACT.md, "Task governance") and must not change:
  ClusterRole  hyperpod-ns-<id>-cluster-role    cluster-scoped reads only
  Role         hyperpod-ns-<id>-namespace-role  namespace-scoped resources only
  group        hyperpod-ns-<id>-namespace-level-group
Compared with the upstream roles, the Role holds no "describe" verb (there is
none: kubectl describe uses get and list) and one cluster-scoped resource
only: get on namespaces, which the API server checks against the namespace
being read, so in this Role it reads the team namespace and no other. What
else differs, and why, is in docs/upstream-grants.md; which client call
needs each grant is in docs/client-roles.md.

Rendered by this chart's own rbac.yaml when it is enabled (installed on its
own), and by the umbrella's templates/team-role-and-bindings.yaml from the
umbrella's top-level computeQuotaTarget.targetId.

Usage:
  include "team-role-and-bindings.objects" (dict "targetId" $id "settings" $values "context" $)
  settings: this chart's values (namespace.create, jobResources)
*/ -}}
{{- define "team-role-and-bindings.objects" -}}
{{- $id := include "team-role-and-bindings.targetId" .targetId -}}
{{- $settings := .settings | default dict -}}
{{- $labels := include "team-role-and-bindings.labels" (dict "context" .context) -}}
{{- $namespace := printf "hyperpod-ns-%s" $id -}}
{{- $group := printf "hyperpod-ns-%s-namespace-level-group" $id -}}
{{- if ($settings.namespace | default dict).create }}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
    # What HyperPod task governance puts on a team namespace: the SageMaker
    # HyperPod client finds a member's namespace by this label.
    sagemaker.amazonaws.com/sagemaker-managed-queue: "true"
{{- end }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: hyperpod-ns-{{ $id }}-cluster-role
  labels:
    {{- $labels | nindent 4 }}
rules:
  # Find the team namespace (hyperpod-ns-<id>) among the cluster's
  # namespaces, as HyperPod's tooling and kubectl get namespaces do.
  - apiGroups: [""]
    resources: ["namespaces"]
    verbs: ["get", "list"]
  # The team's own ClusterQueue (quota, usage, admitted and pending counts).
  # With resourceNames, get is limited to that name, and list/watch are
  # allowed only with a metadata.name field selector on it (what
  # `kubectl get clusterqueue <name> [-w]` sends), so other teams' queues
  # stay hidden.
  - apiGroups: ["kueue.x-k8s.io"]
    resources: ["clusterqueues"]
    resourceNames: ["hyperpod-ns-{{ $id }}-clusterqueue"]
    verbs: ["get", "list", "watch"]
  # Which flavors (instance types) the quota is made of, and which Kueue
  # priority classes a job may name.
  - apiGroups: ["kueue.x-k8s.io"]
    resources: ["resourceflavors", "workloadpriorityclasses"]
    verbs: ["get", "list", "watch"]
  # Which Kubernetes priority classes a job may name.
  - apiGroups: ["scheduling.k8s.io"]
    resources: ["priorityclasses"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: hyperpod-ns-{{ $id }}-cluster-role-binding
  labels:
    {{- $labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: hyperpod-ns-{{ $id }}-cluster-role
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: {{ $group }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: hyperpod-ns-{{ $id }}-namespace-role
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
rules:
  # Run training jobs: submit, follow, change and remove them. update (a
  # whole-object PUT, what some SDKs send) allows no more than patch does.
  # An empty jobResources leaves batch Jobs only.
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["create", "get", "list", "watch", "patch", "update", "delete"]
  {{- with $settings.jobResources }}
  - apiGroups: ["kubeflow.org"]
    resources:
      {{- range . }}
      - {{ . }}
      {{- end }}
    verbs: ["create", "get", "list", "watch", "patch", "update", "delete"]
  {{- end }}
  # The team namespace itself (the client's read_namespace before each
  # command; its labels tell it the namespace is SageMaker-managed).
  - apiGroups: [""]
    resources: ["namespaces"]
    verbs: ["get"]
  # HyperPodPyTorchJob (served by HyperPod's training operator add-on):
  # hyp create|list|describe|delete hyp-pytorch-job. Its status is the
  # operator's to write; members read it.
  - apiGroups: ["sagemaker.amazonaws.com"]
    resources: ["hyperpodpytorchjobs"]
    verbs: ["create", "get", "list", "watch", "patch", "update", "delete"]
  - apiGroups: ["sagemaker.amazonaws.com"]
    resources: ["hyperpodpytorchjobs/status"]
    verbs: ["get"]
  # A recipe job's configuration (training-config-<job>), which the client
  # creates beside the job and `hyp delete` removes with it; and the Secrets a
  # recipe submits. Nothing reads them back: no get, list or update.
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["create", "delete"]
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["create"]
  # Follow the jobs' pods and read their logs. Pods are created by the job
  # controllers, not by members.
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  # Why a job waits or fails (scheduling, admission, image pulls).
  - apiGroups: ["", "events.k8s.io"]
    resources: ["events"]
    verbs: ["get", "list", "watch"]
  # Kueue's view of the team's jobs. patch lets a member deactivate a
  # workload (spec.active) or change its priority class.
  - apiGroups: ["kueue.x-k8s.io"]
    resources: ["workloads"]
    verbs: ["get", "list", "watch", "patch"]
  # The team's LocalQueue (hyperpod-ns-<id>-localqueue), which jobs name in
  # the kueue.x-k8s.io/queue-name label.
  - apiGroups: ["kueue.x-k8s.io"]
    resources: ["localqueues"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: hyperpod-ns-{{ $id }}-namespace-role-binding
  namespace: {{ $namespace }}
  labels:
    {{- $labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: hyperpod-ns-{{ $id }}-namespace-role
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: {{ $group }}
{{- end -}}
