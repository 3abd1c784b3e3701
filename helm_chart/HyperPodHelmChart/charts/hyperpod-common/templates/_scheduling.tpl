{{/*
The toleration every add-on that must keep running on a quarantined node
carries: HyperPod always taints with the value Unschedulable, whatever the
health label says (see WIRE-CONTRACT.md).
*/}}
{{- define "hyperpod-common.tolerations.nodeHealth" -}}
- key: sagemaker.amazonaws.com/node-health-status
  operator: Equal
  value: Unschedulable
  effect: NoSchedule
{{- end -}}

{{/*
Tolerations for a node DaemonSet: the node-health toleration, the extra keys
given (tolerated with Exists), then the user's own list.
Usage: include "hyperpod-common.tolerations" (dict "keys" (list "nvidia.com/gpu") "extra" .Values.tolerations)
*/}}
{{- define "hyperpod-common.tolerations" -}}
tolerations:
{{ include "hyperpod-common.tolerations.nodeHealth" . | indent 2 }}
{{- range .keys }}
  - key: {{ . }}
    operator: Exists
{{- if ne . "CriticalAddonsOnly" }}
    effect: NoSchedule
{{- end }}
{{- end }}
{{- with .extra }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{/*
A required node affinity on node.kubernetes.io/instance-type.
Usage: include "hyperpod-common.affinity.instanceTypes" (list "ml.p5.48xlarge" ...)
*/}}
{{- define "hyperpod-common.affinity.instanceTypes" -}}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: node.kubernetes.io/instance-type
              operator: In
              values:
{{ toYaml . | indent 16 }}
{{- end -}}
