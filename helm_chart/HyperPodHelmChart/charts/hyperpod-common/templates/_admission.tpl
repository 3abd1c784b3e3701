{{/*
ValidatingAdmissionPolicy support, shared by the charts that ship one.

RBAC cannot narrow nodes to "the node this pod runs on", and a node agent's
token is on every node: admission is where "only its own node, only its own
keys" can be enforced.
*/}}

{{/*
"true" when a policy is to be rendered: setting true or false decides; ""
(the default) renders it where the API server serves
admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes 1.30+),
as Helm's capabilities say (discovery at install, Helm's built-in list under
helm template). Call with (dict "enabled" <value> "context" $).
*/}}
{{- define "hyperpod-common.admissionPolicyOn" -}}
{{- $enabled := .enabled -}}
{{- if kindIs "bool" $enabled -}}
{{- if $enabled }}true{{ end -}}
{{- else if .context.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" -}}
true
{{- end -}}
{{- end -}}

{{/* A YAML list as a CEL list literal of strings: ['a', 'b']. */}}
{{- define "hyperpod-common.celStrings" -}}
[{{- range $i, $s := . }}{{ if $i }}, {{ end }}'{{ $s }}'{{ end -}}]
{{- end -}}

{{/*
A policy and its binding that let one node agent's ServiceAccount update only
the node named in its bound token, and on it only the keys it owns. Call with
(dict "context" $ "name" <object name> "serviceAccount" <ns:name>
      "labels" <list> "annotations" <list> "taints" <list> "faultConditions" <bool>).

- The node name comes from the token (authentication.kubernetes.io/node-name),
  which the API server sets in tokens bound to a pod (the kubelet's projected
  token, 1.30+) or to a Node; a token bound to neither carries none and is refused.
- labels, annotations: every key not listed must stay as it was (added,
  changed or removed is refused).
- taints: those whose key is not listed must stay as they were; and the
  node's cordon (spec.unschedulable), which no agent sets, may not change.
- conditions: with faultConditions the agent may write any condition except
  the kubelet's own (Ready and the pressure conditions) and the network
  plugin's NetworkUnavailable, because its fault types are rule data that users
  extend; without it, none.
Nodes are updated (PUT or PATCH) only: RBAC gives these agents no create or
delete, so only UPDATE is matched.
*/}}
{{- define "hyperpod-common.nodeWritePolicy" -}}
{{- $ctx := .context -}}
{{- $user := printf "system:serviceaccount:%s" .serviceAccount -}}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {{ .name }}
  labels:
    {{- include "hyperpod-common.labels" $ctx | nindent 4 }}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["UPDATE"]
        resources: ["nodes", "nodes/status"]
  matchConditions:
    - name: node-agent
      expression: "request.userInfo.username == '{{ $user }}'"
  variables:
    - name: boundNode
      expression: >-
        has(request.userInfo.extra) && 'authentication.kubernetes.io/node-name' in request.userInfo.extra
        ? request.userInfo.extra['authentication.kubernetes.io/node-name'] : []
    - name: ownedLabels
      expression: {{ include "hyperpod-common.celStrings" .labels | quote }}
    - name: ownedAnnotations
      expression: {{ include "hyperpod-common.celStrings" .annotations | quote }}
    - name: ownedTaints
      expression: {{ include "hyperpod-common.celStrings" .taints | quote }}
    - name: oldLabels
      expression: "oldObject.metadata.?labels.orValue({})"
    - name: newLabels
      expression: "object.metadata.?labels.orValue({})"
    - name: oldAnnotations
      expression: "oldObject.metadata.?annotations.orValue({})"
    - name: newAnnotations
      expression: "object.metadata.?annotations.orValue({})"
    - name: changedLabels
      expression: >-
        variables.newLabels.filter(k, !(k in variables.ownedLabels)
        && (!(k in variables.oldLabels) || variables.oldLabels[k] != variables.newLabels[k]))
        + variables.oldLabels.filter(k, !(k in variables.ownedLabels) && !(k in variables.newLabels))
    - name: changedAnnotations
      expression: >-
        variables.newAnnotations.filter(k, !(k in variables.ownedAnnotations)
        && (!(k in variables.oldAnnotations) || variables.oldAnnotations[k] != variables.newAnnotations[k]))
        + variables.oldAnnotations.filter(k, !(k in variables.ownedAnnotations) && !(k in variables.newAnnotations))
    {{- if .faultConditions }}
    - name: othersConditions
      expression: "['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable']"
    {{- end }}
  validations:
    - expression: "size(variables.boundNode) == 1 && variables.boundNode[0] == object.metadata.name"
      messageExpression: >-
        '{{ $user }} may change only the node its token is bound to ('
        + (size(variables.boundNode) == 1 ? variables.boundNode[0] : 'its token names no node')
        + '), not ' + object.metadata.name
      reason: Forbidden
    - expression: "size(variables.changedLabels) == 0"
      messageExpression: >-
        '{{ $user }} may change only the labels ' + variables.ownedLabels.join(', ')
        + ' of a node, not ' + variables.changedLabels.join(', ')
      reason: Forbidden
    - expression: "size(variables.changedAnnotations) == 0"
      messageExpression: >-
        '{{ $user }} may change only the annotations '
        + (size(variables.ownedAnnotations) == 0 ? '(none)' : variables.ownedAnnotations.join(', '))
        + ' of a node, not ' + variables.changedAnnotations.join(', ')
      reason: Forbidden
    - expression: >-
        object.spec.?taints.orValue([]).filter(t, !(t.key in variables.ownedTaints))
        == oldObject.spec.?taints.orValue([]).filter(t, !(t.key in variables.ownedTaints))
      messageExpression: >-
        '{{ $user }} may change only the taints '
        + (size(variables.ownedTaints) == 0 ? '(none)' : variables.ownedTaints.join(', ')) + ' of a node'
      reason: Forbidden
    - expression: "object.spec.?unschedulable.orValue(false) == oldObject.spec.?unschedulable.orValue(false)"
      message: "{{ $user }} may not cordon or uncordon a node"
      reason: Forbidden
    {{- if .faultConditions }}
    - expression: >-
        object.status.?conditions.orValue([]).filter(c, c.type in variables.othersConditions)
        == oldObject.status.?conditions.orValue([]).filter(c, c.type in variables.othersConditions)
      messageExpression: >-
        '{{ $user }} may not change the node conditions ' + variables.othersConditions.join(', ')
      reason: Forbidden
    {{- else }}
    - expression: "object.status.?conditions.orValue([]) == oldObject.status.?conditions.orValue([])"
      message: "{{ $user }} may not change node conditions"
      reason: Forbidden
    {{- end }}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "hyperpod-common.labels" $ctx | nindent 4 }}
spec:
  policyName: {{ .name }}
  validationActions: [Deny]
{{- end -}}
