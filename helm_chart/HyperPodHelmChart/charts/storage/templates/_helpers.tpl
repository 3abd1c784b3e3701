{{/*
The effective settings, as JSON: each upstream key (persistentVolume.*,
persistentVolumeClaim.*) that is set wins over this chart's twin.
*/}}
{{- define "storage.settings" -}}
{{- $pv := .Values.persistentVolume | default dict -}}
{{- $pvc := .Values.persistentVolumeClaim | default dict -}}
{{- $csi := $pv.csi | default dict -}}
{{- $attrs := $csi.volumeAttributes | default dict -}}
{{- $capacity := $pv.capacity | default .Values.capacity -}}
{{- $pvModes := $pv.accessModes | default (list "ReadWriteMany") -}}
{{- $s := dict
  "pvName" ($pv.name | default .Values.pvName)
  "pvcName" ($pvc.name | default .Values.pvcName)
  "namespace" (.Values.namespace | default .Release.Namespace)
  "capacity" $capacity
  "request" (($pvc.requests | default dict).storage | default $capacity)
  "volumeMode" ($pv.volumeMode | default "Filesystem")
  "pvAccessModes" $pvModes
  "pvcAccessModes" ($pvc.accessModes | default $pvModes)
  "mountOptions" (ternary $pv.mountOptions .Values.mountOptions (hasKey $pv "mountOptions"))
  "reclaimPolicy" ($pv.reclaimPolicy | default "Retain")
  "driver" ($csi.driver | default "fsx.csi.aws.com")
  "fileSystemId" ($csi.volumeHandle | default .Values.fsx.fileSystemId)
  "dnsName" ($attrs.dnsname | default .Values.fsx.dnsName)
  "mountName" ($attrs.mountname | default .Values.fsx.mountName)
  "storageClassName" ($pvc.storageClassName | default "")
-}}
{{- toJson $s -}}
{{- end -}}

{{/*
The claim's fields that cannot change after creation, as JSON. A claim that
already exists (one the upstream chart created, with its storage class and
perhaps another volume) keeps its storageClassName and volumeName, so an
upgrade over it succeeds and never deletes it (deleting a dynamically
provisioned claim can delete its file system). lookup is empty under helm
template: then the values decide.
*/}}
{{- define "storage.claimFields" -}}
{{- $s := include "storage.settings" . | fromJson -}}
{{- $fields := dict "storageClassName" $s.storageClassName "volumeName" $s.pvName -}}
{{- $live := lookup "v1" "PersistentVolumeClaim" $s.namespace $s.pvcName -}}
{{- if $live -}}
{{- if hasKey $live.spec "storageClassName" -}}{{- $_ := set $fields "storageClassName" $live.spec.storageClassName -}}{{- end -}}
{{- with $live.spec.volumeName -}}{{- $_ := set $fields "volumeName" . -}}{{- end -}}
{{- end -}}
{{- toJson $fields -}}
{{- end -}}

{{/*
The FSx facts the volume cannot work without. The schema checks their
format; here each missing or mismatched one fails with the --set to add.
*/}}
{{- define "storage.validate" -}}
{{- $fsx := include "storage.settings" . | fromJson -}}
{{- if not $fsx.fileSystemId -}}
{{- fail "storage.enabled=true needs the FSx for Lustre file system id: --set storage.fsx.fileSystemId=fs-0123456789abcdef0 (aws fsx describe-file-systems --query 'FileSystems[].FileSystemId')" -}}
{{- end -}}
{{- if not $fsx.dnsName -}}
{{- fail (printf "storage.enabled=true needs the file system's DNS name: --set storage.fsx.dnsName=%s.fsx.<region>.amazonaws.com (aws fsx describe-file-systems --file-system-ids %s --query 'FileSystems[0].DNSName')" $fsx.fileSystemId $fsx.fileSystemId) -}}
{{- end -}}
{{- if not $fsx.mountName -}}
{{- fail (printf "storage.enabled=true needs the file system's mount name: --set storage.fsx.mountName=<name> (aws fsx describe-file-systems --file-system-ids %s --query 'FileSystems[0].LustreConfiguration.MountName')" $fsx.fileSystemId) -}}
{{- end -}}
{{- if not (hasPrefix (printf "%s." $fsx.fileSystemId) $fsx.dnsName) -}}
{{- fail (printf "storage.fsx.dnsName=%s is not the DNS name of storage.fsx.fileSystemId=%s: set --set storage.fsx.dnsName=%s.fsx.<region>.amazonaws.com, or correct the id" $fsx.dnsName $fsx.fileSystemId $fsx.fileSystemId) -}}
{{- end -}}
{{- end -}}
