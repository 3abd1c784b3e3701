{{/*
The recommended labels. Selectors use only name + instance, because
selectors are immutable and the other labels change between versions.
*/}}
{{- define "hyperpod-common.labels" -}}
helm.sh/chart: {{ include "hyperpod-common.chart" . }}
{{ include "hyperpod-common.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default .Chart.Version | quote }}
app.kubernetes.io/component: {{ .Chart.Name }}
app.kubernetes.io/part-of: hyperpod-deps
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "hyperpod-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hyperpod-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
