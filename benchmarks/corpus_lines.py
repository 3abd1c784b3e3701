"""The records of the benchmark corpus: ordinary lines a GPU node logs, and planted faults, each
fault tagged with the rule of ours that must match it (kernel_corpus.py frames and places them)."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Pick = Callable[[random.Random], str]


@dataclass(frozen=True)
class Record:
    program: str  # "kernel" or "name[pid]"
    level: int  # syslog level, 0 emerg ... 7 debug
    message: str
    dictionary: tuple[str, ...] = ()  # kmsg continuation lines (" SUBSYSTEM=pci", ...)


@dataclass(frozen=True)
class Fault:
    rule: str  # our rule id that must match it
    xid: int | None  # the Xid, for the node-problem-detector rules (None: no NPD rule matches)
    record: Record


def _pci(rng: random.Random) -> str:
    return f"0000:{rng.choice(['10', '2d', '4b', '65', '8f', 'a8', 'c6', 'e4'])}:00"


def _pid(rng: random.Random) -> int:
    return rng.randrange(1200, 400_000)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _veth(r: random.Random) -> str:
    return f"veth{_hex(r, 7)}"


# --- Ordinary lines, weighted roughly as a busy training node logs them: (weight, level, text).
_KERNEL: list[tuple[int, int, Pick]] = [
    (12, 6, lambda r: f"IPv6: ADDRCONF(NETDEV_CHANGE): {_veth(r)}: link becomes ready"),
    (10, 6, lambda r: f"cni0: port {r.randrange(1, 64)}({_veth(r)}) entered "
                      f"{r.choice(['blocking', 'forwarding', 'disabled'])} state"),
    (8, 6, lambda r: f"device {_veth(r)} {r.choice(['entered', 'left'])} promiscuous mode"),
    (8, 5, lambda r: f"audit: type=1400 audit({1732780000 + r.randrange(90000)}.{r.randrange(1000):03d}:"
                     f"{r.randrange(99999)}): apparmor=\"DENIED\" operation=\"open\" "
                     f"profile=\"cri-containerd.apparmor.d\" name=\"/proc/{_pid(r)}/mounts\" pid={_pid(r)} "
                     "comm=\"python3\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0"),
    (6, 6, lambda r: f"ena 0000:{r.choice(['00:05.0', '00:06.0'])} eth{r.randrange(2)}: Found a Tx that "
                     f"wasn't completed on time, qid {r.randrange(32)}, index {r.randrange(1024)}."),
    (6, 6, lambda r: f"nvidia-uvm: Loaded the UVM driver, major device number {r.randrange(230, 240)}."),
    (5, 6, lambda r: f"NVRM: GPU at PCI:{_pci(r)}: GPU-{_hex(r, 8)}-{_hex(r, 4)}-{_hex(r, 4)}-{_hex(r, 4)}-"
                     f"{_hex(r, 12)}"),
    (4, 6, lambda r: f"NVRM: GPU Board Serial Number: 165{r.randrange(10**9, 10**10)}"),
    (3, 5, lambda _r: "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.127.05  "
                      "Tue Oct  8 01:04:09 UTC 2024"),
    (5, 6, lambda r: f"nvidia-nvswitch{r.randrange(4)}: open (major={r.randrange(500, 512)})"),
    (5, 6, lambda r: f"EXT4-fs (nvme{r.randrange(8)}n1): mounted filesystem {_hex(r, 8)}-{_hex(r, 4)} r/w "
                     "with ordered data mode. Quota mode: none."),
    (4, 6, lambda r: f"xfs filesystem being mounted at /var/lib/kubelet/pods/{_hex(r, 16)}/volumes "
                     "supports timestamps until 2038 (0x7fffffff)"),
    (4, 4, lambda r: f"TCP: request_sock_TCP: Possible SYN flooding on port {r.randrange(30000, 32768)}. "
                     "Sending cookies.  Check SNMP counters."),
    (3, 6, lambda r: f"efa 0000:{r.choice(['31', '32'])}:00.0: Setup irq:{r.randrange(100, 400)} "
                     f"name:efa-mgmnt@pci:0000:{r.choice(['31', '32'])}:00.0"),
    (3, 6, lambda r: f"Memory cgroup stats for /kubepods.slice/kubepods-burstable.slice/pod{_hex(r, 16)}"),
    (2, 4, lambda r: f"perf: interrupt took too long ({r.randrange(2500, 9000)} > {r.randrange(2500, 9000)}),"
                     f" lowering kernel.perf_event_max_sample_rate to {r.randrange(20000, 80000)}"),
    (2, 6, lambda r: f"nvme nvme{r.randrange(8)}: {r.randrange(8, 97)}/0/0 default/read/poll queues"),
]


def _clock(r: random.Random) -> str:
    return f"12:{r.randrange(60):02d}:{r.randrange(60):02d}"


# (weight, program, level, text)
_DAEMON: list[tuple[int, str, int, Pick]] = [
    (14, "systemd[1]", 6, lambda r: f"Started cri-containerd-{_hex(r, 32)}.scope - libcontainer container."),
    (10, "systemd[1]", 6, lambda r: f"run-containerd-runc-k8s.io-{_hex(r, 16)}-runc.{_hex(r, 6)}.mount: "
                                    "Deactivated successfully."),
    (12, "kubelet[2201]", 6, lambda r: f"I1128 {_clock(r)}.{r.randrange(10**6):06d}    2201 "
                                       "kubelet_volumes.go:163] \"Cleaned up orphaned pod volumes dir\" "
                                       f"podUID=\"{_hex(r, 8)}-{_hex(r, 4)}\""),
    (8, "containerd[1871]", 6, lambda r: f"time=\"2024-11-28T{_clock(r)}Z\" level=info "
                                         f"msg=\"StopPodSandbox for \\\"{_hex(r, 16)}\\\" returns "
                                         "successfully\""),
    (5, "systemd-logind[1102]", 6, lambda r: f"New session {r.randrange(10, 9999)} of user ssm-user."),
    (4, "chronyd[1010]", 6, lambda r: f"Selected source 169.254.169.123 "
                                      f"(offset {r.uniform(-1e-4, 1e-4):+.6f})"),
    (3, "nv-fabricmanager[3012]", 6, lambda r: f"fabric manager heartbeat {r.randrange(10**6)} ok"),
]
_KERNEL_WEIGHTS = [w for w, _, _ in _KERNEL]
_DAEMON_WEIGHTS = [w for w, _, _, _ in _DAEMON]
KERNEL_SHARE = 0.6


CONTINUATION_SHARE = 0.02  # kernel records with a device dictionary (kmsg continuation lines)


def noise(rng: random.Random) -> Record:
    """An ordinary record; the same draws whatever the framing, so both framings hold the same records."""
    if rng.random() < KERNEL_SHARE:
        _, level, pick = rng.choices(_KERNEL, _KERNEL_WEIGHTS)[0]
        message = pick(rng)
        device = _pci(rng)
        extra = (" SUBSYSTEM=pci", f" DEVICE=+pci:{device}.0") if rng.random() < CONTINUATION_SHARE else ()
        return Record("kernel", level, message, extra)
    _, program, level, pick = rng.choices(_DAEMON, _DAEMON_WEIGHTS)[0]
    return Record(program, level, pick(rng))


# --- Planted faults: (our rule, Xid or None, message).
def _xid(number: int, text: Pick) -> Callable[[random.Random], str]:
    return lambda r: f"NVRM: Xid (PCI:{_pci(r)}): {number}, pid={_pid(r)}, name=python3, {text(r)}"


def _gpc(r: random.Random) -> str:
    return (f"Graphics SM Warp Exception on (GPC {r.randrange(8)}, TPC {r.randrange(9)}, SM 0): "
            "Out Of Range Address")


def _mmu(r: random.Random) -> str:
    return (f"Ch 000000{r.randrange(10, 99)}, intr 10000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_"
            f"{r.randrange(8)} faulted @ 0x7f{_hex(r, 9)}. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_READ")


def _dbe(r: random.Random) -> str:
    return ("An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at "
            f"partition {r.randrange(12)}, subpartition {r.randrange(2)}.")


def _channel(r: random.Random) -> str:
    return f"Ch 000000{r.randrange(10, 99)}"


_XID79 = _xid(79, lambda _r: "GPU has fallen off the bus.")
_OTHER_XIDS: list[tuple[str, int, Pick]] = [
    ("xid-13", 13, _xid(13, _gpc)),
    ("xid-31", 31, _xid(31, _mmu)),
    ("xid-43", 43, _xid(43, _channel)),
    ("xid-45", 45, _xid(45, _channel)),
    ("xid-48", 48, _xid(48, _dbe)),
    ("xid-63", 63, _xid(63, lambda _r: "Row Remapper: New row marked for remapping, reset gpu to activate.")),
    ("xid-74", 74, _xid(74, lambda r: f"NVLink: fatal error detected on link {r.randrange(18)}"
                                      "(0x10000, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0)")),
    ("xid-94", 94, _xid(94, lambda r: f"Contained: SM (0x{r.randrange(1, 16):x}). RST: No, D-RST: No")),
    ("xid-119", 119, _xid(119, lambda r: f"Timeout after 6s of waiting for RPC response from GPU"
                                         f"{r.randrange(8)} GSP! Expected function 76 (GSP_RM_CONTROL).")),
    ("xid-92", 92, _xid(92, lambda _r: "High single-bit ECC error rate")),
    ("xid-61", 61, _xid(61, lambda r: f"Internal micro-controller breakpoint/warning (0x{_hex(r, 4)})")),
]


def _oom(r: random.Random) -> str:
    return (f"Out of memory: Killed process {_pid(r)} (python3) total-vm:{r.randrange(10**7, 10**8)}kB, "
            f"anon-rss:{r.randrange(10**6, 10**7)}kB, file-rss:0kB, shmem-rss:0kB, UID:0 "
            f"pgtables:{r.randrange(10**4, 10**5)}kB oom_score_adj:{r.choice([-997, 0, 1000])}")


# (our rule, level, text): faults no node-problem-detector rule of the comparison matches.
_OTHER_FAULTS: list[tuple[str, int, Pick]] = [
    ("oom-kill", 3, _oom),
    ("hung-task", 3, lambda r: f"INFO: task python3:{_pid(r)} blocked for more than "
                               f"{r.choice([120, 241, 362])} seconds."),
    ("soft-lockup", 0, lambda r: f"watchdog: BUG: soft lockup - CPU#{r.randrange(96)} stuck for "
                                 f"{r.randrange(22, 90)}s! [python3:{_pid(r)}]"),
    ("ext4-remount-read-only", 2, lambda r: f"EXT4-fs (nvme{r.randrange(8)}n1): Remounting filesystem "
                                            "read-only"),
    ("sxid-20034", 4, lambda r: f"nvidia-nvswitch{r.randrange(4)}: SXid (PCI:0000:"
                                   f"{r.choice(['05', '06', '07'])}:00.0): 20034, Non-fatal, Link "
                                   f"{r.randrange(64)} LTSSM Fault Up"),
]


def fault(kind: str, rng: random.Random) -> Fault:
    if kind == "xid-79":
        return Fault("xid-79", 79, Record("kernel", 3, _XID79(rng)))
    if kind == "other-xid":
        rule, number, pick = rng.choice(_OTHER_XIDS)
        return Fault(rule, number, Record("kernel", 3, pick(rng)))
    rule, level, pick = rng.choice(_OTHER_FAULTS)
    return Fault(rule, None, Record("kernel", level, pick(rng)))
