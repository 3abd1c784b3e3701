{{- define "training-operators.notes" -}}
{{- $namespace := include "training-operators.namespace" . -}}
{{- $deployment := include "training-operators.deploymentName" . -}}
training-operators: Deployment {{ $deployment }} in {{ $namespace }} (Kubeflow training operator {{ .Values.image.tag }}; {{ join ", " (include "training-operators.schemes" . | fromJsonArray) }}). Check: kubectl -n {{ $namespace }} rollout status deployment/{{ $deployment }}
{{- if has "mxjob" .Values.schemes }}
    ignored: mxjob in trainingOperators.schemes (the training operator v1.8.1 has no MXJob; list only tfjob, pytorchjob, xgboostjob, paddlejob there).
{{- end }}
{{- if .Values.crds.enabled }}
{{- range $path, $_ := .Files.Glob "files/crds/*.yaml" }}
{{- $name := base $path | trimSuffix ".yaml" }}
{{- if not (include "hyperpod-common.ours" (list $ "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" $name)) }}
    left as it is: CRD {{ $name }} belongs to no release or another one (the upstream chart installs it unmanaged). Take it over with: hyperpod-deps upgrade --adopt
{{- end }}
{{- end }}
{{- end }}
{{- if not (include "hyperpod-common.ours" (list $ "v1" "Service" $namespace (include "training-operators.fixedName" .))) }}
    left as it is: Service {{ $namespace }}/{{ include "training-operators.fixedName" . }} belongs to no release or another one; the webhook goes through it.
{{- end }}
{{- end -}}
{{- /* Under the umbrella the chart is loaded as its alias, so .Chart.Name is trainingOperators. */ -}}
{{- define "trainingOperators.notes" -}}
{{ include "training-operators.notes" . }}
{{- end -}}
