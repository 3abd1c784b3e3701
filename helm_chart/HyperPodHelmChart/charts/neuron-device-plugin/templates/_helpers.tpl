{{/*
The plugin image. AWS publishes it on public.ecr.aws; that registry is only
the last resort so that global.imageRegistry (a mirror) still applies when
image.registry is left empty.
*/}}
{{- define "neuron-device-plugin.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "public.ecr.aws" "context" .) -}}
{{- end -}}

{{/* The instance types the plugin runs on, as a JSON list. */}}
{{- define "neuron-device-plugin.instanceTypes" -}}
{{- include "hyperpod-common.instanceTypes" (dict "families" (list "neuron") "override" .Values.instanceTypes "global" .Values.global) -}}
{{- end -}}

{{/*
The ServiceAccount name is fixed: the Neuron documentation and tooling (and
manifests users may already have applied) use exactly this name, so a
conflict with a pre-existing one is detected instead of two accounts
silently coexisting.
*/}}
{{- define "neuron-device-plugin.serviceAccountName" -}}
neuron-device-plugin
{{- end -}}

{{/* Namespace of the namespaced objects: namespace, else the release's. */}}
{{- define "neuron-device-plugin.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* The DaemonSet's name: the one AWS's manifests and the upstream HyperPod chart use. */}}
{{- define "neuron-device-plugin.daemonSetName" -}}
{{- .Values.fullnameOverride | default "neuron-device-plugin-daemonset" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The DaemonSet's selector: AWS's (name=neuron-device-plugin-ds), so that a
DaemonSet the upstream chart installed is updated in place (a selector
cannot change).
*/}}
{{- define "neuron-device-plugin.selectorLabels" -}}
name: neuron-device-plugin-ds
{{- end -}}

{{/* Tolerations: the built-in ones, then the user's, each once. */}}
{{- define "neuron-device-plugin.tolerations" -}}
{{- $builtin := (include "hyperpod-common.tolerations" (dict "keys" (list "aws.amazon.com/neuron" "CriticalAddonsOnly") "extra" list) | fromYaml).tolerations -}}
tolerations:
{{- toYaml (concat $builtin (.Values.tolerations | default list) | uniq) | nindent 2 }}
{{- end -}}
