"""Quality benchmark: TopicModel against the plain baseline on one labelled CSV.

    .venv/bin/python bench/quality.py ../shared/data/smp2017_ecdt_task1/data.csv

Prints, in one run, NMI and ARI against the labels at k = number of labels and in
automatic mode (TopicModel chooses k; the baseline has no automatic mode, so it is run
with k = sqrt(n/2), the usual rule of thumb), plus fit times, the share of lines left
unassigned (-1, counted as one more cluster in NMI/ARI) and, with --stability, the
agreement (NMI) of two fits with different random_state. The baseline at k = labels is
fitted with ``--baseline-seeds`` seeds and its median run is the reference.

Two baselines, both word TF-IDF + KMeans, differ only in their words:

* the *plain* baseline, the one the targets are stated against: jieba's default
  dictionary and the stopwords-iso Chinese list, punctuation dropped, nothing else
  (``plain_tokens``);
* the baseline *on our tokens*: the same KMeans on ``recommender.text.tokenize``, i.e.
  with the project's feedback boilerplate, user dictionary and placeholder handling. It
  is the stricter comparison: the ratio to it is the gain of the representation and the
  clustering alone, without the tokenizer's.

Texts are tokenized once, and the timings exclude tokenization for both methods
(``fit(texts, tokens=...)``); the tokenization time is printed separately.

``--projection`` picks TopicModel's latent step: ``auto`` (its default: the PPMI
co-occurrence basis from 1,000 lines up, LSA below), ``ppmi`` or ``lsa`` (the basis used
before the co-occurrence one), to compare them on the same data.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jieba  # noqa: E402
import numpy as np  # noqa: E402
import stopwordsiso  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402

from recommender.model.analyzers import word_analyzer  # noqa: E402
from recommender.model.topic_model import TopicModel  # noqa: E402
from recommender.text.tokenize import tokenize  # noqa: E402


def read_csv(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get(text_column) or "").strip()]
    return [r[text_column] for r in rows], [r[label_column] for r in rows]


WORD_CHAR = re.compile(r"\w")


def plain_tokens(texts: list[str]) -> list[list[str]]:
    """Words of the plain baseline: jieba's default dictionary (a tokenizer of its own, so
    the project's user dictionary on jieba's global one does not reach it), without the
    stopwords-iso Chinese list and without tokens that have no word character."""
    segmenter = jieba.Tokenizer()
    stop = {w.strip().lower() for w in stopwordsiso.stopwords("zh")}
    return [[w for w in segmenter.lcut(t) if WORD_CHAR.search(w) and w.lower() not in stop] for t in texts]


def baseline_fit(tokens: list[list[str]], k: int, random_state: int) -> np.ndarray:
    """The KMeans of both baselines: word TF-IDF of ``tokens`` + KMeans (n_init=3)."""
    X = TfidfVectorizer(analyzer=word_analyzer).fit_transform(tokens)
    return KMeans(n_clusters=k, n_init=3, random_state=random_state).fit_predict(X)


PROJECTIONS = ("auto", "ppmi", "lsa")


def score(truth: list[str], labels: np.ndarray) -> dict[str, float]:
    return {
        "nmi": round(float(normalized_mutual_info_score(truth, labels)), 4),
        "ari": round(float(adjusted_rand_score(truth, labels)), 4),
    }


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - start, 2)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--stability", action="store_true", help="also fit with another random_state")
    parser.add_argument(
        "--baseline-seeds", type=int, default=5,
        help="each baseline (k = labels) is fitted with this many seeds; its median NMI is the reference",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--projection", choices=PROJECTIONS, default="auto",
        help="TopicModel's latent step (default auto: PPMI from 1,000 lines, LSA below)",
    )
    args = parser.parse_args(argv)

    texts, truth = read_csv(args.data, args.text_column, args.label_column)
    k_true = len(set(truth))
    tokens, tok_s = timed(lambda: [tokenize(t) for t in texts])
    rs = args.random_state
    result: dict = {
        "data": str(args.data), "rows": len(texts), "labels": k_true, "tokenize_s": tok_s, "projection": args.projection,
    }
    def Model(**params):  # noqa: N802 (reads like the class it builds)
        return TopicModel(projection=args.projection, **params)

    plain, plain_s = timed(lambda: plain_tokens(texts))
    result["plain_tokenize_s"] = plain_s
    seeds = range(rs, rs + max(1, args.baseline_seeds))
    for key, words in (("baseline_k", plain), ("baseline_tokens_k", tokens)):
        runs = []
        for seed in seeds:
            labels, secs = timed(partial(baseline_fit, words, k_true, seed))
            runs.append({"k": k_true, **score(truth, labels), "fit_s": secs})
        # k-means on sparse TF-IDF varies with the seed: the median run is the reference.
        result[key] = sorted(runs, key=lambda r: r["nmi"])[len(runs) // 2]
        result[f"{key}_nmi_all"] = [r["nmi"] for r in runs]
    k_auto_base = max(2, int(round(np.sqrt(len(texts) / 2))))
    labels, secs = timed(lambda: baseline_fit(tokens, k_auto_base, rs))
    result["baseline_sqrt"] = {"k": k_auto_base, **score(truth, labels), "fit_s": secs}

    model, secs = timed(lambda: Model(n_topics=k_true, random_state=rs).fit(texts, tokens=tokens))
    result["ours_k"] = {
        "k": model.n_topics_,
        **score(truth, model.labels_),
        "fit_s": secs,
        "unassigned": round(float((model.labels_ < 0).mean()), 4),
    }
    auto, secs = timed(lambda: Model(random_state=rs).fit(texts, tokens=tokens))
    result["ours_auto"] = {
        "k": auto.n_topics_,
        **score(truth, auto.labels_),
        "fit_s": secs,
        "unassigned": round(float((auto.labels_ < 0).mean()), 4),
    }
    for suffix, key in (("", "baseline_k"), ("_tokens", "baseline_tokens_k")):
        result[f"ratio_nmi_k{suffix}"] = round(result["ours_k"]["nmi"] / max(result[key]["nmi"], 1e-9), 2)
    if args.stability:
        other = Model(n_topics=k_true, random_state=rs + 1).fit(texts, tokens=tokens)
        other_auto = Model(random_state=rs + 1).fit(texts, tokens=tokens)
        result["stability_nmi_k"] = round(float(normalized_mutual_info_score(model.labels_, other.labels_)), 4)
        result["stability_nmi_auto"] = round(float(normalized_mutual_info_score(auto.labels_, other_auto.labels_)), 4)
        result["stability_auto_k"] = [auto.n_topics_, other_auto.n_topics_]

    single = texts[:200]
    model.predict(single[:1])
    start = time.perf_counter()
    for t in single:
        model.predict([t])
    result["predict_one_ms"] = round((time.perf_counter() - start) / len(single) * 1000, 2)

    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{args.data}: {len(texts)} rows, {k_true} labels, tokenize {tok_s} s, projection {args.projection}")
        print(f"{'method':<28}{'k':>5}{'NMI':>8}{'ARI':>8}{'fit s':>8}{'-1 share':>10}")
        for name, key in [
            ("plain baseline, k = labels", "baseline_k"),
            ("baseline on our tokens", "baseline_tokens_k"),
            ("  the same, k = sqrt(n/2)", "baseline_sqrt"),
            ("TopicModel, k = labels", "ours_k"),
            ("TopicModel, automatic", "ours_auto"),
        ]:
            r = result[key]
            print(f"{name:<28}{r['k']:>5}{r['nmi']:>8.3f}{r['ari']:>8.3f}{r['fit_s']:>8.2f}{r.get('unassigned', 0):>10.3f}")
        print(f"plain baseline NMI at k = labels over seeds: {result['baseline_k_nmi_all']} (median used)")
        print(f"baseline on our tokens, the same: {result['baseline_tokens_k_nmi_all']} (median used)")
        print(
            f"NMI ratio at k = labels, TopicModel / plain baseline: {result['ratio_nmi_k']}; "
            f"/ baseline on our tokens: {result['ratio_nmi_k_tokens']}"
        )
        if args.stability:
            print(
                f"stability (NMI between random_state {rs} and {rs + 1}): k = labels {result['stability_nmi_k']}, "
                f"automatic {result['stability_nmi_auto']} (k {result['stability_auto_k']})"
            )
        print(f"predict one text: {result['predict_one_ms']} ms")
    return result


if __name__ == "__main__":
    main()
