{{- /*
One line for the umbrella's NOTES.txt. "notes" takes this chart's context
(empty unless this chart renders itself); "umbrellaNotes" takes the
umbrella's context and describes the objects rendered from its top-level
computeQuotaTarget.targetId.
*/ -}}
{{- define "team-role-and-bindings.notes" -}}
{{- if .Values.enabled -}}
{{- include "team-role-and-bindings.noteLine" ((.Values.computeQuotaTarget | default dict).targetId | default "") -}}
{{- end -}}
{{- end -}}

{{- define "team-role-and-bindings.umbrellaNotes" -}}
{{- if not (index .Values "team-role-and-bindings").enabled -}}
{{- include "team-role-and-bindings.noteLine" ((.Values.computeQuotaTarget | default dict).targetId | default "") -}}
{{- end -}}
{{- end -}}

{{- define "team-role-and-bindings.noteLine" -}}
team-role-and-bindings: ClusterRole hyperpod-ns-{{ . }}-cluster-role, Role hyperpod-ns-{{ . }}-namespace-role (namespace hyperpod-ns-{{ . }}) for group hyperpod-ns-{{ . }}-namespace-level-group; check: kubectl auth can-i create jobs --namespace hyperpod-ns-{{ . }} --as=someone --as-group=hyperpod-ns-{{ . }}-namespace-level-group
{{- end -}}
