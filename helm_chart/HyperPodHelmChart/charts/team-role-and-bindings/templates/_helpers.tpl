{{- /*
This chart also installs on its own (without the umbrella and its
hyperpod-common library), so it carries its own small helpers, all prefixed
team-role-and-bindings.
*/ -}}

{{- /*
The recommended labels. Called with the rendering chart's context, which is
the umbrella's when the umbrella renders the team objects, so the component
name is spelled out rather than taken from .Chart.Name.
Usage: include "team-role-and-bindings.labels" (dict "targetId" $id "context" $)
*/ -}}
{{- define "team-role-and-bindings.labels" -}}
{{- $ctx := .context -}}
helm.sh/chart: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: team-role-and-bindings
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | default $ctx.Chart.Version | quote }}
app.kubernetes.io/component: team-role-and-bindings
app.kubernetes.io/part-of: hyperpod-deps
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
{{- end -}}

{{- /*
The team id, checked. The values schemas already reject a bad id; this
check also holds where schema validation is skipped
(--skip-schema-validation), because the id becomes a namespace name.
At most 40 characters: HyperPod's team-name limit, which keeps the
namespace (hyperpod-ns-<id>) and the Kueue queue-name label value
(hyperpod-ns-<id>-localqueue) within 63 characters.
Usage: include "team-role-and-bindings.targetId" $id
*/ -}}
{{- define "team-role-and-bindings.targetId" -}}
{{- $id := . | toString -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $id) -}}
{{- fail (printf "computeQuotaTarget.targetId=%q is not a valid team id: use lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. --set computeQuotaTarget.targetId=team-a" $id) -}}
{{- end -}}
{{- if gt (len $id) 40 -}}
{{- fail (printf "computeQuotaTarget.targetId=%q is %d characters long; a team id has at most 40, e.g. --set computeQuotaTarget.targetId=team-a" $id (len $id)) -}}
{{- end -}}
{{- $id -}}
{{- end -}}
