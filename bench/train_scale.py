"""Training-scale benchmark: wall time and peak memory of TopicModel.fit and the plain
baseline on 10k, 50k and 150k texts sampled with replacement from ../shared/data.

    .venv/bin/python bench/train_scale.py [--sizes 10000 50000 150000] [--threads 2]
                                          [--short-only] [--against REF]

The texts (``--mix``, the default) are what real feedback looks like: two thirds short
lines from the union of the labelled development sets, one third 100-200 characters long
(bodies of the tipdm2020c citizen messages, each cut to a length drawn from 100-200).
``--short-only`` samples the short lines alone (the earlier figures in RESULTS).

Every (method, size) runs in its own subprocess so that peak RSS (ru_maxrss) is that
run's alone. Times include tokenization for both methods (jieba runs inside
TopicModel.fit when no tokens are passed; the baseline tokenizes the same way).
TopicModel runs with its defaults (automatic number of topics; tokenizing in ``--threads``
processes where it can); the baseline is jieba + stop words + word TF-IDF + KMeans(k=50,
n_init=3). ``--against REF`` also fits the
TopicModel of another git ref (its worktree and venv under bench/.work, as
bench/organizer.py makes them) in the same run: the "current method" of an issue.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FILES = [
    DATA / "smp2017_ecdt_task1" / "data.csv",
    DATA / "kuake_qic" / "labeled_train_dev.csv",
    DATA / "thucnews_titles_20k" / "data.csv",
    DATA / "tipdm2020c_sample495" / "data.csv",
]
BODIES = [DATA / "tipdm2020c_messages" / "data.csv", DATA / "tipdm2020c_sample495" / "data.csv"]
LONG_SHARE = 1 / 3
LONG_CHARS = (100, 200)


def union_texts() -> list[str]:
    texts: list[str] = []
    for path in FILES:
        with path.open(encoding="utf-8", newline="") as fh:
            texts.extend(r["text"] for r in csv.DictReader(fh) if (r.get("text") or "").strip())
    return texts


def long_texts() -> list[str]:
    """Message bodies of at least LONG_CHARS[0] characters."""
    texts: list[str] = []
    for path in BODIES:
        with path.open(encoding="utf-8", newline="") as fh:
            texts.extend(r["detail"] for r in csv.DictReader(fh) if len(r.get("detail") or "") >= LONG_CHARS[0])
    return texts


def sample_texts(size: int, seed: int, mix: bool) -> list[str]:
    """``size`` texts drawn with replacement (a third long ones when ``mix``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    short = union_texts()
    if not mix:
        return [short[i] for i in rng.integers(0, len(short), size)]
    bodies = long_texts()
    n_long = int(round(size * LONG_SHARE))
    texts = [short[i] for i in rng.integers(0, len(short), size - n_long)]
    for i in rng.integers(0, len(bodies), n_long):
        texts.append(bodies[i][: int(rng.integers(LONG_CHARS[0], LONG_CHARS[1] + 1))])
    order = rng.permutation(size)
    return [texts[i] for i in order]


def word_analyzer(tokens):
    return tokens


def child(method: str, size: int, seed: int, mix: bool) -> dict:
    import resource
    import time

    texts = sample_texts(size, seed, mix)
    from recommender.text.tokenize import tokenize

    tokenize("预热")  # jieba's dictionary load is a one-off per process, not per fit
    result = {"method": method, "size": size}
    start = time.perf_counter()
    if method == "topicmodel":
        from recommender.model import TopicModel

        params = {"n_jobs": int(os.environ.get("OMP_NUM_THREADS", "1"))} if "n_jobs" in TopicModel().get_params() else {}
        model = TopicModel(random_state=seed, **params).fit(texts)
        result["fit_s"] = round(time.perf_counter() - start, 1)
        result["n_topics"] = model.n_topics_
        result["unassigned"] = round(float((model.labels_ < 0).mean()), 4)
        for t in texts[:20]:
            model.predict([t])
        t0 = time.perf_counter()
        for t in texts[:500]:
            model.predict([t])
        result["predict_one_ms"] = round((time.perf_counter() - t0) / 500 * 1000, 2)
    else:
        from sklearn.cluster import KMeans
        from sklearn.feature_extraction.text import TfidfVectorizer

        tokens = [tokenize(t) for t in texts]
        X = TfidfVectorizer(analyzer=word_analyzer).fit_transform(tokens)
        KMeans(n_clusters=50, n_init=3, random_state=seed).fit(X)
        result["fit_s"] = round(time.perf_counter() - start, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 150_000])
    parser.add_argument("--threads", type=int, default=2, help="OMP/OpenBLAS threads of each run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-only", action="store_true", help="short lines only (no long bodies)")
    parser.add_argument("--against", metavar="REF", help="also fit the TopicModel of this git ref")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    mix = not args.short_only
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.seed, mix)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
    env.pop("PYTHONPATH", None)
    runs = [("baseline", Path(sys.executable)), ("topicmodel", Path(sys.executable))]
    if args.against:
        sys.path.insert(0, str(Path(__file__).parent))
        from organizer import baseline_tree, current_tree

        other = baseline_tree(args.against, current_tree())
        runs.insert(1, (f"topicmodel@{other.commit[:7]}", other.python))
    print(f"texts: {'a third 100-200 characters' if mix else 'short lines only'}; threads {args.threads}")
    print(f"{'size':>8}  {'method':<20}{'fit s':>8}{'peak MB':>9}  extra")
    for size in args.sizes:
        for name, python in runs:
            method = "baseline" if name == "baseline" else "topicmodel"
            flags = ["--seed", str(args.seed)] + (["--short-only"] if not mix else [])
            out = subprocess.run(
                [str(python), __file__, "--child", method, str(size), *flags],
                capture_output=True, text=True, env=env, check=True, cwd=tempfile.gettempdir(),
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = {k: v for k, v in r.items() if k not in {"method", "size", "fit_s", "peak_rss_mb"}}
            print(f"{size:>8}  {name:<20}{r['fit_s']:>8}{r['peak_rss_mb']:>9.0f}  {extra}", flush=True)


if __name__ == "__main__":
    main()
