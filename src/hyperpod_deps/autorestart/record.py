"""The restart record, kept on the job itself so it survives the controller.

Three annotations under our own prefix:
- `hyperpod-deps.io/auto-restart-count`: restarts done, what users and dashboards read;
- `hyperpod-deps.io/auto-restart-status`: one line saying where the job stands;
- `hyperpod-deps.io/auto-restart-record`: JSON with the fault keys handled, the pods brought
  down, and the restart in progress (written before any pod is deleted, cleared after).

A controller that crashes mid-restart leaves the in-progress entry behind; the next leader
finishes that restart (deletes the same pods) without counting it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

PREFIX = "hyperpod-deps.io"
COUNT_ANNOTATION = f"{PREFIX}/auto-restart-count"
STATUS_ANNOTATION = f"{PREFIX}/auto-restart-status"
RECORD_ANNOTATION = f"{PREFIX}/auto-restart-record"

# Bounds that keep the annotation small (annotations total at most 256 KiB per object).
HANDLED_LIMIT = 20
BROUGHT_DOWN_LIMIT = 512


@dataclass(frozen=True)
class PodRef:
    uid: str
    name: str
    force: bool = False  # its node is gone or not ready: nobody there would confirm a graceful delete


@dataclass(frozen=True)
class InProgress:
    count: int  # the restart this is (already counted)
    faults: tuple[str, ...]
    pods: tuple[PodRef, ...]
    started_at: str


@dataclass(frozen=True)
class RestartRecord:
    count: int = 0
    handled: tuple[str, ...] = ()
    brought_down: tuple[str, ...] = ()
    in_progress: InProgress | None = None
    exhausted: bool = False
    last_restart_at: str | None = None
    damaged: bool = field(default=False, compare=False)  # the stored JSON was unreadable

    def starting(self, faults: tuple[str, ...], pods: tuple[PodRef, ...], at: str) -> RestartRecord:
        """The record to write before bringing the pods down."""
        count = self.count + 1
        return replace(
            self,
            count=count,
            handled=(*self.handled, *faults)[-HANDLED_LIMIT:],
            brought_down=(*self.brought_down, *(p.uid for p in pods))[-BROUGHT_DOWN_LIMIT:],
            in_progress=InProgress(count, faults, pods, at),
            exhausted=False,
            last_restart_at=at,
        )

    def finished(self) -> RestartRecord:
        return replace(self, in_progress=None)

    def exhausting(self, faults: tuple[str, ...]) -> RestartRecord:
        return replace(self, exhausted=True, handled=(*self.handled, *faults)[-HANDLED_LIMIT:])


def parse(annotations: Mapping[str, Any]) -> RestartRecord:
    """Never raises: a hand-edited or damaged record reads as empty, with the count kept."""
    count = _count(annotations.get(COUNT_ANNOTATION))
    raw = annotations.get(RECORD_ANNOTATION)
    if raw is None:
        return RestartRecord(count=count or 0)
    try:
        data = json.loads(str(raw))
        record = _from_json(data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return RestartRecord(count=count or 0, damaged=True)
    # The visible count wins: a person may reset it to grant a job a fresh budget.
    return replace(record, count=count) if count is not None else record


def to_annotations(record: RestartRecord, status: str) -> dict[str, str]:
    return {
        COUNT_ANNOTATION: str(record.count),
        STATUS_ANNOTATION: status[:512],
        RECORD_ANNOTATION: json.dumps(_to_json(record), separators=(",", ":"), sort_keys=True),
    }


def _count(raw: Any) -> int | None:
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdigit() else None


def _to_json(record: RestartRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "count": record.count,
        "handled": list(record.handled),
        "broughtDown": list(record.brought_down),
        "exhausted": record.exhausted,
    }
    if record.last_restart_at:
        data["lastRestartAt"] = record.last_restart_at
    if record.in_progress:
        progress = record.in_progress
        data["inProgress"] = {
            "count": progress.count,
            "faults": list(progress.faults),
            "startedAt": progress.started_at,
            "pods": [{"uid": p.uid, "name": p.name, "force": p.force} for p in progress.pods],
        }
    return data


def _from_json(data: Mapping[str, Any]) -> RestartRecord:
    progress = data.get("inProgress")
    in_progress = None
    if progress:
        in_progress = InProgress(
            int(progress["count"]),
            tuple(str(f) for f in progress["faults"]),
            tuple(PodRef(str(p["uid"]), str(p["name"]), bool(p.get("force"))) for p in progress["pods"]),
            str(progress["startedAt"]),
        )
    return RestartRecord(
        count=int(data.get("count", 0)),
        handled=tuple(str(k) for k in data.get("handled", [])),
        brought_down=tuple(str(u) for u in data.get("broughtDown", [])),
        in_progress=in_progress,
        exhausted=bool(data.get("exhausted", False)),
        last_restart_at=data.get("lastRestartAt"),
    )
