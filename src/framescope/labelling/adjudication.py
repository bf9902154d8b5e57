"""Deciding a task's labels from its annotators' answers, and the adjudication file for ties.

Multi-label: a label is in when more than half of the task's annotators chose it, out when fewer
than half did; exactly half is a tie. Single-label: the label most annotators chose (plurality);
two or more labels sharing the top count is a tie. A task with a tie is not written to the
labelled output but to the adjudication file (JSONL, one task a line, with the votes per label);
an adjudicator fills in ``decision`` (a list of label ids, ``[]`` for "no frame") and the same
import run again applies it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data.errors import DataError
from framescope.data.io import atomic_path, parse_json
from framescope.data.taxonomy import Taxonomy

__all__ = ["HOW_TO_ADJUDICATE", "AdjudicationEntry", "Decision", "decide", "read_decisions", "write_adjudication"]

#: The instruction written into every line of an adjudication file.
HOW_TO_ADJUDICATE = ("set 'decision' to the final list of label ids ([] for no frame), save, and "
                     "run the same `framescope label import` command again")


@dataclass
class Decision:
    """The outcome of one task's votes.

    Attributes:
        labels: the decided labels in taxonomy order; ``None`` when a tie leaves the task to an
            adjudicator.
        votes: per label, how many annotators chose it (labels nobody chose are left out).
        n: the number of annotators whose label sets count.
        tied: the labels with exactly half the votes (multi-label) or sharing the top count
            (single-label).
        majority: the labels decided in (all of them when there is no tie).
        how: ``unanimous``, ``majority``, ``single annotator`` or ``tie``.
    """

    labels: list[str] | None
    votes: dict[str, int]
    n: int
    tied: list[str] = field(default_factory=list)
    majority: list[str] = field(default_factory=list)
    how: str = "majority"


def decide(answers: Mapping[str, Sequence[str]], taxonomy: Taxonomy, *,
           single_label: bool = False) -> Decision:
    """Majority (multi-label) or plurality (single-label) decision over annotators' label sets.

    Example:
        >>> tax = Taxonomy.from_ids(["a", "b", "c"])
        >>> decide({"x": ["a", "b"], "y": ["a"], "z": ["a", "c"]}, tax).labels
        ['a']
        >>> d = decide({"x": ["a", "b"], "y": ["a"]}, tax)
        >>> d.labels, d.tied, d.majority
        (None, ['b'], ['a'])
        >>> decide({"x": ["b"], "y": ["b"], "z": ["c"]}, tax, single_label=True).labels
        ['b']
    """
    n = len(answers)
    votes = {lab: sum(1 for chosen in answers.values() if lab in chosen) for lab in taxonomy.ids}
    votes = {lab: k for lab, k in votes.items() if k}
    distinct = {frozenset(chosen) for chosen in answers.values()}
    if single_label:
        top = max(votes.values(), default=0)
        best = [lab for lab, k in votes.items() if k == top]
        if len(best) != 1:
            return Decision(None, votes, n, tied=best, how="tie")
        majority = best
        tied: list[str] = []
    else:
        majority = [lab for lab, k in votes.items() if 2 * k > n]
        tied = [lab for lab, k in votes.items() if 2 * k == n]
        if tied:
            return Decision(None, votes, n, tied=tied, majority=majority, how="tie")
    how = "single annotator" if n == 1 else "unanimous" if len(distinct) == 1 else "majority"
    return Decision(majority, votes, n, tied=tied, majority=majority, how=how)


@dataclass
class AdjudicationEntry:
    """One line of an adjudication file as read back (``decision`` None: not decided yet)."""

    id: str
    line: int
    decision: list[str] | None
    text_sha1: str | None
    row: dict[str, Any]


def read_decisions(path: Path, taxonomy: Taxonomy, *,
                   single_label: bool = False) -> dict[str, AdjudicationEntry]:
    """The entries of an adjudication file, by passage id (an absent file: none).

    Raises:
        DataError: naming ``path:line`` and the field, for a line that does not parse, lacks an
            ``id``, repeats one, or holds a decision that is not a list of known label ids.
    """
    out: dict[str, AdjudicationEntry] = {}
    if not path.is_file():
        return out
    source = path.as_posix()
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except ValueError as exc:
            raise DataError(f"{source}:{n}: field '<line>': not valid JSON ({exc}) (fix: keep one "
                            "JSON object per line; only edit the 'decision' value)") from None
        pid = row.get("id") if isinstance(row, dict) else None
        if not isinstance(pid, str) or not pid:
            raise DataError(f"{source}:{n}: field 'id': expected the passage id string, got "
                            f"{pid!r:.40} (fix: leave 'id' as the import wrote it)")
        if pid in out:
            raise DataError(f"{source}:{n}: field 'id': passage {pid!r} appears twice (first on line "
                            f"{out[pid].line}) (fix: keep one line per passage)")
        decision = row.get("decision")
        if single_label and isinstance(decision, str):
            decision = [decision]
        if decision is not None:
            if not isinstance(decision, list) or not all(isinstance(d, str) for d in decision):
                raise DataError(f"{source}:{n}: field 'decision': expected a list of label ids "
                                f"([] for no frame) or null, got {decision!r:.60} (fix: write e.g. "
                                f"\"decision\": [\"{taxonomy.ids[0]}\"])")
            if single_label and len(decision) != 1:
                raise DataError(f"{source}:{n}: field 'decision': a single-label task takes exactly "
                                f"one label, got {decision!r:.60} (fix: pick one of the tied labels)")
            err = taxonomy.check(decision, source=source, line=n)
            if err is not None:
                raise DataError(f"{source}:{n}: field 'decision': passage {pid!r}: {err.message} "
                                "(fix: use the taxonomy's label ids)")
            decision = [lab for lab in taxonomy.ids if lab in decision]
        sha = row.get("text_sha1")
        out[pid] = AdjudicationEntry(pid, n, decision, sha if isinstance(sha, str) else None, row)
    return out


def write_adjudication(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write adjudication rows as JSONL, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
