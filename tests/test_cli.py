"""The `recommender` command: import, train, suggest, models — as an operator runs them."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest

from recommender.cli import EXIT_ERROR, EXIT_NOT_ENOUGH, main
from recommender.config import get_settings
from recommender.retrain.registry import ModelRegistry
from recommender.retrain.runner import FROM_WEB, STARTED_FROM
from tests.feedback_corpus import feedback_rows


@pytest.fixture
def env(settings, monkeypatch):
    """Point the CLI (which reads the environment) at the test's store and folders."""
    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(settings.models_dir))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def write_csv(path, rows, *, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["编号", "反馈内容", "提交时间", "身份", "用户"])
        for i, row in enumerate(rows, 1):
            writer.writerow([f"r{i}", row["text"], row["submitted_at"].strftime("%Y-%m-%d %H:%M"), row["segment"], row["submitter"]])
    return path


def run(capsys, *argv):
    code = main(["--quiet", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_reports_and_is_idempotent(env, store, tmp_path, capsys):
    """Importing a GB18030 CSV stores every good row, reports bad ones by line, and a re-import adds nothing."""
    rows = feedback_rows(seed=11, per_theme=2)
    rows[3]["text"] = "   "
    path = write_csv(tmp_path / "问卷.csv", rows, encoding="gb18030")
    code, out, _ = run(capsys, "import", str(path), "--id-column", "编号", "--time-column", "提交时间",
                       "--segment-column", "身份", "--submitter-column", "用户")
    assert code == 0
    assert "导入：9 行" in out and "有误跳过：1 行" in out and "第 5 行" in out
    assert store.count() == 9
    code, out, _ = run(capsys, "import", str(path), "--id-column", "编号", "--time-column", "提交时间",
                       "--segment-column", "身份", "--submitter-column", "用户")
    assert code == 0 and "导入：0 行" in out and "已存在跳过：9 行" in out
    assert store.count() == 9


def test_import_says_which_rows_had_no_time(env, store, tmp_path, capsys):
    """A row whose time cell is empty is imported dated now, and the summary says so by line
    (not silently); a file without a time column gets no such note (its columns line says it)."""
    rows = feedback_rows(seed=15, per_theme=1)
    path = write_csv(tmp_path / "a.csv", rows)
    text = path.read_text(encoding="utf-8").splitlines()
    cells = text[2].split(",")
    cells[2] = ""
    text[2] = ",".join(cells)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "import", str(path))
    assert code == 0 and f"导入：{len(rows)} 行" in out
    assert "1 行提交时间为空，按导入时间记录（第 3 行）" in out
    assert "（csv, utf-8）" in out
    untimed = tmp_path / "b.csv"
    untimed.write_text("反馈内容\n想学太极拳入门\n", encoding="utf-8")
    code, out, _ = run(capsys, "import", str(untimed))
    assert code == 0 and "导入：1 行" in out and "提交时间为空" not in out


def test_broken_xlsx_is_a_clear_error_and_loses_nothing(env, store, tmp_path, capsys):
    """A broken XLSX exits 1 with a readable message; what was stored stays stored."""
    good = write_csv(tmp_path / "a.csv", feedback_rows(seed=12, per_theme=1))
    assert run(capsys, "import", str(good))[0] == 0
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not really a workbook")
    code, _, err = run(capsys, "import", str(broken))
    assert code == EXIT_ERROR
    assert "错误" in err and "Traceback" not in err
    assert store.count() == 5


def test_train_refuses_with_too_little_feedback(env, tmp_path, capsys):
    """`train` exits 2 with a clear message when the store is too small, and makes no model."""
    run(capsys, "import", str(write_csv(tmp_path / "few.csv", feedback_rows(seed=13, per_theme=1))))
    code, _, err = run(capsys, "train")
    assert code == EXIT_NOT_ENOUGH
    assert "RECOMMENDER_MIN_TRAIN_ROWS" in err
    assert ModelRegistry(env.models_dir).current_version() is None


def test_train_suggest_and_models(env, tmp_path, capsys, monkeypatch):
    """After import and train: suggest prints the INTERFACE JSON; models list/show/rollback work."""
    end = datetime.now(timezone.utc) - timedelta(days=1)
    run(capsys, "import", str(write_csv(tmp_path / "all.csv", feedback_rows(seed=14, end=end))),
        "--time-column", "提交时间", "--submitter-column", "用户")
    assert run(capsys, "train")[0] == 0
    first = ModelRegistry(env.models_dir).current_version()
    code, out, _ = run(capsys, "suggest", "--top", "3", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["model_version"] == first and 1 <= len(data["suggestions"]) <= 3
    code, out, _ = run(capsys, "suggest", "--top", "2")
    assert code == 0 and "1." in out and "为什么：" in out and "人提出" in out
    code, out, _ = run(capsys, "train")
    assert code == 0 and "没有新的反馈" in out and first in out and "请加 --force" in out
    assert ModelRegistry(env.models_dir).current_version() == first
    code, out, _ = run(capsys, "setup")  # a second `make serve`: everything is there already
    assert code == 0 and out.strip() == f"已准备好：数据库已有 {len(feedback_rows(seed=14, end=end))} 条反馈，当前模型 {first}（没有改动）"
    assert ModelRegistry(env.models_dir).current_version() == first
    monkeypatch.setenv(STARTED_FROM, FROM_WEB)  # as the dashboard's retrain child: no option to name
    code, out, _ = run(capsys, "train")
    assert code == 0 and "没有新的反馈" in out and "--force" not in out
    monkeypatch.delenv(STARTED_FROM)
    assert run(capsys, "train", "--force")[0] == 0
    assert ModelRegistry(env.models_dir).current_version() != first
    code, out, _ = run(capsys, "models", "list")
    assert code == 0 and first in out and "*" in out
    code, out, _ = run(capsys, "models", "show", first)
    assert json.loads(out)["version"] == first
    assert run(capsys, "models", "rollback", first)[0] == 0
    assert ModelRegistry(env.models_dir).current_version() == first
    code, _, err = run(capsys, "models", "rollback", "19990101T000000Z-dead")
    assert code == EXIT_ERROR and "错误" in err


def test_suggest_unknown_segment_is_an_error(env, tmp_path, capsys):
    """An unknown --segment is reported as an error, not a traceback."""
    code, _, err = run(capsys, "suggest", "--segment", "外星人")
    assert code == EXIT_ERROR and "外星人" in err


def test_train_on_a_database_file_that_does_not_exist_fails_without_creating_it(settings, monkeypatch, tmp_path, capsys):
    """A scheduled retrain run in the wrong folder or without the service's environment: exit
    code 1 naming the file (a failure for cron and systemd), not an empty new database and
    「只有 0 条反馈」 with exit code 2 (which the retrain unit counts as success)."""
    missing = tmp_path / "elsewhere" / "feedback.db"
    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(settings.models_dir))
    get_settings.cache_clear()
    try:
        assert main(["--quiet", "train"]) == EXIT_ERROR
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert f"数据库文件 {missing} 不存在" in err and "RECOMMENDER_DATABASE_URL" in err
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("command", [["suggest"], ["experts", "list"], ["purge"], ["purge", "--dry-run"]])
def test_a_command_in_the_wrong_folder_names_the_missing_database(command, tmp_path, monkeypatch, capsys):
    """`suggest`, `experts list` and a (scheduled) `purge` where the SQLite file does not exist
    (wrong folder, settings not loaded) say so and exit 1, as `train` does, instead of creating
    an empty database and answering 「暂无建议」, 「专家库是空的」 or 「已删除文字：0 条」."""
    database = tmp_path / "elsewhere" / "feedback.db"
    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        code, out, err = run(capsys, *command)
    finally:
        get_settings.cache_clear()
    assert code == EXIT_ERROR
    assert f"数据库文件 {database} 不存在" in err and "RECOMMENDER_DATABASE_URL" in err
    assert "暂无建议" not in out and "专家库是空的" not in out and "已删除" not in out
    assert not database.exists() and not database.parent.exists()
