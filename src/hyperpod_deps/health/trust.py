"""Which kernel log records may drive an action: the one place that decides it.

A rule match is only as good as the record's writer. Anyone on a node can write a line that
looks like a kernel fault (`logger "NVRM: Xid ... 79"`, `echo ... > /dev/kmsg`, `logger -t
kernel`), and a forged Xid 79 would quarantine the node. So each source trusts the origins it
can prove; a match of any other origin is counted and logged, never acted on.
"""
from __future__ import annotations

from enum import StrEnum

from hyperpod_deps.health.kernel_log import Origin


class Trust(StrEnum):
    """What a source trusts; set per source, not per record."""

    KERNEL = "kernel"  # /dev/kmsg, journald: only records the kernel is proven to have written
    KERNEL_TAG = "kernel-tag"  # a log file whose admin opted in (trustKernelTag): lines tagged kernel
    NOTHING = "nothing"  # a log file by default: a text line proves nothing
    ANALYSIS = "analysis"  # `health classify`: all but records proven to come from user space


_TRUSTED: dict[Trust, frozenset[Origin]] = {
    Trust.KERNEL: frozenset({Origin.KERNEL}),
    # The admin vouches for whoever writes the file: a kmsg record or a journal entry of the
    # kernel transport copied into it is then as good as a line tagged kernel.
    Trust.KERNEL_TAG: frozenset({Origin.KERNEL, Origin.CLAIMED_KERNEL}),
    Trust.NOTHING: frozenset(),
    # Analysis of a saved log, often bare dmesg output with no header at all: only what is
    # proven to be user space is set apart.
    Trust.ANALYSIS: frozenset({Origin.KERNEL, Origin.CLAIMED_KERNEL, Origin.UNKNOWN}),
}

NOT_THE_KERNEL = "not written by the kernel"


def may_act(origin: Origin, trust: Trust) -> bool:
    """Whether a record of `origin` may drive its rule's action in a source trusting `trust`."""
    return origin in _TRUSTED[trust]


def log_file_trust(trust_kernel_tag: bool) -> Trust:
    """A log-file source's trust, from its `trustKernelTag` setting."""
    return Trust.KERNEL_TAG if trust_kernel_tag else Trust.NOTHING


def untrusted_note(origin: Origin) -> str:
    """Why a match of `origin` was not acted on, for people reading the output."""
    if origin is Origin.USERSPACE:
        return NOT_THE_KERNEL
    return f"origin {origin} is not trusted for this source"
