#!/usr/bin/env python3
"""How fast the health rules classify kernel log lines (`hyperpod-deps health classify`'s core).

Writes a synthetic kernel log (kmsg records: ordinary boot and runtime messages, with one line
in `--fault-every` taken from the rule samples in tests/data/kernel-logs/samples.yaml), then
times classify_lines over it three ways: only the matches (what the agent and the CLI do),
every line, and for contrast the rules without the prefilter (every rule's regex on every
line, as node-problem-detector's kernel monitor does) on a slice. Prints lines per second and
saves the figures in results/classify_lines.json. `--keep FILE` keeps the log, to feed the
same lines to another tool.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from benchlib import arguments, load_average, save

from hyperpod_deps.health.classify import classify_lines
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rules import RuleSet

SAMPLES = Path(__file__).resolve().parent.parent / "tests/data/kernel-logs/samples.yaml"
ORDINARY = [
    "Linux version 6.1.112-122.189.amzn2023.x86_64 (mockbuild@ip-10-0-55-9) (gcc (GCC) 11.4.1)",
    "pci 0000:{b:02x}:00.0: [10de:2335] type 00 class 0x030200",
    "nvme nvme{n}: pci function 0000:{b:02x}:00.0",
    "EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none.",
    "IPv6: ADDRCONF(NETDEV_CHANGE): eni{b:x}: link becomes ready",
    "eth0: renamed from tmp{n}",
    "cni0: port {n}(veth{b:x}) entered forwarding state",
    "audit: type=1400 audit({n}.{b}:{n}): apparmor=\"STATUS\" operation=\"profile_load\"",
    "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024",
    "nvidia-nvswitch{n}: open (major={b})",
    "efa 0000:{b:02x}:00.0: Setup irq:{n} name:efa-comp{n}@pci:0000:{b:02x}:00.0",
    "xfs filesystem being remounted at /var/lib/kubelet supports timestamps until 2038",
    "TCP: request_sock_TCP: Possible SYN flooding on port {n}. Sending cookies.",
    "python3[{n}]: segfault at 0 ip 00007f{b:06x} sp 00007ffd{b:08x} error 4 in libc.so.6",
    "device veth{b:x} entered promiscuous mode",
    "systemd-journald[{n}]: Received client request to flush runtime journal.",
    "Memory cgroup stats for /kubepods.slice: anon {n}kB file {b}kB",
    "perf: interrupt took too long ({n} > {b}), lowering kernel.perf_event_max_sample_rate",
]


def fault_lines() -> list[str]:
    loaded = yaml.safe_load(SAMPLES.read_text())
    return [case["line"] for cases in loaded["kmsg"].values() for case in cases]


def write_log(path: Path, lines: int, fault_every: int, seed: int) -> int:
    rng = random.Random(seed)
    faults = fault_lines()
    written_faults = 0
    with path.open("w") as out:
        for sequence in range(lines):
            if sequence % fault_every == fault_every - 1:
                record = parse_record(rng.choice(faults))
                message = record.message if record else ""
                written_faults += 1
            else:
                message = rng.choice(ORDINARY).format(n=rng.randrange(1, 999), b=rng.randrange(1, 255))
            out.write(f"6,{sequence},{sequence * 1000 + 17},-;{message}\n")
    return written_faults


def timed(label: str, count: int, work: Iterable[object]) -> dict[str, float]:
    start = time.perf_counter()
    found = sum(1 for _ in work)
    seconds = time.perf_counter() - start
    rate = count / seconds
    print(f"{label:<42} {count:>9} lines {seconds:7.2f} s {rate:12,.0f} lines/s  ({found} yielded)")
    return {"lines": count, "seconds": round(seconds, 3), "lines_per_second": round(rate), "yielded": found}


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--fault-every", type=int, default=1000, help="one fault line per this many")
    parser.add_argument("--naive-lines", type=int, default=100_000, help="lines for the no-prefilter run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkstemp(suffix=".kmsg")[1])
    faults = write_log(path, args.lines, args.fault_every, args.seed)
    rules = RuleSet.load()
    load_before = load_average()
    with path.open("rb") as log:
        only = classify_lines(rules, log, matched_only=True)
        matched = timed("classify_lines, matches only", args.lines, only)
    with path.open("rb") as log:
        every = timed("classify_lines, every line", args.lines, classify_lines(rules, log))
    with path.open("rb") as log:
        head = [next(log) for _ in range(min(args.naive_lines, args.lines))]
    naive = timed("every rule on every line (no prefilter)", len(head), _naive(rules, head))
    result = {"lines": args.lines, "fault_lines": faults, "rules": len(rules), "matched_only": matched,
              "every_line": every, "no_prefilter": naive, "load_average": [load_before, load_average()]}
    if matched["yielded"] != faults:
        print(f"expected {faults} matches, got {matched['yielded']}", file=sys.stderr)
        return 1
    save("classify_lines", result)
    if not args.keep:
        path.unlink()
    return 0


def _naive(rules: RuleSet, lines: list[bytes]) -> Iterator[str]:
    for raw in lines:
        record = parse_record(raw)
        if record is not None:
            for rule in rules.rules("kmsg"):
                if rule.regex.search(record.message):
                    yield rule.id
                    break


if __name__ == "__main__":
    sys.exit(main())
