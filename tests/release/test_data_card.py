"""The shipped docs quote the release manifest; these tests keep the hand-written figures from going stale.

Every figure checked here is read from ``data/v1/manifest.json`` (written by ``nasbench-mt summarize``) and
looked up in ``data/README.md`` or ``README.md`` in the form the docs print it. When a tier grows and the
manifest is rewritten, the docs must be rewritten with it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "data" / "v1" / "manifest.json"
DATA_CARD = ROOT / "data" / "README.md"
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="the v1 release is not in this checkout")

SHORT = {"test_digit": "digit", "test_count": "count", "test_seg": "seg", "mean_acc": "mean_acc"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def card() -> str:
    return DATA_CARD.read_text()


def _pair(stat: dict) -> str:
    """How the docs print a rank figure: Kendall tau with Spearman in brackets."""
    return f"{stat['kendall_tau']:.3f} ({stat['spearman']:.3f})"


def test_card_quotes_supernet_vs_standalone(manifest, card):
    cal = manifest["calibration"]["supernet_vs_standalone"]
    n = {s["n"] for s in cal.values()}
    assert len(n) == 1, f"calibration targets disagree on their row count: {n}"
    (n,) = n
    assert f"on the {n} " in card, f"data/README.md does not say the calibration figures are on {n} archs"
    for target, stat in cal.items():
        lo, hi = stat["kendall_tau_ci90"]
        line = f"- {SHORT[target]} {_pair(stat)}, tau in [{lo:.3f}, {hi:.3f}]"
        assert line in card, f"data/README.md lacks {line!r} (manifest calibration.supernet_vs_standalone)"


def test_card_quotes_noise_ceilings(manifest, card):
    rows = {}
    for line in card.splitlines():
        m = re.match(r"\| `(\w+)` \|(.*)\|\s*$", line)
        if m and "(" in m.group(2):
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    for target, stat in manifest["noise"]["seed"].items():
        assert rows[target][0] == _pair(stat), f"seed-to-seed noise of {target} is stale in data/README.md"
    for kind in ("latency", "ort-latency"):  # the PyTorch and the ONNX Runtime timing repeats
        for target, stat in manifest["noise"].get(kind, {}).items():
            assert rows[target][1] == _pair(stat), f"run-to-run noise of {target} is stale in data/README.md"
    for target, stat in manifest["calibration"]["val_vs_test"].items():
        assert rows[target][2] == _pair(stat), f"val-vs-test agreement of {target} is stale in data/README.md"


@pytest.mark.parametrize("section", ["spread", "standalone_spread"])
def test_card_quotes_spread(manifest, card, section):
    for target, s in manifest["calibration"][section].items():
        cell = f"{s['spread_10_90']:.2f} [{s['spread_ci90'][0]:.2f}, {s['spread_ci90'][1]:.2f}]"
        assert cell in card, f"the {section} of {target} ({cell}) is missing from data/README.md"


def test_card_quotes_compute(manifest, card):
    compute = manifest["compute"]
    total = f"In total, {compute['total_core_hours']:.1f} core-hours"
    assert total in card, f"data/README.md lacks {total!r} (manifest compute.total_core_hours)"
    cal = compute["tiers"]["calibration"]
    minutes = cal["median_s"] / 60
    row = f"| {cal['rows']} calibration rows (median {minutes:.0f} min per arch) | {cal['core_hours']:.1f} |"
    assert row in card, f"data/README.md lacks the calibration compute row {row!r}"


def test_readme_quotes_the_calibration_tau(manifest):
    stat = manifest["calibration"]["supernet_vs_standalone"]["mean_acc"]
    text = README.read_text()
    assert f"{stat['kendall_tau']:.3f}" in text and f"{stat['n']} archs" in text, (
        f"README.md does not quote the calibration tier's mean_acc tau {stat['kendall_tau']:.3f} "
        f"over {stat['n']} archs"
    )


def test_card_quotes_standalone_gain(manifest, card):
    gain = manifest["calibration"]["standalone_gain"]
    medians = [f"{g['median_gain']:.1f}" for g in gain.values()]
    text = f"median gain {', '.join(medians[:-1])} and {medians[-1]} points"
    assert text in card, f"data/README.md lacks {text!r} (manifest calibration.standalone_gain)"
    for target, g in gain.items():
        if g["n_above"] < g["n"]:
            count = f"{g['n_above']} of {g['n']} for {SHORT[target]}"
            assert count in card, f"data/README.md lacks {count!r} (manifest calibration.standalone_gain)"


def test_card_quotes_standalone_seed_to_seed_and_ceiling(manifest, card):
    stand = manifest["noise"].get("standalone")
    if any(f["path"].startswith("noise-standalone-") for f in manifest["files"]):
        assert stand, "the release ships a standalone noise tier but its manifest has no noise.standalone"
    if not stand:
        pytest.skip("this release has no standalone noise tier")
    (n,) = {s["n"] for s in stand.values()}
    prose = " ".join(card.split())  # line breaks fall anywhere in prose
    assert f"The first {n} calibration archs" in prose, f"data/README.md does not give the tier size {n}"
    for target, s in stand.items():
        lo, hi = s["kendall_tau_ci90"]
        clo, chi = s["ceiling_tau_ci90"]
        line = (
            f"- {SHORT[target]} {_pair(s)}, tau in [{lo:.3f}, {hi:.3f}]; "
            f"ceiling {s['ceiling_tau']:.3f} [{clo:.3f}, {chi:.3f}]"
        )
        assert line in card, f"data/README.md lacks {line!r} (manifest noise.standalone)"
    cost = manifest["compute"]["tiers"]["noise-standalone"]
    row = (
        f"| {cost['rows']} standalone noise rows (median {cost['median_s'] / 60:.0f} min per arch) "
        f"| {cost['core_hours']:.1f} |"
    )
    assert row in card, f"data/README.md lacks the standalone noise compute row {row!r}"


def test_readme_quotes_the_standalone_ceiling(manifest):
    stand = manifest["noise"].get("standalone")
    if not stand:
        pytest.skip("this release has no standalone noise tier")
    ceiling = f"{stand['mean_acc']['ceiling_tau']:.3f}"
    assert f"a perfect proxy could reach {ceiling}" in " ".join(README.read_text().split()), (
        f"README.md does not quote the mean_acc ceiling {ceiling} (manifest noise.standalone)"
    )


def test_card_quotes_each_zero_cost_proxy(manifest, card):
    proxies = manifest["calibration"].get("proxies")
    if not proxies:
        pytest.skip("this release has no zero-cost proxies side table")
    for proxy, stats in proxies.items():
        cells = []
        for target in SHORT:
            s = stats[f"vs_table:{target}"]
            lo, hi = s["kendall_tau_ci90"]
            cells.append(f"{s['kendall_tau']:.3f} [{lo:.3f}, {hi:.3f}]")
        cells.append(f"{stats['vs_standalone:mean_acc']['kendall_tau']:.3f}")
        row = f"| `{proxy.removeprefix('proxy_')}` | " + " | ".join(cells) + " |"
        assert row in card, f"data/README.md lacks the proxy row {row!r}"
    tier = manifest["compute"]["tiers"]["proxies"]
    row = f"| {tier['rows']:,} zero-cost proxy rows (median {tier['median_s']:.1f} s per row) | "
    assert row + f"{tier['core_hours']:.1f} |" in card, "the proxies' compute row is stale in data/README.md"
