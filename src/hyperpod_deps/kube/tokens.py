"""Short-lived ServiceAccount tokens (TokenRequest), to act exactly as a workload's identity."""
from __future__ import annotations

from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed

SERVICE_ACCOUNT = ("v1", "ServiceAccount")


def service_account_token(kube: Kube, namespace: str, name: str, seconds: int = 3600) -> str:
    """A bound token for the ServiceAccount, as the kubelet would mount into its pods."""
    rtype = kube.resource_type(*SERVICE_ACCOUNT)
    assert rtype is not None  # a built-in kind
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": seconds}}
    response = kube.create_subresource(rtype, name, namespace, "token", request)
    token = (response.get("status") or {}).get("token")
    if not token:
        raise RequestFailed(f"TokenRequest for {namespace}/{name} returned no token", 500)
    return str(token)
