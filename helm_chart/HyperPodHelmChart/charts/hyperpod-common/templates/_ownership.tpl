{{- /*
Objects that may already exist when this chart arrives: the namespaces and
CRDs the upstream HyperPod chart (or a user's kubectl) created. Helm refuses
to install over an object another release or no release owns ("exists and
cannot be imported into the current release"), and deleting such an object
would delete everything in it. So the chart renders one of these objects only
when it is absent or already this release's, and otherwise leaves it exactly
as it is; `hyperpod-deps install --adopt` hands it to the release on request.
An object rendered this way carries the annotation
`hyperpod-deps/if-owned-elsewhere: leave`, so that the preflight reports it
as left alone rather than as a conflict.

Usage: {{- if include "hyperpod-common.ours" (list $ "v1" "Namespace" "" "kubeflow") }}
Arguments: the root context, apiVersion, kind, namespace ("" for cluster
scope), name. Renders "true" or nothing. With no cluster (helm template,
--dry-run=client) lookup returns nothing, so the object is rendered.
*/ -}}
{{- define "hyperpod-common.ours" -}}
{{- $root := index . 0 -}}
{{- $live := lookup (index . 1) (index . 2) (index . 3) (index . 4) -}}
{{- if not $live -}}
true
{{- else -}}
{{- $annotations := $live.metadata.annotations | default dict -}}
{{- if and (eq (index $annotations "meta.helm.sh/release-name" | default "") $root.Release.Name) (eq (index $annotations "meta.helm.sh/release-namespace" | default "") $root.Release.Namespace) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{- /*
A workload's selector is immutable. Where a workload of that name is already
running (an earlier version of this chart, or the upstream chart), its
selector is kept, so that `helm upgrade` updates it in place instead of
failing with "field is immutable"; otherwise the given one is used. The pod
template must carry the labels of every selector this can return.

Usage: include "hyperpod-common.keptSelector" (list $ "apps/v1" "DaemonSet" namespace name (dict "matchLabels" ...))
Renders the selector as YAML.
*/ -}}
{{- define "hyperpod-common.keptSelector" -}}
{{- $live := lookup (index . 1) (index . 2) (index . 3) (index . 4) -}}
{{- $selector := index . 5 -}}
{{- if and $live $live.spec $live.spec.selector -}}
{{- $selector = $live.spec.selector -}}
{{- end -}}
{{- toYaml $selector -}}
{{- end -}}
