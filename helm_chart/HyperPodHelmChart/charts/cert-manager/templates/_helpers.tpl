{{/* The CRD whose presence means cert-manager is installed. */}}
{{- define "cert-manager.crd" -}}certificates.cert-manager.io{{- end -}}

{{/* The one command that installs cert-manager as upstream's chart configured it. */}}
{{- define "cert-manager.installCommand" -}}
{{- $chart := .Values.installChart -}}
{{- $leaderElection := (.Values.global.leaderElection | default dict).namespace | default .Values.namespace -}}
{{- printf "helm install %s %s --version %s --namespace %s --create-namespace --set crds.enabled=%t --set global.leaderElection.namespace=%s" $chart.release $chart.chart $chart.version .Values.namespace .Values.crds.enabled $leaderElection -}}
{{- end -}}

{{- define "cert-manager.notes" -}}
cert-manager: not installed by this chart; install and upgrade check for CRD {{ include "cert-manager.crd" . }}. Without it:
    {{ include "cert-manager.installCommand" . }}
{{- end -}}
