"""Times as a person reads them: in the organizers' zone (``RECOMMENDER_TIMEZONE``).

The store and the JSON API keep UTC (ISO 8601 with ``+00:00``); pages convert at the last
moment, through the Jinja filters installed here: ``localtime`` (``2026-12-06 14:30``,
``localtime(19)`` with seconds), ``localdate`` (``2026-12-06``, for tables and lists),
``datezh`` (a date inside a sentence, ``2026年12月6日``; ``datezh(as_of)`` leaves out as_of's
year: :func:`recommender.text.dates.date_zh`) and ``model_trained`` (a
model version as the time it was trained, ``2026-12-07 04:58 训练``: its name is in UTC, so
``20261206T205810Z-5f0d`` would read as a day before the pages' 截至 2026-12-07).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from recommender.retrain.registry import version_time
from recommender.text.dates import date_zh


def to_local(value: object, tz: tzinfo) -> datetime | None:
    """A stored time (datetime or ISO text) in ``tz``; None for nothing or unreadable text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # stored times are UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz)


def install_time_filters(env, tz: tzinfo, zone_name: str) -> None:
    """Add ``localtime``/``localdate`` filters and the ``timezone_name`` global to a Jinja env."""

    def localtime(value: object, length: int = 16) -> str:
        local = to_local(value, tz)
        return "" if local is None else local.strftime("%Y-%m-%d %H:%M:%S")[:length]

    def localdate(value: object) -> str:
        local = to_local(value, tz)
        return "" if local is None else local.strftime("%Y-%m-%d")

    def model_trained(version: object) -> str:
        trained = version_time(version)
        return str(version or "") if trained is None else f"{localtime(trained)} 训练"

    env.filters["localtime"] = localtime
    env.filters["model_trained"] = model_trained
    env.filters["localdate"] = localdate
    env.filters["datezh"] = date_zh
    env.globals["timezone_name"] = "北京时间" if zone_name in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else zone_name
