"""Analyst reports: turn ``framescope score`` output into frame prevalence, trends and evidence.

The pipeline is *JSON first*: :func:`build_summary` reads scored files (JSONL, CSV or Parquet;
passage rows and/or article rows) in one streaming pass and returns a JSON-ready summary;
:func:`write_report` renders that summary to ``summary.json``, CSV tables, PNG figures,
``report.md`` and a self-contained ``report.html``. Every number a chart shows is in the summary.

Definitions
    * An **article carries a frame** when its article row lists the frame in ``labels``; for
      articles that only have passage rows, when any of its passages does (the maximum over
      passages, with the model's thresholds already applied by ``framescope score``).
    * **Prevalence** of a frame in a group (an outlet by default) is the share of the group's
      articles that carry it, with a 95% Wilson score interval.
    * **Over time**, articles are binned by the ISO week (Monday first) or the calendar month of
      ``published``; periods with fewer than ``min_articles`` articles are flagged ``low_n`` and
      drawn as hollow markers outside the lines. Undated articles are left out and counted.
    * **Comparison** of two groups: per frame, a two-sided two-proportion z-test (pooled) when
      every expected cell count is at least 5, otherwise Fisher's exact test; Holm-adjusted
      p-values across frames; the difference in proportions with a Newcombe (Wilson-based)
      95% interval, and Cohen's h as the effect size; frames sorted by ``|h|``.

Example:
    >>> from framescope.reports.analyst import ReportConfig, build_summary, write_report
    >>> summary = build_summary(["scored.jsonl"], ReportConfig(period="week"))  # doctest: +SKIP
    >>> write_report(summary, "reports/feed")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import io
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data.errors import DataError, ErrorLog, RecordError
from framescope.data.taxonomy import Taxonomy
from framescope.reports.html import markdown_escape, template_env

__all__ = [
    "FORMAT_VERSION",
    "ReportConfig",
    "build_summary",
    "cohens_h",
    "compare_proportions",
    "highlight_segments",
    "holm_adjust",
    "make_report",
    "period_of",
    "read_scored_rows",
    "safe_url",
    "wilson_interval",
    "write_report",
]

#: Version of the ``summary.json`` layout.
FORMAT_VERSION = 1
#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
PERIODS = ("week", "month", "quarter", "year")
#: The group name used when an article has no value for the ``--by`` field.
UNKNOWN = "unknown {by}"
#: Resolution of the PNG figures (shown at 96 dpi in the HTML, so they stay sharp on HiDPI screens).
FIGURE_DPI = 144
#: Name of the all-articles series in the over-time tables.
ALL = "All articles"
_META_FIELDS = ("outlet", "published", "title", "url")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
             ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_ERROR_FILE_KEYS = {"source", "line", "field", "message"}


# --------------------------------------------------------------------------------------------
# configuration


@dataclass
class ReportConfig:
    """Options of an analyst report (the ``framescope report`` flags).

    Attributes:
        by: article field that defines the groups (``outlet`` by default; any article field).
        period: ``week`` (ISO weeks, Monday first), ``month``, ``quarter`` or ``year``.
        labels: frames to report (default: every frame in the scored files).
        min_articles: groups and periods with fewer articles are flagged ``low_n``.
        compare: two group names to compare frame by frame, or ``None``.
        top: evidence passages per frame.
        title: report title.
        taxonomy: label names and definitions for display (ids are always shown too); ``"auto"``
            uses the default taxonomy when it holds every scored label, else plain ids.
        max_chart_groups: most groups drawn as separate lines in the per-group time chart.
        max_heatmap_rows: most groups drawn in the heatmap (all are in the tables).
        progress: show progress bars while reading.
    """

    by: str = "outlet"
    period: str = "month"
    labels: list[str] | None = None
    min_articles: int = 5
    compare: tuple[str, str] | None = None
    top: int = 5
    title: str | None = None
    taxonomy: Taxonomy | str | None = None
    max_chart_groups: int = 8
    max_heatmap_rows: int = 40
    progress: bool = True

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise DataError(f"The 'period' parameter must be one of {', '.join(PERIODS)}. "
                            f"Got {self.period!r} instead.")
        if not isinstance(self.min_articles, int) or self.min_articles < 1:
            raise DataError(f"The 'min_articles' parameter must be an integer >= 1. "
                            f"Got {self.min_articles!r} instead.")
        if not isinstance(self.top, int) or self.top < 0:
            raise DataError(f"The 'top' parameter must be an integer >= 0. Got {self.top!r} instead.")
        if not self.by or not re.fullmatch(r"[A-Za-z_][\w.-]*", self.by):
            raise DataError(f"The 'by' parameter must be an article field name such as 'outlet'. "
                            f"Got {self.by!r} instead.")
        if self.by in ("published", "text", "id", "scores", "labels"):
            raise DataError(f"--by {self.by} does not define groups of articles; use a metadata "
                            "field such as outlet (use --period for time)")
        if self.compare is not None:
            if len(self.compare) != 2 or self.compare[0] == self.compare[1]:
                raise DataError(f"--compare needs two different {self.by} names, got {list(self.compare)}")
            self.compare = (str(self.compare[0]), str(self.compare[1]))

    @property
    def unknown_group(self) -> str:
        return UNKNOWN.format(by=self.by.replace("_", " "))


# --------------------------------------------------------------------------------------------
# statistics (pure functions)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes out of ``n`` (95% by default).

    With ``n == 0`` there is no information and the interval is ``(0.0, 1.0)``.

    Example:
        >>> [round(x, 4) for x in wilson_interval(5, 10)]
        [0.2366, 0.7634]
        >>> [round(x, 4) for x in wilson_interval(0, 10)]
        [0.0, 0.2775]
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h effect size between two proportions: ``2·asin(√p1) − 2·asin(√p2)``.

    |h| ≈ 0.2 is small, 0.5 medium, 0.8 large.

    Example:
        >>> round(cohens_h(0.5, 0.0), 4)
        1.5708
    """
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def _magnitude(h: float) -> str:
    a = abs(h)
    return "negligible" if a < 0.2 else "small" if a < 0.5 else "medium" if a < 0.8 else "large"


def compare_proportions(k1: int, n1: int, k2: int, n2: int) -> dict[str, Any]:
    """Compare ``k1/n1`` with ``k2/n2``: test, p-value, difference with 95% CI, Cohen's h.

    The test is a pooled two-proportion z-test when every expected cell count is at least 5
    and Fisher's exact test (two-sided, via scipy) otherwise.

    Raises:
        ValueError: when a group has no articles.

    Example:
        >>> r = compare_proportions(30, 50, 10, 50)
        >>> r["test"], round(r["difference"], 2), r["p_value"] < 0.001
        ('z-test', 0.4, True)
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"cannot compare proportions with an empty group (n1={n1}, n2={n2})")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if min(expected) >= 5:
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (p1 - p2) / se if se > 0 else 0.0
        p_value = math.erfc(abs(z) / math.sqrt(2)) if se > 0 else 1.0
        test, stat = "z-test", z
    else:
        from scipy.stats import fisher_exact

        res = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
        p_value, test = float(res.pvalue), "fisher-exact"
        stat = float(res.statistic) if math.isfinite(float(res.statistic)) else None
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    diff = p1 - p2
    h = cohens_h(p1, p2)
    return {
        "share_a": p1, "share_b": p2, "difference": diff,
        "difference_ci": [max(-1.0, diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
                          min(1.0, diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))],
        "cohens_h": h, "magnitude": _magnitude(h), "test": test, "statistic": stat,
        "p_value": min(1.0, float(p_value)),
    }


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in the input order.

    Example:
        >>> holm_adjust([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = round(running, 12)
    return adjusted


def period_of(day: dt.date, period: str) -> tuple[str, dt.date]:
    """The period label and start date of ``day``: ``('2024-W09', Monday)``, ``('2024-03', 1st)``,
    ``('2024-Q1', 1 Jan)`` or ``('2024', 1 Jan)``.

    Example:
        >>> period_of(dt.date(2024, 3, 1), "week")
        ('2024-W09', datetime.date(2024, 2, 26))
        >>> period_of(dt.date(2024, 3, 1), "month")[0], period_of(dt.date(2024, 3, 1), "quarter")[0]
        ('2024-03', '2024-Q1')
    """
    if period == "month":
        return f"{day.year}-{day.month:02d}", dt.date(day.year, day.month, 1)
    if period == "week":
        iso = day.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}", day - dt.timedelta(days=day.weekday())
    if period == "quarter":
        q = (day.month - 1) // 3
        return f"{day.year}-Q{q + 1}", dt.date(day.year, 3 * q + 1, 1)
    if period == "year":
        return str(day.year), dt.date(day.year, 1, 1)
    raise ValueError(f"period must be one of {PERIODS}, got {period!r}")


def _period_range(first: dt.date, last: dt.date, period: str) -> list[tuple[str, dt.date]]:
    """Every period from the one holding ``first`` to the one holding ``last`` (gaps included)."""
    out = []
    label, start = period_of(first, period)
    while start <= last:
        out.append((label, start))
        if period == "week":
            nxt = start + dt.timedelta(days=7)
        elif period == "year":
            nxt = dt.date(start.year + 1, 1, 1)
        else:
            months = 3 if period == "quarter" else 1
            m = start.month - 1 + months
            nxt = dt.date(start.year + m // 12, m % 12 + 1, 1)
        label, start = period_of(nxt, period)
    return out


def _share(k: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(k, n)
    return {"articles": n, "with_frame": k, "share": (k / n) if n else None,
            "ci_low": low, "ci_high": high}


# --------------------------------------------------------------------------------------------
# evidence highlighting and links


def highlight_segments(text: str, spans: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cut ``text`` into plain and highlighted segments from evidence spans.

    Overlapping spans are merged (keeping the larger weight); ``level`` (1–3) grades each
    highlight by its weight relative to the passage's strongest span. Segments hold raw text:
    the templates escape each one before wrapping highlights in ``<mark>``.

    Example:
        >>> [(s["text"], s["level"]) for s in highlight_segments("a proxy war", [{"start": 2, "end": 7, "weight": 0.9}])]
        [('a ', 0), ('proxy', 3), (' war', 0)]
    """
    clean = sorted((max(0, int(s["start"])), min(len(text), int(s["end"])),
                    1.0 if s.get("weight") is None else abs(float(s["weight"]))) for s in spans)
    clean = [c for c in clean if c[2] > 0]  # a zero-weight span drives nothing
    merged: list[list[Any]] = []
    for start, end, weight in clean:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = max(merged[-1][2], weight)
        else:
            merged.append([start, end, weight])
    top = max((m[2] for m in merged), default=0.0) or 1.0
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end, weight in merged:
        if start > pos:
            out.append({"text": text[pos:start], "level": 0, "weight": None})
        rel = weight / top
        out.append({"text": text[start:end], "level": 3 if rel > 0.67 else 2 if rel > 0.34 else 1,
                    "weight": weight})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "level": 0, "weight": None})
    return out


def safe_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) link, else ``None`` (never a ``javascript:`` link)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if re.match(r"(?i)^https?://[^\s<>\"']+$", url):
        return url
    return None


# --------------------------------------------------------------------------------------------
# reading scored files


def _scored_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    from framescope.data.io import open_binary

    with open_binary(path) as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] == b"{":
        return "jsonl"
    raise DataError(f"{path}: cannot tell the format of this scored file (expected a .jsonl, .csv "
                    "or .parquet file written by 'framescope score')")


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    from framescope.data.dataset import expand_inputs

    out: list[Path] = []
    for p in expand_inputs(paths):
        if p.is_dir():
            inner = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                           and not f.name.endswith(".errors.jsonl")
                           and _SUFFIXES.get(Path(f.name.removesuffix(".gz")).suffix))
            if not inner:
                raise DataError(f"{p}: folder holds no .jsonl, .csv or .parquet scored files")
            out.extend(inner)
        elif not p.exists():
            raise DataError(f"{p}: scored file not found (fix: check the path; pass the output "
                            "of 'framescope score')")
        else:
            out.append(p)
    if not out:
        raise DataError("no scored files given (pass the output of 'framescope score')")
    return out


def read_scored_rows(path: Path) -> Iterator[tuple[int, Any] | RecordError]:
    """Yield ``(line, row)`` for each row of a scored file, or a :class:`RecordError`.

    JSONL lines are numbered from 1; CSV rows by their physical line; Parquet rows from 1.
    Cells of CSV (and string cells of Parquet) that hold JSON are decoded later, per field.
    """
    from framescope.data.io import open_binary

    fmt = _scored_format(path)
    source = str(path)
    if fmt == "jsonl":
        with open_binary(path) as fh:
            for lineno, raw in enumerate(fh, 1):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                try:
                    yield lineno, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield RecordError(source, lineno, "<line>", f"invalid UTF-8 at byte {exc.start}",
                                      "re-encode the file as UTF-8")
                except json.JSONDecodeError as exc:
                    yield RecordError(source, lineno, "<record>",
                                      f"not valid JSON: {exc.msg} at column {exc.colno}",
                                      "the file may be truncated; re-run 'framescope score --resume'",
                                      raw=raw[:200].decode("utf-8", "replace"))
    elif fmt in ("csv", "tsv"):
        import sys

        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with open_binary(path) as raw_fh:
            fh = io.TextIOWrapper(raw_fh, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield RecordError(source, reader.line_num, "<record>", f"malformed CSV: {exc}",
                                      "check quoting")
                    continue
                if None in row:
                    yield RecordError(source, reader.line_num, "<record>",
                                      "more cells than header columns", "quote cells with commas")
                    continue
                yield reader.line_num, {k: (None if v == "" else v) for k, v in row.items()}
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


class _RowError(Exception):
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
                from framescope.data.schema import parse_labels

                return parse_labels(text)
            raise _RowError(fld, f"expected JSON, got {text[:60]!r} ({exc.msg})") from None
    if not isinstance(value, expect):
        raise _RowError(fld, f"expected {getattr(expect, '__name__', expect)}, "
                             f"got {type(value).__name__} {str(value)[:60]!r}")
    return value


def _opt_str(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None and isinstance(row.get("meta"), dict):
        value = row["meta"].get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _RowError(name, f"expected a string, got {type(value).__name__} {str(value)[:60]!r}")
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
        raise _RowError(name, f"expected a non-negative integer, got {value!r:.40}")
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
    raise _RowError("published", f"expected an ISO date (YYYY-MM-DD…), got {value!r:.40}",
                    "dates are written by the data module as 2024-03-01")


def _scores(row: dict[str, Any], *, required: bool) -> dict[str, float]:
    raw = _json_cell(row.get("scores"), "scores", dict)
    if raw is None:  # flattened score columns: score.X / score_X / scores.X
        flat = {k.split(".", 1)[1] if "." in k else k[len("score_"):]: v for k, v in row.items()
                if k.startswith(("score.", "scores.", "score_")) and v is not None}
        raw = flat or None
    if raw is None:
        if required:
            raise _RowError("scores", "missing", "passage rows need 'scores' {label: probability}")
        return {}
    if all(type(v) is float and 0.0 <= v <= 1.0 for v in raw.values()):  # the common case
        return {str(k): v for k, v in raw.items()}
    out: dict[str, float] = {}
    for label, value in raw.items():
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise _RowError(f"scores.{label}", f"expected a probability, got {value!r:.40}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0):
            raise _RowError(f"scores.{label}", f"expected a probability in [0, 1], got {value!r:.40}")
        out[str(label)] = float(value)
    return out


def _labels(row: dict[str, Any]) -> list[str]:
    value = row.get("labels")
    if value is None:
        raise _RowError("labels", "missing", "scored rows list their predicted frames in 'labels' ([] for none)")
    labels = _json_cell(value, "labels", list)
    if not all(isinstance(x, str) for x in labels):
        raise _RowError("labels", f"expected a list of label strings, got {labels!r:.60}")
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
            raise _RowError(f"evidence.{label}", f"expected a list of spans, got {type(spans).__name__}")
        clean = []
        for i, span in enumerate(spans):
            where = f"evidence.{label}[{i}]"
            if not isinstance(span, dict):
                raise _RowError(where, f"expected {{start, end, text, weight}}, got {span!r:.60}")
            start, end = span.get("start"), span.get("end")
            if (isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int)
                    or not isinstance(end, int) or not 0 <= start < end <= len(text)):
                raise _RowError(where, f"span [{start!r}, {end!r}) does not lie inside the passage "
                                       f"text (length {len(text)})",
                                "evidence offsets are relative to the passage text")
            if isinstance(span.get("text"), str) and span["text"] != text[start:end]:
                raise _RowError(where, f"span text {span['text']!r:.40} does not match the passage "
                                       f"text at [{start}, {end}): {text[start:end]!r:.40}")
            weight = span.get("weight")
            if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))):
                raise _RowError(f"{where}.weight", f"expected a number, got {weight!r:.40}")
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


# --------------------------------------------------------------------------------------------
# aggregation


@dataclass
class _Article:
    labels: set[str] = field(default_factory=set)
    scores: dict[str, float] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    passages: int = 0
    source: str = ""


@dataclass
class _Collector:
    config: ReportConfig
    from_rows: dict[str, _Article] = field(default_factory=dict)
    from_passages: dict[str, _Article] = field(default_factory=dict)
    evidence: dict[str, list[tuple[float, int, dict[str, Any]]]] = field(default_factory=dict)
    label_order: dict[str, None] = field(default_factory=dict)
    score_keysets: Counter = field(default_factory=Counter)
    models: Counter = field(default_factory=Counter)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    conflicts: Counter = field(default_factory=Counter)
    conflict_examples: dict[str, list[str]] = field(default_factory=dict)
    passages: int = 0
    seq: itertools.count = field(default_factory=itertools.count)
    by_seen: bool = False
    fields_seen: set[str] = field(default_factory=set)

    def _merge_meta(self, art: _Article, meta: dict[str, str], key: str) -> None:
        for name, value in meta.items():
            old = art.meta.get(name)
            if old is None:
                art.meta[name] = value
            elif old != value and name in ("outlet", "published", self.config.by):
                self._conflict(name, f"article {key!r}: {name} {old!r} vs {value!r}")

    def _conflict(self, name: str, example: str) -> None:
        self.conflicts[name] += 1
        examples = self.conflict_examples.setdefault(name, [])
        if len(examples) < 2:
            examples.append(example)

    def add(self, row: Any, source: str, line: int) -> None:
        if not isinstance(row, dict):
            raise _RowError("<record>", f"expected a JSON object, got {type(row).__name__}",
                            "pass the output of 'framescope score'")
        if row.keys() >= _ERROR_FILE_KEYS and "text" not in row and "scores" not in row:
            raise _RowError("<record>", "this is a row of a framescope errors file, not a scored row",
                            "leave *.errors.jsonl files out of the report inputs")
        self.fields_seen.update(row.keys())
        if isinstance(row.get("meta"), dict):
            self.fields_seen.update(row["meta"].keys())
        by = self.config.by
        meta = {name: v for name in dict.fromkeys((*_META_FIELDS, by))
                if (v := (_date(row) if name == "published" else _opt_str(row, name))) is not None}
        if by in meta:
            self.by_seen = True
        labels = _labels(row)
        kind = _row_kind(row)
        model = _model_key(row)
        if kind == "article":
            key = _opt_str(row, "article_id") or _opt_str(row, "id")
            if key is None:
                raise _RowError("article_id", "missing", "article rows need an 'article_id'")
            scores = _scores(row, required=False)
            art = self.from_rows.get(key)
            if art is None:
                self.from_rows[key] = _Article(set(labels), scores, meta, source=source)
            else:
                if set(labels) != art.labels:
                    self._conflict("labels", f"article {key!r}: labels {sorted(art.labels)} vs "
                                             f"{sorted(labels)}")
                self._merge_meta(art, meta, key)
        else:
            pid = _opt_str(row, "id")
            if pid is None:
                raise _RowError("id", "missing", "passage rows need an 'id'")
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _RowError("text", f"expected a non-empty string, got {text!r:.40}")
            scores = _scores(row, required=True)
            unknown = [lab for lab in labels if lab not in scores]
            if unknown:
                raise _RowError("labels", f"label(s) {unknown} have no score in 'scores' "
                                          f"(scored labels: {sorted(scores)})")
            evidence = _evidence(row, text)
            key = _opt_str(row, "article_id") or pid
            art = self.from_passages.get(key)
            if art is None:
                art = self.from_passages[key] = _Article(source=source)
            art.labels.update(labels)
            for lab, s in scores.items():
                if s > art.scores.get(lab, -1.0):
                    art.scores[lab] = s
            art.passages += 1
            self._merge_meta(art, meta, key)
            self.passages += 1
            self._add_evidence(pid, key, text, scores, labels, evidence, meta, row)
        keys = tuple(scores)
        if keys not in self.score_keysets:
            for lab in keys:
                self.label_order.setdefault(lab, None)
        for lab in labels:
            if lab not in self.label_order:
                self.label_order[lab] = None
        if scores:
            self.score_keysets[keys] += 1
        self.models[model] += 1

    def _add_evidence(self, pid: str, key: str, text: str, scores: dict[str, float],
                      labels: list[str], evidence: dict[str, list[dict[str, Any]]],
                      meta: dict[str, str], row: dict[str, Any]) -> None:
        cap = self.config.top * 3 + 2
        if self.config.top == 0:
            return
        for lab in labels:
            heap = self.evidence.setdefault(lab, [])
            score = scores[lab]
            if len(heap) >= cap and score <= heap[0][0]:
                continue
            entry = {"passage_id": pid, "article_id": key, "score": score, "text": text,
                     "spans": evidence.get(lab, []), "index": _opt_int(row, "index"),
                     "start": _opt_int(row, "start"), "end": _opt_int(row, "end"), **meta}
            item = (score, -next(self.seq), entry)
            if len(heap) < cap:
                heapq.heappush(heap, item)
            else:
                heapq.heapreplace(heap, item)


def _read_all(paths: list[Path], config: ReportConfig) -> _Collector:
    from tqdm.auto import tqdm

    col = _Collector(config)
    log = ErrorLog(keep=20)
    for path in paths:
        counts: Counter = Counter()
        bar = tqdm(read_scored_rows(path), desc=f"reading {path.name}", unit=" rows",
                   disable=not config.progress, leave=False)
        for item in bar:
            if isinstance(item, RecordError):
                log.add(item)
                continue
            line, row = item
            try:
                before = col.passages
                col.add(row, str(path), line)
                counts["passage" if col.passages > before else "article"] += 1
            except _RowError as exc:
                log.add(RecordError(str(path), line, exc.field, exc.message, exc.hint,
                                    raw=json.dumps(row, ensure_ascii=False, default=str)[:200]
                                    if isinstance(row, dict) else repr(row)[:200]))
        col.inputs.append({"path": str(path), "rows": counts["passage"] + counts["article"],
                           "passage_rows": counts["passage"], "article_rows": counts["article"]})
    if log.fatal:
        errors = [e for e in log.first if not e.excluded][:20]
        lines = [f"{log.fatal} malformed scored row(s); no report was written."]
        lines += [str(e) for e in errors]
        if log.fatal > len(errors):
            lines.append(f"... and {log.fatal - len(errors)} more")
        lines.append("Pass files written by 'framescope score' (JSONL, CSV or Parquet), "
                     "or fix the rows named above.")
        raise DataError("\n".join(lines))
    return col


def _resolve_taxonomy(col: _Collector, config: ReportConfig) -> Taxonomy | None:
    tax = config.taxonomy
    if tax == "auto":
        from framescope.data.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

        default = load_taxonomy(DEFAULT_TAXONOMY)
        return default if all(lab in default for lab in col.label_order) else None
    if isinstance(tax, str):
        raise DataError(f"The 'taxonomy' parameter must be a Taxonomy, 'auto' or None. Got {tax!r} instead.")
    return tax


def _label_list(col: _Collector, config: ReportConfig, tax: Taxonomy | None) -> list[str]:
    known = list(col.label_order)
    if tax is not None:
        known = [lab for lab in tax.ids if lab in col.label_order] + [
            lab for lab in known if lab not in tax]
    if not known:
        raise DataError("the scored files hold no labels or scores; pass the output of "
                        "'framescope score'")
    if config.labels:
        bad = [lab for lab in config.labels if lab not in col.label_order]
        if bad:
            import difflib

            hints = [f"{b!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(b, known, 1))
                     else repr(b) for b in bad]
            raise DataError(f"--labels: unknown label(s) {', '.join(hints)}; the scored files have: "
                            f"{', '.join(sorted(known))}")
        return [lab for lab in dict.fromkeys(config.labels)]
    return known


def _label_info(labels: list[str], taxonomy: Taxonomy | None) -> list[dict[str, str]]:
    out = []
    for lab in labels:
        if taxonomy is not None and lab in taxonomy:
            item = taxonomy.get(lab)
            out.append({"id": lab, "name": item.name, "description": " ".join(item.description.split())})
        else:
            out.append({"id": lab, "name": lab.replace("_", " ").capitalize(), "description": ""})
    return out


def _resolve_group(name: str, groups: list[str], by: str) -> str:
    if name in groups:
        return name
    folded = [g for g in groups if g.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    import difflib

    close = difflib.get_close_matches(name, groups, 3, 0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(repr(g) for g in groups[:30]) + (" …" if len(groups) > 30 else "")
    raise DataError(f"--compare: no articles with {by} {name!r}.{hint} Known {by} values: {shown}")


def build_summary(paths: Sequence[str | Path], config: ReportConfig | None = None) -> dict[str, Any]:
    """Read scored files and compute everything the report shows, as a JSON-ready dict.

    Args:
        paths: scored files, folders or globs (JSONL, CSV or Parquet written by ``framescope score``;
            passage rows, article rows or both).
        config: report options (defaults: by outlet, monthly, min 5 articles).

    Returns:
        The summary written to ``summary.json`` (see ``docs/report.md`` for its layout).

    Raises:
        DataError: for a missing or malformed file (naming ``file:line`` and the field), an
            unknown ``--labels`` value, an unknown ``--compare`` group or a ``--by`` field that
            no article has.
    """
    config = config or ReportConfig()
    files = _expand(paths)
    col = _read_all(files, config)
    by = config.by
    if not col.from_rows and not col.from_passages:
        raise DataError(f"no scored rows in {', '.join(str(p) for p in files)}")
    if not col.by_seen and by != "outlet":
        fields = sorted(col.fields_seen - {"scores", "labels", "text", "evidence", "model", "meta"})
        raise DataError(f"--by {by}: no article has a {by!r} field; fields found: {', '.join(fields)}")
    taxonomy = _resolve_taxonomy(col, config)
    labels = _label_list(col, config, taxonomy)
    warnings: list[str] = []

    # articles: article rows win; passage-derived labels otherwise; metadata joined on article_id
    articles: dict[str, _Article] = {}
    derived = 0
    for key in dict.fromkeys(itertools.chain(col.from_rows, col.from_passages)):
        row_art, pas_art = col.from_rows.get(key), col.from_passages.get(key)
        if row_art is not None:
            art = _Article(row_art.labels, row_art.scores or (pas_art.scores if pas_art else {}),
                           dict(row_art.meta), pas_art.passages if pas_art else 0)
            if pas_art is not None:
                col._merge_meta(art, pas_art.meta, key)
        else:
            assert pas_art is not None
            art, derived = pas_art, derived + 1
        articles[key] = art
    unknown = config.unknown_group

    def group_of(a: _Article) -> str:
        return a.meta.get(by) or unknown

    group_counts = Counter(group_of(a) for a in articles.values())
    groups = sorted(group_counts, key=lambda g: (g == unknown, -group_counts[g], g.casefold()))

    # prevalence per group and overall
    def prevalence(arts: list[_Article]) -> dict[str, dict[str, Any]]:
        n = len(arts)
        return {lab: _share(sum(lab in a.labels for a in arts), n) for lab in labels}

    by_group: dict[str, list[_Article]] = {g: [] for g in groups}
    for a in articles.values():
        by_group[group_of(a)].append(a)
    prevalence_rows = [{"group": g, "articles": len(by_group[g]),
                        "low_n": len(by_group[g]) < config.min_articles,
                        "frames": prevalence(by_group[g])} for g in groups]
    overall = {"group": ALL, "articles": len(articles), "low_n": len(articles) < config.min_articles,
               "frames": prevalence(list(articles.values()))}

    # over time
    dated = [(a, dt.date.fromisoformat(a.meta["published"])) for a in articles.values()
             if a.meta.get("published")]
    undated = len(articles) - len(dated)
    undated_by_group = Counter(group_of(a) for a in articles.values() if not a.meta.get("published"))
    over_time: dict[str, Any] = {"period": config.period, "periods": [], "series": [],
                                 "undated_articles": undated,
                                 "undated_by_group": dict(undated_by_group)}
    if dated:
        days = [d for _, d in dated]
        periods = _period_range(min(days), max(days), config.period)
        over_time["periods"] = [{"period": p, "start": s.isoformat()} for p, s in periods]
        cells: dict[tuple[str, str], list[_Article]] = {}
        for a, d in dated:
            p = period_of(d, config.period)[0]
            cells.setdefault((ALL, p), []).append(a)
            cells.setdefault((group_of(a), p), []).append(a)
        for g in (ALL, *groups):
            points = []
            for p, s in periods:
                arts = cells.get((g, p), [])
                points.append({"period": p, "start": s.isoformat(), "articles": len(arts),
                               "low_n": len(arts) < config.min_articles,
                               "frames": prevalence(arts)})
            over_time["series"].append({"group": g, "dated_articles": sum(x["articles"] for x in points),
                                        "points": points})
        pts = over_time["series"][0]["points"]
        empty = sum(1 for pt in pts if pt["articles"] == 0)
        enough = sum(1 for pt in pts if not pt["low_n"])
        if empty:
            warnings.append(f"{empty} of {len(periods)} {config.period}s have no dated articles; "
                            "they are shown as gaps.")
        if enough < len(pts) / 2:
            coarser = {"week": "month", "month": "quarter", "quarter": "year"}.get(config.period)
            hint = f"--period {coarser}, " if coarser else ""
            warnings.append(f"only {enough} of {len(pts)} {config.period}s have at least "
                            f"{config.min_articles} articles, so most of the time series is too thin "
                            f"to read as a trend (try {hint}a lower --min-articles, or more articles).")
    if undated:
        warnings.append(f"{undated} article(s) without a publication date are left out of the "
                        "time charts (they are counted everywhere else).")

    # comparison
    comparison = None
    if config.compare:
        a_name, b_name = (_resolve_group(x, groups, by) for x in config.compare)
        if a_name == b_name:
            raise DataError(f"--compare names the same {by} twice: {a_name!r}")
        na, nb = len(by_group[a_name]), len(by_group[b_name])
        rows = []
        for lab in labels:
            ka = sum(lab in x.labels for x in by_group[a_name])
            kb = sum(lab in x.labels for x in by_group[b_name])
            rows.append({"label": lab, "with_a": ka, "with_b": kb,
                         **compare_proportions(ka, na, kb, nb)})
        for r, adj in zip(rows, holm_adjust([r["p_value"] for r in rows])):
            r["p_holm"] = adj
            r["significant"] = adj < 0.05
        rows.sort(key=lambda r: (-abs(r["cohens_h"]), r["p_value"], r["label"]))
        comparison = {"a": a_name, "b": b_name, "articles_a": na, "articles_b": nb,
                      "alpha": 0.05, "correction": "holm", "frames": rows}
        small = [g for g, n in ((a_name, na), (b_name, nb)) if n < config.min_articles]
        if small:
            warnings.append(f"comparison: {', '.join(repr(s) for s in small)} has fewer than "
                            f"{config.min_articles} articles; differences are very uncertain.")

    # evidence
    evidence: dict[str, list[dict[str, Any]]] = {}
    for lab in labels:
        picked: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        seen_text: set[str] = set()
        for _score, _neg, entry in sorted(col.evidence.get(lab, []), reverse=True):
            norm = " ".join(entry["text"].split()).casefold()
            if entry["passage_id"] in seen_ids or norm in seen_text:
                continue
            seen_ids.add(entry["passage_id"])
            seen_text.add(norm)
            art = articles.get(entry["article_id"])
            item = dict(entry)
            if art is not None:
                for name in (*_META_FIELDS, by):
                    item.setdefault(name, art.meta.get(name))
            item["group"] = item.get(by) or unknown
            item["link"] = safe_url(item.get("url"))
            item["segments"] = highlight_segments(item["text"], item["spans"])
            picked.append(item)
            if len(picked) >= config.top:
                break
        evidence[lab] = picked
    if config.top and not col.from_passages:
        warnings.append("the inputs hold article rows only, so there are no evidence passages; "
                        "score with '--level both' to get them.")

    # consistency warnings
    label_sets = {frozenset(k) for k in col.score_keysets}
    if len(label_sets) > 1:
        warnings.append(f"rows were scored with {len(label_sets)} different label sets; "
                        "a frame missing from a row's scores counts as absent.")
    fingerprints = {fp for (_name, fp) in col.models}
    if len(col.models) > 1 and len(fingerprints) > 1:
        warnings.append(f"rows come from {len(col.models)} different models; prevalences mix them.")
    for name, n in col.conflicts.items():
        warnings.append(f"{n} conflicting value(s) of '{name}' for the same article id (kept the first; "
                        f"e.g. {'; '.join(col.conflict_examples[name])}). Article ids should be "
                        "unique across inputs, and an article's passages should share its metadata.")
    small_groups = [g for g in groups if group_counts[g] < config.min_articles]
    if small_groups:
        warnings.append(f"{len(small_groups)} {by} value(s) have fewer than {config.min_articles} "
                        "articles (marked † in tables); their shares are very uncertain.")

    dates = sorted(d for _, d in dated)
    return {
        "format_version": FORMAT_VERSION,
        "title": config.title or "Framing report",
        "generated": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "inputs": col.inputs,
        "models": [{"name": name, "fingerprint": fp, "rows": n} for (name, fp), n in col.models.most_common()],
        "options": {"by": by, "period": config.period, "labels": config.labels,
                    "min_articles": config.min_articles,
                    "compare": list(config.compare) if config.compare else None, "top": config.top},
        "labels": _label_info(labels, taxonomy),
        "counts": {"articles": len(articles), "from_article_rows": len(articles) - derived,
                   "derived_from_passages": derived, "passages": col.passages,
                   "groups": len(groups), "unknown_group": group_counts.get(unknown, 0),
                   "dated_articles": len(dated), "undated_articles": undated,
                   "first_date": dates[0].isoformat() if dates else None,
                   "last_date": dates[-1].isoformat() if dates else None},
        "prevalence": {"overall": overall, "groups": prevalence_rows},
        "over_time": over_time,
        "comparison": comparison,
        "evidence": evidence,
        "warnings": warnings,
    }


# --------------------------------------------------------------------------------------------
# writing


def _fmt_pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if row.get(c) is None else
                             round(row[c], 6) if isinstance(row[c], float) else row[c]) for c in columns})
    return buf.getvalue()


def _tables(summary: dict[str, Any]) -> dict[str, str]:
    by = summary["options"]["by"]
    share_cols = ["articles", "with_frame", "share", "ci_low", "ci_high"]
    rows = []
    for g in [summary["prevalence"]["overall"], *summary["prevalence"]["groups"]]:
        for lab, v in g["frames"].items():
            rows.append({by: g["group"], "label": lab, **v, "low_n": g["low_n"]})
    tables = {f"prevalence_by_{by}.csv": _csv_text(rows, [by, "label", *share_cols, "low_n"])}
    rows = []
    for s in summary["over_time"]["series"]:
        for pt in s["points"]:
            for lab, v in pt["frames"].items():
                rows.append({by: s["group"], "period": pt["period"], "period_start": pt["start"],
                             "label": lab, **v, "low_n": pt["low_n"]})
    tables["prevalence_over_time.csv"] = _csv_text(
        rows, [by, "period", "period_start", "label", *share_cols, "low_n"])
    comp = summary["comparison"]
    if comp:
        rows = [{"label": r["label"], "group_a": comp["a"], "articles_a": comp["articles_a"],
                 "with_a": r["with_a"], "share_a": r["share_a"], "group_b": comp["b"],
                 "articles_b": comp["articles_b"], "with_b": r["with_b"], "share_b": r["share_b"],
                 "difference": r["difference"], "difference_ci_low": r["difference_ci"][0],
                 "difference_ci_high": r["difference_ci"][1], "cohens_h": r["cohens_h"],
                 "magnitude": r["magnitude"], "test": r["test"], "p_value": r["p_value"],
                 "p_holm": r["p_holm"], "significant": r["significant"]} for r in comp["frames"]]
        tables["comparison.csv"] = _csv_text(rows, list(rows[0]) if rows else ["label"])
    return tables


def _jinja_env(kind: str) -> Any:
    from markupsafe import Markup

    env = template_env(Path(__file__).parent / "templates", kind)
    if kind != "html":
        env.filters["code"] = md_code
        env.filters["mdurl"] = lambda u: Markup(u.replace("(", "%28").replace(")", "%29"))
    env.filters["pct"] = _fmt_pct
    env.filters["pctn"] = lambda x: "–" if x is None else f"{100 * x:.0f}"
    env.filters["num"] = lambda x, d=2: "–" if x is None else f"{x:.{d}f}"
    env.filters["pval"] = lambda p: "–" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")
    env.filters["signed_pct"] = lambda x: "–" if x is None else f"{100 * x:+.1f} pp"
    return env


def md_escape(text: str) -> str:
    """Escape text for Markdown (:func:`framescope.reports.html.markdown_escape`).

    Example:
        >>> md_escape("<b>*x*</b> | y")
        '&lt;b&gt;\\\\*x\\\\*&lt;/b&gt; \\\\| y'
    """
    return markdown_escape(text)


def md_code(value: Any) -> Any:
    """``value`` as a Markdown code span when it is plain (ids, paths), else escaped text."""
    from markupsafe import Markup

    text = str(value)
    if re.fullmatch(r"[\w./:#@+=,~…-]{1,200}", text):
        return Markup(f"`{text}`")
    return md_escape(text)


def _display(summary: dict[str, Any], config_top_groups: int) -> dict[str, Any]:
    """Derived, render-only views of the summary (nothing new is computed here)."""
    labels = summary["labels"]
    names = {lab["id"]: lab["name"] for lab in labels}
    shares = [f["share"] for g in [summary["prevalence"]["overall"], *summary["prevalence"]["groups"]]
              for f in g["frames"].values() if f["share"] is not None]
    has_spans = any(e["spans"] for items in summary["evidence"].values() for e in items)
    return {"names": names, "top_groups": config_top_groups, "has_spans": has_spans,
            "vmax": max(0.1, math.ceil(max(shares, default=0.1) * 10) / 10)}


def write_report(summary: dict[str, Any], out: str | Path, *, max_chart_groups: int = 8,
                 max_heatmap_rows: int = 40) -> dict[str, Path]:
    """Write ``summary.json``, CSV tables, figures, ``report.md`` and ``report.html`` into ``out``.

    Every file is written atomically; other files already in ``out`` are left alone.

    Returns:
        The written files by name.
    """
    import warnings as _warnings

    from framescope.data.io import atomic_path, atomic_write_text
    from framescope.reports import analyst_plots as plots
    from framescope.reports.html import bytes_to_data_uri, figure_to_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put_text(name: str, text: str) -> None:
        atomic_write_text(out / name, text)
        written[name] = out / name

    figures: dict[str, dict[str, str]] = {}
    with _warnings.catch_warnings():
        _warnings.filterwarnings("ignore", message=r"Glyph .* missing")
        for name, fig, alt, caption in plots.report_figures(summary, max_groups=max_chart_groups,
                                                            max_rows=max_heatmap_rows):
            png = figure_to_png(fig, dpi=FIGURE_DPI)
            rel = f"figures/{name}.png"
            with atomic_path(out / rel, suffix=".png") as tmp:
                tmp.write_bytes(png)
            written[rel] = out / rel
            px_width = int.from_bytes(png[16:20], "big")  # PNG IHDR width
            figures[name] = {"path": rel, "uri": bytes_to_data_uri(png), "alt": alt, "caption": caption,
                             "width": round(px_width * 96 / FIGURE_DPI)}
            fig.clear()

    put_text("summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    for name, text in _tables(summary).items():
        put_text(name, text)
    view = _display(summary, max_chart_groups)
    context = {"s": summary, "figures": figures, "v": view, "tables": sorted(
        n for n in written if n.endswith(".csv"))}
    put_text("report.md", _jinja_env("md").get_template("report.md.j2").render(**context))
    put_text("report.html", _jinja_env("html").get_template("report.html.j2").render(**context))
    return written


def make_report(paths: Sequence[str | Path], out: str | Path,
                config: ReportConfig | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`build_summary` then :func:`write_report`; returns the summary and the written files."""
    config = config or ReportConfig()
    summary = build_summary(paths, config)
    files = write_report(summary, out, max_chart_groups=config.max_chart_groups,
                         max_heatmap_rows=config.max_heatmap_rows)
    return summary, files
