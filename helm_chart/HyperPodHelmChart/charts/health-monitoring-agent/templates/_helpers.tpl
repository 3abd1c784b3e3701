{{/*
The one table of regions where AWS publishes the agent image: region ->
ECR account. Account ids are quoted: some start with 0.
*/}}
{{- define "health-monitoring-agent.regionAccounts" -}}
us-east-1: "767398015722"       # IAD
us-west-2: "905418368575"       # PDX
us-east-2: "851725546812"       # CMH
us-west-1: "011528288828"       # SFO
eu-central-1: "211125453373"    # FRA
eu-north-1: "654654141839"      # ARN
eu-west-1: "533267293120"       # DUB
eu-west-2: "011528288831"       # LHR
ap-northeast-1: "533267052152"  # NRT
ap-south-1: "011528288864"      # BOM
ap-southeast-1: "905418428165"  # SIN
ap-southeast-2: "851725636348"  # SYD
sa-east-1: "025066253954"       # GRU
{{- end -}}

{{/* The repository name of the agent in every regional registry. */}}
{{- define "health-monitoring-agent.awsRepository" -}}
hyperpod-health-monitoring-agent
{{- end -}}

{{/*
The oldest agent release this chart supports. Agent tags have two
four-number versions, AGENT_BASE (e.g. 1.0.643.0_1.0.192.0); "newer" means
the eight numbers compare greater, left to right.
*/}}
{{- define "health-monitoring-agent.minimumTag" -}}
1.0.643.0_1.0.192.0
{{- end -}}

{{/*
Fails unless the tag is an agent release at or newer than the minimum.
Usage: include "health-monitoring-agent.checkTag" "1.0.700.0_1.0.200.0"
*/}}
{{- define "health-monitoring-agent.checkTag" -}}
{{- $tag := . | toString -}}
{{- $min := include "health-monitoring-agent.minimumTag" . -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+){3}_[0-9]+(\\.[0-9]+){3}$" $tag) -}}
{{- fail (printf "health-monitoring-agent.image.tag=%s is not a HyperPod health monitoring agent release tag (like %s). Set a release tag, e.g. --set health-monitoring-agent.image.tag=%s, or remove the setting to use the chart's default." $tag $min $min) -}}
{{- end -}}
{{- $have := regexSplit "[._]" $tag -1 -}}
{{- $need := regexSplit "[._]" $min -1 -}}
{{- $order := 0 -}}
{{- range $i, $part := $have -}}
{{- if eq $order 0 -}}
{{- $a := atoi $part -}}
{{- $b := atoi (index $need $i) -}}
{{- if gt $a $b -}}{{- $order = 1 -}}{{- else if lt $a $b -}}{{- $order = -1 -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if lt $order 0 -}}
{{- fail (printf "health-monitoring-agent.image.tag=%s is older than %s, the oldest agent release this chart supports. Remove the setting to use the default, or set a newer release, e.g. --set health-monitoring-agent.image.tag=%s." $tag $min $min) -}}
{{- end -}}
{{- end -}}

{{/*
The agent image and why it was chosen, as JSON {"ref": ..., "why": ...}.
Precedence: explicit image (image.repository) > region > global.region >
us-east-1. Fails, with the fix, where nothing runnable can be chosen.
*/}}
{{- define "health-monitoring-agent.image" -}}
{{- $global := .Values.global | default dict -}}
{{- $image := .Values.image -}}
{{- if $image.repository -}}
{{- $ref := include "hyperpod-common.image" (dict "image" $image "global" $global "context" .) -}}
{{- dict "ref" $ref "why" "explicit image from health-monitoring-agent.image.repository, which wins over any region" | toJson -}}
{{- else -}}
{{- if $image.registry -}}
{{- fail (printf "health-monitoring-agent.image.registry=%s is set but image.repository is not: an explicit image needs both, e.g. --set health-monitoring-agent.image.registry=%s --set health-monitoring-agent.image.repository=%s (or remove image.registry to use the regional AWS image)." $image.registry $image.registry (include "health-monitoring-agent.awsRepository" .)) -}}
{{- end -}}
{{- if eq ($global.platform | default "hyperpod") "generic" -}}
{{- fail "health-monitoring-agent: agent=aws with global.platform=generic: the AWS agent image runs only on SageMaker HyperPod nodes. Use the open agent (remove --set health-monitoring-agent.agent=aws: it is the default on generic), or run an agent image you provide with --set health-monitoring-agent.image.repository=<registry>/<repository>." -}}
{{- end -}}
{{- $region := "us-east-1" -}}
{{- $why := "region us-east-1, the default: neither health-monitoring-agent.region nor global.region is set" -}}
{{- if .Values.region -}}
{{- $region = .Values.region -}}
{{- $why = printf "region %s from health-monitoring-agent.region" $region -}}
{{- else if $global.region -}}
{{- $region = $global.region -}}
{{- $why = printf "region %s from global.region" $region -}}
{{- end -}}
{{- $accounts := include "health-monitoring-agent.regionAccounts" . | fromYaml -}}
{{- if not (hasKey $accounts $region) -}}
{{- fail (printf "health-monitoring-agent: no agent image is published for %s. Known regions: %s. Set --set health-monitoring-agent.region=<one of them> (e.g. us-east-1), or mirror the image and set --set health-monitoring-agent.image.repository=<your registry>/%s." $why (keys $accounts | sortAlpha | join ", ") (include "health-monitoring-agent.awsRepository" .)) -}}
{{- end -}}
{{- if not $image.digest -}}
{{- include "health-monitoring-agent.checkTag" ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- $regional := dict "registry" (printf "%s.dkr.ecr.%s.amazonaws.com" (get $accounts $region) $region) "repository" (include "health-monitoring-agent.awsRepository" .) "tag" $image.tag "digest" $image.digest -}}
{{- $ref := include "hyperpod-common.image" (dict "image" $regional "global" $global "context" .) -}}
{{- dict "ref" $ref "why" $why | toJson -}}
{{- end -}}
{{- end -}}

{{/* The namespace of the agent's namespaced objects. */}}
{{- define "health-monitoring-agent.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
The DaemonSets, one per accelerator family, as JSON: name, family, the
accelerator taint to tolerate.
*/}}
{{- define "health-monitoring-agent.daemonSets" -}}
{{- $all := list -}}
{{- if .Values.daemonSets.nvidia.enabled -}}
{{- $all = append $all (dict "family" "nvidia" "name" "health-monitoring-agent" "taint" "nvidia.com/gpu" "what" "NVIDIA") -}}
{{- end -}}
{{- if .Values.daemonSets.neuron.enabled -}}
{{- $all = append $all (dict "family" "neuron" "name" "health-monitoring-agent-neuron" "taint" "aws.amazon.com/neuron" "what" "Neuron") -}}
{{- end -}}
{{- $all | toJson -}}
{{- end -}}

{{/*
Which agent runs: "aws" (the SageMaker HyperPod agent image) or "open" (this
project's agent). Empty agent: aws on global.platform=hyperpod, open on generic.
*/}}
{{- define "health-monitoring-agent.agent" -}}
{{- $platform := (.Values.global | default dict).platform | default "hyperpod" -}}
{{- .Values.agent | default (ternary "open" "aws" (eq $platform "generic")) -}}
{{- end -}}

{{/*
The version of the hyperpod-deps package, and so the tag of its image
(hyperpod-deps/agents): the open agent's default tag. A test keeps it equal to
the Python package's version.
*/}}
{{- define "health-monitoring-agent.openVersion" -}}
0.1.0
{{- end -}}

{{/* The open agent's image: ghcr.io/hyperpod-deps/agents:<package version> by default. */}}
{{- define "health-monitoring-agent.openImage" -}}
{{- $image := deepCopy .Values.openAgent.image -}}
{{- $_ := set $image "tag" ($image.tag | default (include "health-monitoring-agent.openVersion" .)) -}}
{{- include "hyperpod-common.image" (dict "image" $image "global" .Values.global "defaultRegistry" "ghcr.io" "context" .) -}}
{{- end -}}

{{/* Where the open agent finds its settings and the users' rule documents. */}}
{{- define "health-monitoring-agent.configDir" -}}
/etc/hyperpod-deps/health
{{- end -}}

{{/*
The open agent's settings file for one family (dict "context" . "family"
"nvidia"|"neuron"): openAgent.config as given, plus what the chart decides
(platform, the user rule files, where host paths are mounted), with only the
family's accelerator monitor on.
*/}}
{{- define "health-monitoring-agent.openConfig" -}}
{{- $ctx := .context -}}
{{- $config := deepCopy $ctx.Values.openAgent.config -}}
{{- $rules := list -}}
{{- range $name, $_ := $ctx.Values.openAgent.rules -}}
{{- $rules = append $rules (printf "%s/rules/%s.yaml" (include "health-monitoring-agent.configDir" $ctx) $name) -}}
{{- end -}}
{{- $_ := set $config "platform" (($ctx.Values.global | default dict).platform | default "hyperpod") -}}
{{- $_ = set $config "extraRuleFiles" $rules -}}
{{- $_ = set $config "stateDir" "/var/lib/hyperpod-deps/health-agent" -}}
{{- $_ = set $config "hostRoot" "/host" -}}
{{- $off := ternary "neuron" "nvml" (eq .family "nvidia") -}}
{{- $_ = set (index $config.sources $off) "enabled" false -}}
{{- toYaml $config -}}
{{- end -}}
