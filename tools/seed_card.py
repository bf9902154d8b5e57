"""Render the counts section of data/seed/README.md from the split files.

    python tools/seed_card.py          # rewrite the section between the markers
    python tools/seed_card.py --check  # exit 1 when the card is out of date

The test suite calls :func:`render_counts` and compares it with the card.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data" / "seed"
CARD = SEED / "README.md"
START, END = "<!-- counts:start -->", "<!-- counts:end -->"
SPLITS = ("train", "dev", "test")


def has_cue(text: str, cues: list[str]) -> bool:
    """Whether ``text`` holds any of ``cues`` as a whole word or phrase (case-insensitive)."""
    low = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(c.lower()) + r"(?!\w)", low) for c in cues)


def render_counts() -> str:
    """The Markdown counts section (per-label counts per split, co-occurrence, cue-free share)."""
    sys.path.insert(0, str(ROOT / "src"))
    from framescope.data import DEFAULT_TAXONOMY, load_passages, load_taxonomy

    tax = load_taxonomy(DEFAULT_TAXONOMY)
    data = {s: load_passages([SEED / f"{s}.jsonl"], taxonomy=tax).passages for s in SPLITS}
    allp = [p for s in SPLITS for p in data[s]]
    lines = ["| label | " + " | ".join(SPLITS) + " | total | without any of its cues |",
             "|---|" + "---:|" * (len(SPLITS) + 2)]
    for lab in tax.labels:
        counts = [sum(lab.id in p.labels for p in data[s]) for s in SPLITS]
        pos = [p for p in allp if lab.id in p.labels]
        free = sum(not has_cue(p.text, lab.cues) for p in pos)
        lines.append(f"| `{lab.id}` | " + " | ".join(map(str, counts)) +
                     f" | {sum(counts)} | {free}/{len(pos)} ({free / max(len(pos), 1):.0%}) |")
    none = [sum(not p.labels for p in data[s]) for s in SPLITS]
    lines.append("| (no frame) | " + " | ".join(map(str, none)) + f" | {sum(none)} | |")
    sizes = [len(data[s]) for s in SPLITS]
    lines.append("| **passages** | " + " | ".join(map(str, sizes)) + f" | {sum(sizes)} | |")
    arts = [len({p.article_id for p in data[s]}) for s in SPLITS]
    lines.append("| **articles** | " + " | ".join(map(str, arts)) + f" | {sum(arts)} | |")
    multi = sum(len(p.labels) > 1 for p in allp)
    no_frame = [p for p in allp if not p.labels]
    hard = sum(any(has_cue(p.text, lab.cues) for lab in tax.labels) for p in no_frame)
    words = sorted(len(p.text.split()) for p in allp)
    quoted = sum(bool(re.search('["“”]', p.text)) for p in allp)
    outlets = Counter(p.outlet for p in allp)
    years = Counter((p.published or "")[:4] for p in allp)
    out = ["\n".join(lines), "",
           f"Passages with no frame: {sum(none)} ({sum(none) / len(allp):.1%}); with two or more "
           f"frames: {multi} ({multi / len(allp):.1%}). Hard negatives (no frame, but a cue word of some "
           f"frame): {hard} ({hard / max(len(no_frame), 1):.1%} of the no-frame passages). With a direct "
           f"quote: {quoted} ({quoted / len(allp):.1%}).",
           "", "Words per passage: " + ", ".join(f"p{q} {words[min(len(words) - 1, len(words) * q // 100)]}"
                                                  for q in (5, 25, 50, 75, 95)) + f", max {words[-1]}.",
           "", "Outlets: " + ", ".join(f"{k} {v}" for k, v in sorted(outlets.items())) + ".",
           "", "Years: " + ", ".join(f"{k} {v}" for k, v in sorted(years.items())) + ".", "",
           "Co-occurrence (passages carrying both frames; diagonal = positives):", "",
           "| | " + " | ".join(f"{i + 1}" for i in range(len(tax))) + " |",
           "|---|" + "---:|" * len(tax)]
    for i, a in enumerate(tax.ids):
        row = [sum(a in p.labels and b in p.labels for p in allp) for b in tax.ids]
        out.append(f"| {i + 1} `{a}` | " + " | ".join(map(str, row)) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = CARD.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{render_counts()}\n{END}{tail}"
    if args.check:
        if new != text:
            print("data/seed/README.md counts are out of date: run python tools/seed_card.py")
            return 1
        print("data card up to date")
        return 0
    CARD.write_text(new, encoding="utf-8")
    print(f"updated {CARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
