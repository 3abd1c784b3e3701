{{/*
The one table of regions where AWS publishes the agent image: region ->
ECR account (the same 17 as HyperPod's own chart). Account ids are quoted:
some start with 0.
*/}}
{{- define "health-monitoring-agent.regionAccounts" -}}
us-east-1: "767398015722"       # N. Virginia
us-east-2: "851725546812"       # Ohio
us-west-1: "011528288828"       # N. California
us-west-2: "905418368575"       # Oregon
ca-central-1: "843976229209"    # Canada (Central)
sa-east-1: "025066253954"       # Sao Paulo
eu-central-1: "211125453373"    # Frankfurt
eu-north-1: "654654141839"      # Stockholm
eu-south-2: "626887787726"      # Spain
eu-west-1: "533267293120"       # Ireland
eu-west-2: "011528288831"       # London
ap-northeast-1: "533267052152"  # Tokyo
ap-south-1: "011528288864"      # Mumbai
ap-southeast-1: "905418428165"  # Singapore
ap-southeast-2: "851725636348"  # Sydney
ap-southeast-3: "971422672635"  # Jakarta
ap-southeast-4: "084375568333"  # Melbourne
{{- end -}}

{{/* The region used when nothing names one: HyperPod's chart falls back to it too. */}}
{{- define "health-monitoring-agent.defaultRegion" -}}
us-east-1
{{- end -}}

{{/*
The region the cluster's nodes say they are in, as JSON {"region", "label"}
(both empty when none says). Read with lookup, so only at install and upgrade
against a cluster: helm template and --dry-run=client see no nodes. The
well-known label wins over the legacy one; the first node carrying it decides
(every node of a cluster is in one region).
*/}}
{{- define "health-monitoring-agent.nodeRegion" -}}
{{- $found := dict -}}
{{- $nodes := lookup "v1" "Node" "" "" | default dict -}}
{{- range $node := $nodes.items | default list -}}
{{- $labels := $node.metadata.labels | default dict -}}
{{- range $label := list "topology.kubernetes.io/region" "failure-domain.beta.kubernetes.io/region" -}}
{{- if and (not (hasKey $found $label)) (index $labels $label) -}}
{{- $_ := set $found $label (index $labels $label) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $result := dict "region" "" "label" "" -}}
{{- range $label := list "failure-domain.beta.kubernetes.io/region" "topology.kubernetes.io/region" -}}
{{- if hasKey $found $label -}}
{{- $result = dict "region" (get $found $label) "label" $label -}}
{{- end -}}
{{- end -}}
{{- $result | toJson -}}
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
Precedence: hmaimage > image.repository > region > global.region > the
nodes' region label > us-east-1. Fails, with the fix, where nothing runnable
can be chosen.
*/}}
{{- define "health-monitoring-agent.image" -}}
{{- $global := .Values.global | default dict -}}
{{- $image := .Values.image -}}
{{- if .Values.hmaimage -}}
{{- range $key := list "registry" "repository" "tag" "digest" -}}
{{- if index $image $key -}}
{{- fail (printf "health-monitoring-agent.hmaimage=%s and health-monitoring-agent.image.%s=%s both name the image: hmaimage is a complete reference. Keep one, e.g. remove --set health-monitoring-agent.image.%s, or remove hmaimage and set image.registry, image.repository and image.tag." $.Values.hmaimage $key (index $image $key) $key) -}}
{{- end -}}
{{- end -}}
{{- dict "ref" .Values.hmaimage "why" "image from health-monitoring-agent.hmaimage, used as it is" | toJson -}}
{{- else if $image.repository -}}
{{- $ref := include "hyperpod-common.image" (dict "image" $image "global" $global "context" .) -}}
{{- dict "ref" $ref "why" "explicit image from health-monitoring-agent.image.repository, which wins over any region" | toJson -}}
{{- else -}}
{{- if $image.registry -}}
{{- fail (printf "health-monitoring-agent.image.registry=%s is set but image.repository is not: an explicit image needs both, e.g. --set health-monitoring-agent.image.registry=%s --set health-monitoring-agent.image.repository=%s (or remove image.registry to use the regional AWS image)." $image.registry $image.registry (include "health-monitoring-agent.awsRepository" .)) -}}
{{- end -}}
{{- if eq (include "hyperpod-common.platform" .) "generic" -}}
{{- fail "health-monitoring-agent: agent=aws with global.platform=generic: the AWS agent image runs only on SageMaker HyperPod nodes. Use the open agent (remove --set health-monitoring-agent.agent=aws: it is the default on generic), or run an agent image you provide with --set health-monitoring-agent.image.repository=<registry>/<repository> (or hmaimage=<full reference>)." -}}
{{- end -}}
{{- $tag := include "health-monitoring-agent.regionalTag" . -}}
{{- $accounts := include "health-monitoring-agent.regionAccounts" . | fromYaml -}}
{{- $default := include "health-monitoring-agent.defaultRegion" . -}}
{{- $region := $default -}}
{{- $why := "" -}}
{{- if .Values.region -}}
{{- $region = .Values.region -}}
{{- $why = printf "region %s from health-monitoring-agent.region" $region -}}
{{- else if $global.region -}}
{{- $region = $global.region -}}
{{- $why = printf "region %s from global.region" $region -}}
{{- end -}}
{{- if $why -}}
{{- if not (hasKey $accounts $region) -}}
{{- fail (printf "health-monitoring-agent: no agent image is published for %s. Known regions: %s. Set --set health-monitoring-agent.region=<one of them> (e.g. us-east-1), or mirror the image and set --set health-monitoring-agent.image.repository=<your registry>/%s." $why (keys $accounts | sortAlpha | join ", ") (include "health-monitoring-agent.awsRepository" .)) -}}
{{- end -}}
{{- else -}}
{{- $node := include "health-monitoring-agent.nodeRegion" . | fromJson -}}
{{- if and $node.region (hasKey $accounts $node.region) -}}
{{- $region = $node.region -}}
{{- $why = printf "region %s from the nodes' %s label (neither health-monitoring-agent.region nor global.region is set)" $region $node.label -}}
{{- else if $node.region -}}
{{- $why = printf "region %s, the default: the nodes' %s label says %s, where no agent image is published (set health-monitoring-agent.region to choose the region to pull from)" $default $node.label $node.region -}}
{{- else -}}
{{- $why = printf "region %s, the default: neither health-monitoring-agent.region nor global.region is set, and no node has a region label (or the cluster was not read, as with helm template)" $default -}}
{{- end -}}
{{- end -}}
{{- if not $image.digest -}}
{{- include "health-monitoring-agent.checkTag" ($tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- $regional := dict "registry" (printf "%s.dkr.ecr.%s.amazonaws.com" (get $accounts $region) $region) "repository" (include "health-monitoring-agent.awsRepository" .) "tag" $tag "digest" $image.digest -}}
{{- $ref := include "hyperpod-common.image" (dict "image" $regional "global" $global "context" .) -}}
{{- dict "ref" $ref "why" $why | toJson -}}
{{- end -}}
{{- end -}}

{{/*
The tag of the regional image: image.tag or the upstream chart's imageTag
(empty: the chart's appVersion). Fails when both are set and differ.
*/}}
{{- define "health-monitoring-agent.regionalTag" -}}
{{- $tag := .Values.image.tag | toString -}}
{{- $upstream := .Values.imageTag | toString -}}
{{- if and $tag $upstream (ne $tag $upstream) -}}
{{- fail (printf "health-monitoring-agent.image.tag=%s and health-monitoring-agent.imageTag=%s disagree: both set the agent's tag. Keep one, e.g. remove --set health-monitoring-agent.imageTag." $tag $upstream) -}}
{{- end -}}
{{- $tag | default $upstream -}}
{{- end -}}

{{/*
Upstream chart keys given here that change nothing, as a list of
"key (what to use instead)" for the install notes.
*/}}
{{- define "health-monitoring-agent.ignoredKeys" -}}
{{- $ignored := list -}}
{{- if .Values.debug -}}
{{- $ignored = append $ignored "debug (the image line above says which rule chose the image)" -}}
{{- end -}}
{{- if and (eq (include "health-monitoring-agent.agent" .) "aws") .Values.hmaimage .Values.imageTag -}}
{{- $ignored = append $ignored "imageTag (hmaimage is a complete reference: put the tag there)" -}}
{{- end -}}
{{- if and (ne (include "health-monitoring-agent.agent" .) "aws") (or .Values.hmaimage .Values.imageTag) -}}
{{- $ignored = append $ignored "hmaimage and imageTag (the open agent's image is openAgent.image)" -}}
{{- end -}}
{{- $ignored | toJson -}}
{{- end -}}

{{/*
The name of the ClusterRole and ClusterRoleBinding: fixed, as in HyperPod's
own install (so one release per cluster), unless fullnameOverride is set.
*/}}
{{- define "health-monitoring-agent.roleName" -}}
{{- .Values.fullnameOverride | default "health-monitoring-agent" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The DaemonSet's selector: HyperPod's own install selects on app=<name> alone,
and a selector cannot change, so this chart selects the same way and can
upgrade that install in place.
*/}}
{{- define "health-monitoring-agent.selector" -}}
app: {{ .name }}
{{- end -}}

{{/*
Tolerations of both agents: every NoSchedule and NoExecute taint (as
HyperPod's install does), then the user's own list. The agent must run on a
quarantined or cordoned node: that is where the faults are.
*/}}
{{- define "health-monitoring-agent.tolerations" -}}
tolerations:
  - operator: Exists
    effect: NoSchedule
  - operator: Exists
    effect: NoExecute
{{- with .Values.tolerations }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{/* The namespace of the agent's namespaced objects. */}}
{{- define "health-monitoring-agent.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{/*
The DaemonSets, one per accelerator family, as JSON: name, family. The names
are HyperPod's (health-monitoring-agent on NVIDIA nodes,
health-monitoring-agent-non-nvidia on Neuron nodes).
*/}}
{{- define "health-monitoring-agent.daemonSets" -}}
{{- $all := list -}}
{{- if .Values.daemonSets.nvidia.enabled -}}
{{- $all = append $all (dict "family" "nvidia" "name" "health-monitoring-agent" "what" "NVIDIA") -}}
{{- end -}}
{{- if .Values.daemonSets.neuron.enabled -}}
{{- $all = append $all (dict "family" "neuron" "name" "health-monitoring-agent-non-nvidia" "what" "Neuron") -}}
{{- end -}}
{{- $all | toJson -}}
{{- end -}}

{{/*
Which agent runs: "aws" (the SageMaker HyperPod agent image) or "open" (this
project's agent). Empty agent: aws on global.platform=hyperpod, open on generic.
*/}}
{{- define "health-monitoring-agent.agent" -}}
{{- $platform := include "hyperpod-common.platform" . -}}
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
{{- $_ := set $config "platform" (include "hyperpod-common.platform" $ctx) -}}
{{- $_ = set $config "extraRuleFiles" $rules -}}
{{- $_ = set $config "stateDir" "/var/lib/hyperpod-deps/health-agent" -}}
{{- $_ = set $config "hostRoot" "/host" -}}
{{- $off := ternary "neuron" "nvml" (eq .family "nvidia") -}}
{{- $_ = set (index $config.sources $off) "enabled" false -}}
{{- toYaml $config -}}
{{- end -}}
