{{/*
The operator image: its own registry, else global.imageRegistry (a mirror),
else docker.io, where the upstream image is published.
*/}}
{{- define "mpi-operator.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "docker.io" "context" .) -}}
{{- end -}}
