"""``framescope report``: analyst reports (prevalence, trends, comparison, evidence) from scored feeds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from framescope.reports.stats import PERIODS

if TYPE_CHECKING:
    from framescope.data import Taxonomy

EPILOG = """\
examples:
  framescope report scored.jsonl --out reports/feed
  framescope report 'scored/*.parquet' --out reports/weekly --period week --min-articles 10
  framescope report scored.jsonl --out reports/cmp --compare "Meridian Wire" "Northern Star Broadcasting"

writes into --out: report.html (self-contained), report.md, summary.json, figures/*.png,
prevalence_by_<by>.csv, prevalence_over_time.csv and, with --compare, comparison.csv.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report", help="analyst report from scored feeds: prevalence, trends, comparison, evidence",
        description="Turn 'framescope score' output into a framing report:\n"
                    "  - frame prevalence per outlet with 95% Wilson intervals (heatmap and table)\n"
                    "  - prevalence over time (small periods marked, undated articles counted)\n"
                    "  - optionally, two outlets compared frame by frame (test + effect size)\n"
                    "  - the most confident passages per frame as evidence, spans highlighted\n"
                    "An article carries a frame when its article row lists it, or else when any of\n"
                    "its passages does (the model's thresholds are applied by 'framescope score').",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scored", nargs="+", metavar="SCORED",
                   help="output(s) of 'framescope score': .jsonl, .csv or .parquet files, folders or "
                        "globs; passage rows, article rows or both")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for the report files (created; other files in it are left alone)")
    p.add_argument("--by", default="outlet", metavar="FIELD",
                   help="article field that defines the groups (default: outlet)")
    p.add_argument("--period", choices=PERIODS, default="month",
                   help="time bins for the trend charts: ISO week (Monday first), calendar month, "
                        "quarter or year (default: month)")
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="report only these frames (space- or comma-separated label ids)")
    p.add_argument("--min-articles", type=int, default=5, metavar="N",
                   help="mark groups and periods with fewer articles as too small (default: 5)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two outlets (or --by values) frame by frame")
    p.add_argument("--top", type=int, default=5, metavar="N",
                   help="evidence passages per frame (default: 5; 0 for none)")
    p.add_argument("--title", help="report title (default: 'Framing report')")
    p.add_argument("--taxonomy", default="auto", metavar="FILE",
                   help="taxonomy YAML for frame names and definitions; 'default' for the war "
                        "frames; 'none' for ids only (default: auto = the default taxonomy when "
                        "it holds every scored label)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_report)


def _taxonomy(value: str) -> Taxonomy | str | None:
    from framescope.data import load_taxonomy

    if value in ("none", "auto"):
        return None if value == "none" else "auto"
    return load_taxonomy(value)  # a file, or a bundled name such as 'default'


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``framescope report``; returns the exit code."""
    from framescope.data.errors import DataError
    from framescope.reports.analyst import write_report
    from framescope.reports.summary import ReportConfig, build_summary

    labels = None
    if args.labels:
        labels = [x.strip() for item in args.labels for x in item.split(",") if x.strip()]
    taxonomy = _taxonomy(args.taxonomy)
    config = ReportConfig(by=args.by, period=args.period, labels=labels,
                          min_articles=args.min_articles,
                          compare=tuple(args.compare) if args.compare else None, top=args.top,
                          title=args.title, taxonomy=taxonomy, progress=not args.no_progress)
    summary = build_summary(args.scored, config)
    if summary["counts"]["articles"] == 0:
        raise DataError("no articles in the scored files")
    files = write_report(summary, args.out, max_chart_groups=config.max_chart_groups,
                         max_heatmap_rows=config.max_heatmap_rows)
    c = summary["counts"]
    print(f"{c['articles']} articles ({c['from_article_rows']} from article rows, "
          f"{c['derived_from_passages']} derived from passages), {c['passages']} passages, "
          f"{c['groups']} {args.by} value(s), {len(summary['labels'])} frames")
    for w in summary["warnings"]:
        print(f"note: {w}")
    if summary["comparison"]:
        cmp = summary["comparison"]
        sig = [r["label"] for r in cmp["frames"] if r["significant"]]
        print(f"compare {cmp['a']!r} vs {cmp['b']!r}: {len(sig)} frame(s) differ significantly "
              f"after Holm correction" + (f" ({', '.join(sig)})" if sig else ""))
    print(f"wrote {len(files)} files to {args.out}: report.html, report.md, summary.json, "
          + ", ".join(n for n in files if n.endswith(".csv")))
    return 0
