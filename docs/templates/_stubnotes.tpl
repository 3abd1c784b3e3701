{{- define "docs.notes" -}}{{- end -}}
