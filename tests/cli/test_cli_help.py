"""``nasbench-mt --help`` reads as a reference: every option of every command says what it is, and every
option with a default value states it."""

from __future__ import annotations

import argparse

import pytest

from nasbench_mt.cli.main import build_parser

PARSER = build_parser()
SUB = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction))
COMMANDS = sorted(SUB.choices)
SILENT = (argparse._HelpAction, argparse._VersionAction)
FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction)


def _documented(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, SILENT) and a.help != argparse.SUPPRESS]


def test_every_command_is_listed_with_a_summary():
    listed = {a.dest: a.help for a in SUB._choices_actions}
    assert sorted(listed) == COMMANDS
    assert all(help and help.endswith(".") for help in listed.values()), listed


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name):
    parser = SUB.choices[name]
    assert parser.description, f"nasbench-mt {name} has no description"
    for action in _documented(parser):
        what = "/".join(action.option_strings) or action.dest
        assert action.help and len(action.help) > 10, f"nasbench-mt {name} {what}: no help text"
        stated = "%(default)s" in action.help or "default:" in action.help or action.required
        if action.default is None or isinstance(action, FLAGS) or not action.option_strings:
            continue  # a flag is off unless given; None means "not set", which the help says in words
        assert stated, f"nasbench-mt {name} {what}: the help does not state the default {action.default!r}"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_renders(name, capsys):
    with pytest.raises(SystemExit) as stop:
        PARSER.parse_args([name, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "%(" not in text and "usage: nasbench-mt " + name in text
