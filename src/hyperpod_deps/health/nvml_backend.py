"""Read NVML into a GpuSnapshot, through nvidia-ml-py when installed, else ctypes. Stdlib only.

Both backends answer the same few questions; any per-GPU question NVML cannot answer (not
supported on this GPU, or failing) reads as None so one odd counter never hides the others.
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from hyperpod_deps.health.gpu_snapshot import GpuSnapshot, GpuState

_T = TypeVar("_T")
MAX_NVLINKS = 18  # NVML_NVLINK_MAX_LINKS
_UNCORRECTED, _VOLATILE, _AGGREGATE, _SM_CLOCK, _DOUBLE_BIT = 1, 0, 1, 1, 1


class NvmlUnavailable(Exception):
    """NVML cannot start here: no driver, no library, no permission. Permanent for this process."""


class Backend(Protocol):
    name: str

    def count(self) -> int: ...
    def call(self, function: str, index: int, *args: Any) -> Any: ...


class PynvmlBackend:
    name = "pynvml"

    def __init__(self) -> None:
        import pynvml

        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise NvmlUnavailable(f"NVML did not start: {error}") from error

    def count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    def call(self, function: str, index: int, *args: Any) -> Any:
        handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
        return getattr(self._nvml, function)(handle, *args)


class _PciInfo(ctypes.Structure):
    _fields_ = [("busIdLegacy", ctypes.c_char * 16), ("domain", ctypes.c_uint), ("bus", ctypes.c_uint),
                ("device", ctypes.c_uint), ("pciDeviceId", ctypes.c_uint),
                ("pciSubSystemId", ctypes.c_uint), ("busId", ctypes.c_char * 32)]


class CtypesBackend:
    """libnvidia-ml.so.1 directly, for machines without nvidia-ml-py."""

    name = "ctypes"

    def __init__(self, library: str = "libnvidia-ml.so.1") -> None:
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as error:
            raise NvmlUnavailable(f"cannot load {library}: {error}") from error
        status = self._lib.nvmlInit_v2()
        if status != 0:
            raise NvmlUnavailable(f"nvmlInit_v2 returned {status}")

    def count(self) -> int:
        value = ctypes.c_uint()
        self._check(self._lib.nvmlDeviceGetCount_v2(ctypes.byref(value)), "nvmlDeviceGetCount_v2")
        return value.value

    def call(self, function: str, index: int, *args: Any) -> Any:
        handle = ctypes.c_void_p()
        self._check(self._lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)), "handle")
        return _CTYPES_CALLS[function](self, handle, *args)

    def _out(self, name: str, handle: ctypes.c_void_p, *args: Any, kind: Any = ctypes.c_uint) -> Any:
        value = kind()
        self._check(getattr(self._lib, name)(handle, *args, ctypes.byref(value)), name)
        return value.value

    def _pci(self, handle: ctypes.c_void_p) -> _PciInfo:
        info = _PciInfo()
        self._check(self._lib.nvmlDeviceGetPciInfo_v3(handle, ctypes.byref(info)), "nvmlDeviceGetPciInfo_v3")
        return info

    def _remapped(self, handle: ctypes.c_void_p) -> tuple[int, int, int, int]:
        values = [ctypes.c_uint() for _ in range(4)]
        self._check(self._lib.nvmlDeviceGetRemappedRows(handle, *map(ctypes.byref, values)), "remapped rows")
        return values[0].value, values[1].value, values[2].value, values[3].value

    def _retired(self, handle: ctypes.c_void_p, cause: int) -> list[int]:
        count = ctypes.c_uint(0)  # count only: a NULL address array asks for the size
        status = self._lib.nvmlDeviceGetRetiredPages(handle, cause, ctypes.byref(count), None)
        if status not in (0, 7):  # 7: NVML_ERROR_INSUFFICIENT_SIZE, the count is still set
            self._check(status, "nvmlDeviceGetRetiredPages")
        return [0] * count.value

    @staticmethod
    def _check(status: int, name: str) -> None:
        if status != 0:
            raise OSError(f"{name} returned NVML status {status}")


_CTYPES_CALLS: dict[str, Callable[..., Any]] = {
    "nvmlDeviceGetPciInfo": CtypesBackend._pci,
    "nvmlDeviceGetTotalEccErrors": lambda b, h, *a: b._out("nvmlDeviceGetTotalEccErrors", h, *a,
                                                           kind=ctypes.c_ulonglong),
    "nvmlDeviceGetRemappedRows": CtypesBackend._remapped,
    "nvmlDeviceGetRetiredPages": CtypesBackend._retired,
    "nvmlDeviceGetRetiredPagesPendingStatus": lambda b, h: b._out(
        "nvmlDeviceGetRetiredPagesPendingStatus", h),
    "nvmlDeviceGetCurrentClocksThrottleReasons": lambda b, h: b._out(
        "nvmlDeviceGetCurrentClocksThrottleReasons", h, kind=ctypes.c_ulonglong),
    "nvmlDeviceGetClockInfo": lambda b, h, *a: b._out("nvmlDeviceGetClockInfo", h, *a),
    "nvmlDeviceGetMaxClockInfo": lambda b, h, *a: b._out("nvmlDeviceGetMaxClockInfo", h, *a),
    "nvmlDeviceGetNvLinkState": lambda b, h, *a: b._out("nvmlDeviceGetNvLinkState", h, *a),
}


def open_backend() -> Backend:
    """nvidia-ml-py if importable, else ctypes; NvmlUnavailable when neither can start NVML."""
    try:
        return PynvmlBackend()
    except ImportError:
        return CtypesBackend()


def read_snapshot(backend: Backend) -> GpuSnapshot:
    count = backend.count()
    return GpuSnapshot(count, tuple(_read_gpu(backend, index) for index in range(count)))


def _read_gpu(backend: Backend, index: int) -> GpuState:
    def ask(function: str, *args: Any, then: Callable[[Any], _T] = lambda v: v) -> _T | None:
        try:
            return then(backend.call(function, index, *args))
        except Exception:  # NVML errors differ per backend; a question NVML cannot answer is None
            return None

    remapped = ask("nvmlDeviceGetRemappedRows", then=tuple)
    return GpuState(
        index=index,
        pci_bus_id=ask("nvmlDeviceGetPciInfo", then=_bus_id) or f"gpu{index}",
        ecc_volatile_uncorrectable=ask("nvmlDeviceGetTotalEccErrors", _UNCORRECTED, _VOLATILE, then=int),
        ecc_aggregate_uncorrectable=ask("nvmlDeviceGetTotalEccErrors", _UNCORRECTED, _AGGREGATE, then=int),
        retired_pages=ask("nvmlDeviceGetRetiredPages", _DOUBLE_BIT, then=len),
        retired_pages_pending=ask("nvmlDeviceGetRetiredPagesPendingStatus", then=bool),
        row_remap_pending=bool(remapped[2]) if remapped else None,
        row_remap_failure=bool(remapped[3]) if remapped else None,
        throttle_reasons=ask("nvmlDeviceGetCurrentClocksThrottleReasons", then=int),
        sm_clock_mhz=ask("nvmlDeviceGetClockInfo", _SM_CLOCK, then=int),
        max_sm_clock_mhz=ask("nvmlDeviceGetMaxClockInfo", _SM_CLOCK, then=int),
        nvlinks_down=_links_down(
            [ask("nvmlDeviceGetNvLinkState", link, then=int) for link in range(MAX_NVLINKS)]),
    )


def _links_down(states: list[int | None]) -> tuple[int, ...]:
    """Inactive links of a GPU that uses NVLink (one link up). A GPU with none up has no NVLink
    fabric here (a PCIe card, or a VM given one GPU of a board): nothing is down then."""
    if 1 not in states:
        return ()
    return tuple(link for link, state in enumerate(states) if state == 0)


def _bus_id(info: Any) -> str:
    raw = info.busId
    return (raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else str(raw)).lower()
