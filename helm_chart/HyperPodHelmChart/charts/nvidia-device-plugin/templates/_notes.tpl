{{- define "nvidia-device-plugin.notes" -}}
nvidia-device-plugin: DaemonSet {{ .Release.Namespace }}/{{ include "hyperpod-common.fullname" . }} ({{ include "nvidia-device-plugin.image" . }}) on {{ include "nvidia-device-plugin.instanceTypes" . | fromJsonArray | len }} NVIDIA instance types; check: kubectl get nodes -o custom-columns=NAME:.metadata.name,GPUS:.status.allocatable.nvidia\.com/gpu
{{- end -}}
