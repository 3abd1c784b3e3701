{{/*
Names. Every name is truncated to 63 characters because label values and
most object names are limited to that length.
*/}}

{{/* The component name: the chart name unless nameOverride is set. */}}
{{- define "hyperpod-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
A release-qualified name for objects that could collide between releases
(cluster-scoped roles, for instance). fullnameOverride wins.
*/}}
{{- define "hyperpod-common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* helm.sh/chart label value. */}}
{{- define "hyperpod-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The platform the chart installs for: global.platform, "hyperpod" when unset. Every
component asks this one place. */ -}}
{{- define "hyperpod-common.platform" -}}
{{- (.Values.global | default dict).platform | default "hyperpod" -}}
{{- end -}}
