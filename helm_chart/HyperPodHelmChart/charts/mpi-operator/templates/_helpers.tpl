{{/*
The operator image: its own registry, else global.imageRegistry (a mirror),
else docker.io, where the upstream image is published.
*/}}
{{- define "mpi-operator.image" -}}
{{- $global := .Values.global | default dict -}}
{{- $registry := .Values.image.registry | default $global.imageRegistry | default "docker.io" -}}
{{- $image := merge (dict "registry" $registry) .Values.image -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" $global "context" .) -}}
{{- end -}}
