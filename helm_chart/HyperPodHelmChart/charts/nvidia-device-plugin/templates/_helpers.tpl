{{/*
The plugin image. NVIDIA publishes it on nvcr.io; that registry is only the
last resort so that global.imageRegistry (a mirror) still applies when
image.registry is left empty. A repository that already names a registry
host (NVIDIA's chart writes nvcr.io/nvidia/k8s-device-plugin) is kept as
it is: prefixing a registry to it would name an image that does not exist.
*/}}
{{- define "nvidia-device-plugin.image" -}}
{{- $image := .Values.image -}}
{{- if include "nvidia-device-plugin.hasRegistryHost" $image.repository -}}
{{- $tag := $image.tag | default .Chart.AppVersion | toString -}}
{{- if $image.digest -}}{{ printf "%s@%s" $image.repository $image.digest }}{{- else -}}{{ printf "%s:%s" $image.repository $tag }}{{- end -}}
{{- else -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" .Values.global "defaultRegistry" "nvcr.io" "context" .) -}}
{{- end -}}
{{- end -}}

{{/* "true" when a repository's first path segment is a registry host (has a dot or a port, or is localhost). */}}
{{- define "nvidia-device-plugin.hasRegistryHost" -}}
{{- $parts := splitList "/" . -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}true{{- end -}}
{{- end -}}

{{/* The instance types the plugin runs on, as a JSON list. */}}
{{- define "nvidia-device-plugin.instanceTypes" -}}
{{- include "hyperpod-common.instanceTypes" (dict "families" (list "nvidia") "override" .Values.instanceTypes "global" .Values.global) -}}
{{- end -}}

{{/* The namespace of every object of the plugin: namespaceOverride, else the release's. */}}
{{- define "nvidia-device-plugin.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace -}}
{{- end -}}

{{/*
The DaemonSet's selector. It must equal the selector of a DaemonSet already
installed by the upstream HyperPod chart (NVIDIA's chart selects on
app.kubernetes.io/name and app.kubernetes.io/instance, like this project),
because a selector cannot be changed in place.
*/}}
{{- define "nvidia-device-plugin.selectorLabels" -}}
{{- if .Values.selectorLabelsOverride -}}
{{- toYaml .Values.selectorLabelsOverride -}}
{{- else -}}
{{- include "hyperpod-common.selectorLabels" . -}}
{{- end -}}
{{- end -}}

{{/*
The plugin's settings: a key of NVIDIA's chart (top level) wins over this
chart's config.* twin when it is set; a key with no twin is left out when
unset so that the plugin's own default applies. As a YAML list of EnvVars.
*/}}
{{- define "nvidia-device-plugin.env" -}}
{{- $v := .Values -}}
{{- $c := $v.config -}}
{{- $pick := dict -}}
{{- $_ := set $pick "FAIL_ON_INIT_ERROR" (ternary $v.failOnInitError $c.failOnInitError (kindIs "bool" $v.failOnInitError)) -}}
{{- $_ := set $pick "DEVICE_LIST_STRATEGY" (ternary $v.deviceListStrategy $c.deviceListStrategy (kindIs "string" $v.deviceListStrategy)) -}}
{{- $_ := set $pick "DEVICE_ID_STRATEGY" (ternary $v.deviceIDStrategy $c.deviceIdStrategy (kindIs "string" $v.deviceIDStrategy)) -}}
{{- $_ := set $pick "MIG_STRATEGY" (ternary $v.migStrategy $c.migStrategy (kindIs "string" $v.migStrategy)) -}}
{{- $_ := set $pick "PASS_DEVICE_SPECS" (ternary $v.compatWithCPUManager $c.passDeviceSpecs (kindIs "bool" $v.compatWithCPUManager)) -}}
{{- range $name := list "FAIL_ON_INIT_ERROR" "DEVICE_LIST_STRATEGY" "DEVICE_ID_STRATEGY" "MIG_STRATEGY" "PASS_DEVICE_SPECS" }}
- name: {{ $name }}
  value: {{ index $pick $name | toString | quote }}
{{- end }}
{{- if kindIs "string" $v.nvidiaDriverRoot }}
- name: NVIDIA_DRIVER_ROOT
  value: {{ $v.nvidiaDriverRoot | quote }}
{{- end }}
{{- if kindIs "bool" $v.gdsEnabled }}
- name: GDS_ENABLED
  value: {{ $v.gdsEnabled | toString | quote }}
{{- end }}
{{- if kindIs "bool" $v.mofedEnabled }}
- name: MOFED_ENABLED
  value: {{ $v.mofedEnabled | toString | quote }}
{{- end }}
{{- if kindIs "string" $v.deviceDiscoveryStrategy }}
- name: DEVICE_DISCOVERY_STRATEGY
  value: {{ $v.deviceDiscoveryStrategy | quote }}
{{- end }}
{{- if kindIs "string" (($v.cdi | default dict).nvidiaHookPath) }}
- name: NVIDIA_CDI_HOOK_PATH
  value: {{ $v.cdi.nvidiaHookPath | quote }}
{{- end }}
{{- if include "nvidia-device-plugin.configKey" . }}
- name: CONFIG_FILE
  value: /config/config.yaml
{{- end }}
{{- end -}}

{{/* The ConfigMap holding the plugin's configuration files, or nothing. */}}
{{- define "nvidia-device-plugin.configMapName" -}}
{{- if .Values.config.name -}}
{{- .Values.config.name -}}
{{- else if .Values.config.map -}}
{{- printf "%s-configs" (include "hyperpod-common.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
The ConfigMap key mounted as the plugin's config file, or nothing when no
config is given: config.default, else "default" (fallback "named"), else
the only entry of config.map (fallback "single"). Fails with the fix when
none applies, as NVIDIA's chart does.
*/}}
{{- define "nvidia-device-plugin.configKey" -}}
{{- $c := .Values.config -}}
{{- if or $c.name $c.map -}}
{{- $fallbacks := $c.fallbackStrategies | default list -}}
{{- $map := $c.map | default dict -}}
{{- if $c.default -}}
{{- $c.default -}}
{{- else if and (has "named" $fallbacks) (or $c.name (hasKey $map "default")) -}}
default
{{- else if and (has "single" $fallbacks) (eq (len $map) 1) -}}
{{- keys $map | first -}}
{{- else -}}
{{- fail (printf "nvidia-device-plugin.config: say which configuration the plugin uses: --set nvidia-device-plugin.config.default=<one of %s>, or name one entry of config.map \"default\"" (keys $map | sortAlpha | join ",")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Combinations the schema cannot express; each message names the fix. */}}
{{- define "nvidia-device-plugin.validate" -}}
{{- $c := .Values.config -}}
{{- if and $c.name $c.map -}}
{{- fail "nvidia-device-plugin.config: set either config.name (an existing ConfigMap) or config.map (the chart creates one), not both" -}}
{{- end -}}
{{- if and $c.map $c.default (not (hasKey $c.map $c.default)) -}}
{{- fail (printf "nvidia-device-plugin.config.default=%s is not an entry of config.map (%s)" $c.default (keys $c.map | sortAlpha | join ",")) -}}
{{- end -}}
{{- range $name, $contents := ($c.map | default dict) -}}
{{- $parsed := $contents | fromYaml -}}
{{- if hasKey (($parsed.sharing | default dict)) "mps" -}}
{{- fail (printf "nvidia-device-plugin.config.map.%s asks for MPS sharing (sharing.mps), which needs NVIDIA's MPS control daemon; this chart does not run it (docs/upstream-plugins.md). Use sharing.timeSlicing, or NVIDIA's own chart for MPS." $name) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (include "nvidia-device-plugin.namespace" .) "default") (not .Values.allowDefaultNamespace) -}}
{{- fail "nvidia-device-plugin: the plugin would run in the namespace \"default\" while allowDefaultNamespace=false: install with --namespace kube-system, set --set nvidia-device-plugin.namespaceOverride=kube-system, or --set nvidia-device-plugin.allowDefaultNamespace=true" -}}
{{- end -}}
{{- end -}}

{{/*
Tolerations: the built-in ones, then the user's, each once. Kept additive
(unlike NVIDIA's chart, where a given list replaces the default one) so that
the quarantine toleration cannot be lost by restating an older list.
*/}}
{{- define "nvidia-device-plugin.tolerations" -}}
{{- $builtin := (include "hyperpod-common.tolerations" (dict "keys" (list "nvidia.com/gpu" "CriticalAddonsOnly") "extra" list) | fromYaml).tolerations -}}
tolerations:
{{- toYaml (concat $builtin (.Values.tolerations | default list) | uniq) | nindent 2 }}
{{- end -}}

{{/* The values keys of NVIDIA's chart that are set but not acted on, as a comma-separated list. */}}
{{- define "nvidia-device-plugin.ignoredKeys" -}}
{{- $ignored := list -}}
{{- if .Values.gfd.enabled }}{{ $ignored = append $ignored "nvidia-device-plugin.gfd (GPU feature discovery)" }}{{ end -}}
{{- if .Values.nfd }}{{ $ignored = append $ignored "nvidia-device-plugin.nfd (node feature discovery)" }}{{ end -}}
{{- if .Values.mps }}{{ $ignored = append $ignored "nvidia-device-plugin.mps (the MPS control daemon)" }}{{ end -}}
{{- join ", " $ignored -}}
{{- end -}}
