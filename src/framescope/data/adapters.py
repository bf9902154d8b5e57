"""Adapters for the public research datasets, read in their original layouts.

- ``semeval-persuasion``: SemEval-2023 Task 3 subtask 3 (paragraph-level persuasion techniques):
  ``{split}-labels-subtask-3.txt`` (``article<TAB>paragraph<TAB>tech1,tech2``) joined with
  ``{split}-labels-subtask-3.template`` (``article<TAB>paragraph<TAB>text``).
- ``semeval-frames``: SemEval-2023 Task 3 subtask 2 (article-level frames):
  ``{split}-labels-subtask-2.txt`` (``article<TAB>frame1,frame2``) plus
  ``{split}-articles-subtask-2/article{ID}.txt`` (title, blank line, body).
- ``babe``: BABE's ``final_labels_SG2.csv`` (``;``-separated, UTF-8 BOM, ``label_bias``,
  ``biased_words``). Rows labelled "No agreement" are excluded by rule (counted as rejected,
  never fatal).

Each adapter takes the dataset's folder (every split it finds, each record tagged with ``split``)
or a single labels file.
"""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from framescope.data.errors import RecordError
from framescope.data.io import open_binary
from framescope.data.records import Item, ReadOptions, decode, to_passage

__all__ = ["ADAPTERS"]


def _split_of(name: str, marker: str) -> str:
    return name.split(marker)[0]


def _tsv_lines(path: Path) -> Iterator[tuple[int, list[str] | RecordError]]:
    with open_binary(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            text = decode(raw, str(path), lineno)
            if isinstance(text, RecordError):
                yield lineno, text
                continue
            text = text.lstrip("\ufeff").rstrip("\r\n")
            if text.strip():
                yield lineno, text.split("\t")


def semeval_persuasion(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Paragraphs with technique labels (or without, for a template alone)."""
    if path.is_dir():
        pairs = sorted(path.glob("*-labels-subtask-3.txt"))
        if not pairs:
            yield RecordError(str(path), 0, "<folder>", "no *-labels-subtask-3.txt file here",
                              "point at the SemEval-2023 subtask 3 folder")
            return
    else:
        pairs = [path]
    for labels_path in pairs:
        name = labels_path.name
        if name.endswith(".template"):
            template, labels_path_opt = labels_path, None
        else:
            template = labels_path.with_name(name.replace(".txt", ".template"))
            labels_path_opt = labels_path
        split = _split_of(name, "-labels-subtask-3")
        if not template.exists():
            yield RecordError(str(labels_path), 0, "<file>",
                              f"the paragraph texts file {template.name} is missing beside it",
                              "keep the .template file next to the labels file")
            continue
        labels: dict[tuple[str, str], tuple[int, str]] = {}
        if labels_path_opt is not None:
            for lineno, cells in _tsv_lines(labels_path_opt):
                if isinstance(cells, RecordError):
                    yield cells
                    continue
                if len(cells) < 2:
                    yield RecordError(str(labels_path_opt), lineno, "<record>",
                                      f"expected article<TAB>paragraph<TAB>techniques, got {len(cells)} cell(s)",
                                      "fix the line's tabs")
                    continue
                labels[(cells[0], cells[1])] = (lineno, cells[2] if len(cells) > 2 else "")
        for lineno, cells in _tsv_lines(template):
            if isinstance(cells, RecordError):
                yield cells
                continue
            if len(cells) < 3:
                yield RecordError(str(template), lineno, "text",
                                  "expected article<TAB>paragraph<TAB>text", "fix the line")
                continue
            art, para, text = cells[0], cells[1], "\t".join(cells[2:])
            raw: dict[str, object] = {"id": f"{art}_{para}", "article_id": art, "text": text,
                                      "split": split}
            if para.isdigit():
                raw["index"] = int(para)
            if labels_path_opt is not None:
                if (art, para) not in labels:
                    yield RecordError(str(template), lineno, "labels",
                                      f"paragraph {art}/{para} has no line in {labels_path_opt.name}",
                                      "the labels and template files must list the same paragraphs")
                    continue
                raw["labels"] = [t for t in labels.pop((art, para))[1].split(",") if t.strip()]
            yield to_passage(raw, str(template), lineno, opts, default_id=f"{art}_{para}")
        for (art, para), (lineno, _) in labels.items():
            yield RecordError(str(labels_path), lineno, "text",
                              f"paragraph {art}/{para} is missing from {template.name}",
                              "the labels and template files must list the same paragraphs")


def semeval_frames(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Whole articles with frame labels."""
    if path.is_dir():
        label_files = sorted(path.glob("*-labels-subtask-2.txt"))
        if not label_files:
            yield RecordError(str(path), 0, "<folder>", "no *-labels-subtask-2.txt file here",
                              "point at the SemEval-2023 subtask 2 folder")
            return
    else:
        label_files = [path]
    for labels_path in label_files:
        split = _split_of(labels_path.name, "-labels-subtask-2")
        folder = labels_path.with_name(f"{split}-articles-subtask-2")
        if not folder.is_dir():
            yield RecordError(str(labels_path), 0, "<file>", f"article folder {folder.name} is missing",
                              "keep the articles folder next to the labels file")
            continue
        for lineno, cells in _tsv_lines(labels_path):
            if isinstance(cells, RecordError):
                yield cells
                continue
            art = cells[0].strip()
            frames = [f.strip() for f in (cells[1] if len(cells) > 1 else "").split(",") if f.strip()]
            file = folder / f"article{art}.txt"
            if not file.exists():
                yield RecordError(str(labels_path), lineno, "text", f"article file {file.name} not found",
                                  "keep every labelled article's text in the articles folder")
                continue
            with open_binary(file) as fh:
                text = decode(fh.read(), str(file), 0, "text")
            if isinstance(text, RecordError):
                yield text
                continue
            text = text.lstrip("\ufeff").replace("\r\n", "\n")
            title = text.split("\n", 1)[0].strip() or None
            yield to_passage({"id": art, "article_id": art, "title": title, "text": text,
                            "labels": frames, "split": split},
                           str(labels_path), lineno, opts, default_id=art)


def babe(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """BABE sentences labelled Biased / Non-biased, with word-level ``biased_words`` in meta."""
    if path.is_dir():
        file = path / "final_labels_SG2.csv"
        if not file.exists():
            candidates = sorted(path.glob("final_labels_*.csv"))
            if not candidates:
                yield RecordError(str(path), 0, "<folder>", "no final_labels_*.csv here",
                                  "point at the BABE folder or its final_labels_SG2.csv")
                return
            file = candidates[0]
    else:
        file = path
    source = str(file)
    with open_binary(file) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.DictReader(fh, delimiter=";")
        missing = {"text", "label_bias"} - set(reader.fieldnames or [])
        if missing:
            yield RecordError(source, 1, "<header>", f"missing columns {sorted(missing)}; "
                              f"found {reader.fieldnames}", "is this BABE's final_labels CSV?")
            return
        for n, row in enumerate(reader, 1):
            lineno = reader.line_num
            label = (row.get("label_bias") or "").strip()
            if label not in ("Biased", "Non-biased"):
                yield RecordError(source, lineno, "label_bias",
                                  f"label {label!r} is not Biased/Non-biased",
                                  "BABE rows without annotator agreement are excluded by design",
                                  excluded=label == "No agreement")
                continue
            words_cell = (row.get("biased_words") or "").strip()
            try:
                words = ast.literal_eval(words_cell) if words_cell else []
                if not isinstance(words, list):
                    raise ValueError
            except (ValueError, SyntaxError):
                yield RecordError(source, lineno, "biased_words",
                                  f"expected a list like ['word'], got {words_cell[:60]!r}", "fix the cell")
                continue
            meta = {"biased_words": [str(w) for w in words], "topic": row.get("topic") or None,
                    "type": row.get("type") or None, "label_opinion": row.get("label_opinion") or None}
            url = (row.get("news_link") or "").strip() or None
            yield to_passage({"id": f"babe-{n}", "text": row["text"], "labels": [label],
                            "outlet": row.get("outlet") or None, "url": url,
                            "article_id": url, "meta": meta},
                           source, lineno, opts, default_id=f"babe-{n}")


ADAPTERS: dict[str, Callable[[Path, ReadOptions], Iterator[Item]]] = {
    "semeval-persuasion": semeval_persuasion,
    "semeval-frames": semeval_frames,
    "babe": babe,
}
