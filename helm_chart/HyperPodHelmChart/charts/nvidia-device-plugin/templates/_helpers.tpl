{{/*
The plugin image. NVIDIA publishes it on nvcr.io; that registry is only the
last resort so that global.imageRegistry (a mirror) still applies when
image.registry is left empty.
*/}}
{{- define "nvidia-device-plugin.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "nvcr.io" "context" .) -}}
{{- end -}}

{{/* The instance types the plugin runs on, as a JSON list. */}}
{{- define "nvidia-device-plugin.instanceTypes" -}}
{{- include "hyperpod-common.instanceTypes" (dict "families" (list "nvidia") "override" .Values.instanceTypes "global" .Values.global) -}}
{{- end -}}
