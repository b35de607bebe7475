"""What a person running a command sees: its result and progress, not the operator's INFO log.

``serve`` is the operator's log and keeps RECOMMENDER_LOG_LEVEL; every other command shows
warnings and errors, INFO lines with ``-v``, and DEBUG when the operator set it to find out
why a command failed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from argparse import Namespace

import pytest

from recommender.cli import build_parser
from recommender.cli.common import terminal_log_level


@pytest.mark.parametrize(
    ("argv", "configured", "level"),
    [
        (["import", "a.csv"], "INFO", "WARNING"),
        (["suggest"], "INFO", "WARNING"),
        (["-v", "import", "a.csv"], "INFO", "INFO"),
        (["-v", "suggest"], "INFO", "INFO"),
        (["suggest"], "DEBUG", "DEBUG"),  # set to see why a command failed
        (["suggest"], "ERROR", "ERROR"),
        (["-q", "suggest"], "DEBUG", "WARNING"),
        (["serve"], "INFO", "INFO"),  # the operator's log, as before
        (["-q", "serve"], "INFO", "WARNING"),
    ],
)
def test_terminal_level_of_each_command(argv, configured, level) -> None:
    assert terminal_log_level(build_parser().parse_args(argv), configured) == level


def test_quiet_and_verbose_exclude_each_other(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["-q", "-v", "suggest"])
    assert "错误：-v/--verbose 和 -q/--quiet 不能同时使用" in capsys.readouterr().err


def test_a_namespace_without_the_flags_is_the_default() -> None:
    """Commands that call others (setup calls train) pass a bare Namespace."""
    assert terminal_log_level(Namespace(), "INFO") == "WARNING"


def _import(tmp_path, *flags: str) -> subprocess.CompletedProcess:
    data = tmp_path / "rows.csv"
    data.write_text("text,time\n想学公文写作的格式,2026-11-01\n,2026-11-03\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDER_")}
    env.update(
        RECOMMENDER_DATABASE_URL=f"sqlite:///{tmp_path / 'f.db'}",
        RECOMMENDER_DATA_DIR=str(tmp_path / "data"),
        RECOMMENDER_MODELS_DIR=str(tmp_path / "models"),
    )
    return subprocess.run(
        [sys.executable, "-m", "recommender", *flags, "import", str(data)],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )


def test_import_shows_its_summary_without_info_lines(tmp_path) -> None:
    """`recommender import` without -q: the summary and the bad row, no INFO log line; -v adds it."""
    plain = _import(tmp_path)
    assert "导入：1 行" in plain.stdout and "第 3 行" in plain.stdout
    assert " INFO " not in plain.stderr, plain.stderr
    verbose = _import(tmp_path, "-v")
    assert "已存在跳过：1 行" in verbose.stdout
    assert " INFO recommender: import rows.csv" in verbose.stderr


def test_the_scheduled_retrain_and_purge_log_lines_not_progress_bars(tmp_path) -> None:
    """deploy/crontab and the systemd units run `recommender -v train` into a log: timestamped
    English lines with the counts, the time taken and the version made current; no progress
    bar redraws (stderr is not a terminal), no feedback text. The purge, too (`-v purge`): a
    time-stamped line of what it deleted and folded, counts and months only."""
    from pathlib import Path

    from tests.fixtures_organizer import theme_lines

    root = Path(__file__).resolve().parents[1]
    for unit in ("deploy/crontab", "deploy/recommender-retrain.service"):
        text = (root / unit).read_text(encoding="utf-8")
        assert "recommender -v train" in text and "/etc/night-school-recommender.env" in text, unit
    # the dashboard's retrain (the same -v lines) starts feedback_data/retrain.log afresh: cron logs elsewhere
    from recommender.retrain.runner import retrain_command

    assert retrain_command()[-2:] == ["-v", "train"]
    assert "feedback_data/retrain.log" not in (root / "deploy/crontab").read_text(encoding="utf-8").split("\n0 3")[1]
    texts = [text for _, text in theme_lines()]
    data = tmp_path / "rows.csv"
    data.write_text("text,time\n" + "".join(f"{t},2026-11-{1 + i % 28:02d}\n" for i, t in enumerate(texts)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDER_")}
    env.update(
        RECOMMENDER_DATABASE_URL=f"sqlite:///{tmp_path / 'f.db'}",
        RECOMMENDER_DATA_DIR=str(tmp_path / "data"),
        RECOMMENDER_MODELS_DIR=str(tmp_path / "models"),
    )
    subprocess.run([sys.executable, "-m", "recommender", "-q", "import", str(data)], env=env, timeout=120, check=True,
                   capture_output=True)
    run = subprocess.run([sys.executable, "-m", "recommender", "-v", "train"], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    assert "\r" not in run.stderr and "训练模型" not in run.stderr and "分词" not in run.stderr, run.stderr
    current = (tmp_path / "models" / "CURRENT").read_text(encoding="utf-8").strip()
    published = [line for line in run.stderr.splitlines() if f"model {current} is current: {len(texts)} lines" in line]
    assert published and " INFO recommender." in published[0], run.stderr
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", published[0]) and re.search(r"\d\.\ds;", published[0])
    assert f"published model version {current} in {tmp_path / 'models' / current} " in run.stderr  # where it went
    assert not [t for t in texts if t in run.stderr]
    assert f"新模型 {current} 已启用" in run.stdout


    # The scheduled purge, likewise: `-v` into its own log, a time-stamped line of what it did.
    for unit in ("deploy/crontab", "deploy/recommender-purge.service"):
        text = (root / unit).read_text(encoding="utf-8")
        assert "recommender -v purge" in text and "--quiet purge" not in text, unit
    assert "feedback_data/purge.log" in (root / "deploy/crontab").read_text(encoding="utf-8").split("\n0 4")[1]
    env["RECOMMENDER_RETENTION_MONTHS"] = "1"  # the lines of 2026-11 are past it from 2027-01 on
    purge = subprocess.run([sys.executable, "-m", "recommender", "-v", "purge", "--dry-run"], capture_output=True,
                           text=True, env=env, timeout=300, check=True)
    done = [line for line in purge.stderr.splitlines() if "INFO recommender" in line and "purge (dry run): " in line]
    assert done and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", done[0]), purge.stderr
    assert re.search(r"purge \(dry run\): \d+ lines submitted before \d{4}-\d\d-01 would be deleted", done[0])
    assert "monthly counts (retention 1 months)" in done[0]
    assert not [t for t in texts if t in purge.stderr]
    assert "试运行" in purge.stdout
