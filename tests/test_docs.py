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


BENCH = Path(__file__).resolve().parents[1] / "bench"


SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text(encoding="utf-8"))


def test_the_benchmark_scripts_are_found():
    assert {"organizer.py", "quality.py", "train_scale.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_every_benchmark_script_starts(script):
    """Each bench/ script imports and answers ``--help``: the benchmarks README points to run
    against the package as it is now (a renamed function once broke bench/quality.py unseen)."""
    import subprocess
    import sys

    assert f"bench/{script}" in README, f"README's Benchmarks section does not name bench/{script}"
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=120,
        cwd=BENCH.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()


def _commands(parser: argparse.ArgumentParser, prefix: str = ""):
    yield prefix.strip() or "recommender", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix}{name} ")


@pytest.mark.parametrize("command,parser", list(_commands(build_parser())), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_and_argument_of_help_says_what_it_is(command, parser):
    """`recommender … --help` explains every option and argument (`serve --port`, `suggest --format`,
    the FILE of `import`), not only lists its name."""
    unexplained = [
        action.option_strings[-1] if action.option_strings else action.dest
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help
    ]
    assert not unexplained, f"`{command} --help` does not explain {unexplained}"
