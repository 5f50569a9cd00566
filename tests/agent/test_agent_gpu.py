"""The NVML probe: honest when there is no GPU, exact when NVML answers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from render_agent.gpu import GpuInfo, GpuReport, probe_gpus

HAS_NVIDIA_DRIVER = Path("/proc/driver/nvidia/version").exists()
MIB = 1024 * 1024


@pytest.mark.skipif(HAS_NVIDIA_DRIVER, reason="this host has an NVIDIA driver; the test needs one without")
def test_without_an_nvidia_driver_the_probe_reports_no_gpu_and_why() -> None:
    report = probe_gpus()  # the real NVML binding on this GPU-less host, nothing patched

    assert report.gpus == [] and report.gpus_json() == []
    assert report.error is not None and "NVML" in report.error and "Not Found" in report.error


class FakeNvml:
    """nvidia-ml-py's functions, answering like a two-GPU host (names as bytes, like older drivers)."""

    def __init__(self, devices: list[dict[str, Any] | Exception]):
        self.devices = devices
        self.calls: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        handles = {f"h{i}": d for i, d in enumerate(self.devices)}

        def device(handle: str) -> dict[str, Any]:
            found = handles[handle]
            if isinstance(found, Exception):
                raise found
            return found

        patches = {
            "nvmlInit": lambda: self.calls.append("init"),
            "nvmlShutdown": lambda: self.calls.append("shutdown"),
            "nvmlSystemGetDriverVersion": lambda: "550.54.15",
            "nvmlDeviceGetCount": lambda: len(self.devices),
            "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
            "nvmlDeviceGetName": lambda h: device(h)["name"],
            "nvmlDeviceGetUUID": lambda h: device(h)["uuid"],
            "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(**device(h)["memory"]),
            "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=reading(h, "utilization")),
            "nvmlDeviceGetTemperature": lambda h, sensor: reading(h, "temperature"),
        }

        def reading(handle: str, key: str) -> int:
            # A board without this sensor answers NOT_SUPPORTED, as NVML does.
            if key not in device(handle):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return int(device(handle)[key])

        for name, fn in patches.items():
            monkeypatch.setattr(pynvml, name, fn)


def test_with_nvml_the_probe_reports_each_gpus_name_uuid_vram_and_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml = FakeNvml(
        [
            {
                "name": b"NVIDIA GeForce RTX 4090",
                "uuid": "GPU-1111",
                "memory": {"total": 24564 * MIB, "free": 23990 * MIB, "used": 574 * MIB},
                "utilization": 87,
                "temperature": 71,
            },
            {
                "name": "NVIDIA RTX A6000",
                "uuid": b"GPU-2222",
                "memory": {"total": 49140 * MIB + 5, "free": 100 * MIB, "used": 49040 * MIB},
            },
        ]
    )
    nvml.install(monkeypatch)

    report = probe_gpus()

    assert report == GpuReport(
        [
            GpuInfo(0, "NVIDIA GeForce RTX 4090", "GPU-1111", 24564, 23990, "550.54.15", 574, 87, 71),
            # This board reports no utilisation or temperature: None, not a made-up figure.
            GpuInfo(1, "NVIDIA RTX A6000", "GPU-2222", 49140, 100, "550.54.15", 49040, None, None),
        ],
        None,
    )
    assert report.gpus_json()[0] == {
        "index": 0,
        "name": "NVIDIA GeForce RTX 4090",
        "uuid": "GPU-1111",
        "vram_total_mb": 24564,
        "vram_free_mb": 23990,
        "driver": "550.54.15",
        "vram_used_mb": 574,
        "utilization_pct": 87,
        "temperature_c": 71,
    }
    assert nvml.calls == ["init", "shutdown"]


def test_a_gpu_nvml_cannot_read_is_left_out_and_named_never_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    good = {
        "name": "NVIDIA L40S",
        "uuid": "GPU-3333",
        "memory": {"total": 46068 * MIB, "free": 46000 * MIB, "used": 68 * MIB},
    }
    FakeNvml([good, pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)]).install(monkeypatch)

    report = probe_gpus()

    assert [g.uuid for g in report.gpus] == ["GPU-3333"]
    assert report.error == "GPU 1: GPU is lost"


def test_nvml_with_no_gpu_reports_an_empty_list_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch)

    assert probe_gpus() == GpuReport([], "NVML reports no GPU on this host")
