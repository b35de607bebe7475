"""Long messages and one-domain stores, as an organizer sees them (issue 14).

bench/organizer.py feeds short titles. Real feedback is often a long message, and a store
can hold one domain only. This script takes the same path (CSV → ``recommender import`` →
``train`` → ``suggest --format json``, through :class:`bench.organizer.Store`) on:

- **tipdm 495 bodies**: the 495 labelled citizen messages with the body (``detail``, median
  206 characters) as the feedback, and with title + "。" + body; ``--top 5``: purity (share of
  a suggestion's lines with its majority label; target mean ≥ 0.75, none < 0.5), number of
  suggestions, whether each label appears verbatim in its lines, quote lengths;
- **tipdm messages**: the 2,732 unlabelled messages, title and body; ``--top 10``: labels,
  keywords, quotes, sizes and the share of lines in no topic (未归类);
- **KUAKE-QIC 3,000**: 3,000-line random samples of the medical questions (one domain);
  ``--top 5`` and ``--top 10``: how many suggestions come back, and what they are.

Run (from the project root, the tree's own ``.venv``):

    .venv/bin/python bench/long_texts.py                     # all sets, ~10 min on 2 shared cores
    .venv/bin/python bench/long_texts.py --only tip495 --seed 1
    .venv/bin/python bench/long_texts.py --baseline main      # main's tree first (a worktree under
                                                              # bench/.work, as bench/organizer.py makes)

Readable tables go to stdout, progress to stderr, all figures to
``bench/out/long_texts-<time>.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.organizer import (  # noqa: E402
    DEFAULT_DATA, OUT, PURITY_FLOOR, PURITY_MEAN, Line, Store, Tree, baseline_tree, check_tree, current_tree, dated,
    mean, progress, topic_count,
)

SETS = ("tip495", "tipmsg", "kuake")
KUAKE_LINES = 3000
QUOTES_SHOWN = 3


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SystemExit(f"development data not found: {path} (pass --data)")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def message_lines(rows: Sequence[dict[str, str]], form: str) -> list[Line]:
    """``form``: "title" (``text``), "body" (``detail``) or "both" (title + "。" + body)."""
    out = []
    for row in rows:
        title, body = (row.get("text") or "").strip(), (row.get("detail") or "").strip()
        text = {"title": title, "body": body, "both": f"{title}。{body}" if body else title}[form]
        if text:
            out.append(Line(text, (row.get("label") or "").strip() or None))
    return out


def read_store(store: Store, rows: Sequence, top: int) -> dict[str, Any]:
    """Import, train, suggest ``top``; each suggestion as an organizer reads it."""
    texts = {row.id: row.text for row in rows}
    labels = {row.id: row.label for row in rows}
    store.add(rows)
    version = store.train()
    assigned = store.assignments(version)
    suggestions = []
    for s in store.suggest(top):
        ids = [i for i in s["feedback_ids"] if i in texts]
        known = [labels[i] for i in ids if labels[i]]
        majority, n = Counter(known).most_common(1)[0] if known else (None, 0)
        label = s["label"] or ""
        quotes = list(s.get("examples") or [])[:QUOTES_SHOWN]
        suggestions.append({
            "rank": s["rank"], "label": label, "keywords": list(s.get("keywords") or [])[:5],
            "theme": s.get("theme_label"), "size": len(ids),
            "purity": n / len(known) if known else None, "majority": majority,
            "label_in_lines": sum(label.lower() in texts[i].lower() for i in ids) / max(1, len(ids)),
            "quotes": quotes, "quote_chars": [len(q) for q in quotes],
        })
    return {
        "suggestions": suggestions, "topics": topic_count(assigned),
        "unassigned": sum(t is None for t in assigned.values()) / max(1, len(assigned)),
        "train_seconds": store.train_seconds,
    }


def run_set(tree: Tree, name: str, lines: list[Line], rng: random.Random, top: int, keep: bool) -> dict[str, Any]:
    rows = dated(lines, rng, "L")
    with Store(tree, f"{name} · {tree.name}", keep) as store:
        result = read_store(store, rows, top)
    purities = [s["purity"] for s in result["suggestions"] if s["purity"] is not None]
    result.update({
        "set": name, "tree": tree.name, "lines": len(rows), "top": top,
        "median_chars": sorted(len(r.text) for r in rows)[len(rows) // 2],
        "mean_purity": mean(purities), "min_purity": min(purities, default=None),
        "below_floor": sum(p < PURITY_FLOOR for p in purities),
    })
    return result


def show(result: dict[str, Any], quote_chars: int) -> None:
    head = (
        f"\n## {result['set']} · {result['tree']}: {result['lines']} lines (median {result['median_chars']} chars), "
        f"top {result['top']} → {len(result['suggestions'])} suggestions, {result['topics']} topics, "
        f"未归类 {result['unassigned']:.0%}, train {result['train_seconds']} s"
    )
    if result["mean_purity"] is not None:
        head += (
            f"; purity mean {result['mean_purity']:.2f} (target ≥ {PURITY_MEAN}), min {result['min_purity']:.2f}, "
            f"{result['below_floor']} below {PURITY_FLOOR}"
        )
    print(head)
    for s in result["suggestions"]:
        purity = f" · purity {s['purity']:.2f} ({s['majority']})" if s["purity"] is not None else ""
        print(
            f"#{s['rank']} 「{s['label']}」 · {s['size']} lines{purity} · label in {s['label_in_lines']:.0%} of lines"
            f" · theme {s['theme']} · keywords {'、'.join(s['keywords'])}"
        )
        for q in s["quotes"]:
            print(f"    – ({len(q)}) {q if len(q) <= quote_chars else q[:quote_chars] + '…'}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring for the sets.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development data folder (default ../shared/data)")
    p.add_argument("--only", default=",".join(SETS), help=f"comma-separated sets of {', '.join(SETS)}")
    p.add_argument(
        "--baseline", metavar="REF",
        help="also run a git ref (e.g. main) as bench/organizer.py does, before the current tree, on the same sets",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the times and the KUAKE-QIC sample (default 0)")
    p.add_argument("--quote-chars", type=int, default=160, help="characters of a quote printed (default 160)")
    p.add_argument("--keep-stores", action="store_true", help="keep the temporary stores")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SETS))
    if unknown:
        raise SystemExit(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    current = current_tree()
    trees = [current]
    if args.baseline:
        trees.insert(0, baseline_tree(args.baseline, current))
    for tree in trees:
        check_tree(tree)
    rng = random.Random(f"{args.seed}:long_texts")
    runs: list[tuple[str, list[Line], int]] = []
    if "tip495" in only:
        rows = read_csv(args.data / "tipdm2020c_sample495" / "data.csv")
        runs += [(f"tipdm 495 {form}", message_lines(rows, form), 5) for form in ("body", "both")]
    if "tipmsg" in only:
        rows = read_csv(args.data / "tipdm2020c_messages" / "data.csv")
        runs += [(f"tipdm messages {form}", message_lines(rows, form), 10) for form in ("title", "body")]
    if "kuake" in only:
        rows = read_csv(args.data / "kuake_qic" / "labeled_train_dev.csv")
        sample = rng.sample(message_lines(rows, "title"), KUAKE_LINES)
        runs += [(f"KUAKE-QIC {KUAKE_LINES:,}", sample, 10)]
    results = []
    for name, lines, top in runs:
        progress(f"{name}: {len(lines)} lines")
        for tree in trees:
            result = run_set(tree, name, lines, random.Random(f"{args.seed}:{name}"), top, args.keep_stores)
            show(result, args.quote_chars)
            results.append(result)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"long_texts-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"seed": args.seed, "commits": {t.name: t.commit for t in trees}, "sets": results}, ensure_ascii=False, indent=1))
    progress(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
