"""List the real-text yardstick's paragraphs: which SemEval-2023 Task 3 articles cover the
Russia–Ukraine war (the rule below), every paragraph of 15+ words in them, and a seeded sample
of paragraphs from the other articles (off-topic news, for false alarms).

The text never enters the repository: this writes a work file for labelling (outside the
repository by default) and prints counts. The committed labels (``data/real/*.tsv``) hold only
file, paragraph number, sha1, labels and a rationale; :mod:`framescope.data.real` rebuilds the
text from ``../shared/data`` and checks every sha1.

Rule (stated in data/real/README.md): an article is *war coverage* when at least one of its
paragraphs mentions Ukraine, Crimea, Kerch, Donbas, Donetsk, Luhansk, Kyiv or Kiev, or mentions
NATO or sanctions in the same paragraph as Russia, Moscow, Putin or the Kremlin.

    python tools/real_candidates.py --out /tmp/real/paragraphs.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from framescope.data.real import candidates, shared_root  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/real/paragraphs.jsonl"))
    ap.add_argument("--offtopic", type=int, default=150)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    root = shared_root()
    if root is None:
        print("../shared/data not found: nothing to list", file=sys.stderr)
        return 1
    rows = candidates(root, offtopic=args.offtopic, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    war = [r for r in rows if r["set"] == "war"]
    print(f"{len({r['file'] for r in war})} war articles, {len(war)} paragraphs; "
          f"{len(rows) - len(war)} off-topic paragraphs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
