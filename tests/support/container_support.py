"""A pod of the chart run as a real container: the agents image built here, started by runc with
what the rendered pod spec asks for.

This is the part of a kubelet that decides what the process may do: the image's root filesystem
(read-only when the pod says so), the user and group from the pod's and container's security
contexts, no capabilities after `drop: [ALL]`, no privilege gain, and the pod's volumes as bind
mounts: a ConfigMap volume as the rendered files, hostPath volumes from a sandbox folder the test
names (never the machine's own /var/log), an emptyDir as a fresh folder. The container shares the
host's network namespace (the API server listens on 127.0.0.1) and reaches it with in-cluster
configuration, as a pod does: a ServiceAccount token file and KUBERNETES_SERVICE_HOST/PORT.
Anything of the pod spec this does not translate fails the test instead of being ignored.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperpod_deps.toolchain import oci

_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)

TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_DEV_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
        "destination": "/dev/pts",
        "type": "devpts",
        "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    },
    {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    },
]
# What runc and the kubelet's runtimes hide or make read-only in every container.
_MASKED = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
]
_READ_ONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
_HANDLED_CONTAINER_CONTEXT = {
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "runAsNonRoot",
    "capabilities",
    "runAsUser",
    "runAsGroup",
    "privileged",
}
_HANDLED_POD_CONTEXT = {
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "supplementalGroups",
    "seccompProfile",
    "fsGroup",
}


class Untranslated(AssertionError):
    """The pod spec asks for something this runner does not do: the test would not show the truth."""


@dataclass(frozen=True)
class ClusterAccess:
    """How the container reaches the API server: in-cluster configuration, as in a pod."""

    host: str
    port: int
    token: str
    ca_pem: str
    namespace: str


@dataclass
class PodContainer:
    """One container of a rendered pod template, unpacked and ready to run with runc."""

    pod: Mapping[str, Any]
    container: str
    image_layout: Path
    workdir: Path
    host_paths: Mapping[str, Path]
    config_maps: Mapping[str, Mapping[str, str]]
    access: ClusterAccess
    env: Mapping[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"hpd-{uuid.uuid4().hex[:10]}")
    process: subprocess.Popen[bytes] | None = None

    @property
    def bundle(self) -> Path:
        return self.workdir / "bundle"

    @property
    def output(self) -> Path:
        return self.workdir / "container.out"

    def prepare(self) -> dict[str, Any]:
        """The bundle (root filesystem and config.json); the runtime config written."""
        rootfs = self.bundle / "rootfs"
        if not rootfs.exists():
            image_config = oci.unpack(self.image_layout, rootfs)
            (self.bundle / "image-config.json").write_text(json.dumps(image_config))
        image_config = json.loads((self.bundle / "image-config.json").read_text())
        config = self.runtime_config(image_config["config"])
        (self.bundle / "config.json").write_text(json.dumps(config, indent=2))
        return config

    def _spec(self) -> Mapping[str, Any]:
        every = [*(self.pod.get("initContainers") or []), *self.pod["containers"]]
        containers = [c for c in every if c["name"] == self.container]
        assert containers, f"no container {self.container} in the pod spec"
        found: Mapping[str, Any] = containers[0]
        return found

    def runtime_config(self, image: Mapping[str, Any]) -> dict[str, Any]:
        spec = self._spec()
        pod_context = self.pod.get("securityContext") or {}
        context = spec.get("securityContext") or {}
        _refuse_unknown("pod securityContext", pod_context, _HANDLED_POD_CONTEXT)
        _refuse_unknown(f"container {self.container} securityContext", context, _HANDLED_CONTAINER_CONTEXT)
        if context.get("privileged"):
            raise Untranslated("privileged containers are not run here")
        uid = int(context.get("runAsUser", pod_context.get("runAsUser", _image_uid(image))))
        gid = int(context.get("runAsGroup", pod_context.get("runAsGroup", 0)))
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) and uid == 0:
            raise AssertionError("runAsNonRoot with uid 0: the kubelet refuses to start this container")
        dropped = set((context.get("capabilities") or {}).get("drop") or [])
        # Kubernetes names a capability without the CAP_ prefix the runtime wants, as containerd adds it.
        added = [f"CAP_{name}" for name in (context.get("capabilities") or {}).get("add") or []]
        assert dropped == {"ALL"} or not dropped, f"only drop: [ALL] is translated, not {dropped}"
        capabilities = added if dropped == {"ALL"} else _DEFAULT_CAPABILITIES + added
        args = [*(spec.get("command") or image.get("Entrypoint") or []), *(spec.get("args") or [])]
        env = {**_image_env(image), **self._env(spec), **self.env}
        return {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {
                    "uid": uid,
                    "gid": gid,
                    "additionalGids": list(pod_context.get("supplementalGroups") or []),
                },
                "args": args,
                "env": [f"{k}={v}" for k, v in env.items()],
                "cwd": spec.get("workingDir") or "/",
                "capabilities": {kind: capabilities for kind in ("bounding", "effective", "permitted")},
                "noNewPrivileges": context.get("allowPrivilegeEscalation") is False,
                # The runtime's own open-file limit, as containerd passes on: raising it needs a
                # privilege the runner may lack (CI's limit is lower than kubelet hosts').
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": _NOFILE[1], "soft": _NOFILE[0]}],
            },
            "root": {"path": "rootfs", "readonly": bool(context.get("readOnlyRootFilesystem"))},
            "hostname": self.name,
            "mounts": [*_DEV_MOUNTS, *self._etc_mounts(), *self._volume_mounts(spec), *self._token_mount()],
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
                "maskedPaths": _MASKED,
                "readonlyPaths": _READ_ONLY,
            },
        }

    def _env(self, spec: Mapping[str, Any]) -> dict[str, str]:
        env = {"KUBERNETES_SERVICE_HOST": self.access.host, "KUBERNETES_SERVICE_PORT": str(self.access.port)}
        for item in spec.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
            elif (item.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
                env[item["name"]] = self.env["NODE_NAME"]
            elif (item.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[item["name"]] = self.access.namespace
            else:
                raise Untranslated(f"env {item['name']}: only values, spec.nodeName and metadata.namespace")
        return env

    def _volume_mounts(self, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        volumes = {v["name"]: v for v in self.pod.get("volumes") or []}
        mounts = []
        for mount in spec.get("volumeMounts") or []:
            source = self._volume_source(volumes[mount["name"]])
            if mount.get("subPath"):
                raise Untranslated(f"volumeMount {mount['name']}: subPath")
            options = ["rbind", "ro" if mount.get("readOnly") else "rw"]
            mounts.append(
                {"destination": mount["mountPath"], "type": "bind", "source": str(source), "options": options}
            )
        return mounts

    def _volume_source(self, volume: Mapping[str, Any]) -> Path:
        name: str = volume["name"]
        if "configMap" in volume:
            data = self.config_maps[volume["configMap"]["name"]]
            target = self.workdir / "volumes" / name
            shutil.rmtree(target, ignore_errors=True)
            items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                path = target / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data[item["key"]])
            return target
        if "hostPath" in volume:
            host = volume["hostPath"]["path"]
            if host not in self.host_paths:
                raise Untranslated(f"hostPath {host} (volume {name}) has no sandbox folder")
            source: Path = self.host_paths[host]
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                source.mkdir(parents=True, exist_ok=True)
            return source
        if "emptyDir" in volume:
            target = self.workdir / "volumes" / name
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o1777)
            return target
        raise Untranslated(f"volume {name}: {sorted(volume)}")

    def _etc_mounts(self) -> list[dict[str, Any]]:
        """/etc/hosts, /etc/hostname and /etc/resolv.conf, as the kubelet mounts its own over the
        image's. The container shares this machine's network, so its name is 127.0.0.1; with no
        cluster DNS here, resolv.conf names no server (a lookup asks 127.0.0.1 and is refused),
        so nothing a process resolves goes to the machine's DNS server."""
        target = self.workdir / "etc"
        target.mkdir(parents=True, exist_ok=True)
        files = {"hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t{self.name}\n",
                 "hostname": f"{self.name}\n", "resolv.conf": "options ndots:1\n"}
        mounts = []
        for name, text in files.items():
            (target / name).write_text(text)
            (target / name).chmod(0o644)
            mounts.append({"destination": f"/etc/{name}", "type": "bind", "source": str(target / name),
                           "options": ["rbind", "ro"]})
        return mounts

    def _token_mount(self) -> list[dict[str, Any]]:
        if self.pod.get("automountServiceAccountToken") is False:
            return []
        target = self.workdir / "serviceaccount"
        target.mkdir(parents=True, exist_ok=True)
        for file, text in (
            ("token", self.access.token),
            ("ca.crt", self.access.ca_pem),
            ("namespace", self.access.namespace),
        ):
            (target / file).write_text(text)
            (target / file).chmod(0o644)
        return [{"destination": TOKEN_DIR, "type": "bind", "source": str(target), "options": ["rbind", "ro"]}]

    def run(self, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run to completion; its exit code and output."""
        self.prepare()
        try:
            return subprocess.run(
                ["runc", "run", "--bundle", str(self.bundle), self.name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        finally:
            self.delete()

    def start(self) -> None:
        """Start in the background; output goes to `output`."""
        self.prepare()
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                ["runc", "run", "--bundle", str(self.bundle), self.name],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, as the kubelet sends; the exit code (None when it had to be killed)."""
        process, self.process = self.process, None
        if process is None:
            return None
        subprocess.run(["runc", "kill", self.name, "TERM"], capture_output=True, check=False)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        self.delete()
        process.wait()
        return code

    def delete(self) -> None:
        subprocess.run(["runc", "delete", "--force", self.name], capture_output=True, check=False)

    def log_lines(self) -> list[str]:
        return self.output.read_text().splitlines() if self.output.exists() else []


# The capabilities runtimes give a container that drops none (containerd's default set).
_DEFAULT_CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


def _refuse_unknown(where: str, context: Mapping[str, Any], handled: set[str]) -> None:
    unknown = set(context) - handled
    if unknown:
        raise Untranslated(f"{where}: {sorted(unknown)}")


def _image_uid(image: Mapping[str, Any]) -> int:
    user = str(image.get("User") or "0")
    return int(user.split(":", 1)[0])


def _image_env(image: Mapping[str, Any]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in image.get("Env") or [])
