"""README documents every setting and every CLI option (so docs cannot drift from code)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from recommender.cli import build_parser
from recommender.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields), ids=str)
def test_every_setting_is_in_readme(name):
    """Each Settings field appears in README's configuration table as RECOMMENDER_<NAME>."""
    assert f"`RECOMMENDER_{name.upper()}`" in README


def _options(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", None
                yield from _options(sub, f"{prefix}{name} ")
        else:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    yield prefix.strip(), flag


@pytest.mark.parametrize("command,flag", sorted(set(_options(build_parser())), key=str), ids=str)
def test_every_cli_command_and_option_is_in_readme(command, flag):
    """Each subcommand and each long option is documented in README's CLI section."""
    if flag is None:
        assert f"recommender {command}" in README
    else:
        assert flag in README
