{{- define "health-monitoring-agent.notes" -}}
{{- $image := include "health-monitoring-agent.image" . | fromJson -}}
{{- $sets := list -}}
{{- range $ds := include "health-monitoring-agent.daemonSets" . | fromJsonArray -}}
{{- $sets = append $sets (printf "%s (%s nodes)" $ds.name $ds.what) -}}
{{- end -}}
health-monitoring-agent: DaemonSets {{ join ", " $sets }} in namespace {{ include "health-monitoring-agent.namespace" . }}, image {{ $image.ref }} ({{ $image.why }}); check: kubectl get daemonsets -n {{ include "health-monitoring-agent.namespace" . }} -l app.kubernetes.io/name={{ include "hyperpod-common.name" . }}
{{- end -}}
