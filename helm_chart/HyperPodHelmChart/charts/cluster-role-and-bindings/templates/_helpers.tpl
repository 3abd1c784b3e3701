{{- /* The bound group: groupName, else HyperPod's <roleName>-cluster-level. */ -}}
{{- define "cluster-role-and-bindings.group" -}}
{{- .Values.groupName | default (printf "%s-cluster-level" .Values.roleName) -}}
{{- end -}}
