{{- /* Whether HyperPod's control plane launches the checks (global.platform=hyperpod, the default). */ -}}
{{- define "deep-health-check.hyperpodLaunches" -}}
{{- if eq ((.Values.global | default dict).platform | default "hyperpod") "hyperpod" -}}true{{- end -}}
{{- end -}}
