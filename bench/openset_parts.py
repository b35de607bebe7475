"""The open-set score part by part, over several split seeds (issue 14: AUROC ≥ 0.75).

The assignment score (``TopicModel.predict_scores``) is the mean of three parts
(``TopicIndex.assign``): the similarity to the nearest reference line in the latent space,
the same in the TF-IDF space, and the share of known words (each counted by its general
IDF, an unknown common noun more). ``bench/organizer.py`` reports only the score's AUROC,
at one split seed, and which classes a seed holds back moves that AUROC more than most
changes to the score do. This
script runs the organizer's own open-set measure (``bench/organizer.py --current-only
--only openset --seed N --keep-stores``, through the CLI as always) for each seed, then
loads each kept store's model and held-back texts (``predict-in.json``, seen classes first)
in one process, predicts them again with this tree's code and prints, per set and seed, the
−1-share difference and the AUROC of the score and of each part, with the mean over seeds.
It checks that the parts give exactly the predicted score, so a change to the score that
this script does not know of stops it instead of giving wrong figures.

A change to the score or the rule of assignment (not to ``fit``) can be measured with
``--stores`` on the kept stores of an earlier run (``--keep``): one fit per set and seed
serves every variant; a variant of one part can also be tried in ``parts`` alone.

Run (from the project root):

    .venv/bin/python bench/openset_parts.py                        # seeds 0-3, about 2 min a seed
    .venv/bin/python bench/openset_parts.py --seeds 0,2 --keep     # keep the stores, print their folders
    .venv/bin/python bench/openset_parts.py --stores /tmp/organizer-current-*   # reuse kept stores
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
SETS = ("SMP2017", "THUCNews", "tipdm 495")
PARTS = ("score", "latent", "tfidf", "known")
# The organizer's progress line naming a kept store: "[  0:54] openset SMP2017 · current: store kept in /tmp/…".
KEPT = re.compile(r"openset (?P<set>.+?) · current: store kept in (?P<dir>\S+)")
# Written into each store this script keeps: its set and seed.
MARK = "openset-parts.json"


def run_organizer(seed: int, data: Path | None) -> list[tuple[str, Path]]:
    """(set, kept store folder) of ``bench/organizer.py``'s open-set measure at ``seed``."""
    argv = [sys.executable, str(ROOT / "bench" / "organizer.py"), "--current-only", "--only", "openset",
            "--seed", str(seed), "--keep-stores"]
    if data is not None:
        argv += ["--data", str(data)]
    print(f"seed {seed}: bench/organizer.py --only openset …", file=sys.stderr, flush=True)
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    kept = [(m["set"], Path(m["dir"])) for m in KEPT.finditer(proc.stderr)]
    if proc.returncode != 0 or len(kept) != len(SETS):
        for _, folder in kept:
            shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"bench/organizer.py (seed {seed}) exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    for name, folder in kept:  # what a later --stores run names it by
        (folder / MARK).write_text(json.dumps({"set": name, "seed": seed}), encoding="utf-8")
    return kept


def named(store: Path) -> tuple[str, str]:
    """(set, seed) of a store kept by this script; (folder name, "–") for another kept store."""
    mark = store / MARK
    if mark.is_file():
        found = json.loads(mark.read_text(encoding="utf-8"))
        return found["set"], str(found["seed"])
    return store.name, "–"


def parts(store: Path) -> dict:
    """Labels, the score as predicted and each part of it for the held-back texts of a kept store."""
    from sklearn.preprocessing import normalize

    from recommender.model.nearest_lines import nearest_dense, nearest_sparse
    from recommender.model.persistence import load_model
    from recommender.text.tokenize import char_segments_many, tokenize_many

    models = store / "models"
    pointer = models / "CURRENT"
    version = pointer.resolve() if pointer.is_symlink() or pointer.is_dir() else models / pointer.read_text().strip()
    model, _ = load_model(version)
    texts = json.loads((store / "predict-in.json").read_text(encoding="utf-8"))
    labels, predicted = model.predict_scores(texts)  # by this tree's code, whatever made the store
    tokens = tokenize_many(texts)
    # As TopicModel.predict_scores: a text without topic words has a zero latent row.
    X, Z = model.representation_.encode(tokens, char_segments_many(texts))
    Z[[not t for t in tokens]] = 0.0
    index = model.index_
    Z = np.asarray(Z, dtype=np.float32)
    latent = nearest_dense(Z @ index.reference.T)[0]
    tfidf = nearest_sparse(normalize(sp.csr_matrix(X, dtype=np.float32)) @ index.reference_features)[0]
    known = index.known_share(tokens, weighted=True, subject_nouns=True).astype(np.float32)
    score = np.where(~np.any(Z != 0, axis=1), 0.0, (latent + known + tfidf) / np.float32(3))
    if not np.allclose(score, predicted, rtol=0, atol=1e-6):
        raise SystemExit(
            f"{store}: the parts do not give the predicted score (largest difference "
            f"{np.abs(score - predicted).max():.3g}): update parts() to TopicIndex.assign"
        )
    return {"labels": np.asarray(labels), "score": score, "latent": latent, "tfidf": tfidf, "known": known}


def measure(store: Path) -> dict[str, float]:
    """−1-share difference (unseen − seen) and the AUROC (seen = positive) of the score and each part."""
    from sklearn.metrics import roc_auc_score

    found = parts(store)
    n = found["labels"].size // 2
    truth = [1] * n + [0] * (found["labels"].size - n)
    noise = found["labels"] == -1
    row = {"gap": float(noise[n:].mean() - noise[:n].mean())}
    row.update({p: float(roc_auc_score(truth, found[p])) for p in PARTS})
    return row


def table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    """Markdown: set, seed, −1 gap and the AUROCs, each set closed by its mean over seeds."""
    columns = ("gap", *PARTS)
    lines = [
        "| set | seed | −1 difference | AUROC score | latent | TF-IDF | known share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in dict.fromkeys(s for s, _, _ in rows):
        mine = [(seed, r) for s, seed, r in rows if s == name]
        for seed, r in mine:
            lines.append(f"| {name} | {seed} | " + " | ".join(f"{r[c]:.3f}" for c in columns) + " |")
        if len(mine) < 2:
            continue
        means = [statistics.fmean(r[c] for _, r in mine) for c in columns]
        lines.append(f"| **{name}** | mean | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated split seeds (default %(default)s)")
    parser.add_argument("--data", type=Path, default=None, help="development data folder (the organizer's default)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (printed) for a later --stores run")
    parser.add_argument(
        "--stores", nargs="+", type=Path, help="measure these kept stores instead of running the organizer"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # for the organizer's fits (subprocesses)
    rows: list[tuple[str, str, dict[str, float]]] = []
    if args.stores:
        for store in args.stores:
            if not (store / "predict-in.json").is_file():
                parser.error(f"{store} is not a kept open-set store (no predict-in.json)")
            rows.append((*named(store), measure(store)))
    else:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            parser.error(f"--seeds takes integers separated by commas, not {args.seeds!r}")
        for seed in seeds:
            for name, store in run_organizer(seed, args.data):
                try:
                    rows.append((name, str(seed), measure(store)))
                finally:
                    if args.keep:
                        print(f"kept {name} seed {seed}: {store}", file=sys.stderr)
                    else:
                        shutil.rmtree(store, ignore_errors=True)
    rows.sort(key=lambda r: (SETS.index(r[0]) if r[0] in SETS else len(SETS), r[1]))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
