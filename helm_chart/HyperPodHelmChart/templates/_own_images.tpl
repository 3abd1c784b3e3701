{{/*
The images of this project (hyperpod-deps/agents) that the enabled components
pull from ghcr.io, where no release publishes them yet: one per line, or
empty. docs/image.md says how to build and push them.
*/}}
{{- define "hyperpod-helm-chart.unpublishedImages" -}}
{{- $images := list -}}
{{- range $key, $sub := .Subcharts -}}
{{- if and (eq $sub.Chart.Name "job-auto-restart") (include "job-auto-restart.controllerEnabled" $sub) -}}
{{- $images = append $images (include "job-auto-restart.image" $sub) -}}
{{- end -}}
{{- if and (eq $sub.Chart.Name "health-monitoring-agent") (eq (include "health-monitoring-agent.agent" $sub) "open") -}}
{{- $images = append $images (include "health-monitoring-agent.openImage" $sub) -}}
{{- end -}}
{{- end -}}
{{- range $images | uniq | sortAlpha -}}
{{- if hasPrefix "ghcr.io/hyperpod-deps/" . }}
{{ . }}
{{- end -}}
{{- end -}}
{{- end -}}
