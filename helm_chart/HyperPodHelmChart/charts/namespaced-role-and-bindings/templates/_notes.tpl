{{- define "namespaced-role-and-bindings.notes" -}}
{{- if .Values.enabled -}}
{{- $settings := include "namespaced-role-and-bindings.namespaceSettings" . | fromJson -}}
{{- $group := include "namespaced-role-and-bindings.group" . -}}
namespaced-role-and-bindings: Role {{ .Values.roleName }} in namespace {{ $settings.name }}{{ if not $settings.create }} (must already exist){{ end }} bound to group {{ $group }}; check: kubectl auth can-i create jobs --namespace {{ $settings.name }} --as=someone --as-group={{ $group }}
{{- end -}}
{{- end -}}
