"""A release's version name: given, kept from its manifest, or its folder's; never silently changed."""

from __future__ import annotations

import json

import pytest

from nasbench_mt.measure.generate import generate
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.measure.shards import GenerateConfig
from nasbench_mt.testing import TINY_SUITE_KWARGS

SPEC = MeasureSpec(protocol="proxies", suite_kwargs=TINY_SUITE_KWARGS, proxy_batch=4)


def _version(root) -> str:
    return json.loads((root / "manifest.json").read_text())["version"]


def test_the_name_comes_from_the_folder_then_stays(tmp_path):
    out = tmp_path / "v7"
    generate(GenerateConfig(out=str(out), n=1, spec=SPEC, prefix="proxies"), progress=False)
    assert _version(out) == "v7"
    generate(GenerateConfig(out=str(out), n=2, spec=SPEC, prefix="noise-proxies"), progress=False)
    assert _version(out) == "v7"  # extending a release keeps its name
    generate(GenerateConfig(out=str(out), n=1, spec=SPEC, prefix="proxies", version="v7"), resume=True)
    assert _version(out) == "v7"
    with pytest.raises(ValueError, match=r"invalid release name 'v8': .* holds release 'v7'; allowed: 'v7'"):
        generate(GenerateConfig(out=str(out), n=1, spec=SPEC, prefix="noise-other", version="v8"))
    assert not (out / "noise-other-00000.parquet").exists()  # refused before anything was measured


def test_a_given_name_wins_over_the_folder(tmp_path):
    out = tmp_path / "runs"
    generate(GenerateConfig(out=str(out), n=1, spec=SPEC, prefix="proxies", version="mine"), progress=False)
    assert _version(out) == "mine"
