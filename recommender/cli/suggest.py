"""``recommender suggest``: the ranked suggestions as a table or the API's JSON."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date

from recommender.cli.common import EXIT_ERROR, EXIT_NO_MODEL, open_service, refuse_missing_database
from recommender.config import Settings
from recommender.errors import NoModelError, ValidationFailed

_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _iso_date(value: str) -> date:
    """A date as organizers write it: 2026-12-01, 2026/12/01, 2026/12/1 or 2026.12.01."""
    match = _DATE.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"日期应写成 YYYY-MM-DD 或 YYYY/MM/DD，例如 2026-12-01（收到“{value}”）。"
        ) from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suggest", help="ranked topic suggestions for the next session",
        description="The ranked topic suggestions from the current model, as a table or as the JSON of "
        "GET /api/suggestions. Exit code 4 when no model is trained yet.",
    )
    p.add_argument("--top", type=int, default=None, metavar="N",
                   help="how many suggestions, 1-50 (default: RECOMMENDER_SUGGESTIONS_TOP, 5)")
    p.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                   help="rank as of the end of that day; YYYY/MM/DD works too (default: today in RECOMMENDER_TIMEZONE)")
    p.add_argument("--segment", default=None, metavar="S",
                   help="only demand from this segment, one of RECOMMENDER_SEGMENTS (e.g. 网格员)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table for people (default), json as GET /api/suggestions answers")
    p.set_defaults(func=cmd_suggest)


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.ranking.rank import TREND_ZH

    from recommender.service.filters import MAX_TOP, parse_suggestion_query

    try:  # the API's rules: top 1..50, a known segment (before the model is loaded)
        query = parse_suggestion_query(settings, args.top, args.as_of, args.segment)
    except ValidationFailed as exc:
        if exc.field == "top":  # named as the option is typed here (the API's message says top)
            print(f"错误：--top 应为 1 到 {MAX_TOP} 之间的整数（收到 {args.top}）", file=sys.stderr)
        else:
            print(f"错误：{exc.message}", file=sys.stderr)
        return EXIT_ERROR
    if refuse_missing_database(settings):  # a wrong folder or settings: not an empty new store
        return EXIT_ERROR
    service = open_service(settings)
    try:
        result = query.call(service)
    except NoModelError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_NO_MODEL
    except ValidationFailed as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"截至 {result['as_of']} 的下次课程主题建议（模型 {result['model_version']}）")
    if not result["suggestions"]:
        print("  （暂无建议）")
    for s in result["suggestions"]:
        badge = " [近期已开课]" if s.get("recently_covered") else ""
        print(
            f"{s['rank']:>2}. {s['label']}{badge}  热度 {s['score']:.3f}  "
            f"{s['distinct_submitters']} 人 / {s['feedback_count']} 条  趋势 {TREND_ZH.get(s['trend'], s['trend'])}"
        )
        theme = s.get("theme_label")
        print(f"    关键词：{'、'.join(s['keywords'])}" + (f"  类别：{theme}" if theme and theme != s["label"] else ""))
        if s.get("why"):
            print(f"    为什么：{s['why']}")
        for example in s["examples"][:3]:
            print(f"    · {example}")
        print("    " + _experts_line(s.get("experts") or []))
    return 0


def _experts_line(experts: list[dict]) -> str:
    from recommender.ranking.experts import NO_EXPERT

    if not experts:
        return NO_EXPERT
    return "可请专家：" + "、".join(f"{e['name']}（{e['department']}）" for e in experts)
