"""Distributed-training benchmark: the local engine beside the Dask engine (1 and 2 workers).

    .venv/bin/python bench/train_dask.py [--sizes 150000 500000 1000000] [--workers 1 2]
    .venv/bin/python bench/train_dask.py --quality      # dev sets: local vs dask, same k

Scale mode: for each size, a SQLite store of that many feedback lines sampled with
replacement from the development sets in ../shared/data (built once under --workdir, with
the token cache filled, as a monthly retrain finds it: only new lines need jieba), then
``train_from_store`` with ``engine="local"`` and with ``engine="dask"`` on a LocalCluster
of 1 and 2 worker processes (1 thread each). Every run is its own subprocess, so the
peak RSS (ru_maxrss) of the client, the scheduler and each worker is that run's alone.
Every run publishes into a models folder of its own, so each is a first training (no
previous topics to continue) and the engines are compared like for like. Printed: wall
time of the retrain (read → model current), peak memory per process, topics, and how each
Dask run agrees with the local run on the same store: NMI of the labels, the share of
lines with the same label, and whether ``topics_`` and ``themes_`` (labels, keywords,
examples) are identical.

Quality mode: each labelled development set is stored and trained by both engines at
k = number of labels and in automatic mode; NMI against the labels for both.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from train_scale import DATA, ROOT, union_texts  # the same pool of texts as the local scale benchmark

QUALITY_SETS = {
    "SMP2017": DATA / "smp2017_ecdt_task1" / "data.csv",
    "KUAKE-QIC": DATA / "kuake_qic" / "labeled_train_dev.csv",
    "THUCNews": DATA / "thucnews_titles_20k" / "data.csv",
}
sys.path.insert(0, str(ROOT))


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if (r.get("text") or "").strip()]


def _tokenize_chunk(texts: list[str]) -> list[list[str]]:
    from recommender.text.tokenize import tokenize

    return [tokenize(t) for t in texts]


def build_store(url: str, texts: list[str]) -> None:
    """Store ``texts`` as visible feedback and fill the token cache (2 processes)."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from recommender.config import Settings
    from recommender.store import FeedbackStore
    from recommender.store.feedback_store import NewFeedback
    from recommender.retrain.publishing import tokenizer_fingerprint

    store = FeedbackStore(url)
    store.migrate()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    chunk = 20_000
    fingerprint = tokenizer_fingerprint(Settings(database_url=url))
    with ProcessPoolExecutor(2) as pool:
        for at in tqdm(range(0, len(texts), chunk), desc="store", unit="chunk"):
            part = texts[at : at + chunk]
            ids = store.add_many(
                [
                    NewFeedback(
                        text=t, segment="居民", source="bench",
                        submitted_at=start + timedelta(seconds=at + i), external_id=str(at + i),
                    )
                    for i, t in enumerate(part)
                ]
            )
            halves = [part[: len(part) // 2], part[len(part) // 2 :]]
            tokens = [tok for half in pool.map(_tokenize_chunk, halves) for tok in half]
            store.put_tokens({i: tok for i, tok in zip(ids, tokens) if i is not None}, fingerprint)
    store.dispose()


def refresh_tokens(url: str) -> None:
    """Bring a store built earlier to the current schema and fill the token cache for the
    current tokenizer (after a tokenizer change), so every engine finds it warm and no run
    pays for jieba that another did not."""
    from concurrent.futures import ProcessPoolExecutor

    from recommender.config import Settings
    from recommender.store import FeedbackStore
    from recommender.retrain.publishing import tokenizer_fingerprint

    store = FeedbackStore(url)
    store.migrate()
    fingerprint = tokenizer_fingerprint(Settings(database_url=url))
    rows = list(store.iter_feedback(statuses=("visible",)))
    cached = store.get_tokens([r.id for r in rows], fingerprint)
    missing = [r for r in rows if r.id not in cached]
    if missing:
        print(f"token cache: tokenizing {len(missing):,} lines for tokenizer {fingerprint}", flush=True)
        with ProcessPoolExecutor(2) as pool:
            for at in range(0, len(missing), 20_000):
                part = missing[at : at + 20_000]
                halves = [[r.text for r in part[: len(part) // 2]], [r.text for r in part[len(part) // 2 :]]]
                tokens = [tok for half in pool.map(_tokenize_chunk, halves) for tok in half]
                store.put_tokens({r.id: tok for r, tok in zip(part, tokens)}, fingerprint)
    store.dispose()


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec: dict) -> dict:
    """One retrain in this (fresh) process; prints its figures as JSON."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from recommender.config import Settings
    from recommender.retrain.registry import ModelRegistry
    from recommender.model.persistence import load_model
    from recommender.model.topic_model import TopicModel
    from recommender.store import FeedbackStore
    from recommender.retrain.pipeline import train_from_store

    settings = Settings(
        database_url=spec["url"], models_dir=Path(spec["models"]), min_train_rows=2,
        dask_partition_rows=spec.get("partition_rows", 50_000), keep_versions=50,
        train_threads=spec.get("threads", 2),  # the Dask client's steps use the local run's BLAS threads
    )
    store = FeedbackStore(settings.database_url)
    factory = (lambda: TopicModel(n_topics=spec["k"], random_state=0)) if spec.get("k") else None
    out: dict = {"engine": spec["engine"], "workers": spec.get("workers", 0)}
    with threadpool_limits(limits=spec.get("threads", 2)):
        if spec["engine"] == "local":
            start = time.perf_counter()
            result = train_from_store(store, settings, progress=False, engine="local", model_factory=factory)
            out["seconds"] = time.perf_counter() - start
            out["peak_mb"] = {"process": peak_mb()}
        else:
            from distributed import Client, LocalCluster

            with LocalCluster(
                n_workers=spec["workers"], threads_per_worker=1, processes=True, dashboard_address=":0",
                memory_limit=spec.get("memory_limit", "4GiB"),
            ) as cluster, Client(cluster) as client:
                start = time.perf_counter()
                result = train_from_store(
                    store, settings, progress=False, engine="dask", dask_client=client, model_factory=factory
                )
                out["seconds"] = time.perf_counter() - start
                workers = client.run(peak_mb)
                out["peak_mb"] = {
                    "client": peak_mb(),
                    "scheduler": client.run_on_scheduler(peak_mb),
                    **{f"worker{i + 1}": mb for i, mb in enumerate(workers.values())},
                }
    model, _ = load_model(ModelRegistry(settings.models_dir).path_of(result.version))
    np.save(Path(spec["models"]) / f"labels-{result.version}.npy", np.asarray(model.labels_))
    described = {"topics": model.topics_, "themes": model.themes_}
    (Path(spec["models"]) / f"topics-{result.version}.json").write_text(json.dumps(described, ensure_ascii=False))
    out.update(
        version=result.version, topics=result.n_topics, noise=result.n_noise, rows=result.n_rows, models=spec["models"]
    )
    return out


def run_child(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"run {spec['engine']} x{spec.get('workers', 0)} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(a: dict, b: dict) -> dict:
    """How run ``b`` agrees with run ``a`` (their result rows): NMI of the labels, share
    of lines with the same label, identical topics_ and themes_."""
    import numpy as np
    from sklearn.metrics import normalized_mutual_info_score

    la, lb = (np.load(Path(r["models"]) / f"labels-{r['version']}.npy") for r in (a, b))
    da, db = (json.loads((Path(r["models"]) / f"topics-{r['version']}.json").read_text()) for r in (a, b))
    return {
        "nmi_vs_local": float(normalized_mutual_info_score(la, lb)),
        "same_labels": float((la == lb).mean()),
        "same_topics": da == db,
    }


def scale(args) -> None:
    import numpy as np

    pool = union_texts()
    rows = []
    for size in args.sizes:
        work = args.workdir / f"scale-{size}"
        work.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{work / 'feedback.db'}"
        if not (work / "built").exists():
            rng = np.random.default_rng(size)
            t = time.perf_counter()
            build_store(url, [pool[i] for i in rng.integers(0, len(pool), size)])
            (work / "built").write_text(f"{time.perf_counter() - t:.0f} s\n")
        refresh_tokens(url)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        local = None
        if not args.skip_local:
            local = run_child({"engine": "local", "url": url, "models": str(work / f"models-{stamp}-local"), "threads": 2})
            rows.append({"size": size, **local})
            print(json.dumps(rows[-1]), flush=True)
        for w in args.workers:
            spec = {"engine": "dask", "workers": w, "url": url, "models": str(work / f"models-{stamp}-dask{w}"),
                    "partition_rows": args.partition_rows, "memory_limit": args.memory_limit}
            res = run_child(spec)
            rows.append({"size": size, **res, **(agreement(local, res) if local else {})})
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| lines | engine | wall s | ratio to local | peak MB per process | topics | vs local: NMI, same labels, same topics |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        base = next((x for x in rows if x["size"] == r["size"] and x["engine"] == "local"), None)
        ratio = f"{r['seconds'] / base['seconds']:.2f}" if base else "–"
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_mb"].items())
        name = "local" if r["engine"] == "local" else f"dask × {r['workers']}"
        same = "–"
        if "nmi_vs_local" in r:
            same = f"{r['nmi_vs_local']:.3f}, {r['same_labels']:.3f}, {'yes' if r['same_topics'] else 'no'}"
        print(f"| {r['size']:,} | {name} | {r['seconds']:.0f} | {ratio} | {peaks} | {r['topics']} | {same} |")


def quality(args) -> None:
    import numpy as np
    from sklearn.metrics import normalized_mutual_info_score

    print("| data | mode | k local / dask | NMI local | NMI dask | difference | local vs dask: NMI, same labels, same topics |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, path in QUALITY_SETS.items():
        data = read_rows(path)
        work = args.workdir / f"quality-{name}"
        work.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{work / 'feedback.db'}"
        if not (work / "built").exists():
            build_store(url, [r["text"] for r in data])
            (work / "built").write_text("ok\n")
        refresh_tokens(url)
        truth = np.array([r["label"] for r in data])
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for mode, k in (("k = labels", len(set(truth))), ("auto", None)):
            models = work / f"models-{stamp}-{'k' if k else 'auto'}"
            local = run_child({"engine": "local", "url": url, "models": f"{models}-local", "k": k, "threads": 2})
            dask = run_child({"engine": "dask", "workers": 2, "url": url, "models": f"{models}-dask", "k": k,
                              "partition_rows": args.partition_rows})
            la, lb = (np.load(Path(r["models"]) / f"labels-{r['version']}.npy") for r in (local, dask))
            n_local = normalized_mutual_info_score(truth, la)
            n_dask = normalized_mutual_info_score(truth, lb)
            same = agreement(local, dask)
            print(
                f"| {name} | {mode} | {local['topics']} / {dask['topics']} | {n_local:.3f} | {n_dask:.3f} | "
                f"{n_dask - n_local:+.3f} | {same['nmi_vs_local']:.3f}, {same['same_labels']:.3f}, "
                f"{'yes' if same['same_topics'] else 'no'} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[150_000, 500_000, 1_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partition-rows", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="4GiB", help="per Dask worker (spills to disk above 60%%)")
    parser.add_argument("--skip-local", action="store_true", help="only the Dask runs")
    parser.add_argument("--quality", action="store_true", help="development sets: local vs dask quality")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.quality:
        quality(args)
    else:
        scale(args)


if __name__ == "__main__":
    main()
