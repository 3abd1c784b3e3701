{{- define "job-auto-restart.notes" -}}
job-auto-restart: ClusterRole/ClusterRoleBinding job-auto-restart for User {{ .Values.serviceRoleUser }} ({{ join ", " .Values.jobResources }})
{{- end -}}
