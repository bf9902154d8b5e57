"""Add newly written passages to the seed dataset without moving the existing ones.

    python tools/seed_add.py data/seed/parts/part-*.jsonl --release v2

The new articles are split on their own with the same settings as the original split
(:func:`framescope.data.split_passages`: 80/10/10, grouped by article, stratified over the
frames, seed 13) and appended to ``data/seed/{train,dev,test}.jsonl``, so every passage keeps its
split and results on the old test set stay comparable. ``split.json`` records each release.
Refuses ids that already exist and near-duplicates of existing passages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from framescope.data import DEFAULT_TAXONOMY, fingerprint, load_passages, load_taxonomy, split_passages  # noqa: E402
from framescope.data.dedup import exact_duplicates, near_duplicates  # noqa: E402
from framescope.data.io import atomic_write_text  # noqa: E402

SEED = ROOT / "data" / "seed"
SPLITS = ("train", "dev", "test")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", nargs="+", type=Path)
    ap.add_argument("--release", required=True, help="a name for this addition, e.g. v2")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    old = {s: load_passages([SEED / f"{s}.jsonl"], taxonomy=tax).passages for s in SPLITS}
    new = load_passages(args.parts, taxonomy=tax).passages
    everything = [p for s in SPLITS for p in old[s]] + new
    clash = {p.id for s in SPLITS for p in old[s]} & {p.id for p in new}
    if clash:
        raise SystemExit(f"ids already in the seed data: {sorted(clash)[:5]}")
    if exact_duplicates(everything) or near_duplicates(everything, n=5, threshold=0.5):
        raise SystemExit("duplicates or near-duplicates (5-word shingles, Jaccard >= 0.5); "
                         "run tools/seed_part_check.py and rewrite them")
    parts = split_passages(new, ratios={"train": 0.8, "dev": 0.1, "test": 0.1},
                           group_by="article_id", seed=args.seed)
    manifest_path = SEED / "split.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    releases = manifest.setdefault("releases", [])
    releases.append({"release": args.release, "inputs": [p.name for p in args.parts],
                     "method": "new articles split on their own (grouped by article_id, "
                               "stratified, 80/10/10) and appended", "seed": args.seed,
                     "splits": {s: {"passages": len(v), "articles": len({p.article_id for p in v}),
                                    "fingerprint": fingerprint(v)} for s, v in parts.items()}})
    for s in SPLITS:
        rows = [p.to_dict(with_meta=False) for p in old[s] + parts[s]]
        atomic_write_text(SEED / f"{s}.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        manifest.setdefault("files", {})[s] = {"passages": len(rows),
                                               "fingerprint": fingerprint(old[s] + parts[s])}
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print({s: len(v) for s, v in parts.items()}, "added;", {s: len(old[s]) + len(parts[s]) for s in SPLITS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
