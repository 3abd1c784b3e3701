{{- /* Whether HyperPod's control plane launches the checks (global.platform=hyperpod, the default). */ -}}
{{- define "deep-health-check.hyperpodLaunches" -}}
{{- if eq (include "hyperpod-common.platform" .) "hyperpod" -}}true{{- end -}}
{{- end -}}

{{- /*
The namespace settings as JSON {name, create, podSecurityLevel}, from either
form of the `namespace` value: upstream's string ("aws-hyperpod") or this
chart's object ({name, create, podSecurityLevel}); what the string form leaves
out takes the defaults (create true, privileged).
Takes this chart's values, so the umbrella chart can call it too (it creates
the namespace, in templates/namespaces.yaml):
  include "deep-health-check.namespaceSettings" (index .Values "deep-health-check") | fromJson
*/ -}}
{{- define "deep-health-check.namespaceSettings" -}}
{{- $raw := .namespace | default dict -}}
{{- $given := kindIs "string" $raw | ternary (dict "name" $raw) $raw -}}
{{- $settings := dict "name" ($given.name | default "aws-hyperpod") -}}
{{- $_ := set $settings "create" (hasKey $given "create" | ternary $given.create true) -}}
{{- $_ = set $settings "podSecurityLevel" ($given.podSecurityLevel | default "privileged") -}}
{{- toJson $settings -}}
{{- end -}}

{{- /* The namespace the ServiceAccount and the namespaced RBAC go to. */ -}}
{{- define "deep-health-check.namespace" -}}
{{- (include "deep-health-check.namespaceSettings" .Values | fromJson).name -}}
{{- end -}}
