{{- define "training-operators.notes" -}}
training-operators: Deployment {{ include "hyperpod-common.fullname" . }} in {{ .Release.Namespace }} (Kubeflow training operator {{ .Values.image.tag }}; {{ join ", " .Values.schemes }}). Check: kubectl -n {{ .Release.Namespace }} rollout status deployment/{{ include "hyperpod-common.fullname" . }}
{{- end -}}
{{- /* Under the umbrella the chart is loaded as its alias, so .Chart.Name is trainingOperators. */ -}}
{{- define "trainingOperators.notes" -}}
{{ include "training-operators.notes" . }}
{{- end -}}
