{{/*
Helpers of the training-operators chart. The umbrella loads the chart under the
alias trainingOperators, so the --set paths in messages use that key.
*/}}

{{/* Where the operator and its namespaced objects live (the umbrella creates it). */}}
{{- define "training-operators.namespace" -}}
{{- .Values.namespace -}}
{{- end -}}

{{/*
The ServiceAccount, Service, ClusterRole and ClusterRoleBinding: the names the
upstream HyperPod chart gives them, fixed (one training operator per cluster).
The Service name is also the operator's default --webhook-service-name.
*/}}
{{- define "training-operators.fixedName" -}}
training-operator
{{- end -}}

{{/* The Deployment: <release>-training-operators, as upstream names it. */}}
{{- define "training-operators.deploymentName" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "training-operators" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-training-operators" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
The Deployment's selector: upstream's, exactly. A selector is immutable, so
`helm upgrade` over an upstream release changes the Deployment in place only
if it is identical. The pods carry our recommended labels besides.
*/}}
{{- define "training-operators.selectorLabels" -}}
control-plane: kubeflow-training-operator
{{- end -}}

{{/*
The job kinds the operator runs: `schemes` less mxjob, which upstream's list
holds and v1.8.1 no longer has (a JSON list; read it with fromJsonArray).
*/}}
{{- define "training-operators.schemes" -}}
{{- without .Values.schemes "mxjob" | toJson -}}
{{- end -}}

{{/* The webhook Secret the operator writes its serving certificate into. */}}
{{- define "training-operators.webhookSecretName" -}}
{{- printf "%s-webhook-cert" (include "hyperpod-common.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The ValidatingWebhookConfiguration name is compiled into the operator: its
certificate rotator injects the CA bundle into exactly this object, so the name
cannot carry the release name (one training operator per cluster).
*/}}
{{- define "training-operators.webhookConfigurationName" -}}
validator.training-operator.kubeflow.org
{{- end -}}

{{/* Checks whose fix is a value change; each message names the exact fix. */}}
{{- define "training-operators.validate" -}}
{{- if not (include "training-operators.schemes" . | fromJsonArray) -}}
{{- fail "trainingOperators.schemes holds only mxjob, which training operator v1.8.1 does not run (MXJob was removed). Name at least one of tfjob, pytorchjob, xgboostjob, paddlejob, e.g. --set trainingOperators.schemes={pytorchjob}." -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "trainingOperators.replicas=%d with leader election off: every replica would reconcile the same jobs. Set --set trainingOperators.leaderElection.enabled=true (or replicas=1)." (int .Values.replicas)) -}}
{{- end -}}
{{- if and .Values.webhook.enabled (eq (include "training-operators.namespace" .) "kube-system") -}}
{{- fail "trainingOperators.namespace=kube-system with the webhook on: the operator's certificate rotator lists every Secret of its namespace, so it could read every kube-system Secret. Keep it in a namespace of its own (the default: --set trainingOperators.namespace=kubeflow), or turn the webhook off (--set trainingOperators.webhook.enabled=false)." -}}
{{- end -}}
{{- $ports := list (int .Values.metrics.port) (int .Values.probes.port) -}}
{{- if .Values.webhook.enabled -}}
{{- $ports = append $ports (int .Values.webhook.port) -}}
{{- end -}}
{{- if ne (len $ports) (len (uniq $ports)) -}}
{{- fail (printf "trainingOperators: metrics.port, probes.port and webhook.port must differ (got %v). Set e.g. --set trainingOperators.metrics.port=8080,trainingOperators.probes.port=8081,trainingOperators.webhook.port=9443." $ports) -}}
{{- end -}}
{{- end -}}

{{/*
The operator image: its own registry, else global.imageRegistry (a mirror),
else docker.io, where the upstream image is published.
*/}}
{{- define "training-operators.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "docker.io" "context" .) -}}
{{- end -}}
