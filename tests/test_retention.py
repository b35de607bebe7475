"""Retention: `recommender purge` folds old lines into monthly aggregates and deletes their text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures_organizer import THEMES, load_feedback

NOW = datetime.now(timezone.utc)
OLD = NOW - timedelta(days=31 * 30)  # about 30 months ago: beyond the default 24


@pytest.fixture
def aged_service(service, settings):
    """Recent four-theme feedback plus 40 lines from ~30 months ago (two months), trained together."""
    from recommender.retrain.pipeline import train_from_store

    load_feedback(service, now=NOW)
    old = [(theme, text) for theme, texts in THEMES.items() for text in texts[:10]]
    for i, (_theme, text) in enumerate(old):
        service.submit(
            service.draft(
                "以前：" + text,
                segment="居民" if i % 2 else "网格员",
                submitter=f"old-{i % 25}",
                submitted_at=OLD - timedelta(days=(i % 2) * 31),
                votes=i % 3,
                source="api",
            )
        )
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    return service


def _by_topic(result: dict) -> dict[str, dict]:
    return {s["topic_id"]: s for s in result["suggestions"]}


def test_cutoff_is_the_first_of_a_month(service):
    """Whole months are purged: the cutoff is the first day of the month retention_months back."""
    cutoff = service.retention_cutoff(datetime(2026, 3, 17, tzinfo=timezone.utc))
    assert cutoff == datetime(2024, 3, 1, tzinfo=timezone.utc)


def test_dry_run_changes_nothing(aged_service):
    """--dry-run reports the old lines and leaves every text and aggregate in place."""
    report = aged_service.purge(dry_run=True, actor="console")
    assert report.lines == 40 and report.folded <= 40 and len(report.months) == 2
    assert aged_service.store.month_counts() == []
    assert sum(1 for r in aged_service.store.iter_feedback() if r.text.startswith("以前：")) == 40


def test_purge_keeps_aggregates_and_suggestions_drops_text(aged_service):
    """After purge: old text, tokens and assignments are gone; aggregates hold the counts; suggestions and
    the monthly sparkline of purged months are unchanged."""
    months = sorted({(OLD - timedelta(days=d)).strftime("%Y-%m") for d in (0, 31)})
    past = (OLD + timedelta(days=5)).date()
    before_now = _by_topic(aged_service.suggestions(top=10))
    before_past = _by_topic(aged_service.suggestions(top=10, as_of=past))

    report = aged_service.purge(actor="console:tester")
    assert report.lines == 40 and report.months == months

    rows = list(aged_service.store.iter_feedback())
    old_rows = [r for r in rows if r.submitted_at < report.cutoff]
    assert len(old_rows) == 40 and all(r.text == "" and r.status == "purged" and r.submitter_hash is None for r in old_rows)
    assert all(r.text for r in rows if r.submitted_at >= report.cutoff)
    version = aged_service.served().version
    assigned = {r.id for r, _, _ in aged_service.store.assignment_rows(version, visible_only=False)}
    assert not assigned & {r.id for r in old_rows}

    aggregates = aged_service.store.month_counts()
    assert {a["month"] for a in aggregates} == set(months)
    assert sum(a["lines"] for a in aggregates) == report.folded > 0
    assert all(1 <= a["people"] <= a["lines"] for a in aggregates)

    after_now = _by_topic(aged_service.suggestions(top=10))
    assert list(after_now) == list(before_now)
    for tid, s in after_now.items():
        assert s["feedback_count"] == before_now[tid]["feedback_count"]
        assert s["score"] == pytest.approx(before_now[tid]["score"], abs=1e-3)
        assert not any(str(i).startswith("~agg") for i in s["feedback_ids"])

    after_past = _by_topic(aged_service.suggestions(top=10, as_of=past))
    assert set(after_past) == set(before_past)
    for tid, s in after_past.items():
        counts = {m["month"]: m["count"] for m in s["monthly_counts"]}
        old_counts = {m["month"]: m["count"] for m in before_past[tid]["monthly_counts"]}
        assert counts == old_counts  # the purged months now come from the aggregates
        assert any(counts[m] for m in months if m in counts)
        assert s["examples"] == [e for e in s["examples"] if not e.startswith("以前：")]

    entries, _ = aged_service.store.audit_entries(action="purge")
    assert entries[0]["actor"] == "console:tester" and entries[0]["detail"]["lines"] == 40
    assert aged_service.purge().lines == 0  # nothing left to purge


def test_retention_zero_keeps_everything(aged_service, settings):
    """retention_months=0 turns purging off."""
    aged_service.settings = settings.model_copy(update={"retention_months": 0})
    assert aged_service.purge() is None


def test_cli_purge_dry_run(aged_service, settings, monkeypatch, capsys):
    """`recommender purge --dry-run` prints what would go and changes nothing; without it the text goes."""
    from recommender import cli
    from recommender.config import get_settings

    for name, value in (("DATABASE_URL", settings.database_url), ("MODELS_DIR", str(settings.models_dir)),
                        ("DATA_DIR", str(settings.data_dir))):
        monkeypatch.setenv(f"RECOMMENDER_{name}", value)
    get_settings.cache_clear()
    assert cli.main(["-q", "purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "将删除文字：40 条" in out and "（试运行：什么也没有改动）" in out
    assert aged_service.store.month_counts() == []
    assert cli.main(["-q", "purge"]) == 0
    assert "已删除文字：40 条" in capsys.readouterr().out
    assert aged_service.store.month_counts() != []
