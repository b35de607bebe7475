"""``recommender experts import|list``: the directory of experts from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recommender.cli.common import EXIT_ERROR, open_service, refuse_missing_database
from recommender.config import Settings
from recommender.errors import ImportFailed


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experts", help="the directory of experts: import a CSV/XLSX file, list it")
    esub = p.add_subparsers(dest="experts_command", required=True)
    e = esub.add_parser("import", help="add or update experts from a CSV or XLSX file (姓名, 部门, 可授课程, 联系方式)")
    e.add_argument("file", metavar="FILE", help="the CSV or XLSX file")
    e.add_argument("--name-column", metavar="C", help="column with the expert's name (auto-detected if omitted)")
    e.add_argument("--department-column", metavar="C", help="column with the department that sends them")
    e.add_argument("--subjects-column", metavar="C", help="column with the subjects they teach (separated by 、，；)")
    e.add_argument("--contact-column", metavar="C", help="column with a phone number or e-mail (shown masked)")
    esub.add_parser("list", help="every expert, contacts masked")
    p.set_defaults(func=cmd_experts)


def cmd_experts(args: argparse.Namespace, settings: Settings) -> int:
    """The directory of experts: import a CSV/XLSX file, or list it (contacts masked)."""
    from recommender.door.screening import console_actor

    if args.experts_command == "list" and refuse_missing_database(settings):
        return EXIT_ERROR  # a wrong folder or settings: not an empty new store listed as empty
    service = open_service(settings)
    if args.experts_command == "list":
        experts = service.experts.experts()
        if not experts:
            print("专家库是空的。请用 `recommender experts import 文件` 导入，或在组织者页面“专家库”添加。")
        for e in experts:
            print(f"{e['id']:>4}  {e['name']}  {e['department']}  可授：{'、'.join(e['subjects'])}  {e['contact'] or '-'}")
        return 0
    path = Path(args.file)
    try:
        wanted = {f: getattr(args, f"{f}_column") for f in ("name", "department", "subjects", "contact")}
        report = service.experts.import_file(path, actor=console_actor(), columns=wanted)
    except ImportFailed as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    names = {"name": "姓名", "department": "部门", "subjects": "可授课程", "contact": "联系方式"}
    used = "，".join(f"{names[f]}=“{c}”" for f, c in report["columns"].items())
    print(f"文件 {path.name}  使用的列：{used}")
    print(f"  新增：{report['added']} 位")
    print(f"  更新：{report['updated']} 位")
    print(f"  有误跳过：{len(report['skipped'])} 行")
    for item in report["skipped"][:50]:
        print(f"    第 {item['line']} 行：{item['reason']}")
    return 0
