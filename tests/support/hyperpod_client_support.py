"""AWS's SageMaker HyperPod client (`hyp` and its SDK) run against the local cluster as a
person would: its own venv, a kubeconfig holding that person's client certificate and nothing
else of this machine's environment, and no route off the machine.

The client ignores a kubeconfig's impersonation settings, so each person is a real identity:
a client certificate signed by the cluster's CA (CN the user, O the groups). It sends telemetry
to an AWS endpoint on every command; the offline_site folder's sitecustomize refuses that (and
any other lookup or connection beyond loopback) before a packet is sent, and lists each refusal.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.localcluster import kubeconfig, pki
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.toolchain import hyperpod_client
from hyperpod_deps.toolchain.helm import helm_path

OFFLINE_SITE = Path(__file__).with_name("offline_site")
DRIVER = Path(__file__).with_name("hyperpod_client_driver.py")
GUARD_LOADED = "guard loaded"
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Person:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    refused: tuple[str, ...]  # what the offline guard stopped, e.g. "refused lookup <host>"

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class ClientAs:
    """The client, acting as one person."""

    person: Person
    home: Path
    kubeconfig: Path

    @classmethod
    def issue(cls, cluster: ClusterStatus, person: Person, home: Path) -> ClientAs:
        assert cluster.kubeconfig is not None
        pki_dir = cluster.state_dir / "pki"
        identity = f"person-{person.name}"
        pki.issue_client_certificate(pki_dir, identity, person.name, person.groups)
        home.mkdir(parents=True, exist_ok=True)
        config = kubeconfig.for_person(Path(cluster.kubeconfig), pki_dir, identity, person.name,
                                       home / "kubeconfig")
        return cls(person, home, config)

    def hyp(self, *args: str) -> Outcome:
        return self._run([str(hyperpod_client.hyp()), *args])

    def sdk(self, *args: str) -> Outcome:
        return self._run([str(hyperpod_client.python()), str(DRIVER), *args])

    def _run(self, command: list[str]) -> Outcome:
        log = self.home / "offline.log"
        log.unlink(missing_ok=True)
        # The real helm on PATH, as a user has it: CancelTrainingJob runs `helm uninstall`.
        path = os.pathsep.join((str(helm_path(3).parent), "/usr/local/bin", "/usr/bin", "/bin"))
        env = {"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home), "PATH": path, "LANG": "C.UTF-8",
               "PYTHONPATH": str(OFFLINE_SITE), "HYPERPOD_DEPS_OFFLINE_LOG": str(log),
               "PYTHONWARNINGS": "ignore"}
        done = subprocess.run(command, env=env, cwd=self.home, capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS, check=False)
        lines = log.read_text().splitlines() if log.exists() else []
        assert GUARD_LOADED in lines, f"the offline guard did not load: {done.stderr[-2000:]}"
        refused = tuple(line for line in lines if line != GUARD_LOADED)
        return Outcome(done.returncode, done.stdout, done.stderr, refused)
