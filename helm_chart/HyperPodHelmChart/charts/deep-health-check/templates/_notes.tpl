{{- define "deep-health-check.notes" -}}
{{- if .Values.enabled -}}
{{- $ns := .Values.namespace.name -}}
deep-health-check: ServiceAccount {{ .Values.serviceAccount.name }} and RBAC in namespace {{ $ns }}
{{- if .Values.namespace.create }} (created, Pod Security enforce={{ .Values.namespace.podSecurityLevel }})
{{- else }} (namespace.create=false: {{ $ns }} must already exist; label it pod-security.kubernetes.io/enforce=privileged)
{{- end }}
{{- if include "deep-health-check.hyperpodLaunches" . }}; User {{ .Values.serviceRoleUser }} may launch the check pods{{ end }}; check: kubectl get serviceaccount,rolebindings --namespace {{ $ns }}
{{- end -}}
{{- end -}}
