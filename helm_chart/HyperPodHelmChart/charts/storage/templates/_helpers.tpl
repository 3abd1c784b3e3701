{{/*
The FSx facts the volume cannot work without. The schema checks their
format; here each missing or mismatched one fails with the --set to add.
*/}}
{{- define "storage.validate" -}}
{{- $fsx := .Values.fsx -}}
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
