{{- define "storage.notes" -}}
{{- $s := include "storage.settings" . | fromJson -}}
storage: FSx for Lustre {{ $s.fileSystemId }} as PersistentVolume {{ $s.pvName }}, claim {{ $s.namespace }}/{{ $s.pvcName }} (needs the FSx CSI driver). Check: kubectl -n {{ $s.namespace }} get pvc {{ $s.pvcName }} (STATUS Bound); mount it in jobs with claimName: {{ $s.pvcName }}
{{- end -}}
