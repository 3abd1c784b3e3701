{{- define "src.notes" -}}{{- end -}}
