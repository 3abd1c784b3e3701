{{/*
Restricted Pod Security Standard settings. Components that cannot run
restricted (device plugins need the kubelet's host socket) say why where
they deviate.
*/}}
{{- define "hyperpod-common.podSecurityContext.restricted" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hyperpod-common.containerSecurityContext.restricted" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}
