"""The real-text yardstick: labels committed in the repository for text that stays in ``../shared``.

The repository holds only labels (``data/real/*.tsv``): the article file (relative to the shared
data folder), the paragraph number (the 1-based line of the article file, as SemEval-2023 Task 3
numbers paragraphs), the sha1 of the paragraph text, the labels and a one-line rationale. This
module rebuilds every paragraph from the SemEval-2023 Task 3 article files, checks its sha1 and
yields :class:`~framescope.data.Passage` records, so the same labels can be evaluated wherever
the shared data is present and nothing of its text is ever copied.

It also holds the selection rule of the yardstick (:func:`is_war_paragraph`, :func:`candidates`):
an article is *war coverage* when one of its paragraphs mentions Ukraine, Crimea, Kerch, Donbas,
Donetsk, Luhansk, Kyiv or Kiev, or mentions NATO or sanctions in the same paragraph as Russia,
Moscow, Putin or the Kremlin.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from framescope.data.errors import RecordError
from framescope.data.fingerprint import text_sha1
from framescope.data.schema import Passage, RecordErrorException, record_to_passage

__all__ = [
    "ARTICLE_DIRS",
    "MIN_WORDS",
    "TSV_COLUMNS",
    "article_paragraphs",
    "candidates",
    "is_war_paragraph",
    "load_articles",
    "longest_shared_run",
    "read_real_tsv",
    "sha1",
    "shared_root",
]

#: Article folders under the shared data folder, in the order that decides which copy of an
#: article id is used when several folders hold it (the first one wins).
ARTICLE_DIRS = (
    "semeval2023-t3-frames/train-articles-subtask-2",
    "semeval2023-t3-frames/dev-articles-subtask-2",
    "semeval2023-t3-persuasion/train-articles-subtask-3",
    "semeval2023-t3-persuasion/dev-articles-subtask-3",
)
#: Paragraphs shorter than this (in words) are not labelled.
MIN_WORDS = 15
#: Header of a labels file.
TSV_COLUMNS = ("file", "paragraph", "sha1", "set", "labels", "rationale")

_WAR_PLACE = re.compile(r"ukrain|crimea|kerch|donbas|donetsk|luhansk|\bkyiv|\bkiev", re.I)
_RUSSIA = re.compile(r"russia|moscow|putin|kremlin", re.I)
_NATO = re.compile(r"\bNATO\b")
_SANCTION = re.compile(r"sanction", re.I)


sha1 = text_sha1  # the sha1 of a paragraph's UTF-8 text, as written in the TSV rows


def shared_root() -> Path | None:
    """The shared data folder: ``$FRAMESCOPE_SHARED_DATA``, else ``../shared/data`` beside the
    current folder or beside the project checkout; ``None`` when none exists."""
    env = os.environ.get("FRAMESCOPE_SHARED_DATA")
    options = [Path(env)] if env else []
    options += [Path.cwd().parent / "shared" / "data", Path(__file__).resolve().parents[4] / "shared" / "data"]
    for path in options:
        if path.is_dir():
            return path
    return None


def article_paragraphs(text: str) -> list[tuple[int, str]]:
    """``(line number, paragraph text)`` for every non-empty line (1-based, stripped)."""
    return [(i, line.strip()) for i, line in enumerate(text.split("\n"), 1) if line.strip()]


@lru_cache(maxsize=4)
def load_articles(root: Path) -> dict[str, tuple[str, str]]:
    """``{article file name: (path relative to root, text)}``, deduplicated by file name."""
    out: dict[str, tuple[str, str]] = {}
    for folder in ARTICLE_DIRS:
        for path in sorted((root / folder).glob("*.txt")):
            if path.name not in out:
                out[path.name] = (f"{folder}/{path.name}", path.read_text(encoding="utf-8"))
    return out


def is_war_paragraph(text: str) -> bool:
    """The selection rule, for one paragraph (see the module docstring)."""
    if _WAR_PLACE.search(text):
        return True
    return bool(_RUSSIA.search(text) and (_NATO.search(text) or _SANCTION.search(text)))


def candidates(root: Path, *, offtopic: int = 150, seed: int = 13) -> list[dict[str, object]]:
    """Every labelled-length paragraph of the war articles, then ``offtopic`` paragraphs drawn
    (seeded, at most two per article) from the other articles. Rows hold the text: they are a
    work file for labelling, never committed."""
    rows: list[dict[str, object]] = []
    others: list[dict[str, object]] = []
    for name, (rel, text) in sorted(load_articles(root).items()):
        paras = [(i, p) for i, p in article_paragraphs(text) if len(p.split()) >= MIN_WORDS]
        war = any(is_war_paragraph(p) for _, p in article_paragraphs(text))
        for i, p in paras:
            row = {"file": rel, "paragraph": i, "sha1": sha1(p), "article": name.removesuffix(".txt"),
                   "title": text.split("\n", 1)[0].strip(), "text": p}
            (rows if war else others).append({**row, "set": "war" if war else "offtopic"})
    rng = random.Random(seed)
    rng.shuffle(others)
    per_article: dict[object, int] = {}
    picked = []
    for row in others:
        if len(picked) >= offtopic:
            break
        if per_article.get(row["article"], 0) >= 2:
            continue
        per_article[row["article"]] = per_article.get(row["article"], 0) + 1
        picked.append(row)
    picked.sort(key=lambda r: (str(r["file"]), int(r["paragraph"])))  # type: ignore[call-overload]
    return rows + picked


def read_real_tsv(path: Path, *, labels_sep: str = ";", labels_required: bool = True) -> Iterator[Passage | RecordError]:
    """Passages for a labels file: the text rebuilt from the shared data, every sha1 checked.

    A missing shared folder, an unknown article file, a paragraph number past the end of the
    article or a sha1 that does not match is a :class:`RecordError` naming the line and field.
    """
    source = str(path)
    root = shared_root()
    if root is None:
        yield RecordError(source, 0, "<file>", "this file holds labels only; the text is rebuilt "
                          "from ../shared/data (SemEval-2023 Task 3), which was not found",
                          "put the shared data folder beside the project, or set "
                          "FRAMESCOPE_SHARED_DATA to it")
        return
    articles = {rel: text for rel, text in load_articles(root).values()}
    split = path.name.split(".")[0]
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in TSV_COLUMNS[:5] if c not in (reader.fieldnames or [])]
        if missing:
            yield RecordError(source, 1, "<header>", f"missing columns {missing}; found "
                              f"{reader.fieldnames}", "the header is: " + "\t".join(TSV_COLUMNS))
            return
        for row in reader:
            line = reader.line_num
            rel = (row.get("file") or "").strip()
            text = articles.get(rel)
            if text is None:
                yield RecordError(source, line, "file", f"no article {rel!r} under {root}",
                                  "the path is relative to the shared data folder, e.g. "
                                  f"{ARTICLE_DIRS[0]}/article111111111.txt")
                continue
            try:
                number = int(row.get("paragraph") or "")
            except ValueError:
                yield RecordError(source, line, "paragraph", f"expected a line number, got "
                                  f"{row.get('paragraph')!r}", "write the 1-based line number")
                continue
            paras = dict(article_paragraphs(text))
            para = paras.get(number)
            if para is None:
                yield RecordError(source, line, "paragraph", f"{rel} has no non-empty line {number}",
                                  "check the paragraph number against the article file")
                continue
            if sha1(para) != (row.get("sha1") or "").strip():
                yield RecordError(source, line, "sha1", f"paragraph {rel}:{number} has sha1 "
                                  f"{sha1(para)}, the labels file says {row.get('sha1')!r}: the "
                                  "shared text changed or the row points at the wrong paragraph",
                                  "re-check the shared data version; never relabel silently")
                continue
            article = Path(rel).stem
            raw = {"id": f"{article}:{number}", "article_id": article, "text": para,
                   "labels": [x for x in (row.get("labels") or "").split(labels_sep) if x.strip()],
                   "index": number, "split": split,
                   "meta": {"set": (row.get("set") or "").strip(), "file": rel,
                            "rationale": (row.get("rationale") or "").strip()}}
            try:
                yield record_to_passage(raw, source=source, line=line, labels_required=labels_required)
            except RecordErrorException as exc:
                yield exc.error


_WORDS = re.compile(r"\w+")


def longest_shared_run(a: str, b: str) -> int:
    """The length (in words, case-folded) of the longest run of consecutive words of ``a``
    that also occurs, consecutively, in ``b``: how much a rationale copies its paragraph.

    Example:
        >>> longest_shared_run("NATO fought through a proxy", "they say NATO fought through Kyiv")
        3
    """
    wa = [w.casefold() for w in _WORDS.findall(a)]
    wb = [w.casefold() for w in _WORDS.findall(b)]
    best = 0
    prev = [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best
