{{- define "job-auto-restart.notes" -}}
job-auto-restart: ClusterRole/ClusterRoleBinding job-auto-restart for User {{ .Values.serviceRoleUser }} ({{ join ", " .Values.jobResources }})
{{- if eq (include "hyperpod-common.platform" .) "hyperpod" }}, ServiceAccount job-auto-restart in namespace {{ include "job-auto-restart.namespace" . }}{{ end }}
{{- if include "job-auto-restart.controllerEnabled" . }}
  controller Deployment {{ include "hyperpod-common.fullname" . }} in namespace {{ .Release.Namespace }} ({{ .Values.controller.replicas }} replicas, one leader), restarts {{ join ", " (include "job-auto-restart.handledKinds" . | fromJsonArray) }} on node faults
  {{- with include "job-auto-restart.kindsLeftHere" . | fromJsonArray }} ({{ join ", " . }}: HyperPod's managed auto-resume){{ end }};
  check: kubectl get deployment,lease -n {{ .Release.Namespace }} {{ include "hyperpod-common.fullname" . }}; hyperpod-deps jobs check <job.yaml>
{{- end }}
{{- end -}}
