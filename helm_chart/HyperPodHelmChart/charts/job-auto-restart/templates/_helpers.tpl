{{/*
The kinds the controller leaves to the platform (HyperPod's managed auto-resume
owns PyTorchJobs there unless controller.handlePyTorchJobsOnHyperPod), as a
JSON list: looked up in the table hack/gen_settings_schemas.py generates from
the controller's own settings model, so the chart and the controller cannot
decide differently.
*/}}
{{- define "job-auto-restart.kindsLeftHere" -}}
{{- $table := include "job-auto-restart.kindsLeftAlone" . | fromJson -}}
{{- index $table (include "hyperpod-common.platform" .) (toString .Values.controller.handlePyTorchJobsOnHyperPod) | toJson -}}
{{- end -}}

{{/*
The kinds the controller handles, as a JSON list: controller.kinds less those
left to the platform. The chart needs them for the RBAC and the delete policy.
*/}}
{{- define "job-auto-restart.handledKinds" -}}
{{- $platform := include "hyperpod-common.platform" . -}}
{{- $left := include "job-auto-restart.kindsLeftHere" . | fromJsonArray -}}
{{- $kinds := list -}}
{{- range .Values.controller.kinds -}}
{{- if not (has . $left) -}}
{{- $kinds = append $kinds . -}}
{{- end -}}
{{- end -}}
{{- if not $kinds -}}
{{- fail (printf "job-auto-restart.controller: with global.platform=%s the controller has no job kind to handle (controller.kinds=%s; PyTorchJobs are left to HyperPod's managed auto-resume). Add kinds, e.g. --set job-auto-restart.controller.kinds={PyTorchJob,MPIJob}, set --set job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true, or turn the controller off with --set job-auto-restart.controller.enabled=false." $platform (toJson .Values.controller.kinds)) -}}
{{- end -}}
{{- $kinds | toJson -}}
{{- end -}}

{{/*
"true" when the controller runs, else empty. controller.enabled "" (the
default) means: on with global.platform=generic, off with hyperpod, because
its image is built by this project and no registry publishes it yet
(docs/image.md); HyperPod's own auto-resume covers PyTorchJobs there.
*/}}
{{- define "job-auto-restart.controllerEnabled" -}}
{{- $on := .Values.controller.enabled -}}
{{- if eq (toString $on) "" -}}
{{- $on = eq (include "hyperpod-common.platform" .) "generic" -}}
{{- end -}}
{{- if $on }}true{{ end -}}
{{- end -}}

{{/* The controller image: its own registry, else global.imageRegistry, else ghcr.io. */}}
{{- define "job-auto-restart.image" -}}
{{- include "hyperpod-common.image" (dict "image" .Values.controller.image "global" .Values.global "defaultRegistry" "ghcr.io" "context" .) -}}
{{- end -}}

{{/* The controller's settings file, exactly the model of hyperpod_deps.autorestart.settings. */}}
{{- define "job-auto-restart.settings" -}}
{{- $c := .Values.controller -}}
{{- $le := $c.leaderElection -}}
{{- if not (and (lt (float64 $le.retryPeriodSeconds) (float64 $le.renewDeadlineSeconds)) (lt (float64 $le.renewDeadlineSeconds) (float64 $le.leaseDurationSeconds))) -}}
{{- fail (printf "job-auto-restart.controller.leaderElection: need retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds (have %v, %v, %v), so that a leader stops acting before a standby may take over; e.g. 2, 10, 15." $le.retryPeriodSeconds $le.renewDeadlineSeconds $le.leaseDurationSeconds) -}}
{{- end -}}
platform: {{ include "hyperpod-common.platform" . }}
kinds: {{ toJson $c.kinds }}
handlePyTorchJobsOnHyperPod: {{ $c.handlePyTorchJobsOnHyperPod }}
triggers: {{ toJson $c.triggers }}
blastRadius: {{ toJson $c.blastRadius }}
leaderElection:
  leaseName: {{ include "hyperpod-common.fullname" . }}
  leaseNamespace: {{ .Release.Namespace }}
  leaseDurationSeconds: {{ $c.leaderElection.leaseDurationSeconds }}
  renewDeadlineSeconds: {{ $c.leaderElection.renewDeadlineSeconds }}
  retryPeriodSeconds: {{ $c.leaderElection.retryPeriodSeconds }}
metrics:
  port: {{ $c.metrics.port }}
resyncSeconds: {{ $c.resyncSeconds }}
watchTimeoutSeconds: {{ $c.watchTimeoutSeconds }}
logLevel: {{ $c.logLevel }}
{{- end -}}

{{- /*
The namespace of HyperPod's ServiceAccount job-auto-restart, from either form
of the `namespace` value: a name (HyperPod's chart) or {name: ...}.
*/ -}}
{{- define "job-auto-restart.namespace" -}}
{{- $raw := .Values.namespace | default dict -}}
{{- if kindIs "string" $raw -}}{{ $raw }}{{- else -}}{{ $raw.name | default "aws-hyperpod" }}{{- end -}}
{{- end -}}
