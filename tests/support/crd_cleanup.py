"""Deleting the CRDs a test created, without hanging on a kube-apiserver race.

kube-apiserver can leave a CRD that is deleted soon after it was created stuck
in Terminating, its condition saying "could not list instances: storage is
(re)initializing", and then not retry for a long time (seen with 1.35.4). A
plain `kubectl delete` waits for it forever. Here the deletion does not wait;
a CRD stuck on exactly that condition has its cleanup finalizer dropped, which
is safe only because nothing could be stored in a CRD whose storage was never
ready.
"""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence

STUCK_MESSAGE = "storage is (re)initializing"


def delete_crds(kubectl: Sequence[str], names: Sequence[str], timeout_seconds: float = 120) -> None:
    subprocess.run([*kubectl, "delete", "customresourcedefinition", *names, "--ignore-not-found",
                    "--wait=false"], capture_output=True, check=True)
    deadline = time.monotonic() + timeout_seconds
    remaining = list(names)
    while remaining:
        remaining = [name for name in remaining if _release_if_stuck(kubectl, name)]
        if not remaining:
            return
        assert time.monotonic() < deadline, f"CRDs still terminating after {timeout_seconds}s: {remaining}"
        time.sleep(1)


def _release_if_stuck(kubectl: Sequence[str], name: str) -> bool:
    """True while the CRD still exists."""
    found = subprocess.run([*kubectl, "get", "customresourcedefinition", name, "-o", "json",
                            "--ignore-not-found"], capture_output=True, text=True, check=True)
    if not found.stdout.strip():
        return False
    conditions = json.loads(found.stdout).get("status", {}).get("conditions") or []
    if any(c.get("type") == "Terminating" and STUCK_MESSAGE in c.get("message", "") for c in conditions):
        patched = subprocess.run([*kubectl, "patch", "customresourcedefinition", name, "--type=merge",
                                  "-p", '{"metadata":{"finalizers":[]}}'], capture_output=True, text=True,
                                 check=False)
        # The CRD may finish terminating between the read and the patch: that is the outcome wanted.
        if patched.returncode != 0 and "NotFound" not in patched.stderr:
            raise subprocess.CalledProcessError(patched.returncode, patched.args, patched.stdout,
                                                patched.stderr)
    return True
