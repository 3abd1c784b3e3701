{{/*
An image reference from an image block:
  image: {registry, repository, tag, digest}
Registry precedence: image.registry > global.imageRegistry > defaultRegistry
(the upstream registry, optional). A mirror set in global.imageRegistry thus
applies to every image that does not name its own registry.
The digest wins over the tag when both are set.
Usage: include "hyperpod-common.image" (dict "image" .Values.image "global" .Values.global "defaultRegistry" "docker.io" "context" .)
*/}}
{{- define "hyperpod-common.image" -}}
{{- $image := .image -}}
{{- $global := .global | default dict -}}
{{- $registry := $image.registry | default $global.imageRegistry | default .defaultRegistry | default "" -}}
{{- if not $image.repository -}}
{{- fail "an image block is missing its repository" -}}
{{- end -}}
{{- $ref := $image.repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $image.repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $ref $image.digest -}}
{{- else -}}
{{- $tag := $image.tag | default .context.Chart.AppVersion | toString -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{/*
imagePullSecrets: the component's own list, then global.imagePullSecrets.
Entries may be names ("regcred") or objects ({name: regcred}).
*/}}
{{- define "hyperpod-common.imagePullSecrets" -}}
{{- $secrets := concat (.Values.imagePullSecrets | default list) ((.Values.global | default dict).imagePullSecrets | default list) -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets }}
{{- if kindIs "string" . }}
  - name: {{ . }}
{{- else }}
  - name: {{ .name }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}
