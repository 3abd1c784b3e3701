{{- define "mpi-operator.notes" -}}
mpi-operator: Deployment {{ include "hyperpod-common.fullname" . }} in {{ .Release.Namespace }} (MPI operator {{ .Values.image.tag }}, MPIJob kubeflow.org/v2beta1). Check: kubectl -n {{ .Release.Namespace }} rollout status deployment/{{ include "hyperpod-common.fullname" . }}
{{- end -}}
