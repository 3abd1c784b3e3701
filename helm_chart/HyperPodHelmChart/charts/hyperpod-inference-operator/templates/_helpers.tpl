{{/* The prefix of this chart's keys in a --set, as the umbrella chart nests them. */}}
{{- define "hyperpod-inference-operator.key" -}}
hyperpod-inference-operator.{{ . }}
{{- end -}}

{{- define "hyperpod-inference-operator.namespace" -}}
{{- printf "%s-system" .Values.shortPrefix -}}
{{- end -}}

{{- define "hyperpod-inference-operator.managerName" -}}
{{- printf "%s-controller-manager" .Values.namePrefix -}}
{{- end -}}

{{/*
The region, as JSON {"region", "why"}: region > global.region > the region
label of the cluster's nodes (read with lookup, so only at install and upgrade
against a cluster). Empty region when none says.
*/}}
{{- define "hyperpod-inference-operator.region" -}}
{{- $global := .Values.global | default dict -}}
{{- if .Values.region -}}
{{- dict "region" .Values.region "why" "region from hyperpod-inference-operator.region" | toJson -}}
{{- else if $global.region -}}
{{- dict "region" $global.region "why" "region from global.region" | toJson -}}
{{- else -}}
{{- $found := dict "region" "" "why" "" -}}
{{- $nodes := lookup "v1" "Node" "" "" | default dict -}}
{{- range $node := $nodes.items | default list -}}
{{- $label := index ($node.metadata.labels | default dict) "topology.kubernetes.io/region" | default "" -}}
{{- if and $label (not $found.region) -}}
{{- $found = dict "region" $label "why" "region from the nodes' topology.kubernetes.io/region label (neither hyperpod-inference-operator.region nor global.region is set)" -}}
{{- end -}}
{{- end -}}
{{- $found | toJson -}}
{{- end -}}
{{- end -}}

{{/*
The registry of both images, as JSON {"registry", "why"}: image.repository wins
over the regional registry of image.repositoryDomainMap.
*/}}
{{- define "hyperpod-inference-operator.registry" -}}
{{- $region := include "hyperpod-inference-operator.region" . | fromJson -}}
{{- $map := .Values.image.repositoryDomainMap | default dict -}}
{{- if .Values.image.repository -}}
{{- dict "registry" (trimSuffix "/" .Values.image.repository) "why" "explicit registry from hyperpod-inference-operator.image.repository, which wins over the region" | toJson -}}
{{- else if hasKey $map $region.region -}}
{{- dict "registry" (index $map $region.region) "why" $region.why | toJson -}}
{{- else -}}
{{- fail (printf "hyperpod-inference-operator: no operator image is published for %s (%s). Regions with an image: %s. Set --set hyperpod-inference-operator.region=<one of them>, or mirror the images and set --set hyperpod-inference-operator.image.repository=<your registry>." $region.region $region.why (keys $map | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}

{{/* The S3 URI of tlsCertificateS3Bucket: s3:// is added when missing, as upstream does. */}}
{{- define "hyperpod-inference-operator.tlsBucketUri" -}}
{{- $bucket := .Values.tlsCertificateS3Bucket | default "" -}}
{{- if hasPrefix "s3://" $bucket }}{{ $bucket }}{{ else }}{{ printf "s3://%s" $bucket }}{{ end -}}
{{- end -}}

{{/*
The values the operator cannot run without; each fail names the --set to add
and where the value comes from. Renders nothing when all are set.
*/}}
{{- define "hyperpod-inference-operator.validate" -}}
{{- $missing := list -}}
{{- if not (include "hyperpod-inference-operator.region" . | fromJson).region -}}
{{- $missing = append $missing "--set hyperpod-inference-operator.region=<region> (the cluster's AWS region, e.g. us-west-2: `aws eks describe-cluster --name <cluster> --query cluster.arn` shows it; global.region or a topology.kubernetes.io/region node label also serve)" -}}
{{- end -}}
{{- if not .Values.eksClusterName -}}
{{- $missing = append $missing "--set hyperpod-inference-operator.eksClusterName=<name> (the EKS cluster's name: `aws eks list-clusters`, or `aws sagemaker describe-cluster --cluster-name <hyperpod cluster> --query Orchestrator.Eks.ClusterArn`, whose last part it is)" -}}
{{- end -}}
{{- if not .Values.executionRoleArn -}}
{{- $missing = append $missing "--set hyperpod-inference-operator.executionRoleArn=arn:aws:iam::<account>:role/<name> (the IAM role the operator acts as, created for HyperPod inference: `aws iam get-role --role-name <name> --query Role.Arn`)" -}}
{{- end -}}
{{- if not .Values.tlsCertificateS3Bucket -}}
{{- $missing = append $missing "--set hyperpod-inference-operator.tlsCertificateS3Bucket=s3://<bucket> (a bucket the execution role may write, for the operator's TLS certificates: `aws s3 ls`)" -}}
{{- end -}}
{{- if $missing -}}
{{- fail (printf "inferenceOperators.enabled=true needs %d more value(s): %s" (len $missing) (join "; " $missing)) -}}
{{- end -}}
{{- if .Values.isAddOn -}}
{{- $role := splitList "/" .Values.executionRoleArn | last -}}
{{- if not (hasPrefix "SageMakerHyperPodInference" $role) -}}
{{- fail (printf "hyperpod-inference-operator.isAddOn=true: the execution role's name must start with SageMakerHyperPodInference (the add-on's managed policy allows only those), and %s's is %s. Set --set hyperpod-inference-operator.executionRoleArn=<a role named SageMakerHyperPodInference...>, or --set hyperpod-inference-operator.isAddOn=false." .Values.executionRoleArn $role) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A value for an install command, or a placeholder that names the key to set. */}}
{{- define "hyperpod-inference-operator.argument" -}}
{{- $value := index . 0 -}}
{{- if $value }}{{ $value }}{{ else }}<hyperpod-inference-operator.{{ index . 1 }}>{{ end -}}
{{- end -}}

{{/*
The dependencies this chart does not install, as a JSON list of
{name, component, signs, command}. A sign is what shows the dependency is
installed: {kind: CustomResourceDefinition|CSIDriver|MutatingWebhookConfiguration, name}
or {kind: Deployment, selector} (in any namespace). All signs must be present.
The commands pin the chart versions the upstream chart embeds (2.2.2's
Chart.yaml); docs/decisions/0015 says why each is a prerequisite.
*/}}
{{- define "hyperpod-inference-operator.prerequisites" -}}
{{- $v := .Values -}}
{{- $region := (include "hyperpod-inference-operator.region" . | fromJson).region -}}
{{- $cluster := include "hyperpod-inference-operator.argument" (list $v.eksClusterName "eksClusterName") -}}
{{- $all := list -}}
{{- $all = append $all (dict "name" "mountpoint-s3-csi-driver" "what" "Mountpoint for Amazon S3 CSI driver"
  "signs" (list (dict "kind" "CSIDriver" "name" "s3.csi.aws.com"))
  "command" (printf "aws eks create-addon --cluster-name %s --addon-name aws-mountpoint-s3-csi-driver --service-account-role-arn %s" $cluster (include "hyperpod-inference-operator.argument" (list $v.s3.serviceAccountRoleArn "s3.serviceAccountRoleArn")))) -}}
{{- $all = append $all (dict "name" "metrics-server" "what" "metrics-server"
  "signs" (list (dict "kind" "Deployment" "selector" "app.kubernetes.io/name=metrics-server"))
  "command" "helm install metrics-server metrics-server --repo https://kubernetes-sigs.github.io/metrics-server/ --version 3.12.2 --namespace kube-system") -}}
{{- $all = append $all (dict "name" "fsx-csi-driver" "what" "Amazon FSx for Lustre CSI driver"
  "signs" (list (dict "kind" "CSIDriver" "name" "fsx.csi.aws.com"))
  "command" "helm install aws-fsx-csi-driver aws-fsx-csi-driver --repo https://kubernetes-sigs.github.io/aws-fsx-csi-driver --version 1.11.0 --namespace kube-system") -}}
{{- if $v.alb.enabled -}}
{{- $sa := $v.alb.serviceAccount | default dict -}}
{{- $role := "" -}}
{{- if $sa.roleArn -}}
{{- $role = printf " --set serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=%s" $sa.roleArn -}}
{{- end -}}
{{- $all = append $all (dict "name" "aws-load-balancer-controller" "what" "AWS Load Balancer Controller"
  "signs" (list (dict "kind" "CustomResourceDefinition" "name" "targetgroupbindings.elbv2.k8s.aws") (dict "kind" "CustomResourceDefinition" "name" "ingressclassparams.elbv2.k8s.aws") (dict "kind" "Deployment" "selector" "app.kubernetes.io/name=aws-load-balancer-controller") (dict "kind" "MutatingWebhookConfiguration" "name" "aws-load-balancer-webhook"))
  "command" (printf "helm install aws-load-balancer-controller aws-load-balancer-controller --repo https://aws.github.io/eks-charts --version 1.13.2 --namespace kube-system --set clusterName=%s --set region=%s --set vpcId=%s --set enableServiceMutatorWebhook=%t --set serviceAccount.create=%t --set serviceAccount.name=%s%s" (include "hyperpod-inference-operator.argument" (list ($v.alb.clusterName | default $v.eksClusterName) "eksClusterName")) (include "hyperpod-inference-operator.argument" (list ($v.alb.region | default $region) "region")) (include "hyperpod-inference-operator.argument" (list $v.alb.vpcId "alb.vpcId")) ($v.alb.enableServiceMutatorWebhook | default false) ($sa.create | default false) ($sa.name | default "aws-load-balancer-controller") $role)) -}}
{{- end -}}
{{- $cm := index $v "cert-manager" | default dict -}}
{{- $all = append $all (dict "name" "cert-manager" "what" "cert-manager"
  "signs" (list (dict "kind" "CustomResourceDefinition" "name" "certificates.cert-manager.io") (dict "kind" "CustomResourceDefinition" "name" "certificaterequests.cert-manager.io") (dict "kind" "CustomResourceDefinition" "name" "issuers.cert-manager.io") (dict "kind" "Deployment" "selector" "app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller"))
  "command" (printf "helm install cert-manager cert-manager --repo https://charts.jetstack.io --version v1.18.2 --namespace %s --create-namespace --set crds.enabled=true" ($cm.namespace | default "cert-manager"))) -}}
{{- if $v.keda.enabled -}}
{{- $irsa := (($v.keda.podIdentity | default dict).aws | default dict).irsa | default dict -}}
{{- $all = append $all (dict "name" "keda" "what" "KEDA"
  "signs" (list (dict "kind" "CustomResourceDefinition" "name" "scaledobjects.keda.sh") (dict "kind" "Deployment" "selector" "app.kubernetes.io/name=keda-operator"))
  "command" (printf "helm install keda keda --repo https://kedacore.github.io/charts --version 2.17.1 --namespace %s --create-namespace --set podIdentity.aws.irsa.enabled=true --set podIdentity.aws.irsa.roleArn=%s" ($v.keda.namespace | default "keda") (include "hyperpod-inference-operator.argument" (list $irsa.roleArn "keda.podIdentity.aws.irsa.roleArn")))) -}}
{{- end -}}
{{- range $p := $all -}}
{{- $_ := set $p "component" "hyperpod-inference-operator" -}}
{{- end -}}
{{- $all | toJson -}}
{{- end -}}
