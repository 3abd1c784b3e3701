{{- define "health-monitoring-agent.notes" -}}
{{- $ignored := include "health-monitoring-agent.ignoredKeys" . | fromJsonArray -}}
{{- $namespace := include "health-monitoring-agent.namespace" . -}}
{{- $sets := list -}}
{{- range $ds := include "health-monitoring-agent.daemonSets" . | fromJsonArray -}}
{{- $sets = append $sets (printf "%s (%s nodes)" $ds.name $ds.what) -}}
{{- end -}}
{{- if eq (include "health-monitoring-agent.agent" .) "open" -}}
{{- $config := .Values.openAgent.config -}}
{{- $kernel := list -}}
{{- if $config.sources.journal.enabled -}}
{{- $kernel = append $kernel (printf "the journal in %s (non-root)" $config.sources.journal.path) -}}
{{- end -}}
{{- if $config.sources.kmsg.enabled -}}
{{- $kernel = append $kernel "/dev/kmsg (privileged container)" -}}
{{- end -}}
{{- with $config.sources.logFiles.paths -}}
{{- $kernel = append $kernel (printf "%s (%s)" (join ", " .) (ternary "lines tagged kernel act" "matches only logged: a text line cannot prove the kernel wrote it" $config.sources.logFiles.trustKernelTag)) -}}
{{- end -}}
{{- $kernel = join "; " $kernel | default "no source: nothing reads the kernel log" -}}
health-monitoring-agent: the open agent (hyperpod-deps health agent), DaemonSets {{ join ", " $sets }} in namespace {{ $namespace }}, image {{ include "health-monitoring-agent.openImage" . }}; kernel log from {{ $kernel }}{{ if $config.metricsPort }}, metrics on port {{ $config.metricsPort }}{{ end }}{{ if .Values.openAgent.rules }}, extra rules: {{ keys .Values.openAgent.rules | sortAlpha | join ", " }}{{ end }}; check: kubectl get daemonsets -n {{ $namespace }} -l app.kubernetes.io/name={{ include "hyperpod-common.name" . }} and kubectl get nodes -L sagemaker.amazonaws.com/node-health-status{{ if $ignored }}; ignored keys: {{ join "; " $ignored }}{{ end }}
{{- else -}}
{{- $image := include "health-monitoring-agent.image" . | fromJson -}}
health-monitoring-agent: DaemonSets {{ join ", " $sets }} in namespace {{ $namespace }}, image {{ $image.ref }} ({{ $image.why }}); check: kubectl get daemonsets -n {{ $namespace }} -l app.kubernetes.io/name={{ include "hyperpod-common.name" . }}{{ if $ignored }}; ignored keys: {{ join "; " $ignored }}{{ end }}
{{- end -}}
{{- end -}}
