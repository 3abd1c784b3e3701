{{/*
The plugin image. AWS publishes it in the EKS ECR registry; that registry is
only the last resort so that global.imageRegistry (a mirror) still applies
when image.registry is left empty.
*/}}
{{- define "aws-efa-k8s-device-plugin.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "602401143452.dkr.ecr.us-west-2.amazonaws.com" "context" .) -}}
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
