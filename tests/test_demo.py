"""Tests for recommender.door.demo: the generated demo feedback is deterministic, valid and varied."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from recommender.config import DEFAULT_SEGMENTS, Settings
from recommender.door.demo import THEMES, demo_feedback, write_demo_csv
from recommender.door.importer import ImportedRow, read_feedback_file
from recommender.door.demo import DEMO_TZ as LOCAL_TZ
from recommender.door.validation import clean_feedback, near_duplicate

AS_OF = date(2024, 6, 30)
START = datetime(2024, 6, 30, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return demo_feedback(seed=0, as_of=AS_OF)


def test_deterministic_for_a_seed() -> None:
    """The same seed and date give the same lines; another seed gives others."""
    assert demo_feedback(seed=0, as_of=AS_OF) == demo_feedback(seed=0, as_of=AS_OF)
    assert demo_feedback(seed=1, as_of=AS_OF) != demo_feedback(seed=0, as_of=AS_OF)


def test_shape_of_each_line(rows: list[dict]) -> None:
    """Each line has the documented keys, an aware time and sequential demo ids."""
    assert 350 <= len(rows) <= 450
    for number, row in enumerate(rows, start=1):
        assert set(row) == {"text", "segment", "submitter", "submitted_at", "votes", "external_id", "session_id"}
        assert row["external_id"] == f"demo-{number:04d}"
        assert row["submitted_at"].tzinfo is not None
        assert row["segment"] in DEFAULT_SEGMENTS
        assert isinstance(row["votes"], int) and row["votes"] >= 0
    assert [r["submitted_at"] for r in rows] == sorted(r["submitted_at"] for r in rows)


def test_every_line_passes_validation(rows: list[dict]) -> None:
    """Every demo line is accepted by clean_feedback as of the demo date."""
    settings = Settings()
    for row in rows:
        clean_feedback(
            row["text"],
            segment=row["segment"],
            session_id=row["session_id"],
            submitter=row["submitter"],
            submitted_at=row["submitted_at"],
            votes=row["votes"],
            external_id=row["external_id"],
            source="import:demo.csv",
            settings=settings,
            now=START,
        )


def test_spread_over_six_months_before_as_of(rows: list[dict]) -> None:
    """Lines fall in the ~6 months before as_of, every month represented."""
    times = [r["submitted_at"] for r in rows]
    assert max(times) < START
    assert min(times) >= START - timedelta(days=185)
    months = Counter(t.astimezone(LOCAL_TZ).strftime("%Y-%m") for t in times)
    assert len(months) >= 6
    assert min(months.values()) >= 20


def test_every_segment_appears(rows: list[dict]) -> None:
    """All default segments are represented."""
    assert set(DEFAULT_SEGMENTS) <= {r["segment"] for r in rows}


THEME_WORDS = {
    "公文写作": ("公文", "材料", "纪要", "总结", "通知", "简报", "讲话稿"),
    "消防安全": ("消防", "火", "电动车", "用电"),
    "应急处置": ("应急", "急救", "心肺复苏", "防汛", "地震"),
    "网格治理": ("网格",),
    "矛盾调解": ("调解", "纠纷", "矛盾", "噪音"),
    "政策法规": ("政策", "法", "条例", "低保", "保险"),
    "摄影宣传": ("摄影", "照片", "视频", "公众号", "海报", "新闻稿"),
    "数字工具": ("手机", "表格", "Excel", "WPS", "微信", "小程序", "缴费", "挂号"),
    "心理健康": ("心理", "情绪", "压力", "抑郁"),
    "老年服务": ("老", "养老", "照护"),
    "垃圾分类": ("垃圾", "分类", "回收"),
    "反诈宣传": ("诈",),
    "灭火器使用": ("灭火器",),
    "居住证办理": ("居住证",),
}


@pytest.mark.parametrize("words", list(THEME_WORDS.values()), ids=list(THEME_WORDS))
def test_themes_are_covered(rows: list[dict], words: tuple[str, ...]) -> None:
    """Each training theme has a good number of lines."""
    assert sum(any(w in r["text"] for w in words) for r in rows) >= 15


def test_texts_are_varied(rows: list[dict]) -> None:
    """Lines are phrased in many different ways, not copies."""
    texts = [r["text"] for r in rows]
    assert len(set(texts)) >= 0.9 * len(texts)
    assert len(THEMES) >= 12


def test_growth_and_fading(rows: list[dict]) -> None:
    """反诈 grows in the last two months while 垃圾分类 fades."""
    recent = START - timedelta(days=60)

    def share_recent(keyword: str) -> float:
        hits = [r for r in rows if keyword in r["text"]]
        return sum(r["submitted_at"] >= recent for r in hits) / len(hits)

    assert share_recent("诈") > 0.5
    assert share_recent("垃圾") < 0.15


def test_people_write_several_times_and_repeat(rows: list[dict]) -> None:
    """Some submitters write several times, some repeat near-identical text within 30 days."""
    per_person = Counter(r["submitter"] for r in rows)
    assert per_person.most_common(1)[0][1] >= 5
    assert len(per_person) >= 120
    repeats = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if (
                a["submitter"] == b["submitter"]
                and b["submitted_at"] - a["submitted_at"] <= timedelta(days=30)
                and near_duplicate(a["text"], b["text"])
            ):
                repeats += 1
                break
    assert repeats >= 10


def test_votes_noise_and_sessions(rows: list[dict]) -> None:
    """Some lines have votes, some are noise, some carry a session id."""
    assert sum(r["votes"] > 0 for r in rows) >= 50
    assert {"挺好的", "没意见", "老师讲得很好"} <= {r["text"] for r in rows}
    assert 0.3 < sum(r["session_id"] is not None for r in rows) / len(rows) < 0.9


def test_default_as_of_is_today() -> None:
    """Without as_of the lines end before today."""
    latest = max(r["submitted_at"] for r in demo_feedback())
    assert latest < datetime.now(timezone.utc)
    assert latest > datetime.now(timezone.utc) - timedelta(days=10)


def test_write_demo_csv_round_trips_through_the_importer(tmp_path: Path) -> None:
    """The written CSV imports back with the same texts, ids, times and segments."""
    path = tmp_path / "demo.csv"
    count = write_demo_csv(path, seed=0, as_of=AS_OF)
    original = demo_feedback(seed=0, as_of=AS_OF)
    assert count == len(original)
    assert path.read_text(encoding="utf-8-sig").splitlines()[0] == "text,segment,submitter,time,votes,id,session"
    batch = read_feedback_file(path, settings=Settings())
    imported = list(batch)
    assert all(isinstance(r, ImportedRow) for r in imported)
    assert batch.column_map == {
        "id": "id",
        "votes": "votes",
        "time": "time",
        "submitter": "submitter",
        "segment": "segment",
        "session": "session",
        "text": "text",
    }
    for row, item in zip(original, imported, strict=True):
        assert isinstance(item, ImportedRow)
        assert (item.text, item.external_id, item.segment, item.votes, item.session_id) == (
            row["text"],
            row["external_id"],
            row["segment"],
            row["votes"],
            row["session_id"],
        )
        assert item.submitted_at == row["submitted_at"]
