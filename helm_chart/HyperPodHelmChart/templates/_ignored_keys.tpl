{{- /*
Top-level keys of the upstream chart's values.yaml that no template reads
(they come from `helm create`'s scaffold; upstream's umbrella has no
templates). A file written for upstream sets them all, so they are accepted
(values.schema.json) and named here with the key that does the job in this
chart. Renders one line per key the user set; nothing otherwise.
*/ -}}
{{- define "hyperpod-helm-chart.ignoredKeys" -}}
{{- $instead := dict
  "replicaCount" "set the component's own, e.g. mpi-operator.replicas"
  "image" "set the component's own image block, e.g. mlflow.image.repository"
  "imagePullSecrets" "set global.imagePullSecrets"
  "nameOverride" "set the component's own, e.g. mlflow.nameOverride"
  "fullnameOverride" "set the component's own, e.g. mlflow.fullnameOverride"
  "serviceAccount" "set the component's own, e.g. deep-health-check.serviceAccount.name"
  "podAnnotations" "set the component's own, e.g. mlflow.podAnnotations"
  "podLabels" "no equivalent (the pods carry the chart's labels)"
  "podSecurityContext" "no equivalent (each component sets a restricted security context, docs/chart.md)"
  "securityContext" "no equivalent (each component sets a restricted security context, docs/chart.md)"
  "service" "no equivalent (the chart's Services belong to their components)"
  "ingress" "no equivalent (the chart makes no Ingress)"
  "resources" "set the component's own, e.g. nvidia-device-plugin.resources"
  "livenessProbe" "no equivalent (each component probes itself)"
  "readinessProbe" "no equivalent (each component probes itself)"
  "autoscaling" "no equivalent (the chart's workloads do not autoscale)"
  "volumes" "no equivalent"
  "volumeMounts" "no equivalent"
  "nodeSelector" "set the component's own, e.g. mlflow.nodeSelector"
  "tolerations" "set the component's own, e.g. nvidia-device-plugin.tolerations"
  "affinity" "set the component's own, e.g. nvidia-device-plugin.affinity"
  "namespace" "set deep-health-check.namespace and health-monitoring-agent.namespace (aws-hyperpod by default)"
-}}
{{- range $key := keys $instead | sortAlpha }}
{{- if hasKey $.Values $key }}
  {{ $key }}: ignored; {{ index $instead $key }}
{{- end }}
{{- end }}
{{- end -}}

{{- /*
The upstream chart's training-operators subchart has no alias, so its values
sit under `training-operators:`; ours is aliased trainingOperators. The
namespace switch is honoured (templates/namespaces.yaml); for the rest the
notes name our key.
*/ -}}
{{- define "hyperpod-helm-chart.upstreamTrainingOperatorKeys" -}}
{{- $given := index .Values "training-operators" | default dict -}}
{{- $instead := dict
  "image" "set trainingOperators.image.repository / trainingOperators.image.tag"
  "schemes" "set trainingOperators.schemes (mxjob is not served by the training operator v1.8)"
  "nameOverride" "set trainingOperators.nameOverride"
  "fullnameOverride" "set trainingOperators.fullnameOverride"
  "serviceAccount" "the ServiceAccount is training-operator, as upstream names it"
-}}
{{- range $key := keys $given | sortAlpha }}
{{- if eq $key "createNamespace" }}
  training-operators.createNamespace: honoured (creates the namespace kubeflow, or not)
{{- else }}
  training-operators.{{ $key }}: ignored; {{ index $instead $key }}
{{- end }}
{{- end }}
{{- end -}}
