"""A deterministic kernel log corpus for the health benchmarks: mostly ordinary lines (kernel,
NVIDIA driver, systemd, kubelet), with a known number of faults planted at known lines.

Two framings of the same records: `syslog` (RFC 3164 lines as in /var/log/messages or kern.log,
"Nov 28 12:00:01 host kernel: [ 1234.567890] ...") and `kmsg` (/dev/kmsg records,
"6,1234,1234567890,-;...", with the " SUBSYSTEM=..." continuation lines some device records
carry). The same seed and start time give the same bytes. Written to a temporary folder by the
benchmark, never committed:

    .venv/bin/python benchmarks/kernel_corpus.py --records 1000000 --format syslog --out /tmp/kern.log
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import corpus_lines
from corpus_lines import Fault

HOST = "ip-10-1-23-45"
BOOT_UPTIME_SECONDS = 86_400.0  # the kernel stamps start a day after boot
MEAN_GAP_SECONDS = 0.0036  # a million records span about an hour
FAULTS_PER_MILLION = {"xid-79": 50, "other-xid": 1000, "other-fault": 200}


@dataclass
class Summary:
    """What was written: line counts, the planted faults by our rule id, and where they are."""

    path: str
    format: str
    records: int
    lines: int = 0
    bytes: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    xid79_lines: list[int] = field(default_factory=list)  # 1-based line numbers
    other_xid_lines: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "records": self.records, "lines": self.lines,
                "bytes": self.bytes, "faults_by_rule": dict(sorted(self.by_rule.items())),
                "xid79": len(self.xid79_lines), "other_xid": len(self.other_xid_lines)}


def plan(records: int, seed: int) -> dict[int, str]:
    """Which record (0-based) carries which kind of fault. The last record is always an Xid other
    than 79, so a reader that has counted every such Xid has read the whole file."""
    rng = random.Random(f"plan-{seed}")
    kinds = [kind for kind, per_million in FAULTS_PER_MILLION.items()
             for _ in range(max(1, round(per_million * records / 1_000_000)))]
    positions = rng.sample(range(records - 1), len(kinds) - 1)
    kinds.remove("other-xid")
    planted = dict(zip(positions, kinds, strict=True))
    planted[records - 1] = "other-xid"
    return planted


def _frames(fmt: str, start: datetime) -> Callable[[int, float, corpus_lines.Record], list[str]]:
    def syslog(_seq: int, elapsed: float, record: corpus_lines.Record) -> list[str]:
        stamp = (start + timedelta(seconds=elapsed)).strftime("%b %e %H:%M:%S")
        if record.program == "kernel":
            uptime = BOOT_UPTIME_SECONDS + elapsed
            return [f"{stamp} {HOST} kernel: [{uptime:12.6f}] {record.message}"]
        return [f"{stamp} {HOST} {record.program}: {record.message}"]

    def kmsg(seq: int, elapsed: float, record: corpus_lines.Record) -> list[str]:
        micros = round((BOOT_UPTIME_SECONDS + elapsed) * 1_000_000)
        facility = 0 if record.program == "kernel" else 3
        message = record.message if record.program == "kernel" else f"{record.program}: {record.message}"
        return [f"{facility << 3 | record.level},{seq},{micros},-;{message}", *record.dictionary]

    return syslog if fmt == "syslog" else kmsg


def generate(records: int, fmt: str, seed: int, start: datetime) -> Iterator[tuple[list[str], Fault | None]]:
    """(lines, planted fault or None) per record, in order."""
    if (start + timedelta(seconds=records * MEAN_GAP_SECONDS * 2)).year != start.year:
        raise SystemExit("the corpus would cross a new year, which RFC 3164 stamps cannot show: "
                         "pass --start earlier in the year")
    planted = plan(records, seed)
    rng = random.Random(f"lines-{seed}")
    frame = _frames(fmt, start)
    elapsed = 0.0
    for index in range(records):
        elapsed += rng.expovariate(1 / MEAN_GAP_SECONDS)
        kind = planted.get(index)
        fault = corpus_lines.fault(kind, rng) if kind else None
        record = fault.record if fault else corpus_lines.noise(rng)
        yield frame(index + 1, elapsed, record), fault


def write(path: Path, records: int, fmt: str, seed: int, start: datetime) -> Summary:
    summary = Summary(str(path), fmt, records)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for lines, fault in generate(records, fmt, seed, start):
            if fault is not None:
                summary.by_rule[fault.rule] += 1
                if fault.xid == 79:
                    summary.xid79_lines.append(summary.lines + 1)
                elif fault.xid is not None:
                    summary.other_xid_lines.append(summary.lines + 1)
            summary.lines += len(lines)
            out.write("\n".join(lines) + "\n")
    summary.bytes = path.stat().st_size
    return summary


def live_xid79(rng: random.Random) -> str:
    """One Xid 79 line in the syslog framing, stamped now: what the latency runs append."""
    fault = corpus_lines.fault("xid-79", rng)
    return _frames("syslog", datetime.now().replace(microsecond=0))(1, 0.0, fault.record)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("syslog", "kmsg"), default="syslog")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="local time of the first line [default: now, to the second]")
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    start = options.start or datetime.now().replace(microsecond=0)
    print(json.dumps(write(options.out, options.records, options.format, options.seed, start).as_dict(),
                     indent=2))


if __name__ == "__main__":
    main()
