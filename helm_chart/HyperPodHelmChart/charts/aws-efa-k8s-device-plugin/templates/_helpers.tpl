{{/*
The plugin image. AWS publishes it in the EKS ECR registry; that registry is
only the last resort so that global.imageRegistry (a mirror) still applies
when image.registry is left empty.
*/}}
{{- define "aws-efa-k8s-device-plugin.image" -}}
{{- $image := .Values.image -}}
{{- $parts := splitList "/" $image.repository -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- /* The EKS chart's form: the repository names its registry; adding one would name no image. */ -}}
{{- if $image.digest -}}{{ printf "%s@%s" $image.repository $image.digest }}{{- else -}}{{ printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion | toString) }}{{- end -}}
{{- else -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" .Values.global "defaultRegistry" "602401143452.dkr.ecr.us-west-2.amazonaws.com" "context" .) -}}
{{- end -}}
{{- end -}}

{{/*
The DaemonSet's selector: the EKS chart's (name: <fullname>), so that a
DaemonSet installed by the upstream HyperPod chart is updated in place (a
selector cannot change).
*/}}
{{- define "aws-efa-k8s-device-plugin.selectorLabels" -}}
name: {{ include "hyperpod-common.fullname" . }}
{{- end -}}

{{/* Tolerations: the built-in ones, then the user's, each once. */}}
{{- define "aws-efa-k8s-device-plugin.tolerations" -}}
{{- $builtin := (include "hyperpod-common.tolerations" (dict "keys" (list "aws.amazon.com/efa" "CriticalAddonsOnly") "extra" list) | fromYaml).tolerations -}}
tolerations:
{{- toYaml (concat $builtin (.Values.tolerations | default list) | uniq) | nindent 2 }}
{{- end -}}

{{/*
The label values the plugin selects nodes by, as a JSON list: the user's
supportedInstanceLabels.values exactly when given, else the built-in EFA
list plus global.instanceTypes.efa.
*/}}
{{- define "aws-efa-k8s-device-plugin.instanceTypes" -}}
{{- $given := .Values.supportedInstanceLabels.values | default list -}}
{{- if $given -}}
{{- $given | uniq | toJson -}}
{{- else -}}
{{- include "hyperpod-common.instanceTypes" (dict "families" (list "efa") "override" list "global" .Values.global) -}}
{{- end -}}
{{- end -}}
