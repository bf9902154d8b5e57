"""Analyst summaries: turn ``framescope score`` output into frame prevalence, trends and evidence.

:func:`build_summary` reads scored files (JSONL, CSV or Parquet; passage rows and/or article
rows, checked by :func:`framescope.scored.parse_row`) in one streaming pass and returns a
JSON-ready summary; :mod:`framescope.reports.analyst` renders it. Every number a chart shows is
in the summary.

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
    >>> from framescope.reports.summary import ReportConfig, build_summary
    >>> summary = build_summary(["scored.jsonl"], ReportConfig(period="week"))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data.dataset import expand_inputs
from framescope.data.errors import DataError, ErrorLog, RecordError
from framescope.data.io import table_format
from framescope.data.taxonomy import Taxonomy, load_taxonomy
from framescope.reports.stats import (
    PERIODS,
    compare_proportions,
    holm_adjust,
    period_of,
    period_range,
    share,
)
from framescope.scored import RowError, ScoredRow, parse_row, read_scored_rows

__all__ = ["FORMAT_VERSION", "ReportConfig", "build_summary", "expand_scored", "highlight_segments",
           "safe_url"]

#: Version of the ``summary.json`` layout.
FORMAT_VERSION = 1
#: The group name used when an article has no value for the ``--by`` field.
UNKNOWN = "unknown {by}"
#: Name of the all-articles series in the over-time tables.
ALL = "All articles"
_META_FIELDS = ("outlet", "published", "title", "url")


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
# reading


def expand_scored(paths: Iterable[str | Path]) -> list[Path]:
    """Scored files from paths, folders (every .jsonl/.csv/.parquet but errors files) and globs."""
    out: list[Path] = []
    for p in expand_inputs(paths):
        if p.is_dir():
            inner = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                           and not f.name.endswith(".errors.jsonl")
                           and table_format(f) is not None)
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

    def add(self, raw: Any, source: str, line: int) -> None:
        by = self.config.by
        row = parse_row(raw, fields=(by,))
        self.fields_seen.update(raw.keys())
        if isinstance(raw.get("meta"), dict):
            self.fields_seen.update(raw["meta"].keys())
        meta, labels, scores, model = row.meta, row.labels, row.scores, row.model
        if by in meta:
            self.by_seen = True
        if row.kind == "article":
            key = row.key
            art = self.from_rows.get(key)
            if art is None:
                self.from_rows[key] = _Article(set(labels), scores, meta, source=source)
            else:
                if set(labels) != art.labels:
                    self._conflict("labels", f"article {key!r}: labels {sorted(art.labels)} vs "
                                             f"{sorted(labels)}")
                self._merge_meta(art, meta, key)
        else:
            key = row.article_id
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
            self._add_evidence(row)
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

    def _add_evidence(self, row: ScoredRow) -> None:
        cap = self.config.top * 3 + 2
        if self.config.top == 0:
            return
        for lab in row.labels:
            heap = self.evidence.setdefault(lab, [])
            score = row.scores[lab]
            if len(heap) >= cap and score <= heap[0][0]:
                continue
            entry = {"passage_id": row.key, "article_id": row.article_id, "score": score,
                     "text": row.text, "spans": row.evidence.get(lab, []), "index": row.index,
                     "start": row.start, "end": row.end, **row.meta}
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
            except RowError as exc:
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
        default = load_taxonomy("default")
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
    files = expand_scored(paths)
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
        return {lab: share(sum(lab in a.labels for a in arts), n) for lab in labels}

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
        periods = period_range(min(days), max(days), config.period)
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


