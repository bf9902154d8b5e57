"""Check a drafted part of the seed dataset against the design targets before it is merged.

    python tools/seed_part_check.py data/seed/parts/part-d.jsonl

Prints: passages, articles, length percentiles (words), no-frame share, hard-negative share
(no-frame passages that contain a cue word of any frame), per-frame positives and the share
without any of the frame's cue words, multi-frame share, quote share, duplicates within the
part and near-duplicates against the existing seed files. Exit 1 when a hard rule fails
(invalid records, unknown labels, duplicates).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from framescope.data import DEFAULT_TAXONOMY, load_passages, load_taxonomy  # noqa: E402
from framescope.data.dedup import exact_duplicates, near_duplicates  # noqa: E402

QUOTE = re.compile('["“”]')


def cue_patterns(tax):
    return {lab.id: [re.compile(r"(?<!\w)" + re.escape(c.lower()) + r"(?!\w)") for c in lab.cues]
            for lab in tax.labels}


def has_cue(text: str, pats) -> bool:
    low = text.lower()
    return any(p.search(low) for p in pats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    data = load_passages(args.paths, taxonomy=tax)  # raises on bad records / unknown labels
    ps = data.passages
    cues = cue_patterns(tax)
    all_cues = [p for v in cues.values() for p in v]
    words = np.array([len(p.text.split()) for p in ps])
    arts = Counter(p.article_id for p in ps)
    none = [p for p in ps if not p.labels]
    hard = sum(has_cue(p.text, all_cues) for p in none)
    print(f"passages {len(ps)}, articles {len(arts)} (passages per article {min(arts.values())}-"
          f"{max(arts.values())}), outlets {len({p.outlet for p in ps})}")
    print("words p5/p25/p50/p75/p95/max:", np.percentile(words, [5, 25, 50, 75, 95]).round().tolist(),
          int(words.max()), "(real-text target ~17/25/36/56/110)")
    print(f"no frame {len(none)} ({len(none) / len(ps):.0%}); hard negatives (cue word, no frame) "
          f"{hard} ({hard / max(len(none), 1):.0%} of no-frame; target >= 20%)")
    quoted = sum(bool(QUOTE.search(p.text)) for p in ps)
    print(f"multi-frame {sum(len(p.labels) > 1 for p in ps) / len(ps):.0%}; with a quote "
          f"{quoted / len(ps):.0%} (real text ~34%)")
    print(f"{'frame':<24}{'pos':>5}{'cue-free':>10}")
    for lab in tax.ids:
        pos = [p for p in ps if lab in p.labels]
        free = sum(not has_cue(p.text, cues[lab]) for p in pos)
        share = free / len(pos) if pos else 0
        flag = "" if share >= 0.5 else "   <- below the 50% target"
        print(f"{lab:<24}{len(pos):>5}{share:>9.0%}{flag}")
    bad = 0
    dups = exact_duplicates(ps)
    near = near_duplicates(ps, n=5, threshold=0.5)
    if dups or near:
        print(f"DUPLICATES within the input(s): exact {dups[:5]}, near {near[:5]}")
        bad = 1
    seed = [f for f in (ROOT / "data" / "seed").glob("*.jsonl")]
    if seed:
        old = load_passages(seed).passages
        ids = {p.id for p in old} & {p.id for p in ps}
        if ids:
            print(f"ID CLASH with the seed files: {sorted(ids)[:5]}")
            bad = 1
        both = near_duplicates(old + ps, n=5, threshold=0.5)
        new_ids = {p.id for p in ps}
        cross = [t for t in both if (t[0] in new_ids) != (t[1] in new_ids)]
        if cross:
            print(f"NEAR-DUPLICATES of existing seed passages: {cross[:5]}")
            bad = 1
    print("OK" if not bad else "FAILED")
    return bad


if __name__ == "__main__":
    sys.exit(main())
