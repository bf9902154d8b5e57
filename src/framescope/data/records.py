"""What every reader shares: read options, the column mapping, UTF-8 decoding with a precise
error, and turning one raw record into a :class:`Passage` or a :class:`RecordError`.

Readers of generic formats (:mod:`framescope.data.readers`), the public-dataset adapters
(:mod:`framescope.data.adapters`) and the real-text yardstick (:mod:`framescope.data.real`) all
build on this module; :mod:`framescope.data.formats` dispatches between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.schema import Passage, RecordErrorException, record_to_passage

__all__ = [
    "FORMATS",
    "LABEL_LIKE_COLUMNS",
    "LABEL_SHEET_MARKERS",
    "Item",
    "ReadOptions",
    "column_mapper",
    "decode",
    "to_passage",
    "warn_ignored_label_columns",
]

logger = logging.getLogger(__name__)

Item = Passage | RecordError

#: Values accepted by ``--format``.
FORMATS = ("auto", "jsonl", "csv", "tsv", "parquet", "rss", "txt-dir",
           "semeval-persuasion", "semeval-frames", "babe", "real")

#: Column names that look like labels; one present but not read as labels gets a warning.
LABEL_LIKE_COLUMNS = ("labels", "label", "tags", "tag", "frames", "frame", "categories",
                      "category", "class", "classes", "target", "targets")
#: Columns of the spreadsheet ``framescope label select`` writes: its ``labels`` cells are an
#: annotation form (``none`` = no frame, empty = not labelled yet), read by ``label import``.
LABEL_SHEET_MARKERS = ("text_sha1", "labels", "rank")


@dataclass
class ReadOptions:
    """How to read tabular inputs.

    Attributes:
        format: one of :data:`FORMATS`.
        text_column, labels_column, id_column: input column names mapped to ``text``,
            ``labels`` and ``id`` (JSONL, CSV/TSV, Parquet). With the default ``labels``, a
            ``label`` column (the Hugging Face convention: one label per record) is read as
            labels too when there is no ``labels`` column.
        labels_sep: separator of labels written as ``a;b`` in a text cell.
        labels_required: reject records without ``labels`` (training and evaluation).
        delimiter: the CSV field delimiter (default: ``,`` for csv, tab for tsv).
        max_record_chars: the longest record text accepted (a longer one is a bad record naming
            its length: reading and cutting it costs memory in proportion). Feeds, which are
            parsed whole, may be at most this many bytes.
    """

    format: str = "auto"
    text_column: str = "text"
    labels_column: str = "labels"
    id_column: str = "id"
    labels_sep: str = ";"
    labels_required: bool = False
    delimiter: str | None = None
    max_record_chars: int = 50_000_000
    _warned: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_record_chars, bool) or not isinstance(self.max_record_chars, int) \
                or self.max_record_chars < 1:
            raise ValueError(f"The 'max_record_chars' parameter must be a positive integer. "
                             f"Got {self.max_record_chars!r} instead.")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"The 'delimiter' parameter must be one character. Got {self.delimiter!r} instead.")
        if self.format not in FORMATS:
            raise ValueError(f"The 'format' parameter must be one of {', '.join(FORMATS)}. "
                             f"Got {self.format!r} instead.")


def decode(raw: bytes, source: str, line: int, fld: str = "<line>") -> str | RecordError:
    """``raw`` as UTF-8 text, or a :class:`RecordError` that names the offending bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(source, line, fld, f"invalid UTF-8 at byte {exc.start}: "
                           f"{raw[max(0, exc.start - 10):exc.start + 10]!r}",
                           "re-encode the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)")


def column_mapper(opts: ReadOptions) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function renaming a record's columns to the canonical ``text``, ``labels`` and ``id``.

    With the default labels column, a record without ``labels`` but with ``label`` gets its
    ``label`` as ``labels`` (a string or number becomes a one-label list).
    """
    renames = {opts.text_column: "text", opts.labels_column: "labels", opts.id_column: "id"}
    renames = {k: v for k, v in renames.items() if k != v}
    hf_label = opts.labels_column == "labels"

    def apply(d: dict[str, Any]) -> dict[str, Any]:
        if renames:
            out = {k: v for k, v in d.items() if k not in renames.values()}
            for src, dst in renames.items():
                if src in d:
                    out[dst] = d[src]
        else:
            out = dict(d)
        if hf_label and out.get("labels") is None and out.get("label") is not None:
            value = out.pop("label")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = [str(int(value)) if float(value).is_integer() else str(value)]
            elif isinstance(value, str) and not value.strip().startswith("["):
                value = [value]
            out["labels"] = value
        return out

    return apply


def warn_ignored_label_columns(source: str, columns: Iterable[str], opts: ReadOptions) -> None:
    """Warn once per input when a column that looks like labels is not read as labels."""
    used = {opts.labels_column} | ({"label"} if opts.labels_column == "labels" else set())
    ignored = [c for c in columns if c is not None and c.strip().lower() in LABEL_LIKE_COLUMNS
               and c not in used and c not in (opts.text_column, opts.id_column)]
    if ignored and source not in opts._warned:
        opts._warned.add(source)
        logger.warning("%s: column(s) %s look like labels but are ignored (labels are read from "
                       "%r); pass --labels-column %s to use them", source, ", ".join(map(repr, ignored)),
                       opts.labels_column, ignored[0])


def to_passage(raw: Any, source: str, line: int, opts: ReadOptions, default_id: str,
               labels_text_ok: bool = False) -> Item:
    """Validate one raw record; the passage, or the error naming its field."""
    text = raw.get("text") if isinstance(raw, dict) else None
    if isinstance(text, str) and len(text) > opts.max_record_chars:
        rid = raw.get("id")
        return RecordError(source, line, "text", f"{len(text):,} characters, over the limit of "
                           f"{opts.max_record_chars:,} (--max-record-chars)",
                           "split the record into articles, or raise --max-record-chars (memory "
                           "grows with the record)", raw=str(text[:200]),
                           record_id=str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None)
    try:
        return record_to_passage(raw, source=source, line=line, labels_sep=opts.labels_sep,
                                 labels_required=opts.labels_required, default_id=default_id,
                                 labels_text_ok=labels_text_ok)
    except RecordErrorException as exc:
        return exc.error
