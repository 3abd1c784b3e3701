"""Errors of the kube layer. The class says whether retrying can help; the client's own
exception is always chained, so its details stay one `raise ... from` away."""
from __future__ import annotations


class KubeError(RuntimeError):
    """Talking to the API server failed."""


class ClusterUnreachable(KubeError):
    """No usable kubeconfig, or the API server did not answer: nothing was asked."""


class RequestFailed(KubeError):
    """The API server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def temporary(self) -> bool:
        """Throttling, timeouts and server errors may pass; the rest will not without a change."""
        return self.status in (429, 500, 502, 503, 504)


class Forbidden(RequestFailed):
    """RBAC denied the request (403)."""
