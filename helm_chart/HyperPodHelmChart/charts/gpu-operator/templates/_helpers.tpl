{{/* The namespace of the MIG ConfigMap, and of NVIDIA's operator in the printed command. */}}
{{- define "gpu-operator.namespace" -}}
{{- .Values.migConfig.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* NVIDIA's chart values (gpu-operator.gpu-operator). */}}
{{- define "gpu-operator.nvidia" -}}
{{- index .Values "gpu-operator" | default dict | toJson -}}
{{- end -}}

{{/* True when NVIDIA's operator is meant to run (gpu-operator.gpu-operator.enabled, default true). */}}
{{- define "gpu-operator.operatorWanted" -}}
{{- $nvidia := include "gpu-operator.nvidia" . | fromJson -}}
{{- if ne (toString (index $nvidia "enabled")) "false" -}}true{{- end -}}
{{- end -}}

{{/* migManager.config: the ConfigMap's name, and whether this chart renders it. */}}
{{- define "gpu-operator.migConfigRef" -}}
{{- $nvidia := include "gpu-operator.nvidia" . | fromJson -}}
{{- $config := (index $nvidia "migManager" | default dict).config | default dict -}}
{{- $create := ne (toString (index $config "create")) "false" -}}
{{- dict "name" ($config.name | default "default-mig-config") "create" $create | toJson -}}
{{- end -}}

{{/*
The AWS accounts whose ECR registries mirror NVIDIA's operator images, by
region (what SageMaker HyperPod pulls from).
*/}}
{{- define "gpu-operator.regionAccounts" -}}
ap-northeast-1: "248189928082"
ap-northeast-2: "743267407464"
ap-south-1: "183295424886"
ap-southeast-1: "235494799058"
ap-southeast-2: "495599779797"
ap-southeast-3: "112551748145"
ap-southeast-4: "872515262625"
ca-central-1: "035462350821"
eu-central-1: "816069136154"
eu-north-1: "495599756225"
eu-south-2: "765762660796"
eu-west-1: "741448945724"
eu-west-2: "869935108213"
sa-east-1: "985539796278"
us-east-1: "463470961310"
us-east-2: "940482419867"
us-west-1: "034362067326"
us-west-2: "586794468202"
{{- end -}}

{{/* Each mirrored component and the path under the regional registry. */}}
{{- define "gpu-operator.mirrorPaths" -}}
operator: ""
toolkit: /mirror-k8s
devicePlugin: ""
gfd: ""
migManager: /mirror-cloud-native
validator: /mirror-cloud-native
{{- end -}}

{{/*
NVIDIA's chart values as the install command passes them: the user's, with
each mirrored component's repository filled from the region when not set, and
migManager.config.create off (this chart owns the MIG ConfigMap).
*/}}
{{- define "gpu-operator.operatorValues" -}}
{{- $values := include "gpu-operator.nvidia" . | fromJson -}}
{{- $_ := unset $values "enabled" -}}
{{- $region := .Values.global.region | default "us-east-1" -}}
{{- $accounts := include "gpu-operator.regionAccounts" . | fromYaml -}}
{{- $root := . -}}
{{- range $component, $path := include "gpu-operator.mirrorPaths" . | fromYaml -}}
{{- $section := index $values $component | default dict -}}
{{- if not $section.repository -}}
{{- if not (hasKey $accounts $region) -}}
{{- fail (printf "gpu-operator: no mirror of NVIDIA's GPU operator images is known for region %s (global.region). Known regions: %s. Set --set global.region=<one of them>, or point every mirrored image at your own registry: --set gpu-operator.gpu-operator.<section>.repository=<registry> for each of %s" $region (keys $accounts | sortAlpha | join ", ") (include "gpu-operator.mirrorPaths" $root | fromYaml | keys | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $_ := set $section "repository" (printf "%s.dkr.ecr.%s.amazonaws.com%s" (get $accounts $region) $region $path) -}}
{{- $_ := set $values $component $section -}}
{{- end -}}
{{- end -}}
{{- $ref := include "gpu-operator.migConfigRef" . | fromJson -}}
{{- if $ref.create -}}
{{- $migManager := index $values "migManager" | default dict -}}
{{- $config := $migManager.config | default dict -}}
{{- $_ := set $config "create" false -}}
{{- $_ := set $config "name" $ref.name -}}
{{- $_ := set $migManager "config" $config -}}
{{- $_ := set $values "migManager" $migManager -}}
{{- end -}}
{{- $values | toJson -}}
{{- end -}}

{{/* The one command that installs NVIDIA's operator as HyperPod runs it. */}}
{{- define "gpu-operator.installCommand" -}}
{{- $chart := .Values.operatorChart -}}
{{- $values := include "gpu-operator.operatorValues" . | fromJson -}}
{{- $words := list "helm install" $chart.release $chart.name "--repo" $chart.repository "--version" $chart.version "--namespace" (include "gpu-operator.namespace" .) -}}
{{- range $key := keys $values | sortAlpha -}}
{{- $words = append $words (printf "--set-json '%s=%s'" $key (index $values $key | toJson | replace "'" "'\\''")) -}}
{{- end -}}
{{- join " " $words -}}
{{- end -}}

{{/*
The mixed MIG layouts NVIDIA supports on a 7-slice GPU, as [slice size, count]
pairs, smallest slice first (the order of the profile's name). Layouts of one
size are generated separately (all-<profile>).
*/}}
{{- define "gpu-operator.mixedLayouts" -}}
- [[3g, 1], [4g, 1]]
- [[1g, 1], [2g, 1], [4g, 1]]
- [[1g, 3], [4g, 1]]
- [[1g, 1], [2g, 1], [3g, 1]]
- [[1g, 3], [3g, 1]]
- [[2g, 2], [3g, 1]]
- [[1g, 2], [2g, 1], [3g, 1]]
- [[1g, 4], [3g, 1]]
- [[1g, 1], [2g, 3]]
- [[1g, 3], [2g, 2]]
- [[1g, 5], [2g, 1]]
{{- end -}}

{{/* How many instances of one slice size fit on a GPU. */}}
{{- define "gpu-operator.uniformCounts" -}}
1g: 7
2g: 3
3g: 2
4g: 1
7g: 1
{{- end -}}

{{/* The mig-parted configuration (version v1) for every GPU in migConfig.gpus. */}}
{{- define "gpu-operator.migPartedConfig" -}}
{{- $configs := dict "all-disabled" (list (dict "devices" "all" "mig-enabled" false)) -}}
{{- $counts := include "gpu-operator.uniformCounts" . | fromYaml -}}
{{- $layouts := include "gpu-operator.mixedLayouts" . | fromYamlArray -}}
{{- range $gpu := .Values.migConfig.gpus -}}
{{- $uniform := dict -}}
{{- range $size, $profile := $gpu.profiles -}}
{{- $_ := set $uniform $profile (get $counts $size | int) -}}
{{- end -}}
{{- range $profile, $count := $gpu.extraProfiles | default dict -}}
{{- $_ := set $uniform $profile ($count | int) -}}
{{- end -}}
{{- range $profile, $count := $uniform -}}
{{- $_ := set $configs (printf "all-%s" $profile) (list (dict "devices" "all" "mig-enabled" true "mig-devices" (dict $profile $count))) -}}
{{- end -}}
{{- range $layout := $layouts -}}
{{- $parts := list -}}
{{- $devices := dict -}}
{{- range $pair := $layout -}}
{{- $profile := get $gpu.profiles (index $pair 0) -}}
{{- $parts = append $parts (printf "%d-%s" (index $pair 1 | int) $profile) -}}
{{- $_ := set $devices $profile (index $pair 1 | int) -}}
{{- end -}}
{{- $_ := set $configs (printf "mixed-%s" (join "-" $parts)) (list (dict "devices" "all" "mig-enabled" true "mig-devices" $devices)) -}}
{{- end -}}
{{- end -}}
{{- range $name, $config := .Values.migConfig.extraConfigs -}}
{{- $_ := set $configs $name $config -}}
{{- end -}}
{{- dict "version" "v1" "mig-configs" $configs | toYaml -}}
{{- end -}}

{{- define "gpu-operator.notes" -}}
gpu-operator: ConfigMap {{ include "gpu-operator.namespace" . }}/{{ (include "gpu-operator.migConfigRef" . | fromJson).name }} (MIG profiles HyperPod offers{{ if not (include "gpu-operator.migConfigRef" . | fromJson).create }}; not rendered: migManager.config.create=false{{ end }})
{{- if include "gpu-operator.operatorWanted" . }}
    NVIDIA's GPU operator is not part of this chart; unless `kubectl get crd clusterpolicies.nvidia.com` finds it, install it:
    {{ include "gpu-operator.installCommand" . }}
{{- if ne (toString ((include "gpu-operator.nvidia" . | fromJson).devicePlugin | default dict).enabled) "false" }}
    The operator runs its own NVIDIA device plugin (MIG-aware); two plugins must not serve the same GPUs: --set nvidia-device-plugin.devicePlugin.enabled=false
{{- end }}
{{- end -}}
{{- end -}}
