{{- /*
The namespace settings as JSON {name, create}, from either form of the
`namespace` value: a name (the form HyperPod's chart takes) or {name, create}.
*/ -}}
{{- define "namespaced-role-and-bindings.namespaceSettings" -}}
{{- $raw := .Values.namespace | default dict -}}
{{- $given := kindIs "string" $raw | ternary (dict "name" $raw) $raw -}}
{{- dict "name" ($given.name | default "kubeflow") "create" ($given.create | default false) | toJson -}}
{{- end -}}

{{- define "namespaced-role-and-bindings.namespace" -}}
{{- (include "namespaced-role-and-bindings.namespaceSettings" . | fromJson).name -}}
{{- end -}}

{{- /* The bound group: groupName, else HyperPod's <roleName>-<namespace>-level. */ -}}
{{- define "namespaced-role-and-bindings.group" -}}
{{- .Values.groupName | default (printf "%s-%s-level" .Values.roleName (include "namespaced-role-and-bindings.namespace" .)) -}}
{{- end -}}
