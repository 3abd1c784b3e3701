{{- define "aws-efa-k8s-device-plugin.notes" -}}
aws-efa-k8s-device-plugin: DaemonSet {{ .Release.Namespace }}/{{ include "hyperpod-common.fullname" . }} ({{ include "aws-efa-k8s-device-plugin.image" . }}) on {{ include "aws-efa-k8s-device-plugin.instanceTypes" . | fromJsonArray | len }} EFA instance types; check: kubectl get nodes -o custom-columns=NAME:.metadata.name,EFA:.status.allocatable.vpc\.amazonaws\.com/efa
{{- end -}}
