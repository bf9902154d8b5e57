"""Analyst reports rendered from a summary (:mod:`framescope.reports.summary`): ``summary.json``,
CSV tables, PNG figures, ``report.md`` and a self-contained ``report.html``.

Nothing here computes a statistic: the templates show what the summary holds, escaped (every
text from a feed is untrusted).

Example:
    >>> from framescope.reports.analyst import make_report
    >>> summary, files = make_report(["scored.jsonl"], "reports/feed")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.data.io import atomic_path, atomic_write_text
from framescope.reports.html import bytes_to_data_uri, figure_to_png, markdown_escape, template_env
from framescope.reports.summary import ReportConfig, build_summary

__all__ = ["FIGURE_DPI", "csv_safe", "make_report", "md_code", "md_escape", "write_report"]

#: Resolution of the PNG figures (shown at 96 dpi in the HTML, so they stay sharp on HiDPI screens).
FIGURE_DPI = 144


# --------------------------------------------------------------------------------------------
# writing


def _fmt_pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with ``= + - @``, a tab or a carriage
    return gets a leading ``'`` (the OWASP CSV-injection rule); numbers pass unchanged.

    Example:
        >>> csv_safe('=HYPERLINK("http://x")'), csv_safe("Outlet A"), csv_safe(-0.5)
        ('\'=HYPERLINK("http://x")', 'Outlet A', -0.5)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if row.get(c) is None else
                             round(row[c], 6) if isinstance(row[c], float) else csv_safe(row[c]))
                         for c in columns})
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

    from framescope.reports import analyst_plots as plots

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
