{{- define "nvidia-device-plugin.notes" -}}
nvidia-device-plugin: DaemonSet {{ include "nvidia-device-plugin.namespace" . }}/{{ include "hyperpod-common.fullname" . }} ({{ include "nvidia-device-plugin.image" . }}) on {{ if .Values.affinity }}the nodes of nvidia-device-plugin.affinity{{ else }}{{ include "nvidia-device-plugin.instanceTypes" . | fromJsonArray | len }} NVIDIA instance types{{ end }}; check: kubectl get nodes -o custom-columns=NAME:.metadata.name,GPUS:.status.allocatable.nvidia\.com/gpu
{{- with include "nvidia-device-plugin.ignoredKeys" . }}
  ignored, parts of NVIDIA's chart this chart does not run (docs/upstream-plugins.md): {{ . }}
{{- end }}
{{- end -}}
