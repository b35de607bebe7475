"""What the masking of old (15-digit) ID numbers takes that is no ID, beside a baseline tree.

Two measures, the same run for this tree and ``--baseline`` (another worktree, default
../main), each tree's ``recommender/text/masking.py`` loaded by path:

* the development data (../shared/data: every ``text`` and ``detail`` cell): how many
  ``[身份证号]`` each masking writes, and how many 15-digit runs there are to take;
* 15-digit numbers that are no ID, ``--n`` per family (seed 0): a real prefix (申通 773…,
  韵达 43…, 中通 78…, IMEI 86…, an old licence number 110108…) then random digits, written
  bare in a sentence and after the cue people write before it (「快递单号：」, 「IMEI 」 …);
  plus real-shaped old IDs (region 1–6, a birth date 1930–1999 that exists), which must all be
  masked.

    .venv/bin/python bench/id_masking.py --baseline ../main
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
FILES = ("kuake_qic/labeled_train_dev.csv", "smp2017_ecdt_task1/data.csv", "thucnews_titles_20k/data.csv",
         "tipdm2020c_messages/data.csv", "tipdm2020c_sample495/data.csv")
FAMILIES = {  # name: (prefix, the cue written before it)
    "申通 tracking 773…": ("773", "申通快递单号："),
    "韵达 tracking 43…": ("43", "韵达运单号"),
    "中通 tracking 78…": ("78", "中通单号"),
    "IMEI 86…": ("86", "IMEI "),
    "licence no. 110108…": ("110108", "营业执照注册号"),
    "order tail (any)": ("", "订单号 "),
}
ID = "[身份证号]"


def load(tree: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, tree / "recommender" / "text" / "masking.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def texts() -> list[str]:
    csv.field_size_limit(1 << 30)
    out = []
    for name in FILES:
        with (DATA / name).open(encoding="utf-8") as fh:
            out += [row[c] for row in csv.DictReader(fh) for c in ("text", "detail") if row.get(c)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=ROOT.parent / "main")
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    base, this = load(args.baseline, "base_masking"), load(ROOT, "this_masking")

    corpus = texts()
    runs = sum(len(re.findall(r"(?<![0-9])[0-9]{15}(?![0-9])", this._detection_copy(t))) for t in corpus)
    print(f"development data: {len(corpus)} texts, {runs} runs of exactly 15 digits")
    for name, mod in (("baseline", base), ("this tree", this)):
        print(f"  {name:9}: {sum(mod.mask_personal_data(t).count(ID) for t in corpus)} × {ID}")

    rng = random.Random(0)
    print(f"\n15-digit numbers that are no ID, % masked as {ID} (n={args.n} per family)")
    print(f"{'family':22} {'base bare':>9} {'this bare':>9} {'base cued':>9} {'this cued':>9}")
    for name, (prefix, cue) in FAMILIES.items():
        hits = [0, 0, 0, 0]
        for _ in range(args.n):
            number = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
            cases = ((base, f"物流一直是{number}这个"), (this, f"物流一直是{number}这个"), (base, cue + number), (this, cue + number))
            for k, (mod, text) in enumerate(cases):
                hits[k] += ID in mod.mask_personal_data(text)
        print(f"{name:22} " + " ".join(f"{100 * h / args.n:8.2f}%" for h in hits))

    masked = [0, 0]
    first = datetime.date(1930, 1, 1)
    for _ in range(args.n):
        born = first + datetime.timedelta(days=rng.randrange((datetime.date(1999, 12, 31) - first).days + 1))
        number = (rng.choice("123456") + "".join(rng.choice("0123456789") for _ in range(5))
                  + born.strftime("%y%m%d") + "".join(rng.choice("0123456789") for _ in range(3)))
        for k, mod in enumerate((base, this)):
            masked[k] += ID in mod.mask_personal_data(f"我的是{number}")
    print(f"\nreal-shaped old IDs masked: baseline {masked[0]}/{args.n}, this tree {masked[1]}/{args.n}")


if __name__ == "__main__":
    main()
