"""What an organizer sees: suggestion purity, open set, stability and planted demand (issue 14).

Every figure is taken through the real command line, as feedback would arrive: a CSV
(columns id, text, time, user) goes through ``recommender import`` with one person per line
and times spread uniformly at random (seeded) over the 60 days ending at the as-of date
2026-11-30, then ``recommender train`` and ``recommender suggest --as-of 2026-11-30 --format
json``. Each set gets a fresh store in a temporary folder (SQLite database, models and data
folders; ``RECOMMENDER_TRAIN_THREADS=1``, ``RECOMMENDER_MIN_TRAIN_ROWS=30``,
``RECOMMENDER_TIMEZONE=UTC``). Per-line topics
of a model version are read from the store's ``assignments`` table, and predictions for new
texts come from a short script that loads the current model in the tree's own environment.
The development data is read by path from ``../shared/data`` (``--data``); nothing of it is
copied into the project.

Two code trees are measured in one run, on the same sets, one step at a time:

- **current**: the tree this script lives in, with its ``.venv``;
- **baseline**: a git ref (``--baseline``, default ``a5e3c59``, the method before the
  issue-14 rewrite) checked out as a worktree in ``bench/.work/baseline-<sha>`` with its own
  venv (the project is installed editable there, pinned to the current venv's library
  versions; both are kept and reused while the worktree is at that commit).

The measures (targets from issue 14, "Measure it"):

1. **Suggestion purity.** Sets: 2,000-line random samples of SMP2017 and THUCNews titles, all
   495 tipdm2020c sample messages (title), and six samples of 6 classes (two from each of
   those sources: 6 classes at random, then 120–150 of their lines at random). ``suggest
   --top 5``; a suggestion's purity is the share of its lines that carry its majority true
   label. Target: mean over all suggestions ≥ 0.75, none below 0.5.
2. **Open set.** For SMP2017, THUCNews and tipdm 495: 2/3 of the classes are "seen"; train on
   80 % of the seen-class lines (at most 2,000); hold back the other 20 % (at most 500) and as
   many lines of the unseen classes; predict both with the trained model
   (``predict_scores``). Target: −1 share of unseen minus −1 share of seen ≥ 0.3; AUROC of
   the assignment score, seen = positive, ≥ 0.75 (lines predicted −1 keep their score).
3. **Stability.** Stores: 500-line samples of SMP2017 and THUCNews, and all of tipdm2020c
   messages. Import the base set, train, suggest (top 5); import 1 % more lines of the same
   source (not in the base set, same 60-day window), train, suggest; train once more with
   nothing new, suggest. Targets: ≥ 90 % of base lines keep their topic id (a line in no
   topic both times counts as kept), ≥ 4 of the top 5 kept, topic count moves ≤ 10 %; the
   retrain with no new data changes no line and gives the identical top 5 (ids and order).
   A source with no lines beyond the base (all of tipdm messages) gives its 1 % from a
   random hold-out: base = 99 %, new = the rest.
4. **Planted demand.** Background: the 2,732 tipdm2020c message titles over 60 days. Planted:
   four specific requests (``bench/planted.py``) of 6, 12, 25 and 50 lines, each line a new
   person, times in the last 30 days. ``suggest --top 10``; for each plant the suggestion
   holding the most of its lines (it must hold more than half) is found. Pass: that
   suggestion ranks ≤ 5 and its label contains one of the plant's phrases. Two seeds (one
   with ``--quick``), i.e. different phrasings drawn and different times.

Run (from the project root):

    .venv/bin/python bench/organizer.py                       # full: baseline vs current, ~10 min on 2 shared cores
    .venv/bin/python bench/organizer.py --record              # ... and write the section in bench/RESULTS.md
    .venv/bin/python bench/organizer.py --quick               # one 6-class sample per source, smaller open set,
                                                              # stability on SMP 500 + tipdm 495, one demand seed
    .venv/bin/python bench/organizer.py --current-only --only purity,demand
    .venv/bin/python bench/organizer.py --baseline HEAD~3 --seed 1 --keep-stores

Tables go to stdout, progress to stderr, all figures to ``bench/out/organizer-<time>.json``.
``--record`` replaces the section "## Organizer view (bench/organizer.py)" of bench/RESULTS.md
(appended when missing); the rest of the file is left as it is.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.planted import PLANTS, Plant  # noqa: E402

BENCH = ROOT / "bench"
WORK = BENCH / ".work"
OUT = BENCH / "out"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Organizer view (bench/organizer.py)"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_BASELINE = "a5e3c59"
MEASURES = ("purity", "openset", "stability", "demand")

AS_OF = date(2026, 11, 30)
WINDOW_DAYS = 60  # every line's time falls in the 60 days ending at AS_OF
RECENT_DAYS = 30  # planted demand falls in the last 30 days
CSV_COLUMNS = ("id", "text", "time", "user")
IMPORT_ARGS = ("--id-column", "id", "--text-column", "text", "--time-column", "time", "--submitter-column", "user")

#: Columns the stability and purity read-out needs from the store (recommender/store/schema.py).
STORE_COLUMNS = {"assignments": ("model_version", "feedback_id", "topic_id"), "feedback": ("id", "external_id")}

# Targets (issue 14).
PURITY_MEAN, PURITY_FLOOR = 0.75, 0.5
OPENSET_GAP, OPENSET_AUROC = 0.3, 0.75
STABLE_LINES, STABLE_TOP, STABLE_TOPICS = 0.90, 4, 0.10
DEMAND_RANK = 5

PREDICT_SCRIPT = """
import json, sys
from pathlib import Path
from recommender.model.persistence import load_model
directory, source, target = map(Path, sys.argv[1:4])
model, _ = load_model(directory)
labels, scores = model.predict_scores(json.loads(source.read_text(encoding="utf-8")))
target.write_text(json.dumps({"labels": [int(x) for x in labels], "scores": [float(x) for x in scores]}))
"""

WHERE_SCRIPT = "import recommender; print(recommender.__file__)"

_STARTED = time.monotonic()


class BenchError(RuntimeError):
    """A step of the benchmark failed (a CLI step, the store read-out, the baseline setup)."""


def progress(message: str) -> None:
    elapsed = time.monotonic() - _STARTED
    print(f"[{int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class Line:
    text: str
    label: str | None = None


@dataclass(frozen=True)
class Row:
    """One feedback line as written to a store's CSV; ``id`` becomes its external id."""

    id: str
    text: str
    time: datetime
    label: str | None = None


SOURCES = {
    "smp": ("SMP2017", "smp2017_ecdt_task1/data.csv"),
    "thuc": ("THUCNews", "thucnews_titles_20k/data.csv"),
    "tip495": ("tipdm 495", "tipdm2020c_sample495/data.csv"),
    "tipmsg": ("tipdm messages", "tipdm2020c_messages/data.csv"),
}


class Data:
    """The development sets, read by path (column ``text``, and ``label`` where there is one)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, list[Line]] = {}

    def lines(self, key: str) -> list[Line]:
        if key not in self._cache:
            path = self.folder / SOURCES[key][1]
            if not path.is_file():
                raise SystemExit(f"development data not found: {path} (pass --data)")
            with path.open(encoding="utf-8", newline="") as fh:
                self._cache[key] = [
                    Line(text, (row.get("label") or "").strip() or None)
                    for row in csv.DictReader(fh)
                    if (text := (row.get("text") or "").strip())
                ]
        return self._cache[key]


def window_end() -> datetime:
    return datetime(AS_OF.year, AS_OF.month, AS_OF.day, 23, 59, tzinfo=UTC)


def dated(lines: Sequence[Line], rng: random.Random, prefix: str, days: int = WINDOW_DAYS) -> list[Row]:
    """Rows with ids ``<prefix><n>`` and times uniform over the ``days`` before the window's end."""
    end = window_end()
    return [
        Row(f"{prefix}{i:05d}", line.text, end - timedelta(seconds=rng.uniform(0, days * 86400)), line.label)
        for i, line in enumerate(lines)
    ]


def write_csv(path: Path, rows: Sequence[Row]) -> Path:
    """A store's import file, in order of time; each line is its own person."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in sorted(rows, key=lambda r: (r.time, r.id)):
            writer.writerow([row.id, row.text, row.time.isoformat(timespec="seconds"), f"person-{row.id}"])
    return path


def six_classes(lines: Sequence[Line], rng: random.Random) -> list[Line]:
    """6 classes at random, then 120-150 of their lines at random."""
    classes = sorted({line.label for line in lines if line.label})
    while True:
        chosen = set(rng.sample(classes, 6))
        pool = [line for line in lines if line.label in chosen]
        n = rng.randint(120, 150)
        if len(pool) >= n:
            return rng.sample(pool, n)


# ------------------------------------------------------------------------------ code trees
@dataclass(frozen=True)
class Tree:
    name: str  # "baseline" or "current"
    root: Path
    python: Path
    commit: str
    describe: str


def git(*args: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def quiet_run(argv: Sequence[str], what: str, **kwargs: Any) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed ({proc.returncode}):\n{tail(proc.stderr or proc.stdout)}")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def current_tree() -> Tree:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return Tree(
        "current",
        ROOT,
        venv_python if venv_python.exists() else Path(sys.executable),
        git("rev-parse", "HEAD"),
        git("describe", "--always", "--tags", "--dirty"),
    )


def baseline_tree(ref: str, current: Tree) -> Tree:
    """The baseline ref as a worktree with its own venv under bench/.work (reused when ready)."""
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    worktree = WORK / f"baseline-{sha[:7]}"
    python = worktree / ".venv" / "bin" / "python"
    marker = worktree / ".venv" / "bench-installed"
    if worktree.exists() and (not (worktree / ".git").exists() or git("rev-parse", "HEAD", cwd=worktree) != sha):
        progress(f"baseline: {worktree} is not at {sha[:7]}; recreating it")
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(worktree, ignore_errors=True)
    if not worktree.exists():
        progress(f"baseline: git worktree {worktree.relative_to(ROOT)} at {sha[:7]}")
        WORK.mkdir(parents=True, exist_ok=True)
        git("worktree", "prune")
        git("worktree", "add", "--detach", str(worktree), sha)
    if not (python.exists() and marker.exists() and marker.read_text().strip() == sha):
        progress("baseline: creating its venv and installing it (pinned to the current venv's versions)")
        quiet_run([sys.executable, "-m", "venv", "--clear", str(worktree / ".venv")], "python -m venv")
        constraints = worktree / ".venv" / "constraints.txt"
        freeze = subprocess.run(
            [str(current.python), "-m", "pip", "freeze", "--exclude-editable"],
            capture_output=True, text=True, check=True,
        )
        constraints.write_text(freeze.stdout, encoding="utf-8")
        quiet_run(
            [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), "-e", str(worktree)],
            "pip install of the baseline",
        )
        marker.write_text(sha + "\n")
    return Tree("baseline", worktree, python, sha, git("describe", "--always", "--tags", sha))


def check_tree(tree: Tree) -> None:
    """Make sure the tree's interpreter imports the tree's own ``recommender``."""
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run(
            [str(tree.python), "-c", WHERE_SCRIPT], cwd=folder, env=clean_env(), capture_output=True, text=True
        )
    where = Path(proc.stdout.strip() or "?").resolve()
    if proc.returncode != 0 or not where.is_relative_to(tree.root.resolve()):
        raise BenchError(
            f"{tree.name}: {tree.python} imports recommender from {where}, not from {tree.root}\n{tail(proc.stderr)}"
        )


def clean_env() -> dict[str, str]:
    """The parent's environment without PYTHONPATH and without any RECOMMENDER_ setting."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RECOMMENDER_")}


# ------------------------------------------------------------------------------ a store
class Store:
    """A fresh store in a temporary folder, driven through one tree's CLI."""

    def __init__(self, tree: Tree, tag: str, keep: bool = False) -> None:
        self.tree, self.tag, self.keep = tree, tag, keep
        self.dir = Path(tempfile.mkdtemp(prefix=f"organizer-{tree.name}-"))
        self.db = self.dir / "fb.db"
        self.models = self.dir / "models"
        self.env = {
            **clean_env(),
            "RECOMMENDER_DATABASE_URL": f"sqlite:///{self.db}",
            "RECOMMENDER_MODELS_DIR": str(self.models),
            "RECOMMENDER_DATA_DIR": str(self.dir / "data"),
            "RECOMMENDER_TRAIN_THREADS": "1",
            "RECOMMENDER_MIN_TRAIN_ROWS": "30",
            # The sets' times and AS_OF are UTC (window_end); suggest --as-of counts the
            # organizers' days, so the stores' organizers live in UTC and no line of the
            # window's last hours falls after the end of AS_OF.
            "RECOMMENDER_TIMEZONE": "UTC",
        }
        self.rows = 0
        self.batches = 0
        self.train_seconds: list[float] = []

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            progress(f"{self.tag} · {self.tree.name}: store kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, argv: Sequence[str], step: str) -> str:
        """Run one step in the store's folder and environment; its stdout, or BenchError."""
        progress(f"{self.tag} · {self.tree.name}: {step}")
        started = time.monotonic()
        proc = subprocess.run(list(argv), cwd=self.dir, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"{self.tag} · {self.tree.name}: {step} exited {proc.returncode}\n{tail(proc.stderr)}")
        if step == "train":
            self.train_seconds.append(round(time.monotonic() - started, 1))
        return proc.stdout

    def cli(self, *args: str) -> str:
        return self.run([str(self.tree.python), "-m", "recommender", "-q", *args], args[0])

    def add(self, rows: Sequence[Row]) -> None:
        self.batches += 1
        path = write_csv(self.dir / f"import-{self.batches}.csv", rows)
        self.cli("import", str(path), *IMPORT_ARGS)
        self.rows += len(rows)
        counted = self.visible_lines()
        if counted != self.rows:
            progress(f"{self.tag} · {self.tree.name}: note: {counted} of {self.rows} lines stored and counted")

    def train(self) -> str:
        """Retrain; the new current version."""
        self.cli("train")
        return self.current_version()

    def suggest(self, top: int) -> list[dict[str, Any]]:
        out = self.cli("suggest", "--top", str(top), "--as-of", AS_OF.isoformat(), "--format", "json")
        return json.loads(out)["suggestions"]

    def current_version(self) -> str:
        pointer = self.models / "CURRENT"
        if pointer.is_symlink() or pointer.is_dir():
            return pointer.resolve().name
        return pointer.read_text(encoding="utf-8").strip()

    def predict(self, texts: Sequence[str]) -> tuple[list[int], list[float]]:
        """``predict_scores`` of the current model, in the tree's own environment."""
        source, target = self.dir / "predict-in.json", self.dir / "predict-out.json"
        source.write_text(json.dumps(list(texts), ensure_ascii=False), encoding="utf-8")
        directory = self.models / self.current_version()
        self.run([str(self.tree.python), "-c", PREDICT_SCRIPT, str(directory), str(source), str(target)], "predict")
        result = json.loads(target.read_text())
        return result["labels"], result["scores"]

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        for table, needed in STORE_COLUMNS.items():
            have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in needed if c not in have]
            if missing:
                con.close()
                raise BenchError(
                    f"{self.tree.name}: the store's table {table!r} has no column(s) {', '.join(missing)} "
                    f"(it has {', '.join(sorted(have)) or 'nothing'}); update STORE_COLUMNS / Store.assignments "
                    f"in bench/organizer.py to the new schema"
                )
        return con

    def visible_lines(self) -> int:
        con = self._connect()
        try:
            has_status = any(row[1] == "status" for row in con.execute("PRAGMA table_info(feedback)"))
            sql = "SELECT COUNT(*) FROM feedback" + (" WHERE status = 'visible'" if has_status else "")
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()

    def assignments(self, version: str) -> dict[str, str | None]:
        """external id → topic id under ``version`` (None: no topic, −1 or no assignment row)."""
        con = self._connect()
        try:
            topics = dict(
                con.execute("SELECT feedback_id, topic_id FROM assignments WHERE model_version = ?", (version,))
            )
            if not topics:
                raise BenchError(f"{self.tree.name}: no assignments stored for model version {version}")
            return {
                str(external): _topic(topics.get(internal))
                for internal, external in con.execute("SELECT id, external_id FROM feedback")
                if external is not None
            }
        finally:
            con.close()


def _topic(value: object) -> str | None:
    return None if value is None or str(value) in ("", "-1") else str(value)


def topic_count(assigned: dict[str, str | None]) -> int:
    return len({t for t in assigned.values() if t is not None})


def each_tree(trees: Sequence[Tree], tag: str, step: Callable[[Store], dict], keep: bool) -> dict[str, dict]:
    """Run ``step`` in a fresh store of every tree, one after the other; a failure is recorded, not fatal."""
    results: dict[str, dict] = {}
    for tree in trees:
        try:
            with Store(tree, tag, keep) as store:
                results[tree.name] = step(store)
                results[tree.name]["train_seconds"] = store.train_seconds
        except (BenchError, KeyError, ValueError) as exc:  # e.g. a step failed, or its output changed shape
            progress(f"{tag} · {tree.name}: FAILED ({type(exc).__name__})\n{exc}")
            results[tree.name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return results


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


# ------------------------------------------------------------------------------ the measures
@dataclass(frozen=True)
class Config:
    data: Data
    seed: int
    quick: bool
    keep: bool
    trees: tuple[Tree, ...]

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{purpose}")

    def each_tree(self, tag: str, step: Callable[[Store], dict]) -> dict[str, dict]:
        return each_tree(self.trees, tag, step, self.keep)


# 1. Suggestion purity
def measure_purity(cfg: Config) -> dict:
    rng = cfg.rng("purity")
    sets: list[tuple[str, list[Line]]] = []
    if not cfg.quick:
        sets += [
            ("SMP2017 2,000", rng.sample(cfg.data.lines("smp"), 2000)),
            ("THUCNews 2,000", rng.sample(cfg.data.lines("thuc"), 2000)),
            ("tipdm 495", list(cfg.data.lines("tip495"))),
        ]
    for key in ("smp", "thuc", "tip495"):
        for i in range(1 if cfg.quick else 2):
            sets.append((f"{SOURCES[key][0]} 6 classes #{i + 1}", six_classes(cfg.data.lines(key), rng)))
    results = []
    for name, lines in sets:
        rows = dated(lines, rng, "L")
        results.append({
            "set": name, "lines": len(rows), "classes": len({r.label for r in rows}),
            "trees": cfg.each_tree(f"purity {name}", partial(purity_step, rows=rows)),
        })
    summary = {}
    for tree in cfg.trees:
        purities = [s["purity"] for r in results for s in r["trees"][tree.name].get("suggestions", [])]
        below = sum(p < PURITY_FLOOR for p in purities)
        summary[tree.name] = {
            "suggestions": len(purities), "mean": mean(purities), "min": min(purities, default=None),
            "below_floor": below, "pass": bool(purities) and mean(purities) >= PURITY_MEAN and below == 0,
        }
    return {"sets": results, "summary": summary}


def purity_step(store: Store, rows: list[Row]) -> dict:
    labels = {row.id: row.label for row in rows}
    store.add(rows)
    version = store.train()
    suggestions = []
    for s in store.suggest(5):
        known = [labels[i] for i in s["feedback_ids"] if i in labels]
        if s["feedback_ids"] and not known:
            raise BenchError(f"{store.tree.name}: feedback_ids are not the imported ids: {s['feedback_ids'][:3]}")
        majority, n = Counter(known).most_common(1)[0] if known else (None, 0)
        suggestions.append({
            "rank": s["rank"], "topic_id": s["topic_id"], "label": s["label"], "theme": s.get("theme_label"),
            "size": len(s["feedback_ids"]), "purity": n / len(known) if known else 0.0, "majority": majority,
        })
    purities = [s["purity"] for s in suggestions]
    assigned = store.assignments(version)
    return {
        "suggestions": suggestions, "mean": mean(purities), "min": min(purities, default=None),
        "topics": topic_count(assigned),
        "unassigned": sum(t is None for t in assigned.values()) / max(1, len(assigned)),
    }


# 2. Open set
def measure_openset(cfg: Config) -> dict:
    train_cap, held_cap = (800, 200) if cfg.quick else (2000, 500)
    results = []
    for key in ("smp", "thuc", "tip495"):
        rng = cfg.rng(f"openset:{key}")
        lines = cfg.data.lines(key)
        classes = sorted({line.label for line in lines if line.label})
        rng.shuffle(classes)
        seen = set(classes[: round(len(classes) * 2 / 3)])
        seen_lines = [line for line in lines if line.label in seen]
        unseen_lines = [line for line in lines if line.label not in seen]
        rng.shuffle(seen_lines)
        cut = round(0.8 * len(seen_lines))
        train, held_seen = seen_lines[:cut][:train_cap], seen_lines[cut:][:held_cap]
        n = min(len(held_seen), len(unseen_lines))
        held = [line.text for line in held_seen[:n] + rng.sample(unseen_lines, n)]
        rows = dated(train, rng, "L")
        name = SOURCES[key][0]
        results.append({
            "set": name, "classes_seen": len(seen), "classes_unseen": len(classes) - len(seen),
            "train": len(rows), "held_seen": n, "held_unseen": n,
            "trees": cfg.each_tree(f"openset {name}", partial(openset_step, rows=rows, held=held, n_seen=n)),
        })
    return {"sets": results}


def openset_step(store: Store, rows: list[Row], held: list[str], n_seen: int) -> dict:
    """Train on ``rows``; predict ``held`` (its first ``n_seen`` texts are of seen classes)."""
    from sklearn.metrics import roc_auc_score

    store.add(rows)
    store.train()
    labels, scores = store.predict(held)
    noise_seen = sum(label == -1 for label in labels[:n_seen]) / n_seen
    noise_unseen = sum(label == -1 for label in labels[n_seen:]) / (len(held) - n_seen)
    auroc = float(roc_auc_score([1] * n_seen + [0] * (len(held) - n_seen), scores))
    gap = noise_unseen - noise_seen
    return {
        "noise_seen": noise_seen, "noise_unseen": noise_unseen, "gap": gap, "auroc": auroc,
        "pass": gap >= OPENSET_GAP and auroc >= OPENSET_AUROC,
    }


# 3. Stability
def measure_stability(cfg: Config) -> dict:
    stores = [("smp", 500), ("tip495", None)] if cfg.quick else [("smp", 500), ("thuc", 500), ("tipmsg", None)]
    results = []
    for key, size in stores:
        rng = cfg.rng(f"stability:{key}")
        lines = cfg.data.lines(key)
        target = size or len(lines)
        n_new = max(1, round(target / 100))
        n_base = min(target, len(lines) - n_new)  # all of a source: the 1 % comes from a hold-out
        picked = rng.sample(lines, n_base + n_new)
        base, new = dated(picked[:n_base], rng, "L"), dated(picked[n_base:], rng, "N")
        name = f"{SOURCES[key][0]} {size}" if size else f"{SOURCES[key][0]} (all)"
        results.append({
            "set": name, "base": n_base, "new": n_new,
            "trees": cfg.each_tree(f"stability {name}", partial(stability_step, base=base, new=new)),
        })
    return {"sets": results}


def stability_step(store: Store, base: list[Row], new: list[Row]) -> dict:
    def retrain() -> tuple[str, list[str]]:
        version = store.train()
        return version, [s["topic_id"] for s in store.suggest(5)]

    store.add(base)
    v1, top1 = retrain()
    store.add(new)
    v2, top2 = retrain()
    v3, top3 = retrain()  # nothing new
    a1, a2, a3 = (store.assignments(v) for v in (v1, v2, v3))
    base_ids = [r.id for r in base]
    all_ids = base_ids + [r.id for r in new]
    unchanged = sum(a1.get(i) == a2.get(i) for i in base_ids) / len(base_ids)
    kept = len(set(top1) & set(top2))
    before, after = topic_count(a1), topic_count(a2)
    change = abs(after - before) / before if before else None
    again = sum(a2.get(i) == a3.get(i) for i in all_ids) / len(all_ids)
    return {
        "unchanged": unchanged, "top5_before": top1, "top5_after": top2, "top5_kept": kept,
        "topics_before": before, "topics_after": after, "topic_change": change,
        "retrain_unchanged": again, "retrain_top5": top3, "retrain_top5_identical": top2 == top3,
        "pass": unchanged >= STABLE_LINES and kept >= STABLE_TOP and change is not None
        and change <= STABLE_TOPICS and again == 1.0 and top2 == top3,
    }


# 4. Planted demand
def measure_demand(cfg: Config) -> dict:
    results = []
    for seed in [cfg.seed] if cfg.quick else [cfg.seed, cfg.seed + 1]:
        rng = random.Random(f"{seed}:demand")
        rows = dated(cfg.data.lines("tipmsg"), rng, "B")
        background = len(rows)
        planted: dict[str, set[str]] = {}
        for plant in PLANTS:
            texts = rng.sample(plant.phrasings, plant.size)
            plant_rows = dated([Line(t, plant.key) for t in texts], rng, f"P-{plant.key}-", RECENT_DAYS)
            planted[plant.key] = {r.id for r in plant_rows}
            rows += plant_rows
        results.append({
            "seed": seed, "background": background,
            "trees": cfg.each_tree(f"demand seed {seed}", partial(demand_step, rows=rows, planted=planted)),
        })
    passed = {
        tree.name: sum(p["pass"] for r in results for p in r["trees"][tree.name].get("plants", []))
        for tree in cfg.trees
    }
    return {"seeds": results, "passed": passed, "planted": len(PLANTS) * len(results)}


def demand_step(store: Store, rows: list[Row], planted: dict[str, set[str]]) -> dict:
    store.add(rows)
    store.train()
    suggestions = store.suggest(10)
    return {"plants": [find_plant(plant, planted[plant.key], suggestions) for plant in PLANTS]}


def find_plant(plant: Plant, ids: set[str], suggestions: Sequence[dict]) -> dict:
    """The suggestion holding most of the plant's lines (it must hold more than half)."""
    best = max(suggestions, key=lambda s: len(ids & set(s["feedback_ids"])), default=None)
    held = len(ids & set(best["feedback_ids"])) if best else 0
    found = best is not None and 2 * held > len(ids)
    label = best["label"] if best else None
    label_ok = bool(label) and any(phrase in label for phrase in plant.labels)
    return {
        "plant": plant.key, "subject": plant.subject, "planted": len(ids), "found": found, "held": held,
        "rank": best["rank"] if best else None, "label": label, "size": len(best["feedback_ids"]) if best else None,
        "label_ok": label_ok, "pass": found and best["rank"] <= DEMAND_RANK and label_ok,
    }


MEASURE_FUNCS: dict[str, Callable[[Config], dict]] = {
    "purity": measure_purity,
    "openset": measure_openset,
    "stability": measure_stability,
    "demand": measure_demand,
}


# ------------------------------------------------------------------------------ tables
def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


class Render:
    """Tables with the trees side by side: one cell shows each tree's value, ``baseline / current``."""

    def __init__(self, trees: Sequence[Tree]) -> None:
        self.names = [t.name for t in trees]
        self.who = " / ".join(self.names)

    def pair(self, results: dict[str, dict], fmt: Callable[[dict], str]) -> str:
        return " / ".join("error" if "error" in results[n] else fmt(results[n]) for n in self.names)

    def purity(self, m: dict) -> str:
        rows = [
            [
                s["set"], str(s["lines"]),
                self.pair(s["trees"], lambda r: str(r["topics"])),
                self.pair(s["trees"], lambda r: pct(r["unassigned"])),
                self.pair(s["trees"], lambda r: num(r["mean"])),
                self.pair(s["trees"], lambda r: num(r["min"])),
            ]
            for s in m["sets"]
        ]
        summary = m["summary"]
        rows.append([
            f"**all suggestions** (target mean ≥ {PURITY_MEAN}, none < {PURITY_FLOOR})",
            " / ".join(str(summary[n]["suggestions"]) for n in self.names) + " sugg.", "", "",
            " / ".join(f"**{num(summary[n]['mean'])}**" for n in self.names),
            " / ".join(
                f"{num(summary[n]['min'])} ({summary[n]['below_floor']} < {PURITY_FLOOR}) {mark(summary[n]['pass'])}"
                for n in self.names
            ),
        ])
        head = md_table(
            ["set", "lines", f"topics ({self.who})", "−1 share", "mean purity of top 5", "min purity"], rows
        )
        detail_rows = []
        for s in m["sets"]:
            depth = max((len(s["trees"][n].get("suggestions", [])) for n in self.names), default=0)
            for k in range(depth):
                cells = []
                for n in self.names:
                    sugg = s["trees"][n].get("suggestions", [])
                    cells.append(
                        f"{sugg[k]['label']} · {sugg[k]['size']} · {sugg[k]['purity']:.2f} ({sugg[k]['majority']})"
                        if k < len(sugg) else "–"
                    )
                detail_rows.append([s["set"] if k == 0 else "", str(k + 1), *cells])
        detail = md_table(
            ["set", "#", *(f"{n}: label · lines · purity (majority label)" for n in self.names)], detail_rows
        )
        return head + "\n\nThe suggestions:\n\n" + detail

    def openset(self, m: dict) -> str:
        rows = [
            [
                s["set"], f"{s['classes_seen']} / {s['classes_unseen']}", str(s["train"]),
                f"{s['held_seen']} + {s['held_unseen']}",
                self.pair(s["trees"], lambda r: pct(r["noise_seen"])),
                self.pair(s["trees"], lambda r: pct(r["noise_unseen"])),
                self.pair(s["trees"], lambda r: f"{num(r['gap'])} {mark(r['gap'] >= OPENSET_GAP)}"),
                self.pair(s["trees"], lambda r: f"{num(r['auroc'], 3)} {mark(r['auroc'] >= OPENSET_AUROC)}"),
            ]
            for s in m["sets"]
        ]
        return md_table(
            [
                "set", "classes seen / unseen", "train lines", "held seen + unseen", f"−1 share seen ({self.who})",
                "−1 share unseen", f"difference (≥ {OPENSET_GAP})", f"AUROC (≥ {OPENSET_AUROC})",
            ],
            rows,
        )

    def stability(self, m: dict) -> str:
        def topics(r: dict) -> str:
            change = r["topic_change"]
            ok = change is not None and change <= STABLE_TOPICS
            return f"{r['topics_before']} → {r['topics_after']} ({pct(change)}) {mark(ok)}"

        rows = [
            [
                s["set"], f"{s['base']} + {s['new']}",
                self.pair(s["trees"], lambda r: f"{pct(r['unchanged'])} {mark(r['unchanged'] >= STABLE_LINES)}"),
                self.pair(s["trees"], lambda r: f"{r['top5_kept']} {mark(r['top5_kept'] >= STABLE_TOP)}"),
                self.pair(s["trees"], topics),
                self.pair(s["trees"], lambda r: f"{pct(r['retrain_unchanged'])} {mark(r['retrain_unchanged'] == 1.0)}"),
                self.pair(s["trees"], lambda r: mark(r["retrain_top5_identical"])),
            ]
            for s in m["sets"]
        ]
        return md_table(
            [
                "store", "base + new lines", f"lines unchanged (≥ {pct(STABLE_LINES)}; {self.who})",
                f"top-5 kept (≥ {STABLE_TOP})", f"topics before → after (≤ {pct(STABLE_TOPICS)})",
                "retrain, no new data: lines unchanged (100 %)", "… top 5 identical",
            ],
            rows,
        )

    def demand(self, m: dict) -> str:
        def cell(p: dict) -> str:
            where = f"#{p['rank']}" if p["found"] else f"no majority (best #{p['rank']})"
            return f"{where} 「{p['label']}」 {p['size']} lines, {p['held']}/{p['planted']} planted {mark(p['pass'])}"

        rows = []
        for s in m["seeds"]:
            for k, plant in enumerate(PLANTS):
                cells = [
                    "error" if "error" in s["trees"][n] else cell(s["trees"][n]["plants"][k]) for n in self.names
                ]
                rows.append([str(s["seed"]), f"{plant.subject} ({plant.size})", "、".join(plant.labels), *cells])
        rows.append([
            "", f"**passed** (rank ≤ {DEMAND_RANK}, label has the phrase)", "",
            *(f"**{m['passed'][n]} of {m['planted']}**" for n in self.names),
        ])
        return md_table(["seed", "plant (lines)", "label phrases", *self.names], rows)


TITLES = {
    "purity": "Suggestion purity (top 5)",
    "openset": "Open set",
    "stability": "Stability (+1 % lines, then a retrain with nothing new)",
    "demand": "Planted demand (top 10; tipdm messages background)",
}


def report(results: dict, trees: Sequence[Tree], meta: dict) -> str:
    render = Render(trees)
    versions = "; ".join(f"{t.name} `{t.describe}` ({t.root})" for t in trees)
    parts = [
        SECTION,
        "",
        f"`{meta['command']}` on {meta['date']}, {meta['minutes']:.1f} min "
        f"({platform.node()}, nproc {os.cpu_count()}, Python {platform.python_version()}); "
        f"seed {meta['seed']}; as-of {AS_OF}. Code: {versions}. Cells show {render.who}.",
    ]
    for name in MEASURES:
        if name in results:
            parts += ["", f"### {TITLES[name]}", "", getattr(render, name)(results[name])]
    return "\n".join(parts) + "\n"


def record(markdown: str) -> None:
    """Replace (or append) this benchmark's section of bench/RESULTS.md; other sections stay as they are."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + markdown
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + markdown.rstrip("\n") + "\n" + (text[nxt:] if nxt != -1 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of the baseline (default %(default)s)")
    parser.add_argument("--current-only", action="store_true", help="measure only the current tree")
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated: " + ",".join(MEASURES))
    parser.add_argument("--quick", action="store_true", help="fewer and smaller sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="development data folder (%(default)s)")
    parser.add_argument("--record", action="store_true", help="write the section in bench/RESULTS.md")
    parser.add_argument("--keep-stores", action="store_true", help="keep each temporary store and print its folder")
    args = parser.parse_args(argv)
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = set(args.only) - set(MEASURES)
    if unknown:
        parser.error(f"unknown measure(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    current = current_tree()
    try:
        trees = (current,) if args.current_only else (baseline_tree(args.baseline, current), current)
        for tree in trees:
            check_tree(tree)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for tree in trees:
        progress(f"{tree.name}: {tree.describe} at {tree.root} ({tree.python})")
    cfg = Config(Data(args.data), args.seed, args.quick, args.keep_stores, trees)

    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for name in (m for m in MEASURES if m in args.only):
        started = time.monotonic()
        results[name] = MEASURE_FUNCS[name](cfg)
        seconds[name] = round(time.monotonic() - started, 1)
        progress(f"{name}: done in {seconds[name]:.0f} s")

    now = datetime.now(UTC)
    meta = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["bench/organizer.py", *(sys.argv[1:] if argv is None else argv)]),
        "seed": args.seed,
        "quick": args.quick,
        "as_of": AS_OF.isoformat(),
        "minutes": (time.monotonic() - _STARTED) / 60,
        "seconds": seconds,
        "trees": {t.name: {"root": str(t.root), "commit": t.commit, "describe": t.describe} for t in trees},
    }
    markdown = report(results, trees, meta)
    print(markdown)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"organizer-{now:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({**meta, **results}, ensure_ascii=False, indent=1), encoding="utf-8")
    progress(f"figures written to {out.relative_to(ROOT)}")
    if args.record:
        record(markdown)
        progress(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
