"""Streaming readers of the generic formats; each yields :class:`Passage` or :class:`RecordError`.

Formats: ``jsonl``, ``csv``, ``tsv``, ``parquet``, ``rss`` (RSS 2.0/Atom) and ``txt-dir`` (a folder
of ``.txt`` articles, or one ``.txt`` file). ``.gz`` files are decompressed transparently. The
public-dataset adapters live in :mod:`framescope.data.adapters`; :mod:`framescope.data.formats`
detects a file's format and picks its reader.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.html import html_to_text
from framescope.data.io import csv_rows, open_binary, parse_json
from framescope.data.records import (
    LABEL_SHEET_MARKERS,
    Item,
    ReadOptions,
    column_mapper,
    decode,
    to_passage,
    warn_ignored_label_columns,
)

__all__ = ["file_problem", "read_csv", "read_jsonl", "read_parquet", "read_rss", "read_txt"]


def file_problem(path: Path) -> RecordError | None:
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
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    if b"\x00" in head and (controls > max(2, len(head) // 100) or not _utf8(head)):
        # binary; a stray NUL in text that is otherwise UTF-8 only rejects its own record
        return RecordError(str(path), 0, "<file>",
                           "looks binary (NUL bytes, not UTF-8 text)",
                           "pass a text file, or --format parquet for Parquet")
    return None


def _utf8(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes, maybe cut inside a character) is valid UTF-8."""
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def read_jsonl(path: Path, opts: ReadOptions) -> Iterator[Item]:
    source, remap = str(path), column_mapper(opts)
    with open_binary(path) as fh:
        lineno = 0
        for raw_line in fh:  # not enumerate(): its cached tuple would keep a huge line alive
            lineno += 1
            if lineno == 1 and raw_line.startswith(b"\xef\xbb\xbf"):
                raw_line = raw_line[3:]
            if not raw_line or raw_line.isspace():  # not strip(): a copy of a huge line
                continue
            text = decode(raw_line, source, lineno)
            del raw_line  # one copy of a huge line at a time
            if isinstance(text, RecordError):
                yield text
                continue
            try:
                obj = parse_json(text)
            except json.JSONDecodeError as exc:
                yield RecordError(source, lineno, "<record>",
                                  f"not valid JSON: {exc.msg} at column {exc.colno}",
                                  "write one complete JSON object per line",
                                  raw=text.strip()[:300])
                continue
            except ValueError as exc:
                yield RecordError(source, lineno, getattr(exc, "key", "<record>"), str(exc),
                                  "write one JSON object per line, each key once",
                                  raw=text.strip()[:300])
                continue
            del text  # the parsed record holds the text now: one copy of a huge line at a time
            if isinstance(obj, dict):
                warn_ignored_label_columns(source, obj, opts)
                obj = remap(obj)
            item = to_passage(obj, source, lineno, opts, default_id=f"{path.stem}:{lineno}")
            del obj  # a paused generator keeps its locals
            yield item


def _delimiter_hint(header: list[str], delimiter: str, text_column: str) -> str:
    """How to fix a missing text column: another delimiter when the header splits on one."""
    line = delimiter.join(header)
    for other in (";", "\t", "|", ","):
        if other != delimiter and text_column in [c.strip() for c in line.split(other)]:
            name = {"\t": "'\\t'"}.get(other, repr(other))
            return f"the header looks {name}-delimited: pass --delimiter {name}"
    return "name the text column with --text-column"


def _swallowed_rows(row: dict[str, Any], delimiter: str, columns: int) -> int:
    """How many lines inside one cell look like CSV rows of this file: the trace of an
    unterminated quote that swallowed the rows after it."""
    most = 0
    for value in row.values():
        if isinstance(value, str) and value.count("\n") >= 2:
            lines = value.split("\n")[1:]
            most = max(most, sum(line.count(delimiter) >= columns - 1 for line in lines))
    return most


def read_csv(path: Path, opts: ReadOptions, delimiter: str) -> Iterator[Item]:
    source, remap = str(path), column_mapper(opts)
    delimiter = opts.delimiter or delimiter
    with open_binary(path) as raw:
        import io

        fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        reader = csv.DictReader(fh, delimiter=delimiter)
        if reader.fieldnames is None:
            yield RecordError(source, 1, "<header>", "no header row", "add a header row")
            return
        warn_ignored_label_columns(source, reader.fieldnames, opts)
        if opts.text_column not in reader.fieldnames:
            yield RecordError(source, 1, opts.text_column,
                              f"no column {opts.text_column!r}; columns found: "
                              f"{sorted(reader.fieldnames)}",
                              _delimiter_hint(list(reader.fieldnames), delimiter, opts.text_column))
            return
        if (opts.labels_required and opts.labels_column == "labels"
                and set(LABEL_SHEET_MARKERS) <= set(reader.fieldnames)):
            yield RecordError(source, 1, "labels",
                              "this is a label sheet from `framescope label select`: its 'labels' cells are "
                              "an annotation form ('none' = no frame, empty = not labelled yet) that would "
                              "be misread as labels here",
                              f"turn it into labelled data first: framescope label import {path} "
                              "--taxonomy TAXONOMY --out labelled.jsonl, then use labelled.jsonl")
            return
        columns = len(reader.fieldnames)
        count, last_line = 0, 1
        for item in csv_rows(reader, source):
            count += 1
            if isinstance(item, RecordError):
                yield item
                last_line = reader.line_num
                continue
            lineno, row = item
            first_line, last_line = last_line + 1, lineno
            if lineno - first_line >= 2 and (n := _swallowed_rows(row, delimiter, columns)) >= 2:
                yield RecordError(source, first_line, "<record>",
                                  f"one record spans lines {first_line}-{lineno} and holds {n} lines "
                                  "that look like rows of this file: an unterminated quote?",
                                  "close the quote that opens on this line (or double a quote "
                                  "inside a quoted cell: \"\")")
                continue
            bad = next((k for k, v in row.items() if isinstance(v, str) and _has_surrogate(v)), None)
            if bad is not None:
                yield RecordError(source, lineno, bad, "invalid UTF-8 bytes",
                                  "re-encode the file as UTF-8")
                continue
            clean = {k: (v if v != "" else None) for k, v in row.items()}
            yield to_passage(remap(clean), source, lineno, opts, default_id=f"{path.stem}:{count}",
                           labels_text_ok=True)


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_parquet(path: Path, opts: ReadOptions) -> Iterator[Item]:
    import pyarrow.parquet as pq

    source, remap = str(path), column_mapper(opts)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        yield RecordError(source, 0, "<file>", f"not a Parquet file: {exc}",
                          "pass a Parquet file or the right --format")
        return
    warn_ignored_label_columns(source, pf.schema_arrow.names, opts)
    row = 0
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            row += 1
            yield to_passage(remap(rec), source, row, opts, default_id=f"{path.stem}:{row}")


def read_rss(path: Path, opts: ReadOptions) -> Iterator[Item]:
    import datetime as dt

    import feedparser

    source = str(path)
    with open_binary(path) as fh:
        data = fh.read(opts.max_record_chars + 1)  # feedparser reads a feed whole: bound it
    if len(data) > opts.max_record_chars:
        yield RecordError(source, 0, "<file>", f"feed is over {opts.max_record_chars:,} bytes "
                          "(--max-record-chars); feeds are parsed whole, so memory grows with them",
                          "split the feed, convert it to JSONL, or raise --max-record-chars")
        return
    # our own HTML-to-text conversion strips markup; feedparser's sanitiser would only copy it
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    del data
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
        item = to_passage(raw, source, n, opts, default_id=f"{path.stem}:{n}")
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
        problem = file_problem(file)
        if problem:
            yield problem
            continue
        limit = 4 * opts.max_record_chars  # UTF-8: at most 4 bytes a character
        with open_binary(file) as fh:
            raw = fh.read(limit + 1)
        if len(raw) > limit:
            yield RecordError(str(file), 0, "text", f"over {opts.max_record_chars:,} characters "
                              "(--max-record-chars)", "split the article, or raise --max-record-chars")
            continue
        text = decode(raw, str(file), 0, "text")
        del raw
        if isinstance(text, RecordError):
            yield text
            continue
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        title = lines[0].strip() if len(lines) > 2 and not lines[1].strip() else None
        stem = file.name.split(".")[0]
        yield to_passage({"id": stem, "article_id": stem, "title": title, "text": text},
                       str(file), n, opts, default_id=stem)
