{{/*
The plugin image. NVIDIA publishes it on nvcr.io; that registry is only the
last resort so that global.imageRegistry (a mirror) still applies when
image.registry is left empty.
*/}}
{{- define "nvidia-device-plugin.image" -}}
{{- $image := deepCopy .Values.image -}}
{{- if not (or $image.registry (.Values.global | default dict).imageRegistry) -}}
{{- $_ := set $image "registry" "nvcr.io" -}}
{{- end -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" .Values.global "context" .) -}}
{{- end -}}

{{/* The instance types the plugin runs on, as a JSON list. */}}
{{- define "nvidia-device-plugin.instanceTypes" -}}
{{- include "hyperpod-common.instanceTypes" (dict "families" (list "nvidia") "override" .Values.instanceTypes "global" .Values.global) -}}
{{- end -}}
