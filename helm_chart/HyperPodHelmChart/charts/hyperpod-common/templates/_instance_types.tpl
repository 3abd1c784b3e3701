{{/*
The instance types a component lands on, as a JSON list (read it back with
fromJsonArray).

  families  which built-in lists to take: "nvidia", "neuron", "efa"
  override  the component's own list; when non-empty it replaces the built-in lists
  global    .Values.global; global.instanceTypes.<family> adds types to every
            component of that family, so users extend without forking

Usage:
  include "hyperpod-common.instanceTypes" (dict "families" (list "nvidia") "override" .Values.instanceTypes "global" .Values.global) | fromJsonArray
*/}}
{{- define "hyperpod-common.instanceTypes" -}}
{{- $builtin := include "hyperpod-common.instanceTypes.builtin" . | fromYaml -}}
{{- $extra := ((.global | default dict).instanceTypes | default dict) -}}
{{- $types := list -}}
{{- if .override -}}
{{- $types = .override -}}
{{- else -}}
{{- range .families -}}
{{- $types = concat $types (get $builtin .) -}}
{{- end -}}
{{- end -}}
{{- range .families -}}
{{- $types = concat $types (get $extra . | default list) -}}
{{- end -}}
{{- $types | uniq | toJson -}}
{{- end -}}
