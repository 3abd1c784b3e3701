{{- define "neuron-device-plugin.notes" -}}
neuron-device-plugin: DaemonSet {{ include "neuron-device-plugin.namespace" . }}/{{ include "neuron-device-plugin.daemonSetName" . }} ({{ include "neuron-device-plugin.image" . }}, ServiceAccount {{ include "neuron-device-plugin.serviceAccountName" . }}) on {{ include "neuron-device-plugin.instanceTypes" . | fromJsonArray | len }} Neuron instance types; check: kubectl get nodes -o custom-columns=NAME:.metadata.name,NEURON:.status.allocatable.aws\.amazon\.com/neuron
{{- end -}}
