{{- define "mlflow.notes" -}}
{{- $name := include "hyperpod-common.fullname" . -}}
{{- $ns := .Release.Namespace -}}
mlflow: tracking server Deployment/{{ $name }} in {{ $ns }} (backend: {{ if eq .Values.backendStore.type "sqlite" }}SQLite on PVC {{ include "mlflow.claimName" . }}{{ else }}database from Secret {{ .Values.backendStore.database.existingSecret }}{{ end }}; artifacts: {{ if eq .Values.artifactStore.type "s3" }}{{ .Values.artifactStore.s3.uri }}{{ else }}PVC {{ include "mlflow.claimName" . }}{{ end }}, proxied).
  Check: kubectl -n {{ $ns }} rollout status deployment/{{ $name }}
  UI: kubectl -n {{ $ns }} port-forward svc/{{ $name }} {{ .Values.service.port }}:{{ .Values.service.port }}, then open http://localhost:{{ .Values.service.port }}
  In-cluster tracking URI: MLFLOW_TRACKING_URI=http://{{ $name }}.{{ $ns }}.svc:{{ .Values.service.port }}
{{- with .Values.mlflow.serviceAccount }}{{ if .create }}
  ServiceAccount for training pods (upstream's mlflow.mlflow.serviceAccount): {{ .namespace }}/{{ .name }}{{ if .roleARN }}, IAM role {{ .roleARN }}{{ end }}
{{- end }}{{ end }}
{{- end -}}
