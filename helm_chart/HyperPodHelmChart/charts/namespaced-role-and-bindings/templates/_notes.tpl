{{- define "namespaced-role-and-bindings.notes" -}}
{{- if .Values.enabled -}}
namespaced-role-and-bindings: Role {{ .Values.roleName }} in namespace {{ .Values.namespace.name }}{{ if not .Values.namespace.create }} (must already exist){{ end }} bound to group {{ .Values.groupName }}; check: kubectl auth can-i create jobs --namespace {{ .Values.namespace.name }} --as=someone --as-group={{ .Values.groupName }}
{{- end -}}
{{- end -}}
