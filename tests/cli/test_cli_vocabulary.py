"""Every command that shows a progress bar takes --quiet; every command that prints data takes --json."""

import pytest

from nasbench_mt.cli import main

PROGRESS = [
    "train-supernet",
    "generate",
    "calibrate",
    "check-release",
    "measure-latency",
    "evaluate-predictors",
    "search",
    "search-leaderboard",
    "exit-leaderboard",
]
DATA = ["summarize", "calibrate", "check-release", "reproduce", "query", "info", "sample", "search", "space"]


@pytest.mark.parametrize(
    ("command", "flag"), [(c, "--quiet") for c in PROGRESS] + [(c, "--json") for c in DATA]
)
def test_command_takes_the_shared_flag(capsys, command, flag):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert flag in capsys.readouterr().out
