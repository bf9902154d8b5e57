"""Figures of the analyst report: a prevalence heatmap and prevalence-over-time line charts.

Every function takes the ``summary.json`` dict (see :mod:`framescope.reports.analyst`) and
returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, no display).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = [
    "chart_groups", "plot_heatmap", "plot_over_time_by_group", "plot_over_time_overall", "report_figures",
]

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
_FONT = {"font.size": 9, "axes.edgecolor": MUTED, "axes.labelcolor": INK, "xtick.color": INK,
         "ytick.color": INK, "axes.titleweight": "bold", "axes.titlesize": 10}


def _text(value: str, limit: int = 36) -> str:
    """Text safe for matplotlib (no mathtext from ``$``), shortened to ``limit`` characters."""
    value = " ".join(str(value).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.replace("$", r"\$")


def _palette(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _period_ticks(ax: Any, periods: list[str], max_ticks: int = 10) -> None:
    step = max(1, math.ceil(len(periods) / max_ticks))
    idx = list(range(0, len(periods), step))
    ax.set_xticks(idx)
    ax.set_xticklabels([periods[i] for i in idx], rotation=35 if len(idx) > 4 else 0,
                       ha="right" if len(idx) > 4 else "center")
    ax.set_xlim(-0.5, len(periods) - 0.5)


def plot_heatmap(summary: dict[str, Any], *, max_rows: int = 40) -> Any:
    """Share of articles carrying each frame, per group (rows) and frame (columns).

    The first row is all articles; groups under ``min_articles`` are faded and marked †.
    """
    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure

    labels = summary["labels"]
    groups = [summary["prevalence"]["overall"], *summary["prevalence"]["groups"][:max_rows]]
    values = np.array([[g["frames"][lab["id"]]["share"] if g["frames"][lab["id"]]["share"] is not None
                        else np.nan for lab in labels] for g in groups], dtype=float)
    finite = values[np.isfinite(values)]
    vmax = max(0.1, math.ceil((finite.max() if finite.size else 0.1) * 10) / 10)
    with matplotlib.rc_context(_FONT):
        width = min(16.0, 3.2 + 0.85 * len(labels))
        height = 1.3 + 0.34 * len(groups)
        fig = Figure(figsize=(width, height))
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["YlGnBu"].with_extremes(bad="#f5f7fa")
        im = ax.imshow(values, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
        for i, g in enumerate(groups):
            for j, _lab in enumerate(labels):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 * vmax else INK)
            if g["low_n"] and i > 0:
                ax.add_patch(matplotlib.patches.Rectangle((-0.5, i - 0.5), len(labels), 1,
                                                          facecolor="white", alpha=0.5,
                                                          edgecolor="none"))
        ax.axhline(0.5, color="white", linewidth=3)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([_text(lab["name"], 24) for lab in labels], rotation=35, ha="right")
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels([f"{_text(g['group'])}{' †' if g['low_n'] and i else ''}  (n={g['articles']})"
                            for i, g in enumerate(groups)])
        ax.get_yticklabels()[0].set_fontweight("bold")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cbar = fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02)
        cbar.set_label("share of articles carrying the frame")
        cbar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        cbar.outline.set_visible(False)
        by = summary["options"]["by"]
        ax.set_title(f"Frame prevalence by {by} (% of articles)", loc="left")
        more = len(summary["prevalence"]["groups"]) - (len(groups) - 1)
        if more > 0:
            fig.text(0.01, 0.0, f"{more} smaller {by} value(s) not drawn; all are in the table.",
                     fontsize=8, color=MUTED)
        fig.tight_layout()
    return fig


def _draw_series(ax: Any, points: list[dict[str, Any]], label: str, color: Any, name: str) -> None:
    """A line through periods with enough articles; hollow, unjoined markers for the others."""
    xs = list(range(len(points)))
    solid = [p["frames"][label]["share"] if not p["low_n"] else math.nan for p in points]
    ax.plot(xs, solid, color=color, linewidth=1.8, marker="o", markersize=3.5, label=name)
    low = [(x, p["frames"][label]["share"]) for x, p in zip(xs, points)
           if p["low_n"] and p["articles"] > 0]
    if low:
        ax.plot([x for x, _ in low], [y for _, y in low], linestyle="none", marker="o",
                markersize=4.5, markerfacecolor="white", markeredgecolor=color,
                markeredgewidth=1.1, alpha=0.7)


def _shade_low(ax: Any, points: list[dict[str, Any]]) -> None:
    """Grey bands behind periods with too few articles."""
    for x, p in enumerate(points):
        if p["low_n"]:
            ax.axvspan(x - 0.5, x + 0.5, color="#f0f2f5", zorder=0, linewidth=0)


def plot_over_time_overall(summary: dict[str, Any]) -> Any:
    """Prevalence of every frame over time across all articles, above the articles per period."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ot = summary["over_time"]
    points = ot["series"][0]["points"]
    periods = [p["period"] for p in points]
    labels = summary["labels"]
    min_n = summary["options"]["min_articles"]
    with matplotlib.rc_context(_FONT):
        fig = Figure(figsize=(11, 5.6))
        gs = fig.add_gridspec(2, 1, height_ratios=(3.2, 1), hspace=0.08)
        ax = fig.add_subplot(gs[0])
        axn = fig.add_subplot(gs[1], sharex=ax)
        _shade_low(ax, points)
        for lab, color in zip(labels, _palette(len(labels))):
            _draw_series(ax, points, lab["id"], color, _text(lab["name"], 28))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        ax.set_ylim(bottom=0)
        ax.set_ylabel("share of articles")
        _style(ax)
        ax.tick_params(labelbottom=False)
        handles, names = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], linestyle="none", marker="s", markersize=11,
                              markerfacecolor="#f0f2f5", markeredgecolor=MUTED,
                              markeredgewidth=0.6))
        names.append(f"fewer than {min_n} articles\n(hollow markers, not joined)")
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(f"Frame prevalence per {ot['period']}, all articles", loc="left")
        counts = [p["articles"] for p in points]
        colors = ["#9aa5b1" if c < min_n else "#3e4c59" for c in counts]
        axn.bar(range(len(points)), counts, color=colors, width=0.8)
        axn.axhline(min_n, color="#d64545", linewidth=1, linestyle="--")
        axn.text(1.005, min_n, f"min {min_n}", transform=axn.get_yaxis_transform(), color="#d64545",
                 fontsize=8, va="center")
        axn.set_ylabel("articles")
        axn.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, nbins=4))
        _style(axn)
        _period_ticks(axn, periods)
        fig.subplots_adjust(left=0.07, right=0.78, top=0.93, bottom=0.16)
    return fig


def chart_groups(summary: dict[str, Any], max_groups: int = 8) -> list[dict[str, Any]]:
    """The group series drawn in the per-group time chart: those with at least one period of
    ``min_articles`` or more, most such periods first, at most ``max_groups``."""
    def solid(s: dict[str, Any]) -> int:
        return sum(1 for p in s["points"] if not p["low_n"])

    series = [s for s in summary["over_time"]["series"][1:] if solid(s) > 0]
    return sorted(series, key=lambda s: (-solid(s), -s["dated_articles"]))[:max_groups]


def plot_over_time_by_group(summary: dict[str, Any], *, max_groups: int = 8) -> Any:
    """One small chart per frame with a line per group (see :func:`chart_groups`)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ot = summary["over_time"]
    series = chart_groups(summary, max_groups)
    periods = [p["period"] for p in ot["series"][0]["points"]]
    labels = summary["labels"]
    ncols = 2 if len(labels) <= 4 else 3
    nrows = math.ceil(len(labels) / ncols)
    min_n = summary["options"]["min_articles"]
    with matplotlib.rc_context(_FONT):
        fig = Figure(figsize=(11, 0.9 + 2.5 * nrows))
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        colors = _palette(len(series))
        for k, lab in enumerate(labels):
            ax = axes[k // ncols][k % ncols]
            for s, color in zip(series, colors):
                _draw_series(ax, s["points"], lab["id"], color, _text(s["group"], 28))
            ax.set_title(_text(lab["name"], 40), loc="left", fontsize=9)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
            ax.set_ylim(0, 1.02)
            _style(ax)
            _period_ticks(ax, periods, max_ticks=6)
        for k in range(len(labels), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        for k in range(max(0, len(labels) - ncols), len(labels)):
            axes[k // ncols][k % ncols].tick_params(labelbottom=True)
        handles = [Line2D([], [], color=c, linewidth=2, marker="o", markersize=3.5) for c in colors]
        names = [_text(s["group"], 28) for s in series]
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                              markeredgecolor=MUTED))
        names.append(f"fewer than {min_n} articles")
        fig.legend(handles, names, loc="lower center", ncol=min(5, len(names)), frameon=False)
        fig.suptitle(f"Frame prevalence per {ot['period']} by {summary['options']['by']}",
                     x=0.01, ha="left", fontweight="bold", fontsize=10)
        legend_rows = math.ceil(len(names) / 5)
        height = fig.get_figheight()
        fig.tight_layout(rect=(0, (0.15 + 0.24 * legend_rows) / height, 1, 1 - 0.35 / height))
    return fig


def report_figures(summary: dict[str, Any], *, max_groups: int = 8,
                   max_rows: int = 40) -> Iterator[tuple[str, Any, str, str]]:
    """Yield ``(name, figure, alt text, caption)`` for each figure of the report that has data."""
    by = summary["options"]["by"].replace("_", " ")
    min_n = summary["options"]["min_articles"]
    groups = summary["prevalence"]["groups"]
    if summary["labels"] and groups:
        more = len(groups) - max_rows
        yield ("heatmap", plot_heatmap(summary, max_rows=max_rows),
               f"Heatmap of the share of articles carrying each frame, by {by}",
               f"Numbers are percentages of each row's articles. Faded rows marked †: fewer than {min_n} "
               "articles." + (f" The {more} smallest {by} values are only in the table." if more > 0 else ""))
    series = summary["over_time"]["series"]
    if series:
        yield ("over_time", plot_over_time_overall(summary),
               "Line chart of frame prevalence over time across all articles, with article counts",
               f"Grey bands: periods with fewer than {min_n} articles (hollow markers, not joined). "
               "Bottom: dated articles per period.")
        drawn = chart_groups(summary, max_groups)
        if drawn:
            left = sum(1 for s in series[1:] if s["dated_articles"]) - len(drawn)
            yield (f"over_time_by_{summary['options']['by']}",
                   plot_over_time_by_group(summary, max_groups=max_groups),
                   f"Small multiples: prevalence of each frame over time, one line per {by}",
                   f"One line per {by} with at least one period of {min_n}+ articles"
                   + (f"; {left} other {by} value(s) are only in prevalence_over_time.csv." if left > 0
                      else "."))
