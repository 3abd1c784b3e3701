{{/*
Helpers of the training-operators chart. The umbrella loads the chart under the
alias trainingOperators, so the --set paths in messages use that key.
*/}}

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
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "trainingOperators.replicas=%d with leader election off: every replica would reconcile the same jobs. Set --set trainingOperators.leaderElection.enabled=true (or replicas=1)." (int .Values.replicas)) -}}
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
