"""The one passage schema shared by training, evaluation and scoring."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any

from framescope.data.errors import RecordError

__all__ = ["PASSAGE_FIELDS", "Passage", "parse_labels", "record_to_passage"]

#: Fields of :class:`Passage` that readers map from input columns.
PASSAGE_FIELDS = (
    "id", "text", "labels", "article_id", "title", "outlet", "published", "url", "start", "end",
)
_OPTIONAL_STR = ("article_id", "title", "outlet", "url")


@dataclass
class Passage:
    """A unit of text to classify: a paragraph, a sentence window, or a whole article.

    Attributes:
        id: unique id within a dataset.
        text: the text itself (never empty).
        labels: label ids; ``None`` for unlabelled input (feeds), ``[]`` for "no label".
        article_id: the article a passage was cut from (used for grouping and aggregation).
        title, outlet, published (ISO date), url: article metadata.
        start, end: character offsets into the article text, when cut from an article.
        index: position of the passage within its article.
        split: the split a record came from (``train``/``dev``/``test``) when known.
        meta: adapter-specific extras (e.g. BABE's ``biased_words``).
        source, line: where the record was read, for error messages.
    """

    id: str
    text: str
    labels: list[str] | None = None
    article_id: str | None = None
    title: str | None = None
    outlet: str | None = None
    published: str | None = None
    url: str | None = None
    start: int | None = None
    end: int | None = None
    index: int | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)

    @property
    def group(self) -> str:
        """The article this passage belongs to (its own id when it stands alone)."""
        return self.article_id or self.id

    def to_dict(self, *, with_meta: bool = True) -> dict[str, Any]:
        """A JSON-ready dict with the non-empty fields, in schema order."""
        out: dict[str, Any] = {"id": self.id}
        for name in ("article_id", "title", "outlet", "published", "url", "split", "index",
                     "start", "end"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["text"] = self.text
        if self.labels is not None:
            out["labels"] = list(self.labels)
        if with_meta and self.meta:
            out["meta"] = self.meta
        return out


def parse_labels(value: Any, *, sep: str = ";") -> list[str]:
    """Parse a label cell: a list, a JSON list string, or ``a;b`` separated text.

    Raises:
        TypeError: when the value is neither a list of strings nor a string.
    """
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            bad = next(v for v in value if not isinstance(v, str))
            raise TypeError(f"expected a list of label strings, got an item {bad!r}")
        return [v.strip() for v in value if v.strip()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TypeError(f"labels look like a JSON list but do not parse: {exc.msg}") from exc
            return parse_labels(parsed, sep=sep)
        return [p.strip() for p in text.split(sep) if p.strip()]
    raise TypeError(f"expected a list of strings or a '{sep}'-separated string, got {type(value).__name__} {value!r}")


def _is_iso_date(value: str) -> bool:
    try:
        _dt.date.fromisoformat(value[:10])
    except ValueError:
        return False
    if len(value) > 10:
        try:
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    return True


def record_to_passage(
    raw: Any,
    *,
    source: str,
    line: int,
    labels_sep: str = ";",
    labels_required: bool = False,
    labels_text_ok: bool = False,
    default_id: str | None = None,
) -> Passage:
    """Validate one raw record (a dict of canonical field names) and build a :class:`Passage`.

    ``labels`` must be a list unless ``labels_text_ok`` (CSV/TSV cells may hold ``a;b`` text).

    Raises:
        RecordErrorException: carrying a :class:`RecordError` naming the field.
    """
    rid_seen = raw.get("id") if isinstance(raw, dict) else None

    def fail(fld: str, msg: str, hint: str) -> RecordErrorException:
        rid = str(rid_seen) if isinstance(rid_seen, (str, int)) and not isinstance(rid_seen, bool) else None
        return RecordErrorException(RecordError(source, line, fld, msg, hint, raw=_excerpt(raw),
                                                record_id=rid))

    if not isinstance(raw, dict):
        raise fail("<record>", f"expected a JSON object, got {type(raw).__name__}",
                   "write one object per line: {\"id\": ..., \"text\": ...}")
    if "text" not in raw or raw["text"] is None:
        raise fail("text", "missing", "every record needs a non-empty 'text' string")
    text = raw["text"]
    if not isinstance(text, str):
        raise fail("text", f"expected a string, got {type(text).__name__} {text!r:.40}",
                   "quote the text as a JSON string")
    if not text or text.isspace():  # not strip(): a copy of a 20 MB text, for one bool
        raise fail("text", "empty or whitespace only", "drop the record or fill in its text")
    if "\x00" in text:
        raise fail("text", "contains a NUL byte (binary data?)", "remove control characters")

    rid = raw.get("id", default_id)
    if rid is None or rid == "":
        rid = default_id
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise fail("id", f"expected a string or integer, got {type(rid).__name__} {rid!r:.40}",
                   "use a plain string id")
    if rid is None:
        raise fail("id", "missing", "give every record an 'id'")
    rid = str(rid)

    labels: list[str] | None
    if "labels" in raw and raw["labels"] is not None:
        if not labels_text_ok and not isinstance(raw["labels"], list):
            raise fail("labels", f"expected a list of label strings, got {type(raw['labels']).__name__} "
                       f"{raw['labels']!r:.40}", 'write labels as a JSON list: ["a", "b"] ([] for none)')
        try:
            labels = parse_labels(raw["labels"], sep=labels_sep)
        except TypeError as exc:
            raise fail("labels", str(exc), 'write labels as a JSON list: ["a", "b"]') from None
    else:
        labels = None
        if labels_required:
            raise fail("labels", "missing", "labelled data needs a 'labels' list ([] for none)")

    kwargs: dict[str, Any] = {}
    for name in _OPTIONAL_STR:
        value = raw.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "article_id":
            value = str(value)
        if not isinstance(value, str):
            raise fail(name, f"expected a string, got {type(value).__name__} {value!r:.40}",
                       f"write '{name}' as a string")
        kwargs[name] = value
    published = raw.get("published")
    if published not in (None, ""):
        if not isinstance(published, str) or not _is_iso_date(published):
            raise fail("published", f"expected an ISO date (YYYY-MM-DD), got {published!r:.40}",
                       "write dates as 2024-03-01 or 2024-03-01T12:00:00Z")
        kwargs["published"] = published
    for name in ("start", "end", "index"):
        value = raw.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, str) and value.isascii() and value.strip().isdigit():
            value = int(value)  # CSV/TSV cells are text
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail(name, f"expected a non-negative integer, got {value!r:.40}",
                       f"write '{name}' as an integer character offset")
        kwargs[name] = value
    if "start" in kwargs and "end" in kwargs and kwargs["start"] > kwargs["end"]:
        raise fail("end", f"end offset {kwargs['end']} is before start offset {kwargs['start']}",
                   "offsets are character positions with start <= end; swap or fix them")
    split = raw.get("split")
    if isinstance(split, str) and split:
        kwargs["split"] = split
    meta = raw.get("meta")
    if isinstance(meta, dict):
        kwargs["meta"] = meta
    return Passage(id=rid, text=text, labels=labels, source=source, line=line, **kwargs)


class RecordErrorException(Exception):
    """Internal carrier of a :class:`RecordError` raised while reading."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(str(error))
        self.error = error


def _excerpt(raw: Any, limit: int = 300) -> str:
    try:
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return text if len(text) <= limit else text[:limit] + "…"
