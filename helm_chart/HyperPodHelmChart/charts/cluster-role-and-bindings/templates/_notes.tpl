{{- define "cluster-role-and-bindings.notes" -}}
{{- if .Values.enabled -}}
cluster-role-and-bindings: read-only ClusterRole {{ .Values.roleName }} bound to group {{ .Values.groupName }}; check: kubectl auth can-i list nodes --as=someone --as-group={{ .Values.groupName }}
{{- end -}}
{{- end -}}
