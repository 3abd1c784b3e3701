{{- define "storage.notes" -}}
storage: FSx for Lustre {{ .Values.fsx.fileSystemId }} as PersistentVolume {{ .Values.pvName }}, claim {{ .Values.namespace }}/{{ .Values.pvcName }} (needs the FSx CSI driver). Check: kubectl -n {{ .Values.namespace }} get pvc {{ .Values.pvcName }} (STATUS Bound); mount it in jobs with claimName: {{ .Values.pvcName }}
{{- end -}}
