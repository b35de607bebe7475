"""Times as a person reads them: in the organizers' zone (``RECOMMENDER_TIMEZONE``).

The store and the JSON API keep UTC (ISO 8601 with ``+00:00``); pages convert at the last
moment, through the Jinja filters installed here: ``localtime`` (``2026-12-06 14:30``,
``localtime(19)`` with seconds) and ``localdate`` (``2026-12-06``).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo


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

    env.filters["localtime"] = localtime
    env.filters["localdate"] = localdate
    env.globals["timezone_name"] = "北京时间" if zone_name in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else zone_name
