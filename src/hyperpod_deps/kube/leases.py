"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Several replicas of a controller campaign for one Lease; the holder renews it every retry period
and the others take it over only once it has gone unrenewed for a whole lease duration, timed
on their own clock from when they last saw it change (never from the timestamps in the Lease,
so clock skew between machines does not matter). A holder that cannot renew stops acting after
the renew deadline, which is shorter than the lease duration: it stops before anyone else starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import KubeError

LEASE = ResourceType("coordination.k8s.io/v1", "Lease", "leases", True)


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    duration_seconds: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int
    resource_version: str = ""

    @property
    def version(self) -> tuple[str, str | None, str]:
        """What changes each time anyone writes the Lease."""
        return self.holder, self.renew_time, self.resource_version


def read_lease(kube: Kube, namespace: str, name: str) -> LeaseRecord | None:
    found = kube.get(LEASE, name, namespace)
    return _record(found) if found is not None else None


def write_lease(kube: Kube, namespace: str, name: str, record: LeaseRecord) -> LeaseRecord:
    """Create the Lease (record.resource_version empty) or replace it, compare-and-swap:
    RequestFailed(409) when another candidate wrote it first."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record.resource_version:
        metadata["resourceVersion"] = record.resource_version
    manifest: Manifest = {
        "apiVersion": LEASE.api_version,
        "kind": LEASE.kind,
        "metadata": metadata,
        "spec": {
            key: value
            for key, value in {
                "holderIdentity": record.holder,
                "leaseDurationSeconds": record.duration_seconds,
                "acquireTime": record.acquire_time,
                "renewTime": record.renew_time,
                "leaseTransitions": record.transitions,
            }.items()
            if value is not None
        },
    }
    written = kube.replace(manifest) if record.resource_version else kube.create(manifest, namespace)
    return _record(written)


def may_take(current: LeaseRecord | None, identity: str, unchanged_for_seconds: float) -> bool:
    """Whether `identity` may write itself in as holder now."""
    if current is None or not current.holder or current.holder == identity:
        return True
    return unchanged_for_seconds >= current.duration_seconds


def microtime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate. Call `try_acquire_or_renew()` every retry period; `is_leader()` says
    whether it may act right now."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        lease_duration_seconds: float,
        renew_deadline_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self._duration, self._deadline = lease_duration_seconds, renew_deadline_seconds
        self._clock, self._wall = clock, wall
        self._observed: tuple[tuple[str, str | None, str], float] | None = None
        self._renewed_at: float | None = None

    def is_leader(self) -> bool:
        return self._renewed_at is not None and self._clock() - self._renewed_at < self._deadline

    def try_acquire_or_renew(self) -> bool:
        """One attempt; errors count as a failed renewal (the deadline decides), never raise."""
        started = self._clock()
        try:
            current = read_lease(self._kube, self.namespace, self.name)
            if current is not None and (self._observed is None or self._observed[0] != current.version):
                self._observed = (current.version, started)
            unchanged = started - self._observed[1] if self._observed else 0.0
            if not may_take(current, self.identity, unchanged):
                self._renewed_at = None
                return False
            written = write_lease(self._kube, self.namespace, self.name, self._next(current))
        except KubeError:
            # A conflict (another candidate wrote first) or an unreachable API server: the next
            # attempt reads the Lease again; until then the renew deadline decides.
            return self.is_leader()
        self._observed = (written.version, started)
        self._renewed_at = started
        return True

    def release(self) -> None:
        """Hand the Lease back on a clean exit, so the standby takes over at once."""
        if not self.is_leader():
            return
        self._renewed_at = None
        try:
            current = read_lease(self._kube, self.namespace, self.name)
            if current is not None and current.holder == self.identity:
                now = microtime(self._wall())
                write_lease(
                    self._kube,
                    self.namespace,
                    self.name,
                    LeaseRecord(
                        "", 1, current.acquire_time, now, current.transitions, current.resource_version
                    ),
                )
        except KubeError:
            pass  # the lease expires on its own

    def _next(self, current: LeaseRecord | None) -> LeaseRecord:
        now = microtime(self._wall())
        duration = max(1, round(self._duration))
        if current is not None and current.holder == self.identity:
            return LeaseRecord(
                self.identity,
                duration,
                current.acquire_time or now,
                now,
                current.transitions,
                current.resource_version,
            )
        transitions = (
            (current.transitions + 1)
            if current is not None and current.holder
            else (current.transitions if current is not None else 0)
        )
        return LeaseRecord(
            self.identity,
            duration,
            now,
            now,
            transitions,
            current.resource_version if current is not None else "",
        )


def _record(lease: Manifest) -> LeaseRecord:
    spec = lease.get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=spec.get("acquireTime"),
        renew_time=spec.get("renewTime"),
        transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=str((lease.get("metadata") or {}).get("resourceVersion", "")),
    )
