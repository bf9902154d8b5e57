"""The scored-row schema: what ``framescope score`` writes and ``framescope report`` reads.

One module owns both sides, so the two cannot drift apart:

- **layout**: output formats by suffix (``.jsonl``, ``.csv``, ``.parquet``), the passage and
  article files of a ``--level both`` run, column orders, the typed Parquet schema;
- **rows**: :func:`passage_rows` (one per scored passage) and :class:`ArticleCombiner` (article
  rows from passage rows, with the model's combine rule of :mod:`framescope.inference`);
- **writing**: :func:`write_rows` (atomic, streaming; CSV cells holding dicts/lists as JSON);
- **reading**: :func:`read_scored_rows` and :func:`parse_row`, which check every field and name
  the file, line and field of anything malformed.

Passage rows::

    id, article_id, index, start, end, text, scores {label: p}, labels, [evidence {label: [{start,
    end, text, weight}]}], title, outlet, published, url, model {name, fingerprint}

Article rows::

    article_id, title, outlet, published, url, passages, scores {label: p}, labels,
    best_passage {label: passage id}, model {name, fingerprint}
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from framescope.data.errors import DataError, RecordError
from framescope.data.io import atomic_path, csv_rows, open_binary, parse_json, table_format
from framescope.data.schema import Passage, parse_labels
from framescope.inference import COMBINE_RULES, SCORE_DIGITS, ChunkResult, combine

__all__ = [
    "LEVELS",
    "META",
    "OUTPUT_FORMATS",
    "ArticleCombiner",
    "RowError",
    "ScoredRow",
    "article_columns",
    "default_errors_path",
    "iter_jsonl",
    "json_line",
    "output_format",
    "output_paths",
    "parquet_schema",
    "parse_row",
    "passage_columns",
    "passage_rows",
    "publish",
    "read_scored_rows",
    "scored_format",
    "write_rows",
]

#: Output formats of scored files.
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
#: What a run writes: passage rows, article rows, or both (two files).
LEVELS = ("passage", "article", "both")
#: Article metadata carried by every row.
META = ("title", "outlet", "published", "url")
_ERROR_FILE_KEYS = {"source", "line", "field", "message"}


# --------------------------------------------------------------------------------------------
# layout


def output_format(out: Path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` when given, else from ``out``'s suffix.

    Raises:
        DataError: when the suffix is not one of ``.jsonl``, ``.csv``, ``.parquet``.
    """
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise DataError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        return fmt
    found = table_format(out)
    if found not in OUTPUT_FORMATS:
        raise DataError(f"cannot tell the output format of {out} from its suffix {out.suffix!r}; "
                        "name it .jsonl, .csv or .parquet, or pass --out-format")
    return found


def output_paths(out: Path, level: str) -> dict[str, Path]:
    """Where each level is written: ``{"passage": OUT}``, ``{"article": OUT}`` or, for
    ``both``, ``OUT`` and ``OUT`` with ``.articles`` before the suffix.

    Example:
        >>> output_paths(Path("scores.jsonl"), "both")["article"].name
        'scores.articles.jsonl'
    """
    if level == "passage":
        return {"passage": out}
    if level == "article":
        return {"article": out}
    return {"passage": out, "article": out.with_name(f"{out.stem}.articles{out.suffix}")}


def default_errors_path(out: Path) -> Path:
    """``reports/scores.jsonl`` → ``reports/scores.errors.jsonl``."""
    return out.with_name(out.name.split(".")[0] + ".errors.jsonl")


def passage_columns(evidence: bool = False) -> list[str]:
    """Column order of passage rows."""
    cols = ["id", "article_id", "index", "start", "end", "text", "scores", "labels"]
    if evidence:
        cols.append("evidence")
    return [*cols, *META, "model"]


def article_columns() -> list[str]:
    """Column order of article rows."""
    return ["article_id", *META, "passages", "scores", "labels", "best_passage", "model"]


# --------------------------------------------------------------------------------------------
# rows


def passage_rows(passages: Sequence[Passage], result: ChunkResult, labels: Sequence[str],
                 model: dict[str, str]) -> Iterator[dict[str, Any]]:
    """One row per scored passage (``result`` holds the rounded scores and their decisions)."""
    for k, p in enumerate(passages):
        row: dict[str, Any] = {
            "id": p.id, "article_id": p.article_id, "index": p.index, "start": p.start,
            "end": p.end, "text": p.text,
            "scores": {lab: float(v) for lab, v in zip(labels, result.probs[k])},
            "labels": [lab for lab, on in zip(labels, result.decisions[k]) if on],
        }
        if result.evidence is not None:
            row["evidence"] = result.evidence[k]
        for name in META:
            row[name] = getattr(p, name)
        row["model"] = model
        yield row


@dataclass
class _Article:
    article_id: str
    meta: dict[str, Any]
    ids: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    texts: list[str] | None = None

    def add(self, row: dict[str, Any], labels: Sequence[str]) -> None:
        for m in META:
            if self.meta.get(m) is None:
                self.meta[m] = row.get(m)
        n = len(self.ids)
        if n == len(self.scores):  # a growing array: a long article costs 8 bytes a score
            grown = np.zeros((max(16, 2 * n), len(labels)))
            if n:
                grown[:n] = self.scores[:n]
            self.scores = grown
        self.scores[n] = [float(row["scores"][lab]) for lab in labels]
        self.ids.append(str(row["id"]))
        if self.texts is not None:
            self.texts.append(str(row.get("text") or ""))


class ArticleCombiner:
    """Article rows from passage rows, streaming, with one combine rule for every article.

    An article's scores are :func:`framescope.inference.combine` over its passages' written
    scores (``max``, ``noisy-or`` or ``mean``), rounded to ``SCORE_DIGITS``; its labels are
    decided on those scores by ``decide`` (the model's thresholds or argmax); ``best_passage``
    names, for every label, the passage with the highest score (the first on ties). Passages
    of an article are usually adjacent; an article whose passages are scattered through the
    input is held until its last passage (a first pass counts the runs), so memory stays
    bounded by the largest article, whatever the input.

    Args:
        labels: label ids (the order of the score columns).
        decide: decisions from an ``(n, n_labels)`` score array.
        method: the combine rule.
        model: the ``model`` value of the rows.
        fuse: ``(combined scores, article text) -> scores`` for a model fused with TF-IDF
            (:func:`framescope.inference.article_fuser`; the text is the passages' texts joined by
            blank lines); ``decide`` then takes the fusion's thresholds.

    Example:
        >>> rows = [{"id": "a#0", "article_id": "a", "scores": {"x": 0.2}},
        ...         {"id": "a#1", "article_id": "a", "scores": {"x": 0.9}}]
        >>> next(ArticleCombiner(["x"], lambda p: p >= 0.5).rows(rows))["best_passage"]
        {'x': 'a#1'}
    """

    def __init__(self, labels: Sequence[str], decide: Callable[[np.ndarray], np.ndarray], *,
                 method: str = "max", model: dict[str, str] | None = None,
                 fuse: Callable[[np.ndarray, str], np.ndarray] | None = None) -> None:
        if method not in COMBINE_RULES:
            raise ValueError(f"The 'method' parameter must be one of {', '.join(COMBINE_RULES)}. "
                             f"Got {method!r} instead.")
        self.labels = list(labels)
        self.decide = decide
        self.method = method
        self.model = model
        self.fuse = fuse

    def finish(self, art: _Article) -> dict[str, Any]:
        """The article row of a complete article."""
        pieces = art.scores[:len(art.ids)]
        combined = combine(pieces, np.zeros(len(pieces), dtype=np.int64), 1, self.method)[0]
        if self.fuse is not None:
            combined = self.fuse(combined, "\n\n".join(art.texts or []))
        scores = np.round(combined, SCORE_DIGITS)
        decided = self.decide(scores[None, :])[0]
        best = pieces.argmax(axis=0)
        return {
            "article_id": art.article_id, **art.meta, "passages": len(art.ids),
            "scores": {lab: float(v) for lab, v in zip(self.labels, scores)},
            "labels": [lab for lab, on in zip(self.labels, decided) if on],
            "best_passage": {lab: art.ids[int(b)] for lab, b in zip(self.labels, best)},
            "model": self.model,
        }

    def rows(self, rows: Iterable[dict[str, Any]] | Callable[[], Iterable[dict[str, Any]]]
             ) -> Iterator[dict[str, Any]]:
        """Article rows for passage ``rows`` (or a function returning a fresh iterator over them,
        read twice), in the order each article's last passage appears."""
        if callable(rows):
            factory = rows
        else:
            materialised = rows if isinstance(rows, (list, tuple)) else list(rows)

            def factory() -> Iterable[dict[str, Any]]:
                return materialised

        runs: dict[str, int] = {}
        previous = None
        for row in factory():
            key = str(row.get("article_id") or row["id"])
            if key != previous:
                runs[key] = runs.get(key, 0) + 1
                previous = key
        held: dict[str, _Article] = {}
        current: _Article | None = None
        for row in factory():
            key = str(row.get("article_id") or row["id"])
            if current is not None and current.article_id != key:
                if (done := self._close(current, runs, held)) is not None:
                    yield done
                current = None
            if current is None:
                current = held.pop(key, None) or _Article(key, {m: row.get(m) for m in META},
                                                          texts=[] if self.fuse is not None else None)
            current.add(row, self.labels)
        if current is not None and (done := self._close(current, runs, held)) is not None:
            yield done

    def _close(self, art: _Article, runs: dict[str, int], held: dict[str, _Article]) -> dict[str, Any] | None:
        runs[art.article_id] -= 1
        if runs[art.article_id] == 0:
            return self.finish(art)
        held[art.article_id] = art
        return None


# --------------------------------------------------------------------------------------------
# writing


def json_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def parquet_schema(kind: str, labels: Sequence[str], evidence: bool) -> Any:
    import pyarrow as pa

    model = pa.struct([("name", pa.string()), ("fingerprint", pa.string())])
    scores = pa.struct([(lab, pa.float64()) for lab in labels])
    meta = [(m, pa.string()) for m in META]
    if kind == "article":
        return pa.schema([("article_id", pa.string()), *meta, ("passages", pa.int64()),
                          ("scores", scores), ("labels", pa.list_(pa.string())),
                          ("best_passage", pa.struct([(lab, pa.string()) for lab in labels])),
                          ("model", model)])
    fields = [("id", pa.string()), ("article_id", pa.string()), ("index", pa.int64()),
              ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
              ("scores", scores), ("labels", pa.list_(pa.string()))]
    if evidence:
        span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
                          ("weight", pa.float64())])
        fields.append(("evidence", pa.struct([(lab, pa.list_(span)) for lab in labels])))
    return pa.schema([*fields, *meta, ("model", model)])


def write_rows(rows: Iterable[dict[str, Any]], path: Path, fmt: str, columns: Sequence[str],
               schema: Any = None) -> int:
    """Stream ``rows`` atomically to ``path`` as JSONL, CSV (dicts/lists as JSON strings) or
    Parquet (typed ``schema``, row groups of 8,192 rows). Returns the number of rows."""
    count = 0
    with atomic_path(path, suffix=f".{fmt}.tmp") as tmp:
        if fmt == "jsonl":
            with open(tmp, "wb") as fh:
                for row in rows:
                    fh.write(json_line({c: row.get(c) for c in columns}))
                    count += 1
        elif fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_cell(row.get(c)) for c in columns])
                    count += 1
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = pq.ParquetWriter(tmp, schema)
            try:
                buf: list[dict[str, Any]] = []
                for row in rows:
                    buf.append(row)
                    count += 1
                    if len(buf) >= 8192:
                        writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                        buf = []
                if buf or count == 0:
                    writer.write_table(pa.Table.from_pylist(buf, schema=schema))
            finally:
                writer.close()
        else:
            raise ValueError(f"unknown output format {fmt!r}")
    return count


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def publish(part: Path, dest: Path) -> None:
    """Put a finished part file at ``dest`` atomically, leaving the part in place (hard link,
    or a copy where links are not possible), so an interrupted finalisation can be redone."""
    with atomic_path(dest, suffix=".tmp") as tmp:
        tmp.unlink()
        try:
            os.link(part, tmp)
        except OSError:
            shutil.copyfile(part, tmp)


# --------------------------------------------------------------------------------------------
# reading


def scored_format(path: Path) -> str:
    """The format of a scored file, from its suffix or (without one) its first bytes."""
    found = table_format(path)
    if found is not None:
        return found
    with open_binary(path) as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] == b"{":
        return "jsonl"
    raise DataError(f"{path}: cannot tell the format of this scored file (expected a .jsonl, .csv "
                    "or .parquet file written by 'framescope score')")


def read_scored_rows(path: Path) -> Iterator[tuple[int, Any] | RecordError]:
    """Yield ``(line, row)`` for each row of a scored file, or a :class:`RecordError`.

    JSONL lines are numbered from 1; CSV rows by their physical line; Parquet rows from 1.
    Cells of CSV (and string cells of Parquet) that hold JSON are decoded later, per field.
    """
    fmt = scored_format(path)
    source = str(path)
    if fmt == "jsonl":
        with open_binary(path) as fh:
            for lineno, raw in enumerate(fh, 1):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                try:
                    yield lineno, parse_json(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield RecordError(source, lineno, "<line>", f"invalid UTF-8 at byte {exc.start}",
                                      "re-encode the file as UTF-8")
                except json.JSONDecodeError as exc:
                    yield RecordError(source, lineno, "<record>",
                                      f"not valid JSON: {exc.msg} at column {exc.colno}",
                                      "the file may be truncated; re-run 'framescope score --resume'",
                                      raw=raw[:200].decode("utf-8", "replace"))
                except ValueError as exc:
                    yield RecordError(source, lineno, "<record>", str(exc),
                                      "pass files written by 'framescope score'",
                                      raw=raw[:200].decode("utf-8", "replace"))
    elif fmt in ("csv", "tsv"):
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with open_binary(path) as raw_fh:
            fh = io.TextIOWrapper(raw_fh, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
            for item in csv_rows(reader, source):
                if isinstance(item, RecordError):
                    yield item
                else:
                    yield item[0], {k: (None if v == "" else v) for k, v in item[1].items()}
    else:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several error types for a bad file
            yield RecordError(source, 0, "<file>", f"not a readable Parquet file: {exc}",
                              "pass a file written by 'framescope score'")
            return
        n = 0
        for batch in pf.iter_batches(batch_size=4096):
            for rec in batch.to_pylist():
                n += 1
                yield n, rec


class RowError(Exception):
    """A scored row whose field is malformed (turned into a :class:`RecordError` by callers)."""

    def __init__(self, fld: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.field, self.message, self.hint = fld, message, hint


def _json_cell(value: Any, fld: str, expect: type | tuple[type, ...]) -> Any:
    """Decode a JSON-string cell (CSV/Parquet) into ``expect``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str) and expect is not str:
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            if expect is list or expect == (list,):
                return parse_labels(text)
            raise RowError(fld, f"expected JSON, got {text[:60]!r} ({exc.msg})") from None
    if not isinstance(value, expect):
        raise RowError(fld, f"expected {getattr(expect, '__name__', expect)}, "
                             f"got {type(value).__name__} {str(value)[:60]!r}")
    return value


def _opt_str(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None and isinstance(row.get("meta"), dict):
        value = row["meta"].get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(name, f"expected a string, got {type(value).__name__} {str(value)[:60]!r}")
    text = str(value).strip()
    return text or None


def _opt_int(row: dict[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RowError(name, f"expected a non-negative integer, got {value!r:.40}")
    return value


def _date(row: dict[str, Any]) -> str | None:
    value = row.get("published")
    if value is None and isinstance(row.get("meta"), dict):
        value = row["meta"].get("published")
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            dt.date.fromisoformat(value.strip()[:10])
            return value.strip()[:10]
        except ValueError:
            pass
    raise RowError("published", f"expected an ISO date (YYYY-MM-DD…), got {value!r:.40}",
                    "dates are written by the data module as 2024-03-01")


def _scores(row: dict[str, Any], *, required: bool) -> dict[str, float]:
    raw = _json_cell(row.get("scores"), "scores", dict)
    if raw is None:  # flattened score columns: score.X / score_X / scores.X
        flat = {k.split(".", 1)[1] if "." in k else k[len("score_"):]: v for k, v in row.items()
                if k.startswith(("score.", "scores.", "score_")) and v is not None}
        raw = flat or None
    if raw is None:
        if required:
            raise RowError("scores", "missing", "passage rows need 'scores' {label: probability}")
        return {}
    if all(type(v) is float and 0.0 <= v <= 1.0 for v in raw.values()):  # the common case
        return {str(k): v for k, v in raw.items()}
    out: dict[str, float] = {}
    for label, value in raw.items():
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise RowError(f"scores.{label}", f"expected a probability, got {value!r:.40}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0):
            raise RowError(f"scores.{label}", f"expected a probability in [0, 1], got {value!r:.40}")
        out[str(label)] = float(value)
    return out


def _labels(row: dict[str, Any]) -> list[str]:
    value = row.get("labels")
    if value is None:
        raise RowError("labels", "missing", "scored rows list their predicted frames in 'labels' ([] for none)")
    labels = _json_cell(value, "labels", list)
    if not all(isinstance(x, str) for x in labels):
        raise RowError("labels", f"expected a list of label strings, got {labels!r:.60}")
    return labels


def _evidence(row: dict[str, Any], text: str) -> dict[str, list[dict[str, Any]]]:
    raw = _json_cell(row.get("evidence"), "evidence", dict)
    if not raw:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for label, spans in raw.items():
        if spans is None:  # Parquet structs hold every label; None = no evidence for it
            continue
        if not isinstance(spans, list):
            raise RowError(f"evidence.{label}", f"expected a list of spans, got {type(spans).__name__}")
        clean = []
        for i, span in enumerate(spans):
            where = f"evidence.{label}[{i}]"
            if not isinstance(span, dict):
                raise RowError(where, f"expected {{start, end, text, weight}}, got {span!r:.60}")
            start, end = span.get("start"), span.get("end")
            if (isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int)
                    or not isinstance(end, int) or not 0 <= start < end <= len(text)):
                raise RowError(where, f"span [{start!r}, {end!r}) does not lie inside the passage "
                                       f"text (length {len(text)})",
                                "evidence offsets are relative to the passage text")
            if isinstance(span.get("text"), str) and span["text"] != text[start:end]:
                raise RowError(where, f"span text {span['text']!r:.40} does not match the passage "
                                       f"text at [{start}, {end}): {text[start:end]!r:.40}")
            weight = span.get("weight")
            if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))):
                raise RowError(f"{where}.weight", f"expected a number, got {weight!r:.40}")
            clean.append({"start": start, "end": end, "weight": None if weight is None else float(weight)})
        out[str(label)] = clean
    return out


def _row_kind(row: dict[str, Any]) -> str:
    level = row.get("level") or row.get("row_type") or row.get("kind")
    if level in ("passage", "article"):
        return level
    if "best_passage" in row or "best_passages" in row:
        return "article"
    if row.get("text") is not None:
        return "passage"
    return "article"


def _model_key(row: dict[str, Any]) -> tuple[str, str | None]:
    model = row.get("model")
    if isinstance(model, str) and model.strip().startswith("{"):
        model = _json_cell(model, "model", dict)
    if isinstance(model, str) and model.strip():
        return model.strip(), None
    if isinstance(model, dict):
        fp = model.get("fingerprint")
        return str(model.get("name") or "unnamed"), None if fp is None else str(fp)
    return "unknown", None


@dataclass
class ScoredRow:
    """One checked scored row.

    Attributes:
        kind: ``passage`` or ``article``.
        key: the passage id (passage rows) or the article id (article rows).
        article_id: the article a passage belongs to (its own id when it stands alone).
        text: the passage text (``None`` for article rows).
        scores: ``{label: probability}`` (may be empty for article rows).
        labels: the predicted labels.
        evidence: ``{label: [{start, end, weight}]}`` (passage rows).
        meta: title, outlet, published (ISO date) and any requested extra field, when present.
        model: ``(name, fingerprint)``.
        index, start, end: the passage's position in its article.
    """

    kind: str
    key: str
    article_id: str
    text: str | None
    scores: dict[str, float]
    labels: list[str]
    evidence: dict[str, list[dict[str, Any]]]
    meta: dict[str, str]
    model: tuple[str, str | None]
    index: int | None = None
    start: int | None = None
    end: int | None = None


def parse_row(row: Any, *, fields: Sequence[str] = ()) -> ScoredRow:
    """Check one row of a scored file and return it as a :class:`ScoredRow`.

    ``fields`` names extra metadata fields to pick up (from the row or its ``meta`` dict).

    Raises:
        RowError: naming the malformed field.
    """
    if not isinstance(row, dict):
        raise RowError("<record>", f"expected a JSON object, got {type(row).__name__}",
                       "pass the output of 'framescope score'")
    if row.keys() >= _ERROR_FILE_KEYS and "text" not in row and "scores" not in row:
        raise RowError("<record>", "this is a row of a framescope errors file, not a scored row",
                       "leave *.errors.jsonl files out of the report inputs")
    meta = {name: v for name in dict.fromkeys((*META, *fields))
            if (v := (_date(row) if name == "published" else _opt_str(row, name))) is not None}
    labels = _labels(row)
    kind = _row_kind(row)
    model = _model_key(row)
    if kind == "article":
        key = _opt_str(row, "article_id") or _opt_str(row, "id")
        if key is None:
            raise RowError("article_id", "missing", "article rows need an 'article_id'")
        return ScoredRow("article", key, key, None, _scores(row, required=False), labels, {},
                         meta, model)
    pid = _opt_str(row, "id")
    if pid is None:
        raise RowError("id", "missing", "passage rows need an 'id'")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowError("text", f"expected a non-empty string, got {text!r:.40}")
    scores = _scores(row, required=True)
    unknown = [lab for lab in labels if lab not in scores]
    if unknown:
        raise RowError("labels", f"label(s) {unknown} have no score in 'scores' "
                                 f"(scored labels: {sorted(scores)})")
    return ScoredRow("passage", pid, _opt_str(row, "article_id") or pid, text, scores, labels,
                     _evidence(row, text), meta, model, _opt_int(row, "index"),
                     _opt_int(row, "start"), _opt_int(row, "end"))
