"""NVML probe of this host's NVIDIA GPUs (nvidia-ml-py), honest when there is none.

No GPU, no driver or no NVML library gives an empty list and the reason; nothing is ever invented.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as NVML reports it (the `gpus[]` entry of the register and heartbeat messages). A reading
    this GPU does not offer (utilisation, temperature on some boards) is None, never a guess."""

    index: int
    name: str
    uuid: str
    vram_total_mb: int
    vram_free_mb: int
    driver: str
    vram_used_mb: int | None = None
    utilization_pct: int | None = None
    temperature_c: int | None = None


@dataclass(frozen=True)
class GpuReport:
    """What the probe found: the GPUs, and why the list is empty or short (`error`), else None."""

    gpus: list[GpuInfo] = field(default_factory=list)
    error: str | None = None

    def gpus_json(self) -> list[dict[str, Any]]:
        return [asdict(gpu) for gpu in self.gpus]


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _optional(read: Callable[[], Any], pynvml: Any) -> int | None:
    """One reading NVML may not support on this GPU (NVMLError_NotSupported): None instead of a value."""
    try:
        return int(read())
    except pynvml.NVMLError as exc:
        log.debug("NVML reading unavailable: %s", exc)
        return None


def probe_gpus() -> GpuReport:
    """Ask NVML for every GPU; an empty list with the reason when NVML, the driver or a GPU is missing."""
    try:
        import pynvml
    except ImportError as exc:
        return GpuReport([], f"nvidia-ml-py is not installed ({exc})")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return GpuReport([], f"NVML could not start (no NVIDIA driver?): {exc}")
    try:
        return _read_devices(pynvml)
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as exc:
            log.warning("nvmlShutdown failed: %s", exc)


def _read_devices(pynvml: Any) -> GpuReport:
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        return GpuReport([], f"NVML failed to list GPUs: {exc}")
    if count == 0:
        return GpuReport([], "NVML reports no GPU on this host")
    gpus: list[GpuInfo] = []
    problems: list[str] = []
    for index in range(count):
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                    vram_total_mb=int(memory.total) // MIB,
                    vram_free_mb=int(memory.free) // MIB,
                    driver=driver,
                    vram_used_mb=int(memory.used) // MIB,
                    utilization_pct=_optional(
                        lambda h=handle: pynvml.nvmlDeviceGetUtilizationRates(h).gpu, pynvml
                    ),
                    temperature_c=_optional(
                        lambda h=handle: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
                        pynvml,
                    ),
                )
            )
        except pynvml.NVMLError as exc:
            # A GPU that cannot be read is left out and named, never filled with guesses.
            problems.append(f"GPU {index}: {exc}")
    return GpuReport(gpus, "; ".join(problems) or None)
