{{/* Helpers of the mlflow chart. Names and labels come from hyperpod-common. */}}

{{- define "mlflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "hyperpod-common.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* "true" when the server mounts the data volume (SQLite file or PVC artifacts). */}}
{{- define "mlflow.usesVolume" -}}
{{- if or (eq .Values.backendStore.type "sqlite") (eq .Values.artifactStore.type "pvc") -}}true{{- end -}}
{{- end -}}

{{/* "true" when the data volume can be mounted by pods on several nodes at once. */}}
{{- define "mlflow.volumeShared" -}}
{{- if has "ReadWriteMany" .Values.persistence.accessModes -}}true{{- end -}}
{{- end -}}

{{- define "mlflow.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "hyperpod-common.fullname" .)) -}}
{{- end -}}

{{/*
Checks on combinations the schema cannot express. Each message names the fix
as the user types it on the umbrella chart (mlflow.*).
*/}}
{{- define "mlflow.validate" -}}
{{- $ns := .Release.Namespace -}}
{{- if and (eq .Values.backendStore.type "database") (not .Values.backendStore.database.existingSecret) -}}
{{- fail (printf "mlflow.backendStore.type=database needs the Secret that holds the database URI. Create it, e.g. kubectl -n %s create secret generic mlflow-db --from-literal=uri='postgresql://mlflow:<password>@<host>:5432/mlflow', then --set mlflow.backendStore.database.existingSecret=mlflow-db" $ns) -}}
{{- end -}}
{{- if and (eq .Values.artifactStore.type "s3") (not .Values.artifactStore.s3.uri) -}}
{{- fail "mlflow.artifactStore.type=s3 needs the bucket: --set mlflow.artifactStore.s3.uri=s3://<bucket>/mlflow-artifacts (or --set mlflow.artifactStore.type=pvc to keep artifacts on a volume)" -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- if eq .Values.backendStore.type "sqlite" -}}
{{- fail (printf "mlflow.replicaCount=%d with mlflow.backendStore.type=sqlite: the SQLite file lives on a ReadWriteOnce volume that one pod on one node can mount, and SQLite cannot be shared between servers. Keep --set mlflow.replicaCount=1, or use an external database: --set mlflow.backendStore.type=database --set mlflow.backendStore.database.existingSecret=<secret>" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (eq .Values.artifactStore.type "pvc") (not (include "mlflow.volumeShared" .)) -}}
{{- fail (printf "mlflow.replicaCount=%d with mlflow.artifactStore.type=pvc on a volume without ReadWriteMany: the replicas cannot all mount it. Keep --set mlflow.replicaCount=1, use --set mlflow.artifactStore.type=s3, or a shared volume: --set mlflow.persistence.accessModes={ReadWriteMany} --set mlflow.persistence.storageClass=<efs-or-fsx-class>" (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.serviceAccount.roleArn (not .Values.serviceAccount.create) -}}
{{- fail (printf "mlflow.serviceAccount.roleArn is set but mlflow.serviceAccount.create=false, so the chart cannot annotate the ServiceAccount. Annotate your own: kubectl -n %s annotate serviceaccount %s eks.amazonaws.com/role-arn=%s and unset roleArn, or --set mlflow.serviceAccount.create=true" $ns (include "mlflow.serviceAccountName" .) .Values.serviceAccount.roleArn) -}}
{{- end -}}
{{- end -}}
