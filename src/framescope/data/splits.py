"""Seeded, grouped, multi-label-stratified train/dev/test splits.

Groups (articles by default) never straddle splits. Labels are balanced with iterative
stratification (Sechidis et al., 2011) applied to whole groups: the rarest label's groups are
placed first, each in the split that still wants that label most. Group order is fixed by
sorting the keys before a seeded shuffle, so the same data gives the same split whatever the
input order.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from framescope.data.io import write_records
from framescope.data.schema import Passage

__all__ = ["DEFAULT_RATIOS", "group_key", "split_passages", "write_splits"]

DEFAULT_RATIOS: dict[str, float] = {"train": 0.8, "dev": 0.1, "test": 0.1}


def group_key(passage: Passage, group_by: str) -> str:
    """The value of ``group_by`` for a passage: a field, a ``meta`` key, or ``a+b`` of several.

    ``article_id`` falls back to the passage's own id when absent.
    """
    parts = []
    for name in group_by.split("+"):
        if name == "article_id":
            value = passage.group
        elif name in ("id", "outlet", "published", "url", "title", "split"):
            value = getattr(passage, name)
        else:
            value = passage.meta.get(name)
        parts.append("" if value is None else str(value))
    return "+".join(parts)


def split_passages(
    passages: Sequence[Passage],
    *,
    ratios: dict[str, float] | None = None,
    group_by: str = "article_id",
    seed: int = 13,
) -> dict[str, list[Passage]]:
    """Split passages into named parts (default train/dev/test 80/10/10).

    Returns:
        A dict from split name to passages, in input order within each split.

    Raises:
        ValueError: when ratios are not positive or there are fewer groups than splits.
    """
    ratios = dict(ratios or DEFAULT_RATIOS)
    if not ratios or any(r <= 0 for r in ratios.values()):
        raise ValueError(f"The 'ratios' parameter must map split names to positive shares. Got {ratios} instead.")
    total_r = sum(ratios.values())
    ratios = {k: v / total_r for k, v in ratios.items()}
    members: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(passages):
        members[group_key(p, group_by)].append(i)
    if len(members) < len(ratios):
        raise ValueError(f"{len(members)} group(s) by '{group_by}' cannot fill {len(ratios)} splits")
    keys = sorted(members)
    rng = random.Random(seed)
    rng.shuffle(keys)
    counts = {k: Counter(lab for i in members[k] for lab in set(passages[i].labels or []))
              for k in keys}
    label_total: Counter[str] = Counter()
    for c in counts.values():
        label_total.update(c)
    want_label = {s: {lab: r * n for lab, n in label_total.items()} for s, r in ratios.items()}
    want_size = {s: r * len(passages) for s, r in ratios.items()}
    names = list(ratios)
    assigned: dict[str, str] = {}
    remaining = set(keys)

    def place(key: str, label: str | None) -> None:
        def score(s: str) -> tuple[float, float, float]:
            return (want_label[s][label] if label else 0.0, want_size[s], rng.random())

        best = max(names, key=score)
        assigned[key] = best
        remaining.discard(key)
        want_size[best] -= len(members[key])
        for lab, n in counts[key].items():
            want_label[best][lab] -= n

    while True:
        left: Counter[str] = Counter()
        for k in remaining:
            left.update(counts[k])
        if not left:
            break
        label = min(left, key=lambda lab: (left[lab], lab))
        for key in [k for k in keys if k in remaining and counts[k][label]]:
            place(key, label)
    for key in [k for k in keys if k in remaining]:
        place(key, None)
    out: dict[str, list[Passage]] = {s: [] for s in names}
    for key, split in assigned.items():
        for i in members[key]:
            out[split].append(passages[i])
    order = {id(p): i for i, p in enumerate(passages)}
    for s in names:
        out[s].sort(key=lambda p: order[id(p)])
    return out


def write_splits(splits: dict[str, list[Passage]], out_dir: str | Path, *,
                 suffix: str = ".jsonl") -> dict[str, Path]:
    """Write each split atomically as ``OUT/NAME.jsonl`` (or another suffix)."""
    out_dir = Path(out_dir)
    paths = {}
    for name, items in splits.items():
        path = out_dir / f"{name}{suffix}"
        write_records((p.to_dict() for p in items), path)
        paths[name] = path
    return paths
