{{- define "mpi-operator.notes" -}}
{{- $fullname := include "hyperpod-common.fullname" . -}}
{{- $image := include "mpi-operator.imageValues" . | fromYaml -}}
mpi-operator: Deployment {{ $fullname }} in {{ .Release.Namespace }} (MPI operator {{ $image.tag }}, MPIJob kubeflow.org/v2beta1). Check: kubectl -n {{ .Release.Namespace }} rollout status deployment/{{ $fullname }}
{{- $keys := dict "image" "image.repository / image.tag" "imagePullPolicy" "image.pullPolicy" "replicas" "replicas" "additionalArgs" "extraArgs" "serviceAccount" "serviceAccount.annotations" "nodeSelector" "nodeSelector" "affinity" "affinity" "tolerations" "tolerations" "topologySpreadConstraints" "topologySpreadConstraints" }}
{{- range $key, $_ := .Values.mpiOperator | default dict }}
    honoured: mpi-operator.mpiOperator.{{ $key }} (the upstream chart's key); prefer mpi-operator.{{ index $keys $key }}.
{{- end }}
{{- if hasKey .Values "clusterDomain" }}
    ignored: mpi-operator.clusterDomain (deprecated; the operator has no such setting: hostnames are <pod>.<job>.<namespace>.svc).
{{- end }}
{{- if .Values.crds.enabled }}
{{- if not (include "hyperpod-common.ours" (list $ "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" "mpijobs.kubeflow.org")) }}
    left as it is: CRD mpijobs.kubeflow.org belongs to no release or another one. Take it over with: hyperpod-deps upgrade --adopt
{{- end }}
{{- end }}
{{- end -}}
