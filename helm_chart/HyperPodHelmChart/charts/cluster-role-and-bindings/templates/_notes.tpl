{{- define "cluster-role-and-bindings.notes" -}}
{{- if .Values.enabled -}}
cluster-role-and-bindings: read-only ClusterRole {{ .Values.roleName }} bound to group {{ include "cluster-role-and-bindings.group" . }}; check: kubectl auth can-i list nodes --as=someone --as-group={{ include "cluster-role-and-bindings.group" . }}
{{- end -}}
{{- end -}}
