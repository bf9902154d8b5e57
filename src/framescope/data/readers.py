"""Streaming readers for every input format; each yields :class:`Passage` or :class:`RecordError`.

Formats: ``jsonl``, ``csv``, ``tsv``, ``parquet``, ``rss`` (RSS 2.0/Atom), ``txt-dir`` (a folder of
``.txt`` articles, or one ``.txt`` file) and the public-dataset adapters in
:mod:`framescope.data.adapters`. ``.gz`` files are decompressed transparently.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.html import html_to_text
from framescope.data.io import open_binary
from framescope.data.schema import Passage, RecordErrorException, record_to_passage

__all__ = ["FORMATS", "ReadOptions", "detect_format", "iter_file"]

Item = Passage | RecordError

FORMATS = ("auto", "jsonl", "csv", "tsv", "parquet", "rss", "txt-dir",
           "semeval-persuasion", "semeval-frames", "babe")


@dataclass
class ReadOptions:
    """How to read tabular inputs.

    Attributes:
        format: one of :data:`FORMATS`.
        text_column, labels_column, id_column: input column names mapped to ``text``,
            ``labels`` and ``id`` (JSONL, CSV/TSV, Parquet).
        labels_sep: separator of labels written as ``a;b`` in a text cell.
        labels_required: reject records without ``labels`` (training and evaluation).
    """

    format: str = "auto"
    text_column: str = "text"
    labels_column: str = "labels"
    id_column: str = "id"
    labels_sep: str = ";"
    labels_required: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"The 'format' parameter must be one of {', '.join(FORMATS)}. "
                             f"Got {self.format!r} instead.")


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def detect_format(path: Path) -> str:
    """Guess the format of ``path`` from its name, layout or first bytes."""
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if any(n.endswith("-labels-subtask-3.txt") for n in names):
            return "semeval-persuasion"
        if any(n.endswith("-labels-subtask-2.txt") for n in names):
            return "semeval-frames"
        if any(n.startswith("final_labels_") and n.endswith(".csv") for n in names):
            return "babe"
        return "txt-dir"
    name = _strip_gz(path)
    if name.endswith(("-labels-subtask-3.txt", "-labels-subtask-3.template")):
        return "semeval-persuasion"
    if name.endswith("-labels-subtask-2.txt"):
        return "semeval-frames"
    if name.startswith("final_labels_") and name.endswith(".csv"):
        return "babe"
    for suffixes, fmt in (((".jsonl", ".ndjson", ".json"), "jsonl"), ((".csv",), "csv"),
                          ((".tsv",), "tsv"), ((".parquet", ".pq"), "parquet"),
                          ((".xml", ".rss", ".atom"), "rss"), ((".txt",), "txt-dir")):
        if name.endswith(suffixes):
            return fmt
    try:
        with open_binary(path) as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        head = b""
    if head.startswith(b"<"):
        return "rss"
    if head.startswith(b"{"):
        return "jsonl"
    raise ValueError(f"{path}: cannot tell the format from the name; pass --format "
                     f"({', '.join(FORMATS[1:])})")


def _file_problem(path: Path) -> RecordError | None:
    """Whole-file problems: missing, empty, binary."""
    if not path.exists():
        return RecordError(str(path), 0, "<file>", "file not found", "check the path")
    if path.is_dir():
        return None
    if path.stat().st_size == 0:
        return RecordError(str(path), 0, "<file>", "file is empty (0 bytes)",
                           "remove it from the inputs or fill it")
    if path.suffix.lower() == ".parquet":
        return None
    with open_binary(path) as fh:
        try:
            head = fh.read(8192)
        except OSError as exc:  # e.g. a corrupt .gz
            return RecordError(str(path), 0, "<file>", f"cannot read: {exc}", "check the file")
    if b"\x00" in head:
        return RecordError(str(path), 0, "<file>",
                           "looks binary (NUL bytes), not UTF-8 text",
                           "pass a text file, or --format parquet for Parquet")
    return None


def _decode(raw: bytes, source: str, line: int, fld: str = "<line>") -> str | RecordError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(source, line, fld, f"invalid UTF-8 at byte {exc.start}: "
                           f"{raw[max(0, exc.start - 10):exc.start + 10]!r}",
                           "re-encode the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)")
    return text


def _mapper(opts: ReadOptions) -> Callable[[dict[str, Any]], dict[str, Any]]:
    renames = {opts.text_column: "text", opts.labels_column: "labels", opts.id_column: "id"}
    renames = {k: v for k, v in renames.items() if k != v}
    if not renames:
        return lambda d: d

    def apply(d: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in d.items() if k not in renames.values()}
        for src, dst in renames.items():
            if src in d:
                out[dst] = d[src]
        return out

    return apply


def _passage(raw: Any, source: str, line: int, opts: ReadOptions, default_id: str,
             labels_text_ok: bool = False) -> Item:
    try:
        return record_to_passage(raw, source=source, line=line, labels_sep=opts.labels_sep,
                                 labels_required=opts.labels_required, default_id=default_id,
                                 labels_text_ok=labels_text_ok)
    except RecordErrorException as exc:
        return exc.error


def read_jsonl(path: Path, opts: ReadOptions) -> Iterator[Item]:
    source, remap = str(path), _mapper(opts)
    with open_binary(path) as fh:
        for lineno, raw_line in enumerate(fh, 1):
            if lineno == 1 and raw_line.startswith(b"\xef\xbb\xbf"):
                raw_line = raw_line[3:]
            if not raw_line.strip():
                continue
            text = _decode(raw_line, source, lineno)
            if isinstance(text, RecordError):
                yield text
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RecordError(source, lineno, "<record>",
                                  f"not valid JSON: {exc.msg} at column {exc.colno}",
                                  "write one complete JSON object per line",
                                  raw=text.strip()[:300])
                continue
            if isinstance(obj, dict):
                obj = remap(obj)
            yield _passage(obj, source, lineno, opts, default_id=f"{path.stem}:{lineno}")


def read_csv(path: Path, opts: ReadOptions, delimiter: str) -> Iterator[Item]:
    source, remap = str(path), _mapper(opts)
    with open_binary(path) as raw:
        import io

        fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        reader = csv.DictReader(fh, delimiter=delimiter)
        if reader.fieldnames is None:
            yield RecordError(source, 1, "<header>", "no header row", "add a header row")
            return
        if opts.text_column not in reader.fieldnames:
            yield RecordError(source, 1, opts.text_column,
                              f"no column {opts.text_column!r}; columns found: "
                              f"{sorted(reader.fieldnames)}",
                              "name the text column with --text-column")
            return
        count = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield RecordError(source, reader.line_num, "<record>", f"malformed CSV: {exc}",
                                  "check quoting")
                continue
            count += 1
            lineno = reader.line_num
            if None in row:
                yield RecordError(source, lineno, "<record>",
                                  f"{len(row[None]) + len(reader.fieldnames)} cells for "
                                  f"{len(reader.fieldnames)} columns",
                                  "quote cells that contain the delimiter")
                continue
            bad = next((k for k, v in row.items() if isinstance(v, str) and _has_surrogate(v)), None)
            if bad is not None:
                yield RecordError(source, lineno, bad, "invalid UTF-8 bytes",
                                  "re-encode the file as UTF-8")
                continue
            clean = {k: (v if v != "" else None) for k, v in row.items()}
            yield _passage(remap(clean), source, lineno, opts, default_id=f"{path.stem}:{count}",
                           labels_text_ok=True)


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_parquet(path: Path, opts: ReadOptions) -> Iterator[Item]:
    import pyarrow.parquet as pq

    source, remap = str(path), _mapper(opts)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        yield RecordError(source, 0, "<file>", f"not a Parquet file: {exc}",
                          "pass a Parquet file or the right --format")
        return
    row = 0
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            row += 1
            yield _passage(remap(rec), source, row, opts, default_id=f"{path.stem}:{row}")


def read_rss(path: Path, opts: ReadOptions) -> Iterator[Item]:
    import datetime as dt

    import feedparser

    source = str(path)
    with open_binary(path) as fh:
        data = fh.read()
    parsed = feedparser.parse(data)
    if not parsed.entries:
        why = parsed.get("bozo_exception") or "no <item> or <entry> elements"
        yield RecordError(source, 0, "<file>", f"not a valid RSS/Atom feed: {why}",
                          "pass an RSS 2.0 or Atom XML file, or the right --format")
        return
    channel = parsed.feed.get("title")
    for n, entry in enumerate(parsed.entries, 1):
        body = ""
        if entry.get("content"):
            body = entry.content[0].get("value", "")
        if not body.strip():
            body = entry.get("summary", "") or entry.get("description", "")
        text = html_to_text(body)
        published = None
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        if stamp:
            published = dt.date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday).isoformat()
        outlet = None
        src = entry.get("source")
        if isinstance(src, dict):
            outlet = src.get("title")
        outlet = outlet or channel
        raw = {
            "id": entry.get("id") or entry.get("link") or f"{path.stem}:{n}",
            "text": text,
            "title": html_to_text(entry.get("title", "")) or None,
            "outlet": outlet,
            "published": published,
            "url": entry.get("link"),
        }
        item = _passage(raw, source, n, opts, default_id=f"{path.stem}:{n}")
        if isinstance(item, RecordError):
            item = RecordError(item.source, item.line, item.field,
                               f"feed item {n}: {item.message}", item.hint, raw=item.raw)
        yield item


def read_txt(path: Path, opts: ReadOptions) -> Iterator[Item]:
    files = sorted(path.glob("*.txt")) + sorted(path.glob("*.txt.gz")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        yield RecordError(str(path), 0, "<folder>", "no .txt files in the folder",
                          "point at a folder of .txt articles or pass --format")
        return
    for n, file in enumerate(files, 1):
        problem = _file_problem(file)
        if problem:
            yield problem
            continue
        with open_binary(file) as fh:
            text = _decode(fh.read(), str(file), 0, "text")
        if isinstance(text, RecordError):
            yield text
            continue
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        title = lines[0].strip() if len(lines) > 2 and not lines[1].strip() else None
        stem = file.name.split(".")[0]
        yield _passage({"id": stem, "article_id": stem, "title": title, "text": text},
                       str(file), n, opts, default_id=stem)


def iter_file(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Yield the records of one input (file or folder) in its detected or given format."""
    problem = _file_problem(path)
    if problem:
        yield problem
        return
    try:
        fmt = detect_format(path) if opts.format == "auto" else opts.format
    except ValueError as exc:
        yield RecordError(str(path), 0, "<file>", str(exc), "pass --format")
        return
    if fmt == "jsonl":
        yield from read_jsonl(path, opts)
    elif fmt in ("csv", "tsv"):
        yield from read_csv(path, opts, "\t" if fmt == "tsv" else ",")
    elif fmt == "parquet":
        yield from read_parquet(path, opts)
    elif fmt == "rss":
        yield from read_rss(path, opts)
    elif fmt == "txt-dir":
        yield from read_txt(path, opts)
    else:
        from framescope.data import adapters

        yield from adapters.ADAPTERS[fmt](path, opts)
