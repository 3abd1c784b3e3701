"""Short-lived ServiceAccount tokens (TokenRequest), to act exactly as a workload's identity."""
from __future__ import annotations

from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed

SERVICE_ACCOUNT = ("v1", "ServiceAccount")


def service_account_token(kube: Kube, namespace: str, name: str, seconds: int = 3600,
                          node: str | None = None, pod: str | None = None) -> str:
    """A bound token for the ServiceAccount, as the kubelet would mount into its pods.

    With `node`, the token is bound to that Node (`kubectl create token --bound-object-kind Node`):
    the API server then puts the node's name in the token's user info
    (authentication.kubernetes.io/node-name), as it does for a pod's projected token, which is
    what the chart's own-node admission policies check. The token dies with the node.
    With `pod` (a pod of that ServiceAccount, in its namespace), the token is bound to the pod
    instead, as the kubelet's projected token is: its user info names the pod and its node.
    """
    rtype = kube.resource_type(*SERVICE_ACCOUNT)
    assert rtype is not None  # a built-in kind
    spec: dict[str, object] = {"expirationSeconds": seconds}
    if node is not None:
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Node", "name": node}
    if pod is not None:
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": pod}
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    response = kube.create_subresource(rtype, name, namespace, "token", request)
    token = (response.get("status") or {}).get("token")
    if not token:
        raise RequestFailed(f"TokenRequest for {namespace}/{name} returned no token", 500)
    return str(token)
