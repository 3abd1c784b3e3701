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
