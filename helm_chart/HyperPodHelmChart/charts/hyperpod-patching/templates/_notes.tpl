{{- define "hyperpod-patching.notes" -}}
hyperpod-patching: ClusterRole/ClusterRoleBinding hyperpod-patching for User {{ .Values.serviceRoleUser }} (pods list, pods/eviction create)
{{- end -}}
