"""The smaller items of issue 15 (item 7): /docs offline, the licence metadata, the thank-you
page's stored text, and the command line (columns used, content keys, dates, --top, train's
messages, -q, progress of the fit)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.test_cli import env  # noqa: F401 (fixture: the CLI pointed at the test store)

ROOT = Path(__file__).resolve().parents[1]


def test_docs_load_every_asset_from_this_site(client):
    """/docs references only local URLs, and each of them is served (no CDN needed)."""
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?['"]([^'"]+)['"]""", page.text)
    urls = [a or b for a, b in urls]
    assert urls, page.text[:500]
    assert not [u for u in urls if re.match(r"(?:https?:)?//", u)], urls
    assert "cdn.jsdelivr.net" not in page.text and "fastapi.tiangolo.com" not in page.text
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"] and len(script.content) > 100_000
    assert "text/css" in client.get("/static/swagger-ui/swagger-ui.css").headers["content-type"]
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_licence_is_an_spdx_expression():
    """pyproject: license = "MIT" (SPDX) with setuptools>=77, so builds print no licence deprecation."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
    assert not any("License ::" in c for c in project["project"].get("classifiers", []))


# --------------------------------------------------------------------------- the thank-you page


def test_thanks_page_shows_the_stored_masked_text(client):
    """After POST /feedback the thank-you page shows the text as stored: the phone number masked."""
    from tests.helpers import parse_html

    response = client.post("/feedback", data={"text": "想学消防安全，我的电话 13812345678"})
    assert response.status_code == 200 and response.url.path == "/thanks"
    page = parse_html(response.text)
    shown = page.by_id("stored-text").text
    assert shown == "想学消防安全，我的电话 [手机号]" and "13812345678" not in response.text
    again = parse_html(client.get("/thanks").text)  # the receipt is shown once: so is the text
    assert again.by_id("stored-text") is None


# --------------------------------------------------------------------------- the CLI


def _csv(path, rows):
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["反馈内容", "提交时间", "身份"])
        writer.writerows(rows)
    return path


def test_import_names_the_columns_and_a_renamed_copy_imports_nothing(env, store, tmp_path, capsys):
    """The summary says which column each field came from; a renamed copy (no id column) adds nothing."""
    from recommender.cli import main

    rows = [["想学公文写作格式", "2026-11-01 10:00", "网格员"], ["灭火器怎么用", "2026-11-02 10:00", "居民"]]
    first = _csv(tmp_path / "十一月.csv", rows)
    assert main(["--quiet", "import", str(first)]) == 0
    out = capsys.readouterr().out
    assert "内容 text=“反馈内容”" in out and "时间 time=“提交时间”" in out and "人群 segment=“身份”" in out
    assert "未使用：" in out and "not used" not in out and "编号 id" in out.split("未使用")[1]
    copy = tmp_path / "十一月（副本）.csv"
    copy.write_bytes(first.read_bytes())
    assert main(["--quiet", "import", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "导入：0 行" in out and "已存在跳过：2 行" in out
    assert store.count() == 2
    _csv(tmp_path / "other.csv", [*rows, ["想学手机拍照", "2026-11-03 10:00", "居民"]])
    assert main(["--quiet", "import", str(tmp_path / "other.csv")]) == 0
    assert "导入：1 行" in capsys.readouterr().out and store.count() == 3


@pytest.mark.parametrize("day", ["2026/12/01", "2026/12/1", "2026-12-01", "2026.12.01"])
def test_as_of_accepts_slashes(day):
    """--as-of reads YYYY-MM-DD, YYYY/MM/DD (and dots) as the same day."""
    from datetime import date

    from recommender.cli import build_parser

    args = build_parser().parse_args(["suggest", "--as-of", day])
    assert args.as_of == date(2026, 12, 1)


def test_bad_as_of_and_top_are_one_line_errors_in_chinese(env, capsys):
    """--as-of 2026/13/01: exit 2, 「错误：--as-of：…」 after the usage; --top 0: exit 1, one Chinese line."""
    from recommender.cli import main

    with pytest.raises(SystemExit) as info:
        main(["suggest", "--as-of", "2026/13/01"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last == "错误：--as-of：日期应写成 YYYY-MM-DD 或 YYYY/MM/DD，例如 2026-12-01（收到“2026/13/01”）。"
    assert err.startswith("用法：") and "error" not in err and "Not a date" not in err
    assert main(["suggest", "--top", "0"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == ["错误：--top 应为 1 到 50 之间的整数（收到 0）"]


def test_train_on_a_small_store_without_a_model_says_so(env, store, tmp_path, capsys):
    """Too few lines and no model: one Chinese line, no 「当前模型保持不变」 when there is none."""
    from recommender.cli import EXIT_NOT_ENOUGH, main

    main(["--quiet", "import", str(_csv(tmp_path / "few.csv", [["想学公文写作格式", "2026-11-01 10:00", "网格员"]]))])
    capsys.readouterr()
    assert main(["--quiet", "train"]) == EXIT_NOT_ENOUGH
    [zh] = capsys.readouterr().err.strip().splitlines()
    assert "只有 1 条反馈，至少需要" in zh and "还没有模型" in zh and not re.search(r"[A-Za-z]{4,}", zh.replace("RECOMMENDER_MIN_TRAIN_ROWS", ""))
    assert "保持不变" not in zh


def test_a_skipped_or_refused_retrain_leaves_an_english_log_line(env, store, tmp_path, capsys, caplog):
    """`-v train` (the scheduled retrain) logs why nothing was trained: too few lines (exit 2)
    or another retrain holding the lock (exit 3), with the holder; no feedback text."""
    import logging

    from recommender.cli import EXIT_BUSY, EXIT_NOT_ENOUGH, main
    from recommender.retrain.lock import retrain_lock
    from recommender.retrain.pipeline import lock_path

    main(["--quiet", "import", str(_csv(tmp_path / "few.csv", [["想学公文写作格式", "2026-11-01 10:00", "网格员"]]))])
    caplog.set_level(logging.INFO)
    assert main(["-v", "train"]) == EXIT_NOT_ENOUGH
    assert "retrain skipped: 1 feedback lines, at least 30 needed (RECOMMENDER_MIN_TRAIN_ROWS); no model yet" in caplog.text
    caplog.clear()
    with retrain_lock(lock_path(env), owner="cron") as holder:
        assert main(["-v", "train"]) == EXIT_BUSY
    assert f"retrain not started: another retrain is running (since {holder['started_at']}, pid {holder['pid']}" in caplog.text
    assert "公文" not in caplog.text
    capsys.readouterr()


def test_quiet_means_no_info_lines(env, store, tmp_path, capfd):
    """-q: no INFO log lines and no progress bars on either stream."""
    from recommender.cli import main

    assert main(["-q", "import", str(_csv(tmp_path / "q.csv", [["想学公文写作格式", "2026-11-01 10:00", "网格员"]]))]) == 0
    out, err = capfd.readouterr()
    assert " INFO " not in out + err and "INFO" not in err and "导入 q.csv" not in err
    assert "导入：1 行" in out


def test_fit_reports_each_step_to_its_progress_callback():
    """TopicModel.fit calls progress with each step of FIT_STEPS, in order."""
    from recommender.model.topic_model import FIT_STEPS, TopicModel
    from tests.fixtures_organizer import theme_lines

    seen: list[str] = []
    TopicModel(random_state=0).fit([text for _, text in theme_lines()], progress=seen.append)
    assert seen == list(FIT_STEPS)


def test_training_shows_progress_on_stderr(env, store, tmp_path, capfd, monkeypatch):
    """`recommender train` (without -q) at a terminal shows the fit's progress bar on stderr,
    stdout keeps the result."""
    import sys

    from recommender.cli import main
    from tests.fixtures_organizer import theme_lines

    rows = [[text, f"2026-11-{1 + i % 28:02d} 10:{i % 60:02d}", "居民"] for i, (_, text) in enumerate(theme_lines())]
    assert main(["--quiet", "import", str(_csv(tmp_path / "all.csv", rows))]) == 0
    capfd.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a person at a terminal
    assert main(["train"]) == 0
    out, err = capfd.readouterr()
    assert "训练模型" in err and "新模型" in out and "训练模型" not in out
