{{- define "hyperpod-inference-operator.notes" -}}
{{- $namespace := include "hyperpod-inference-operator.namespace" . -}}
{{- $manager := include "hyperpod-inference-operator.managerName" . -}}
{{- $registry := include "hyperpod-inference-operator.registry" . | fromJson -}}
hyperpod-inference-operator: Deployment {{ $manager }} in {{ $namespace }}, image {{ $registry.registry }}/hyperpod-inference-operator:{{ .Values.image.tag }} ({{ $registry.why }}){{ if .Values.components.crd.enabled }}; CRDs of inference.sagemaker.aws.amazon.com ({{ ternary "kept on uninstall" "deleted on uninstall, with every endpoint" .Values.crds.keep }}){{ end }}{{ if .Values.s3.enabled }}; S3 volume {{ .Values.s3.persistentVolume.name }} and claim {{ .Values.s3.persistentVolumeClaim.name }}{{ end }}. Check: kubectl -n {{ $namespace }} rollout status deployment/{{ $manager }}
    Not installed by this chart, needed by the operator (hyperpod-deps preflight checks them; install what is missing):
{{- range $p := include "hyperpod-inference-operator.prerequisites" . | fromJsonArray }}
      {{ $p.what }}: {{ $p.command }}
{{- end }}
{{- end -}}
