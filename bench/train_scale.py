"""Training-scale benchmark: wall time and peak memory of TopicModel.fit and the plain
baseline on 10k, 50k and 150k texts sampled with replacement from the union of the
development sets in ../shared/data.

    .venv/bin/python bench/train_scale.py [--sizes 10000 50000 150000] [--threads 2]

Every (method, size) runs in its own subprocess so that peak RSS (ru_maxrss) is that
run's alone. Times include tokenization for both methods (jieba runs inside
TopicModel.fit when no tokens are passed; the baseline tokenizes the same way).
TopicModel runs with its defaults (automatic number of topics); the baseline is jieba +
stop words + word TF-IDF + KMeans(k=50, n_init=3).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FILES = [
    DATA / "smp2017_ecdt_task1" / "data.csv",
    DATA / "kuake_qic" / "labeled_train_dev.csv",
    DATA / "thucnews_titles_20k" / "data.csv",
    DATA / "tipdm2020c_sample495" / "data.csv",
]


def union_texts() -> list[str]:
    texts: list[str] = []
    for path in FILES:
        with path.open(encoding="utf-8", newline="") as fh:
            texts.extend(r["text"] for r in csv.DictReader(fh) if (r.get("text") or "").strip())
    return texts


def child(method: str, size: int, seed: int) -> dict:
    import resource
    import time

    import numpy as np

    sys.path.insert(0, str(ROOT))
    pool = union_texts()
    rng = np.random.default_rng(seed)
    texts = [pool[i] for i in rng.integers(0, len(pool), size)]
    from recommender.text.tokenize import tokenize

    tokenize("预热")  # jieba's dictionary load is a one-off per process, not per fit
    result = {"method": method, "size": size}
    start = time.perf_counter()
    if method == "topicmodel":
        from recommender.model import TopicModel

        model = TopicModel(random_state=seed).fit(texts)
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

        from recommender.model.topic_model import word_analyzer

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
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.seed)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
    print(f"{'size':>8}  {'method':<12}{'fit s':>8}{'peak MB':>9}  extra")
    for size in args.sizes:
        for method in ["baseline", "topicmodel"]:
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, str(size), "--seed", str(args.seed)],
                capture_output=True, text=True, env=env, check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = {k: v for k, v in r.items() if k not in {"method", "size", "fit_s", "peak_rss_mb"}}
            print(f"{size:>8}  {method:<12}{r['fit_s']:>8}{r['peak_rss_mb']:>9.0f}  {extra}", flush=True)


if __name__ == "__main__":
    main()
