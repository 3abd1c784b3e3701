{{- define "deep-health-check.notes" -}}
{{- if .Values.enabled -}}
{{- $settings := include "deep-health-check.namespaceSettings" .Values | fromJson -}}
{{- $ns := $settings.name -}}
deep-health-check: ServiceAccount {{ .Values.serviceAccount.name }} and RBAC in namespace {{ $ns }}
{{- if $settings.create }} (created, Pod Security enforce={{ $settings.podSecurityLevel }})
{{- else }} (namespace.create=false: {{ $ns }} must already exist; label it pod-security.kubernetes.io/enforce=privileged)
{{- end }}
{{- if include "deep-health-check.hyperpodLaunches" . }}; User {{ .Values.serviceRoleUser }} may launch the check pods{{ end }}; check: kubectl get serviceaccount,rolebindings --namespace {{ $ns }}
{{- end -}}
{{- end -}}
