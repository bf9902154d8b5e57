"""Build the real-text yardstick's label files from the two labelling passes.

    python tools/real_labels.py agreement   # data/real/agreement.json: per-frame kappa, counts
    python tools/real_labels.py build       # data/real/real-dev.tsv and real-test.tsv

``build`` takes pass A, applies the adjudicated rows of ``data/real/adjudication.tsv`` (every
paragraph the two passes disagree on must be adjudicated there), and splits the paragraphs by
article into real-dev and real-test (about half each, stratified over the frames with
:func:`framescope.data.split_passages`, seed 13). Articles that share a paragraph, or quote one
another (5-word shingles: 30% of the smaller paragraph's shingles in common), are kept in the same
half. Needs ../shared/data (the text is only read, never written).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from framescope.data import DEFAULT_TAXONOMY, Passage, load_taxonomy, split_passages  # noqa: E402
from framescope.data.dedup import word_ngrams  # noqa: E402
from framescope.data.io import atomic_write_text  # noqa: E402
from framescope.data.real import TSV_COLUMNS, candidates, shared_root  # noqa: E402

REAL = ROOT / "data" / "real"
PASSES = {"a": REAL / "passes" / "pass-a.tsv", "b": REAL / "passes" / "pass-b.tsv"}


def read_tsv(path: Path) -> dict[tuple[str, int], dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["file"], int(r["paragraph"])): r
                for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


def labels_of(row: dict[str, str]) -> set[str]:
    return {x for x in (row.get("labels") or "").split(";") if x}


def agreement() -> dict:
    """Per-frame Cohen's kappa and counts of the two passes."""
    from sklearn.metrics import cohen_kappa_score

    tax = load_taxonomy(DEFAULT_TAXONOMY)
    a, b = read_tsv(PASSES["a"]), read_tsv(PASSES["b"])
    if set(a) != set(b):
        raise SystemExit("the two passes label different paragraphs")
    keys = sorted(a)
    out: dict = {"paragraphs": len(keys), "identical_label_sets": sum(labels_of(a[k]) == labels_of(b[k]) for k in keys),
                 "frames": {}}
    for lab in tax.ids:
        ya = np.array([lab in labels_of(a[k]) for k in keys])
        yb = np.array([lab in labels_of(b[k]) for k in keys])
        both_constant = ya.min() == ya.max() and yb.min() == yb.max() and ya[0] == yb[0]
        kappa = None if both_constant else float(cohen_kappa_score(ya, yb))
        out["frames"][lab] = {"pass_a": int(ya.sum()), "pass_b": int(yb.sum()), "both": int((ya & yb).sum()),
                              "kappa": None if kappa is None else round(kappa, 4),
                              "note": "no positive in either pass: kappa undefined" if kappa is None else None}
    present = [v["kappa"] for v in out["frames"].values() if v["kappa"] is not None]
    out["mean_kappa_over_frames_with_positives"] = round(float(np.mean(present)), 4) if present else None
    return out


def _components(rows: list[dict]) -> dict[str, str]:
    """Article -> the smallest article id of its group (articles that share or quote text)."""
    grams = {(r["article"], r["paragraph"]): word_ngrams(str(r["text"]), 5) for r in rows}
    index: dict[tuple, list] = defaultdict(list)
    for key, g in grams.items():
        for x in g:
            index[x].append(key)
    shared: Counter = Counter()
    for keys in index.values():
        arts = {k[0] for k in keys}
        if 1 < len(arts) < 20:
            for i, x in enumerate(keys):
                for y in keys[i + 1:]:
                    if x[0] != y[0]:
                        shared[(x, y)] += 1
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (x, y), n in shared.items():
        if n / max(1, min(len(grams[x]), len(grams[y]))) >= 0.3:
            ra, rb = sorted((find(x[0]), find(y[0])))
            parent[rb] = ra
    return {str(r["article"]): find(str(r["article"])) for r in rows}


def build() -> dict[str, int]:
    root = shared_root()
    if root is None:
        raise SystemExit("../shared/data not found: the split needs the text")
    a, b = read_tsv(PASSES["a"]), read_tsv(PASSES["b"])
    adjudicated = read_tsv(REAL / "adjudication.tsv")
    rows = candidates(root)
    component = _components(rows)
    passages = []
    for r in rows:
        key = (str(r["file"]), int(r["paragraph"]))
        final = dict(a[key])
        if key in adjudicated:
            final["labels"], final["rationale"] = adjudicated[key]["labels"], adjudicated[key]["rationale"]
        elif labels_of(a[key]) != labels_of(b[key]):
            raise SystemExit(f"{key}: the passes disagree and the paragraph is not adjudicated")
        passages.append(Passage(id=f"{r['article']}:{r['paragraph']}", text=str(r["text"]),
                                labels=sorted(labels_of(final)), article_id=str(r["article"]),
                                meta={"component": component[str(r["article"])], "row": final}))
    parts = split_passages(passages, ratios={"real-dev": 0.5, "real-test": 0.5},
                           group_by="component", seed=13)
    counts = {}
    for name, items in parts.items():
        lines = ["\t".join(TSV_COLUMNS)]
        for p in items:
            row = p.meta["row"]
            lines.append("\t".join([row["file"], row["paragraph"], row["sha1"], row["set"],
                                    ";".join(p.labels or []), row["rationale"]]))
        atomic_write_text(REAL / f"{name}.tsv", "\n".join(lines) + "\n")
        counts[name] = len(items)
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("agreement", "build"))
    args = ap.parse_args()
    if args.action == "agreement":
        result = agreement()
        atomic_write_text(REAL / "agreement.json", json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    else:
        print(build())
    return 0


if __name__ == "__main__":
    sys.exit(main())
