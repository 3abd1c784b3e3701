{{/*
The upstream HyperPod chart's keys (mpiOperator.*), each set one winning over
ours, as a dict (read with fromYaml in the templates).
*/}}
{{- define "mpi-operator.upstream" -}}
{{- toYaml (.Values.mpiOperator | default dict) -}}
{{- end -}}

{{/*
The operator image: its own registry, else global.imageRegistry (a mirror),
else docker.io, where the upstream image is published.
mpiOperator.image.{repository,tag} and mpiOperator.imagePullPolicy win.
*/}}
{{- define "mpi-operator.imageValues" -}}
{{- $up := include "mpi-operator.upstream" . | fromYaml -}}
{{- $image := deepCopy .Values.image -}}
{{- with $up.image -}}
{{- with .repository -}}
{{- /* Upstream writes repository:tag as is: a first segment that names a host
(a dot, a port or localhost, Docker's rule) is the registry. */ -}}
{{- $parts := splitn "/" 2 . -}}
{{- if and $parts._1 (or (contains "." $parts._0) (contains ":" $parts._0) (eq $parts._0 "localhost")) -}}
{{- $_ := set $image "registry" $parts._0 -}}
{{- $_ := set $image "repository" $parts._1 -}}
{{- else -}}
{{- $_ := set $image "repository" . -}}
{{- end -}}
{{- end -}}
{{- with .tag }}{{ $_ := set $image "tag" . }}{{ end -}}
{{- end -}}
{{- with $up.imagePullPolicy }}{{ $_ := set $image "pullPolicy" . }}{{ end -}}
{{- toYaml $image -}}
{{- end -}}

{{- define "mpi-operator.image" -}}
{{- $image := include "mpi-operator.imageValues" . | fromYaml -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" .Values.global "defaultRegistry" "docker.io" "context" .) -}}
{{- end -}}

{{/*
The Deployment's selector: the upstream HyperPod chart's labels, exactly (a
selector is immutable: `helm upgrade` over an upstream release changes the
Deployment in place only if it is identical).
*/}}
{{- define "mpi-operator.selectorLabels" -}}
app: mpi-operator
app.kubernetes.io/component: mpijob
app.kubernetes.io/name: {{ include "hyperpod-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
kustomize.component: mpi-operator
{{- end -}}

{{/* Our recommended labels plus extraLabels, on every object's metadata. */}}
{{- define "mpi-operator.labels" -}}
{{- $labels := include "hyperpod-common.labels" . | fromYaml -}}
{{- $labels = merge $labels (.Values.extraLabels | default dict) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* The pod's labels: the above with the selector's over them. */}}
{{- define "mpi-operator.podLabels" -}}
{{- $labels := include "mpi-operator.labels" . | fromYaml -}}
{{- toYaml (mergeOverwrite $labels (include "mpi-operator.selectorLabels" . | fromYaml)) -}}
{{- end -}}
