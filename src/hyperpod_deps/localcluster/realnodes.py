"""Real kubelet nodes beside the simulated ones: containerd + runc + CNI from Debian, a kubelet
built from the control plane's module, real containers (realnode.py plans each one).

`start` puts on the host: a bridge with the node's address, a cgroup root in every cgroup v1
hierarchy, the node's folder (containerd's and the kubelet's state, mounts of its pods), the
kubelet's kernel sysctls (recorded first) and, from the kubelet, log links in /var/log/containers.
`stop_all` takes every one of them away again, also after a crash: it works from names and
paths, not from a record that a crash may have lost.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from hyperpod_deps.localcluster import kubeconfig, pki, processes
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.localcluster.netplan import NetworkPlan
from hyperpod_deps.localcluster.realnode import (
    CHART_HOST_FOLDERS,
    DEAD_END_PROXY,
    KUBELET_SYSCTLS,
    RealNode,
    kubelet_command,
    render_files,
)
from hyperpod_deps.toolchain.gobuild import Progress
from hyperpod_deps.toolchain.helm import kubectl_path

CGROUP_V1 = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # the kubelet's fixed folder of log links
SHIM_SOCKETS = Path("/run/containerd/s")  # where containerd 1.6's shims listen, whatever its state dir
NETNS_PINS = Path("/run/netns")
# Machine-wide, written when the first real node starts: the kubelet's sysctls as they were, and
# which host folders the chart's pods may create (hostPath DirectoryOrCreate) did not exist yet.
HOST_RECORD = Path("/run/hyperpod-deps-real-nodes.json")
HOST_PACKAGES = {"containerd": "containerd", "runc": "runc", "/usr/bin/catatonit": "catatonit",
                 "/usr/lib/cni/bridge": "containernetworking-plugins"}
READY_TIMEOUT_SECONDS = 90.0


class RealNodeError(RuntimeError):
    """A real node could not be started; the message says what to install or where to look."""


def folder(layout: Layout) -> Path:
    return layout.root / "real"


def node(layout: Layout, plan: NetworkPlan, index: int) -> RealNode:
    return RealNode(plan, index, folder(layout) / f"n{index}")


def require_host() -> None:
    """Fail before any build with the packages to install (and root, which all of it needs)."""
    if os.geteuid() != 0:
        raise RealNodeError("real nodes run containerd and a kubelet, which need root")
    missing = sorted({package for tool, package in HOST_PACKAGES.items()
                      if not (Path(tool).exists() if "/" in tool else shutil.which(tool))})
    if missing:
        raise RealNodeError("real nodes need Debian packages that are missing: "
                            f"apt-get install {' '.join(missing)}")


def start(layout: Layout, plan: NetworkPlan, index: int, admin: Path, registry: str, kubelet: Path,
          progress: Progress) -> RealNode:
    """Bring up real node `index`: bridge, cgroups, containerd, kubelet; returns once it is Ready."""
    real = node(layout, plan, index)
    progress(f"starting real node {real.name} at {real.address} (containerd, kubelet)")
    real.root.mkdir(parents=True, exist_ok=True)
    identity = f"node-{real.name}"
    pki.issue_client_certificate(layout.pki, identity, f"system:node:{real.name}", ("system:nodes",))
    node_kubeconfig = kubeconfig.for_person(admin, layout.pki, identity, f"system:node:{real.name}",
                                            real.root / "kubelet.kubeconfig")
    for path, text in render_files(real, registry, layout.pki / "ca.crt", processes.free_port()).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _bridge_up(real)
    _cgroups_made(real)
    _record_host()
    env = {"HTTP_PROXY": DEAD_END_PROXY, "HTTPS_PROXY": DEAD_END_PROXY, "NO_PROXY": "127.0.0.1,localhost"}
    processes.start(f"{real.component}-containerd",
                    ["containerd", "--config", str(real.root / "containerd.toml")], layout, env)
    _wait_for_socket(real, layout)
    processes.start(f"{real.component}-kubelet",
                    kubelet_command(kubelet, real, real.root / "kubelet.yaml", node_kubeconfig), layout)
    _wait_ready(layout, real, admin)
    return real


def stop_all(layout: Layout) -> list[str]:
    """Stop every real node of the cluster and remove what each put on the host; their names."""
    stopped = []
    for root in sorted(folder(layout).glob("n*")) if folder(layout).is_dir() else []:
        component = f"real-{root.name[1:]}"
        processes.stop(f"{component}-kubelet", layout)
        namespaces = _network_namespaces(container_pids(root))
        _kill_cgroup_trees(root)
        shim_sockets = _kill_shims(root / "containerd.sock")
        processes.stop(f"{component}-containerd", layout)
        _remove_network_namespaces(namespaces)
        for socket in shim_sockets:
            socket.unlink(missing_ok=True)
        _unmount_under(root)
        _remove_log_links(root / "pod-logs")
        for bridge in _bridges_of(root):
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
        _remove_cgroups(root)
        if not list(_mounts_under(root)):  # never delete through a mount that stayed
            shutil.rmtree(root, ignore_errors=True)
        stopped.append(root.name)
    for empty in (folder(layout), SHIM_SOCKETS, SHIM_SOCKETS.parent):  # made by us or the shims
        with contextlib.suppress(OSError):
            empty.rmdir()
    _restore_host_if_last()
    return stopped


# --- the host pieces ---------------------------------------------------------------------------


def _bridge_up(real: RealNode) -> None:
    (real.root / "bridge").write_text(real.bridge + "\n")  # found by stop_all after a crash
    subprocess.run(["ip", "link", "delete", real.bridge], capture_output=True, check=False)
    for command in (["ip", "link", "add", real.bridge, "type", "bridge"],
                    ["ip", "addr", "add", f"{real.address}/{real.prefix_length}", "dev", real.bridge],
                    ["ip", "link", "set", real.bridge, "up"]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RealNodeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    # Pods reach the API server at the `kubernetes` Service address, which the cluster's table
    # sends to loopback: the kernel lets a packet from the bridge go to 127.0.0.1 only with this.
    Path(f"/proc/sys/net/ipv4/conf/{real.bridge}/route_localnet").write_text("1\n")


def _bridges_of(root: Path) -> list[str]:
    try:
        return [(root / "bridge").read_text().strip()]
    except OSError:
        return []


def cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (cpu, memory, pids, ..., the named systemd one)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        if fields[separator + 1] == "cgroup":
            found.append(Path(fields[4]))
    return sorted(set(found))


def _cgroups_made(real: RealNode) -> None:
    (real.root / "cgroup-root").write_text(real.cgroup_root + "\n")
    for hierarchy in cgroup_hierarchies():
        target = hierarchy / real.cgroup_root.lstrip("/")
        target.mkdir(exist_ok=True)
        if (hierarchy / "cpuset.cpus").exists():  # a new cpuset has no CPUs until given its parent's
            for name in ("cpuset.cpus", "cpuset.mems"):
                (target / name).write_text((hierarchy / name).read_text())


def _cgroup_dirs(root: Path) -> Iterator[Path]:
    try:
        cgroup_root = (root / "cgroup-root").read_text().strip().lstrip("/")
    except OSError:
        return
    if cgroup_root:
        for hierarchy in cgroup_hierarchies():
            if (hierarchy / cgroup_root).is_dir():
                yield hierarchy / cgroup_root


def container_pids(root: Path) -> set[int]:
    """Every process in the cgroups of the real node whose folder is `root`: its containers."""
    pids: set[int] = set()
    for top in _cgroup_dirs(root):
        # os.walk skips what vanishes under it: the runtime removes cgroups while this reads.
        for directory, _, _ in os.walk(top):
            pids |= {int(pid) for pid in _read(Path(directory) / "cgroup.procs").split()}
    return pids


def _kill_cgroup_trees(root: Path) -> None:
    """SIGKILL every process in the node's cgroups: its containers (their shims live outside)."""
    for _ in range(50):
        pids = container_pids(root)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _remove_cgroups(root: Path) -> None:
    for top in _cgroup_dirs(root):
        for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(Path(entry[0]).parts)):
            with contextlib.suppress(OSError):
                Path(directory).rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def _kill_shims(socket: Path) -> list[Path]:
    """containerd's shims outlive it by design (they daemonize); this node's name its socket.
    Returns the sockets they listened on (/run/containerd/s/<digest>), which a killed shim leaves."""
    needle = str(socket).encode()
    listened: list[Path] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                listened += _unix_sockets_of(int(entry.name))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)
    return [path for path in listened if path.parent == SHIM_SOCKETS]


def _unix_sockets_of(pid: int) -> list[Path]:
    """The named unix sockets a process holds open (its fds' inodes, looked up in /proc/net/unix)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    named = []
    for line in _read(Path("/proc/net/unix")).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[6] in inodes:
            named.append(Path(fields[7]))
    return named


def _network_namespaces(pids: set[int]) -> set[int]:
    """The network namespaces (inode numbers) the node's pods live in."""
    found = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            found.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
    return found


def _remove_network_namespaces(inodes: set[int]) -> None:
    """containerd 1.6 pins each pod's namespace as /run/netns/cni-<uuid> (it cannot be told
    another folder): those whose namespace was one of this node's pods' are unpinned and removed."""
    if not inodes or not NETNS_PINS.is_dir():
        return
    for pin in NETNS_PINS.glob("cni-*"):
        with contextlib.suppress(OSError):
            if pin.stat().st_ino in inodes:
                subprocess.run(["umount", str(pin)], capture_output=True, check=False)
                pin.unlink()


def _mounts_under(root: Path) -> Iterator[Path]:
    prefix = str(root.resolve()) + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            yield Path(point)


def _unmount_under(root: Path) -> None:
    """Deepest first; lazily, so a mount still busy for a moment goes when it is free."""
    for _ in range(5):
        mounts = sorted(set(_mounts_under(root)), key=lambda p: -len(p.parts))
        if not mounts:
            return
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _remove_log_links(pod_logs: Path) -> None:
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and os.readlink(link).startswith(str(pod_logs)):
            link.unlink(missing_ok=True)


def _record_host() -> None:
    if not HOST_RECORD.exists():
        sysctls = {name: _read(Path("/proc/sys") / name).strip() for name in KUBELET_SYSCTLS}
        absent = [str(path) for path in CHART_HOST_FOLDERS if not path.exists()]
        HOST_RECORD.write_text(json.dumps({"sysctls": sysctls, "absent": absent}) + "\n")


def _restore_host_if_last() -> None:
    """Once no real node's kubelet runs on this machine, its kernel settings go back and the
    host folders the chart's pods made go (they were absent before the first real node)."""
    if not HOST_RECORD.exists() or kubelets_running():
        return
    record = json.loads(HOST_RECORD.read_text())
    for name, value in record.get("sysctls", {}).items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / name).write_text(f"{value}\n")
    for folder_made in record.get("absent", []):
        if Path(folder_made) in CHART_HOST_FOLDERS:  # never more than the fixed list, whatever the file says
            shutil.rmtree(folder_made, ignore_errors=True)
    HOST_RECORD.unlink(missing_ok=True)


def kubelets_running() -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if argv and argv[0].endswith(b"/kubelet") and any(b"--hostname-override=" in a for a in argv):
                    return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# --- waiting ------------------------------------------------------------------------------------


def _wait_for_socket(real: RealNode, layout: Layout, timeout_seconds: float = 30.0) -> None:
    component = f"{real.component}-containerd"
    deadline = time.monotonic() + timeout_seconds
    while not real.socket.exists():
        if processes.running_pid(component, layout) is None or time.monotonic() > deadline:
            raise RealNodeError(f"containerd of {real.name} did not start.\n"
                                f"{processes.log_tail(component, layout)}")
        time.sleep(0.1)


def _wait_ready(layout: Layout, real: RealNode, admin: Path) -> None:
    component = f"{real.component}-kubelet"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if processes.running_pid(component, layout) is None:
            raise RealNodeError(f"the kubelet of {real.name} exited.\n"
                                f"{processes.log_tail(component, layout)}")
        if _ready(admin, real.name):
            return
        time.sleep(0.5)
    raise RealNodeError(f"{real.name} was not Ready after {READY_TIMEOUT_SECONDS:.0f}s.\n"
                        f"{processes.log_tail(component, layout)}")


def _ready(admin: Path, name: str) -> bool:
    done = subprocess.run([str(kubectl_path()), "--kubeconfig", str(admin), "get", "node", name, "-o",
                           "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
                          capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip() == "True"
