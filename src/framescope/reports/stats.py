"""The statistics of analyst reports: proportions with Wilson intervals, two-group
comparisons with effect sizes and Holm-adjusted p-values, and calendar periods.

scipy provides the Wilson interval (:meth:`scipy.stats.binomtest` ``proportion_ci``), the normal
tail and Fisher's exact test; this module keeps what scipy lacks: the Newcombe interval of a
difference, Cohen's h, Holm's step-down adjustment and the period arithmetic.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["PERIODS", "Z95", "cohens_h", "compare_proportions", "holm_adjust", "period_of",
           "period_range", "share", "wilson_interval"]

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
PERIODS = ("week", "month", "quarter", "year")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes out of ``n`` (95% by default).

    With ``n == 0`` there is no information and the interval is ``(0.0, 1.0)``.

    Example:
        >>> [round(x, 4) for x in wilson_interval(5, 10)]
        [0.2366, 0.7634]
        >>> [round(x, 4) for x in wilson_interval(0, 10)]
        [0.0, 0.2775]
    """
    from scipy.stats import binomtest, norm

    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    level = 1.0 - 2.0 * float(norm.sf(z))
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    low = 0.0 if k == 0 else max(0.0, float(ci.low))
    high = 1.0 if k == n else min(1.0, float(ci.high))
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
        from scipy.stats import norm

        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (p1 - p2) / se if se > 0 else 0.0
        p_value = 2 * float(norm.sf(abs(z))) if se > 0 else 1.0
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


def period_range(first: dt.date, last: dt.date, period: str) -> list[tuple[str, dt.date]]:
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


def share(k: int, n: int) -> dict[str, Any]:
    """A share with its Wilson interval, as the report tables hold it."""
    low, high = wilson_interval(k, n)
    return {"articles": n, "with_frame": k, "share": (k / n) if n else None,
            "ci_low": low, "ci_high": high}
