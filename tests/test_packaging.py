import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_non_editable_install_ships_the_release(tmp_path, tiny_path):
    """`pip install .` (not editable) installs data/<version>/ and load_benchmark() finds it offline."""
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in files.split():
        if (ROOT / rel).is_symlink() or (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, src / rel, follow_symlinks=False)
    shutil.rmtree(src / "data", ignore_errors=True)
    shutil.copytree(tiny_path, src / "data" / "v1")
    manifest = json.loads((src / "data" / "v1" / "manifest.json").read_text())
    (src / "data" / "v1" / "manifest.json").write_text(json.dumps({**manifest, "version": "v1"}))
    target = tmp_path / "site"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        ".",
        "--no-deps",
        "--no-build-isolation",
        "--target",
        target,
    ]
    subprocess.run(pip + ["-q"], cwd=src, check=True, capture_output=True)
    code = "from nasbench_mt import load_benchmark; b = load_benchmark(); print(len(b), b.root)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rows, root = out.stdout.split()
    assert int(rows) == manifest["files"][0]["rows"] + manifest["files"][1]["rows"]
    assert root.startswith(str(target))


def test_querying_the_table_does_not_import_torch(tiny_path):
    """The package's top-level names load lazily: loading and querying a release stays free of torch."""
    code = (
        "import sys, nasbench_mt\n"
        f"bench = nasbench_mt.load_benchmark(path={str(tiny_path)!r})\n"
        "bench.query(bench.table['arch_id'].iloc[0])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert all(getattr(nasbench_mt, name) is not None for name in nasbench_mt.__all__)\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
