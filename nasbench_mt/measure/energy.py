"""Energy per inference from the hardware's own counters: Linux powercap (Intel/AMD RAPL) and NVIDIA NVML.

Nothing is estimated: a meter reads a cumulative energy counter the hardware keeps, and energy per inference
is the counter's increase over many batch-1 forwards divided by their number.  Where no counter exists (or it
is not readable) :func:`find_meter` raises :class:`EnergyUnavailable` naming what is missing.

- ``rapl``: every top-level package zone ``/sys/class/powercap/intel-rapl:N`` (also used by the kernel for
  AMD's RAPL) has ``energy_uj`` (microjoules, wrapping at ``max_energy_range_uj``).  Reading it needs root
  on most distributions since 2020 (``sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj``).
- ``nvml``: ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver loaded; Volta and newer),
  through the ``nvidia-ml-py`` package.

The counter covers the whole package or board, so the energy of anything else running at the same time is
included: :func:`measure_energy` also measures the idle power over a pause of the same length and reports
it, and measures on a machine that is otherwise idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "METERS",
    "EnergyUnavailable",
    "NvmlMeter",
    "RaplMeter",
    "energy_columns",
    "find_meter",
    "measure_energy",
]

POWERCAP = Path("/sys/class/powercap")
METERS = ("auto", "rapl", "nvml")


class EnergyUnavailable(ValueError):
    """This machine exposes no readable energy counter of the kind asked for."""


class RaplMeter:
    """Sum of the package zones' ``energy_uj`` counters under a powercap tree, in joules."""

    name = "rapl"

    def __init__(self, root: str | Path = POWERCAP) -> None:
        root = Path(root)
        zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
        if not zones:
            raise EnergyUnavailable(
                f"invalid meter 'rapl': no package zone {root}/intel-rapl:N (Linux powercap); allowed here: "
                "a machine whose kernel exposes RAPL (Intel, or AMD with the rapl driver)"
            )
        self.zones = []
        for zone in zones:
            counter = zone / "energy_uj"
            try:
                int(counter.read_text())
            except PermissionError:
                raise EnergyUnavailable(
                    f"invalid meter 'rapl': {counter} is not readable by this user; allowed: make it "
                    f"readable (sudo chmod a+r {root}/intel-rapl:*/energy_uj) or run as root"
                ) from None
            except (OSError, ValueError):
                raise EnergyUnavailable(f"invalid meter 'rapl': {counter} holds no energy counter") from None
            top = zone / "max_energy_range_uj"
            wrap = int(top.read_text()) if top.is_file() else 2**32
            self.zones.append((counter, wrap))
        self._last = [int(c.read_text()) for c, _ in self.zones]
        self._joules = 0.0

    def read_joules(self) -> float:
        """Joules since the meter was created (each zone's wrap-around is undone)."""
        for i, (counter, wrap) in enumerate(self.zones):
            now = int(counter.read_text())
            delta = now - self._last[i]
            self._joules += (delta if delta >= 0 else delta + wrap) / 1e6
            self._last[i] = now
        return self._joules


class NvmlMeter:
    """Total energy of one NVIDIA GPU from NVML, in joules."""

    name = "nvml"

    def __init__(self, index: int = 0, nvml=None) -> None:
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError:
                raise EnergyUnavailable(
                    "invalid meter 'nvml': the NVML bindings are not installed; allowed: pip install "
                    "nvidia-ml-py on a machine with an NVIDIA driver"
                ) from None
        self.nvml = nvml
        try:
            nvml.nvmlInit()
            self.handle = nvml.nvmlDeviceGetHandleByIndex(index)
            self._start = nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except Exception as err:  # NVMLError has many subclasses; any of them means no counter here
            raise EnergyUnavailable(
                f"invalid meter 'nvml': GPU {index} has no readable energy counter ({err}); allowed: an "
                "NVIDIA GPU of the Volta generation or newer with its driver loaded"
            ) from None

    def read_joules(self) -> float:
        return (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self._start) / 1e3


def find_meter(kind: str = "auto", root: str | Path = POWERCAP):
    """A meter of ``kind`` (``rapl``, ``nvml``, or ``auto``: RAPL, else NVML); :class:`EnergyUnavailable`
    naming what is missing where there is none."""
    if kind not in METERS:
        raise ValueError(f"invalid meter: {kind!r}; allowed: {list(METERS)}")
    if kind == "rapl":
        return RaplMeter(root)
    if kind == "nvml":
        return NvmlMeter()
    reasons = []
    for make in (lambda: RaplMeter(root), NvmlMeter):
        try:
            return make()
        except EnergyUnavailable as err:
            reasons.append(str(err))
    raise EnergyUnavailable("no energy counter on this machine: " + " | ".join(reasons))


def energy_columns(positions: Sequence[int]) -> list[str]:
    """``energy_mj`` (whole network), ``energy_e{k}_mj`` per exit position, ``idle_w``."""
    return ["energy_mj", *(f"energy_e{k}_mj" for k in positions), "idle_w"]


def _joules_per_run(meter, fn: Callable[[], object], seconds: float) -> float:
    """Joules per call of ``fn``, calling it for at least ``seconds`` (and at least once)."""
    start, t0, n = meter.read_joules(), time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or n == 0:
        fn()
        n += 1
    return (meter.read_joules() - start) / n


def measure_energy(
    meter,
    forwards: dict[int, Callable[[], object]],
    seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, float]:
    """Millijoules per inference for every exit position's forward in ``forwards`` (position -> a batch-1
    forward that stops after that exit), each run repeatedly for ``seconds``; plus the idle power (W) over a
    pause of ``seconds``.  The last position is also reported as ``energy_mj`` (the whole network)."""
    if not seconds > 0:
        raise ValueError(f"invalid seconds: {seconds!r}; allowed: > 0 (counters update every few ms)")
    idle_start = meter.read_joules()
    t0 = time.perf_counter()
    sleep(seconds)
    idle_w = (meter.read_joules() - idle_start) / max(time.perf_counter() - t0, 1e-9)
    row = {}
    for k, fn in forwards.items():
        fn()  # warm-up
        row[f"energy_e{k}_mj"] = 1e3 * _joules_per_run(meter, fn, seconds)
    row["energy_mj"] = row[f"energy_e{max(forwards)}_mj"]
    row["idle_w"] = idle_w
    return row
