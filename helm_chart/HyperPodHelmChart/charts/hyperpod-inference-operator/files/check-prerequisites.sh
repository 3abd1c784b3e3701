# Runs in the operator's init container (AWS's image, which has bash and
# kubectl): the operator cannot serve without these, so the pod stops here with
# the finding in its termination message. `hyperpod-deps preflight` checks the
# same, and more, before install.
set -uo pipefail
finding() { echo "$1" | tee /dev/termination-log; exit "$2"; }
present() {
  local output
  if output="$(kubectl get "$1" "$2" -o name 2>&1)"; then return 0; fi
  case "$output" in
    *[Ff]orbidden*|*[Uu]nauthorized*) finding "cannot read $1 $2 (RBAC): $output" 2 ;;
  esac
  finding "missing $1 $2 ($3): install it first (hyperpod-deps preflight names the command)" 1
}
for check in ${CHECKS:-drivers crds}; do
  case "$check" in
    drivers)
      present csidriver s3.csi.aws.com "Mountpoint for Amazon S3 CSI driver"
      present csidriver fsx.csi.aws.com "Amazon FSx for Lustre CSI driver" ;;
    crds)
      present crd certificates.cert-manager.io cert-manager
      present crd certificaterequests.cert-manager.io cert-manager ;;
    *) finding "unknown check $check" 1 ;;
  esac
done
echo "prerequisites present: ${CHECKS:-drivers crds}" > /dev/termination-log
