"""Check a real-text labels file: columns, sha1 against the shared text, labels against the
taxonomy, and that each rationale shares at most 5 consecutive words with its paragraph.

    python tools/real_check.py data/real/real-dev.tsv [--max-shared 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from framescope.data import DEFAULT_TAXONOMY, RecordError, load_taxonomy  # noqa: E402
from framescope.data.real import longest_shared_run, read_real_tsv  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--max-shared", type=int, default=5)
    args = ap.parse_args()
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    bad = n = 0
    seen: set[str] = set()
    for path in args.paths:
        for item in read_real_tsv(path):
            if isinstance(item, RecordError):
                print(item)
                bad += 1
                continue
            n += 1
            problems = []
            if item.id in seen:
                problems.append("paragraph listed twice")
            seen.add(item.id)
            unknown = [lab for lab in item.labels or [] if lab not in tax]
            if unknown:
                problems.append(f"unknown labels {unknown}")
            rationale = item.meta.get("rationale", "")
            if not rationale:
                problems.append("empty rationale")
            run = longest_shared_run(rationale, item.text)
            if run > args.max_shared:
                problems.append(f"rationale shares {run} consecutive words with the paragraph "
                                f"(at most {args.max_shared}): rewrite it in your own words")
            if item.meta.get("set") not in ("war", "offtopic"):
                problems.append(f"set must be war or offtopic, got {item.meta.get('set')!r}")
            for p in problems:
                print(f"{path}: {item.id}: {p}")
            bad += bool(problems)
    print(f"{n} rows checked, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
