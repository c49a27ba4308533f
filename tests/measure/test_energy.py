"""Energy meters against fake counters: a powercap tree in a temporary folder and a fake NVML module."""

import time

import pytest

from nasbench_mt.measure.energy import (
    EnergyUnavailable,
    NvmlMeter,
    RaplMeter,
    energy_columns,
    find_meter,
    measure_energy,
)


def _zone(root, name, uj, wrap=2**32):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{wrap}\n")
    (zone / "name").write_text("package-0\n")
    return zone / "energy_uj"


def test_rapl_sums_package_zones_and_undoes_wraparound(tmp_path):
    a = _zone(tmp_path, "intel-rapl:0", 1_000_000, wrap=5_000_000)
    b = _zone(tmp_path, "intel-rapl:1", 0)
    _zone(tmp_path, "intel-rapl:0:0", 0)  # a sub-zone (core) is inside its package: never counted twice
    meter = RaplMeter(tmp_path)
    assert len(meter.zones) == 2 and meter.read_joules() == 0.0
    a.write_text("4000000\n")  # +3 J
    b.write_text("500000\n")  # +0.5 J
    assert meter.read_joules() == pytest.approx(3.5)
    a.write_text("1000000\n")  # wrapped at 5 J: +1 J up to it, +1 J after it
    assert meter.read_joules() == pytest.approx(5.5)


def test_missing_or_broken_counters_are_named(tmp_path):
    with pytest.raises(EnergyUnavailable, match="no package zone"):
        RaplMeter(tmp_path)
    (tmp_path / "intel-rapl:0" / "energy_uj").mkdir(parents=True)
    with pytest.raises(EnergyUnavailable, match="holds no energy counter"):
        RaplMeter(tmp_path)
    with pytest.raises(ValueError, match=r"invalid meter.*allowed"):
        find_meter("joulescope", root=tmp_path)


def test_auto_says_what_is_missing_for_every_kind(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # as on a machine without the NVML bindings
    with pytest.raises(EnergyUnavailable) as err:
        find_meter("auto", root=tmp_path)
    assert "rapl" in str(err.value) and "nvml" in str(err.value)
    _zone(tmp_path, "intel-rapl:0", 0)
    assert isinstance(find_meter("auto", root=tmp_path), RaplMeter)


class _FakeNvml:
    def __init__(self, supported=True):
        self.mj, self.supported = 10_000, supported

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.supported:
            raise RuntimeError("Not Supported")
        return self.mj


def test_nvml_reads_millijoules():
    fake = _FakeNvml()
    meter = NvmlMeter(nvml=fake)
    fake.mj += 2_500
    assert meter.read_joules() == pytest.approx(2.5)
    with pytest.raises(EnergyUnavailable, match="no readable energy counter"):
        NvmlMeter(nvml=_FakeNvml(supported=False))


class _CountingMeter:
    """A counter that each fake forward raises by a known amount, and idle time by 5 W."""

    def __init__(self):
        self.joules = 0.0

    def read_joules(self):
        return self.joules


def test_measure_energy_divides_the_counter_by_the_runs():
    meter = _CountingMeter()

    def forward(mj):
        def run():
            meter.joules += mj / 1e3

        return run

    def sleep(seconds):
        time.sleep(seconds)
        meter.joules += 5.0 * seconds

    row = measure_energy(
        meter, {1: forward(0.2), 2: forward(0.5), 4: forward(1.5)}, seconds=0.01, sleep=sleep
    )
    assert row["energy_e1_mj"] == pytest.approx(0.2)
    assert row["energy_e2_mj"] == pytest.approx(0.5)
    assert row["energy_mj"] == row["energy_e4_mj"] == pytest.approx(1.5)
    assert 0 < row["idle_w"] <= 5.0 + 1e-9  # the pause may last longer than asked, never shorter
    assert set(row) <= set(energy_columns([1, 2, 3, 4]))
    with pytest.raises(ValueError, match="invalid seconds"):
        measure_energy(meter, {1: forward(0.1)}, seconds=0)


def test_measure_latency_cli_fails_before_timing_without_a_counter(capsys, monkeypatch, tmp_path):
    import sys

    from nasbench_mt.cli import main

    monkeypatch.setitem(sys.modules, "pynvml", None)
    if RaplMeter.__init__.__defaults__[0].exists():
        pytest.skip("this machine has a powercap tree")
    code = main(["measure-latency", "--n", "2", "--out", str(tmp_path / "x.parquet"), "--energy", "auto"])
    assert code != 0
    assert "no energy counter" in capsys.readouterr().err
